"""Design columns under their earlier path: see :mod:`clusterimpact.formula.design`.

The design code moved below ``estimation/`` with the formula grammar; this module re-exports its public
names so ``from clusterimpact.estimation.design import build_design`` keeps working.
"""

from __future__ import annotations

from clusterimpact.formula.design import build_design, model_matrix, pyfixest_formula

__all__ = ["build_design", "model_matrix", "pyfixest_formula"]
