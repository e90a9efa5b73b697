"""The formula grammar under its earlier path: see :mod:`clusterimpact.formula.grammar`.

The grammar moved below ``estimation/`` (matching and the study spec read formulas too); this module
re-exports its public names so ``from clusterimpact.estimation.formula import parse_formula`` keeps
working.
"""

from __future__ import annotations

from clusterimpact.formula.grammar import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_DEPTH,
    MAX_HEIGHT,
    MAX_LENGTH,
    MAX_TERMS,
    TRANSFORMS,
    BinOp,
    Call,
    Categorical,
    Col,
    Expr,
    Factor,
    Num,
    ParsedFormula,
    Term,
    Unary,
    Value,
    parse_column_name,
    parse_formula,
    parse_rhs,
    term_name,
    unparse,
)

__all__ = [
    "BinOp",
    "Call",
    "Categorical",
    "Col",
    "Expr",
    "Factor",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_DEPTH",
    "MAX_HEIGHT",
    "MAX_LENGTH",
    "MAX_TERMS",
    "Num",
    "ParsedFormula",
    "TRANSFORMS",
    "Term",
    "Unary",
    "Value",
    "parse_column_name",
    "parse_formula",
    "parse_rhs",
    "term_name",
    "unparse",
]
