"""The report's reader-facing content: the key-findings section, the pre-trend note under the event
study, the effects in percent, and the members-by-status table with one definition of "leaving".

The step modules call these helpers; :mod:`clusterimpact.report._findings` writes the sentences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.descriptive import GROUPS, members_vs_sector_series
from clusterimpact.labels import term_label
from clusterimpact.report._findings import Finding, findings_html, key_findings, pretest_numbers
from clusterimpact.units import PERCENT_NOTE, is_log_outcome, log_to_percent

__all__ = [
    "MEMBER_STATUS_DEFINITION",
    "THIN_FIRMS",
    "findings_section",
    "members_status_table",
    "percent_tidy",
    "pretrend_note",
    "with_percent",
]

#: Points resting on fewer firms than this are marked as thin (table column, hollow markers).
THIN_FIRMS = 30

#: The one definition of the member groups, used by the table caption and the figure caption; it is
#: the classification of :func:`clusterimpact.descriptive.members_vs_sector_series`, which both draw.
MEMBER_STATUS_DEFINITION = (
    "Members in year t are split by their status change from t−1: staying (member in t−1 and in t), "
    "new (member in t but not in t−1: the join year), leaving (member in t−1, still observed in t "
    "and no longer a member: the first year after leaving; these firms are no longer members in t)."
)

_GROUP_NAMES = {
    "sector": "sector (never-members)",
    "staying": "staying",
    "new": "new",
    "leaving": "leaving",
}


def members_status_table(frame: pd.DataFrame, *, thin: int = THIN_FIRMS) -> pd.DataFrame:
    """The data of the members-vs-sector figure's first panel, one row per year: for each group
    (sector, staying, new, leaving) the median value added per FTE and the number of firms behind
    it, and the groups resting on fewer than ``thin`` firms."""
    s = members_vs_sector_series(frame, "va_per_fte")
    years = sorted(int(y) for y in s["year"].unique())
    out = pd.DataFrame({"year": years})
    thin_groups: list[list[str]] = [[] for _ in years]
    for g in GROUPS:
        part = s[s["group"] == g].set_index("year")
        vals = part["value"].reindex(years)
        n = part["n_firms"].reindex(years)
        out[f"{_GROUP_NAMES[g]}: median VA per FTE"] = vals.to_numpy(dtype=float)
        out[f"{_GROUP_NAMES[g]}: firms"] = n.fillna(0).astype("int64").to_numpy()
        for i, k in enumerate(n.to_numpy(dtype=float)):
            if np.isfinite(k) and 0 < k < thin:
                thin_groups[i].append(g)
    out[f"fewer than {thin} firms"] = [", ".join(t) for t in thin_groups]
    return out


def findings_section(study: Any) -> str:
    """The key-findings section of ``report.html`` (the headline outcome, else the first outcome
    with results)."""
    spec = study.spec
    head = spec.outcomes.headline
    for y in dict.fromkeys([head, *spec.outcome_names]):
        found: tuple[Finding, ...] = key_findings(study.results, y)
        if found:
            return findings_html(found, outcome=y)
    return findings_html((), outcome=head)


def pretrend_note(res: Any, source: str) -> str | None:
    """The joint pre-trend test of an event-study result as a table note (the key findings quote
    the same numbers, in the same format); None when the result has no test."""
    pt = pretest_numbers(res)
    if pt is None:
        return None
    df = pt["df"]
    name = f"F({df:g}, {pt['df_denom']:g})" if np.isfinite(pt["df_denom"]) else f"χ²({df:g})"
    p = pt["p_value"]
    ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return (
        f"Pre-trend test ({source}, effects before joining jointly zero): {name} = "
        f"{pt['statistic']:.2f}, {ptxt}."
    )


def percent_tidy(res: Any, outcome: str) -> tuple[pd.DataFrame, list[str]]:
    """A result's tidy estimates, terms named for readers (:func:`clusterimpact.labels.term_label`),
    with the effect and its CI in percent beside them (rows other than ``slope``; log outcomes only),
    and the note lines that say how."""
    t = res.tidy()[["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]]
    return with_percent(t, outcome)


def with_percent(tidy: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, list[str]]:
    """:func:`percent_tidy` for a tidy frame (``term``, ``estimate``, ``conf_low``, ``conf_high``);
    the input is not modified."""
    t = tidy.copy()
    effect = (t["term"].astype(str) != "slope").to_numpy()
    t["term"] = [term_label(str(x)) for x in t["term"]]
    if not is_log_outcome(outcome):
        return t, []
    for src, dst in (
        ("estimate", "effect (%)"),
        ("conf_low", "CI low (%)"),
        ("conf_high", "CI high (%)"),
    ):
        t[dst] = np.where(effect, log_to_percent(t[src].to_numpy(dtype=float)), np.nan)
    notes = [PERCENT_NOTE]
    if (~effect).any():
        notes.append(
            "The slope is in log points per year of membership (100 × slope ≈ percentage points a "
            "year); its percent cells are left empty."
        )
    return t, notes
