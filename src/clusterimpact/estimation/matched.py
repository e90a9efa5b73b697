"""Matched difference-in-differences on a cohort-stacked matched panel.

The panel is what :func:`clusterimpact.matching.match_panel` returns as ``matched_panel``: one row per
stack x firm x year with ``stack`` (the cohort g), ``stack_unit``, ``rel_year`` (year - g), ``treated``
and the matching ``weight``. This module reads those columns only; it does not match.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterimpact._validation import require_columns
from clusterimpact.errors import EstimationError, EstimationWarning, SpecError
from clusterimpact.matching._did import estimate_on_stacks
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult

__all__ = ["MatchedDiDResult", "matched_did"]

#: Columns of the stacked panel the matched DiD reads (besides the unit and the outcome).
STACK_COLUMNS = ("stack", "stack_unit", "rel_year", "treated", "weight")


@dataclass(frozen=True, kw_only=True)
class MatchedDiDResult(EstimateResult):
    """Matched DiD: one term, ``ATT``, with its firm-clustered standard error.

    Attributes
    ----------
    outcome
        The outcome column.
    window
        Event-time window whose post-joining years (0..``window[1]``) are averaged; None: all.
    n_treated, n_controls
        Firm-stacks of members and of matched controls with the outcome in g - 1 and after joining.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.estimation.matched import matched_did
    >>> did = matched_did(matched.matched_panel, "ln_lp")
    >>> type(did).__name__, bool(did.std_errors["ATT"] > 0)
    ('MatchedDiDResult', True)
    """

    outcome: str
    window: tuple[int, int] | None
    n_treated: int
    n_controls: int

    @property
    def overall_term(self) -> str:
        """Name of the headline term (``"ATT"``)."""
        return "ATT"


def matched_did(
    matched_panel: pd.DataFrame,
    outcome: str,
    *,
    unit: str = "firm_id",
    window: tuple[int, int] | None = None,
    source: str = "matched panel",
) -> MatchedDiDResult:
    """Difference-in-differences of members and their matched controls, cohort by cohort.

    The estimand is the ATT of joining on the matched members: the weighted mean over matched
    members of (mean outcome over event times 0..``window[1]`` - outcome in g - 1) minus the same
    for their matched controls. Identification: conditional on the matching variables, the
    controls' outcomes evolve as the members' would have without joining (conditional parallel
    trends).

    Parameters
    ----------
    matched_panel
        The cohort-stacked panel of :func:`clusterimpact.matching.match_panel` (``matched_panel``).
    outcome
        Outcome column.
    unit
        Firm id column (the standard error clusters on it, across stacks).
    window
        (first, last) event times; the post-joining mean runs over 0..last. None: every year from 0.
    source
        Label of the data used in error messages.

    Returns
    -------
    MatchedDiDResult
        Term ``ATT``; ``exclusions`` counts firm-stacks without the outcome in g - 1 or after joining.

    Raises
    ------
    DataError
        A column of the stacked panel or the outcome is missing.
    EstimationError
        No member or no control firm-stack has the outcome before and after joining.

    Notes
    -----
    Control weights are renormalised within each stack to the stack's weighted member count; a stack
    without any control left gets no weight. The variance is the sum over firms (across stacks) of
    the squared influence contributions times G / (G - 1); it treats the matches as fixed (the
    matching step's own uncertainty is ignored).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> matched = ci.match_panel(example_panel(), design="trends", control="notyet", replace=True,
    ...                          outcome="ln_lp", seed=1)
    >>> from clusterimpact.estimation.matched import matched_did
    >>> did = matched_did(matched.matched_panel, "ln_lp", window=(-5, 5))
    >>> did.params.index.tolist()[:1]
    ['ATT']
    """
    if window is not None and (len(window) != 2 or window[0] > -1 or window[1] < 0):
        raise SpecError(
            f"window must be (first, last) event times with first <= -1 <= 0 <= last, got {window!r}"
        )
    require_columns(matched_panel, [unit, *STACK_COLUMNS], source=source, what="stacked panel")
    require_columns(matched_panel, [outcome], source=source, what="outcome")
    est, se, n_missing, n_t, n_c = estimate_on_stacks(matched_panel, outcome, unit, window)
    if not np.isfinite(est):
        raise EstimationError(
            f"matched DiD on {outcome!r}: no member or no control firm-stack has the outcome in "
            "g-1 and after joining"
        )
    msgs: tuple[str, ...] = ()
    if n_missing:
        msgs = (
            f"{n_missing} matched firm-stacks lack the outcome in g-1 or after joining and are "
            "left out of the matched DiD",
        )
        warnings.warn(msgs[0], EstimationWarning, stacklevel=2)
    return MatchedDiDResult(
        params=pd.Series({"ATT": est}, name="estimate"),
        std_errors=pd.Series({"ATT": se}, name="std_error"),
        nobs=int(len(matched_panel)),
        method="matched_did",
        provenance=make_provenance(
            "matched_did",
            matched_panel[[unit, *STACK_COLUMNS, outcome]],
            None,
            outcome=outcome,
            window=list(window) if window is not None else None,
        ),
        warnings=msgs,
        exclusions={"firm_stacks_missing_outcome": n_missing} if n_missing else {},
        outcome=outcome,
        window=window,
        n_treated=n_t,
        n_controls=n_c,
    )
