"""Production functions and productivity: OLS, FE, Olley-Pakes, Levinsohn-Petrin, ACF, Wooldridge.

Front door :func:`estimate_tfp`; estimator classes whose ``fit(data)`` returns a
:class:`ProductionResult`; :func:`labour_productivity` for the simple alternative outcome.
"""

from __future__ import annotations

from clusterimpact.productivity.acf import ACF
from clusterimpact.productivity.api import METHODS, estimate_tfp
from clusterimpact.productivity.labour import LabourProductivity, labour_productivity
from clusterimpact.productivity.levinsohn_petrin import LevinsohnPetrin
from clusterimpact.productivity.olley_pakes import OlleyPakes
from clusterimpact.productivity.ols import OLS, FixedEffects
from clusterimpact.productivity.result import ProductionResult
from clusterimpact.productivity.wooldridge import Wooldridge

__all__ = [
    "ACF",
    "METHODS",
    "OLS",
    "FixedEffects",
    "LabourProductivity",
    "LevinsohnPetrin",
    "OlleyPakes",
    "ProductionResult",
    "Wooldridge",
    "estimate_tfp",
    "labour_productivity",
]
