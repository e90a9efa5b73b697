"""The conditional DiD figure of the report: matched DiD by outcome (and, for the headline outcome,
by joining cohort) beside the unmatched Callaway-Sant'Anna effects, drawn by
:func:`clusterimpact.plotting.plot_conditional_did`.

Runs inside the ``compare`` step, after both the matched DiD and the staggered DiD have run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation.matched import matched_did
from clusterimpact.plotting import plot_conditional_did
from clusterimpact.report._common import headline, outcomes, plot
from clusterimpact.report._study import Study

__all__ = ["add_conditional_did", "conditional_did_rows"]


def conditional_did_rows(
    results: Mapping[str, Any],
    outcome_names: Sequence[str],
    headline_outcome: str,
    window: tuple[int, int] | None,
) -> pd.DataFrame:
    """Matched DiD and Callaway-Sant'Anna rows: every outcome pooled, the headline by cohort too.

    Matched rows come from the matched sample of the ``matching`` result (pooled: the
    ``matched_did:<y>`` result; per cohort: :func:`~clusterimpact.estimation.matched.matched_did` on
    that cohort's stack), unmatched rows from ``cs_simple:<y>`` and ``cs_group:<y>``. ``n`` is the
    number of member firms behind a matched row. Empty when the matched sample is missing.
    """
    sample = getattr(results.get("matching"), "matched_panel", None)
    if not isinstance(sample, pd.DataFrame):
        return pd.DataFrame()
    members = sample[sample["treated"] == 1]
    rows: list[dict[str, Any]] = []
    for y in outcome_names:
        pooled = results.get(f"matched_did:{y}")
        if pooled is None:
            continue
        rows.append(_row(y, "all", "matched", "Matched DiD", pooled.tidy().iloc[0]))
        rows[-1]["n"] = int(members["firm_id"].nunique())
        if y == headline_outcome:
            for g in sorted(members["stack"].unique()):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", EstimationWarning)
                        r = matched_did(sample[sample["stack"] == g], y, window=window)
                except EstimationError:
                    continue  # no member or no control of this cohort has the outcome around g
                rows.append(_row(y, g, "matched", "Matched DiD", r.tidy().iloc[0]))
                rows[-1]["n"] = int(members.loc[members["stack"] == g, "firm_id"].nunique())
        rows += _cs_rows(results, y, by_cohort=y == headline_outcome)
    return pd.DataFrame(rows)


def _cs_rows(results: Mapping[str, Any], y: str, *, by_cohort: bool) -> list[dict[str, Any]]:
    out = []
    simple = results.get(f"cs_simple:{y}")
    if simple is not None:
        t = simple.tidy()
        out.append(_row(y, "all", "unmatched", "Callaway-Sant'Anna", t.iloc[0]))
    group = results.get(f"cs_group:{y}")
    if by_cohort and group is not None:
        t = group.tidy()
        for _, r in t[t["term"].astype(str).str.startswith("group:")].iterrows():
            out.append(
                _row(y, str(r["term"]).split(":", 1)[1], "unmatched", "Callaway-Sant'Anna", r)
            )
    return out


def _row(y: str, cohort: Any, sample: str, estimator: str, r: Any) -> dict[str, Any]:
    return {
        "outcome": y,
        "cohort": cohort,
        "sample": sample,
        "estimator": estimator,
        "estimate": float(r["estimate"]),
        "conf_low": float(r["conf_low"]),
        "conf_high": float(r["conf_high"]),
        "n": np.nan,
    }


def add_conditional_did(study: Study) -> None:
    """Add the conditional DiD figure to the matching section (nothing when there is no matched DiD)."""
    rows = conditional_did_rows(
        study.results, outcomes(study), headline(study), study.spec.estimation.event_window
    )
    if rows.empty:
        return
    plot(
        study,
        "matching",
        "conditional_did",
        "Conditional DiD: matched against unmatched estimates, by outcome and cohort",
        plot_conditional_did,
        rows,
    )
