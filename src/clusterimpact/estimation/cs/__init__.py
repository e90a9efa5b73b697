"""Callaway & Sant'Anna (2021) group-time average treatment effects and their aggregations.

- :mod:`.options`: the settings' types, allowed values and old spellings;
- :mod:`.prepare`: the panel in wide form (units by adoption group), exclusions counted;
- :mod:`.core`: the ATT(g,t) cells and their 2x2 estimators (DR, IPW, regression);
- :mod:`.pretest`: the cell-level and event-study pre-tests of parallel trends;
- :mod:`.result`: :class:`ATTgtResult`, :class:`AggteResult`;
- :mod:`.api`: :class:`CallawaySantAnna` and :func:`att_gt`; :mod:`.aggregate`: :func:`aggte`.

:mod:`clusterimpact.estimation.staggered` re-exports the public names.
"""

from __future__ import annotations

from clusterimpact.estimation.cs.aggregate import aggte
from clusterimpact.estimation.cs.api import CallawaySantAnna, att_gt
from clusterimpact.estimation.cs.options import (
    AggregationType,
    BasePeriod,
    ControlGroup,
    DRMethod,
    EstMethod,
)
from clusterimpact.estimation.cs.result import AggteResult, ATTgtResult

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
