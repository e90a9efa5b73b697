"""The formula grammar shared by estimation, matching and the study spec (parsed, never evaluated).

It sits below ``matching/``, ``estimation/`` and ``spec.py`` (all three read formulas) and imports only
``errors``: :mod:`~clusterimpact.formula.grammar` (the parser and its bounds; tree and tokenizer in
``_syntax``) and :mod:`~clusterimpact.formula.design` (design columns computed with numpy; formulaic's
full-rank coding of category interactions in ``_scoping``). ``clusterimpact.estimation.formula`` and
``clusterimpact.estimation.design`` re-export the public names under their earlier paths.
"""

from __future__ import annotations

from clusterimpact.formula.design import build_design, model_matrix, pyfixest_formula
from clusterimpact.formula.grammar import ParsedFormula, parse_column_name, parse_formula, parse_rhs

__all__ = [
    "ParsedFormula",
    "build_design",
    "model_matrix",
    "parse_column_name",
    "parse_formula",
    "parse_rhs",
    "pyfixest_formula",
]
