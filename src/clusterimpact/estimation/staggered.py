"""Callaway & Sant'Anna (2021) group-time average treatment effects and their aggregations.

``att_gt`` estimates every ATT(g,t): the average effect in period ``t`` on the units first treated in
period ``g`` (their *cohort*), each from a 2x2 comparison with never-treated or not-yet-treated units
and a base period before treatment. ``aggte`` aggregates the cells into an overall effect (``simple``),
an event study (``dynamic``), cohort effects (``group``) and calendar-year effects (``calendar``), with
standard errors that include the estimation of the aggregation weights (Callaway & Sant'Anna 2021,
section 4 and appendix). Written from the papers (Callaway & Sant'Anna 2021, Journal of Econometrics
225(2); Sant'Anna & Zhao 2020, Journal of Econometrics 219(1)); numbers match R did's analytic output on
its mpdta example (tests/reference/mpdta).

Inference: analytic standard errors from the influence functions, or the multiplier bootstrap (Mammen's
two-point multipliers by default; Rademacher signs, the multipliers R did and csdid draw, on request) with
a uniform confidence band; clustering at the unit
or at any coarser level (the bootstrap draws one multiplier per cluster). Influence functions are stored
factored (see :mod:`clusterimpact.estimation.influence`), never as a dense units x cells matrix.

The implementation lives in :mod:`clusterimpact.estimation.cs` (one module per job); this module keeps
the public names where users and the rest of the package import them.
"""

from __future__ import annotations

from clusterimpact.estimation.cs import (
    AggregationType,
    AggteResult,
    ATTgtResult,
    BasePeriod,
    CallawaySantAnna,
    ControlGroup,
    DRMethod,
    EstMethod,
    aggte,
    att_gt,
)

__all__ = [
    "ATTgtResult",
    "AggregationType",
    "AggteResult",
    "BasePeriod",
    "CallawaySantAnna",
    "ControlGroup",
    "DRMethod",
    "EstMethod",
    "aggte",
    "att_gt",
]
