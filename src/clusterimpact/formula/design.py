"""Design columns from a parsed formula, computed by our own code (numpy), never by evaluating text.

:func:`build_design` turns a formula (parsed by :mod:`clusterimpact.formula.grammar`) and a frame into
a *lowered* formula (:class:`_Formula`) whose outcome, regressors and instruments are all plain columns:
transforms (``log(x)``, ``I(x ** 2)``), interactions (``x:w``) and dummies (``C(sector)``,
``i(rel_year, ref=-1)``) become new columns named as formulaic/pyfixest name them (``I(x ** 2)``,
``C(sector)[T.b]``, ``rel_year::0``), added to a shallow copy of the frame. The engines then see only
column names: the fast path reads them; the pyfixest adapter renames them to generated identifiers
(:func:`pyfixest_formula`), so pyfixest never receives an expression.

Coding follows formulaic/patsy (what pyfixest did before): terms ordered by number of factors; each
term is split into the sub-terms it spans and a categorical factor is coded with one dummy per level
(``C(x)[l]``, ``s[a]``) or with its first level left out (``C(x)[T.l]``) by formulaic's per-factor rank
rule (:mod:`clusterimpact.formula._scoping`), so ``s:t`` of two text columns is ``t[T.y] + ... +
s[T.b]:t[x] + ...`` (every cell), not both reduced; ``i(x, ref=r)`` leaves out ``r`` (several with
``ref=[r1, r2]``); ``i(x, v)`` keeps every level; i() is not interacted with another category. Plain
text columns are categories, booleans 0/1 numbers (formulaic; :func:`model_matrix` follows patsy and
codes them as categories). Levels are the sorted values present on the rows every formula variable
has, as formulaic takes them. The generated columns are bounded (``MAX_COLUMNS``, ``MAX_CELLS`` in
:mod:`clusterimpact.formula.grammar`: a many-level category belongs in the fixed effects) and added
to the frame in one concat. A transform that is not finite where its inputs are (``log`` of a value
<= 0, division by zero, overflow) is set to missing with an ``EstimationWarning`` naming the term and the rows; those rows are then left out like any missing value.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, EstimationWarning, SpecError, describe_rows
from clusterimpact.formula._scoping import Scoped, scope_term
from clusterimpact.formula.grammar import (
    MAX_CELLS,
    MAX_COLUMNS,
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
    parse_formula,
    parse_rhs,
    term_name,
)

__all__ = ["build_design", "model_matrix", "pyfixest_formula"]


@dataclass(frozen=True)
class _Formula:
    """A lowered formula: every name is a column of the frame :func:`build_design` returns.

    ``generated`` lists the columns computed from the formula (transforms, interactions, dummies);
    ``notes`` the warnings raised while computing them.
    """

    text: str
    depvar: str
    terms: tuple[str, ...]
    fixed_effects: tuple[str, ...]
    intercept: bool
    iv: str | None
    generated: frozenset[str] = frozenset()
    iv_endog: tuple[str, ...] = ()
    iv_instruments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def simple(self) -> bool:
        """True when every regressor and fixed effect is a column of the data (no transform, no IV)."""
        return self.iv is None and not self.generated

    def fe_columns(self) -> list[str]:
        return [p for f in self.fixed_effects for p in f.split("^")]


# -- arithmetic ------------------------------------------------------------------------------------
_BINARY: dict[str, Callable[..., Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "**": np.power,
}
_CALLS: dict[str, Callable[..., Any]] = {
    "log": np.log,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "I": lambda v: v,
}


def _evaluate(e: Expr, column: Callable[[str], np.ndarray]) -> np.ndarray | float:
    """The value of an arithmetic tree, by numpy ufuncs (the operations Python applies to arrays)."""
    if isinstance(e, Col):
        return column(e.name)
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Unary):
        v = _evaluate(e.operand, column)
        return np.negative(v) if e.op == "-" else v
    if isinstance(e, BinOp):
        return _BINARY[e.op](_evaluate(e.left, column), _evaluate(e.right, column))
    assert isinstance(e, Call)
    return _CALLS[e.func](_evaluate(e.arg, column))


def _float_column(df: pd.DataFrame, name: str, source: str | None) -> np.ndarray:
    s = df[name]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return np.asarray(s.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    raise DataError(
        f"is not numeric, so it cannot enter arithmetic or an interaction; for categories write "
        f"C({name}) or i({name})",
        source=source,
        column=name,
    )


# -- the design ------------------------------------------------------------------------------------
class _Builder:
    """Computes the columns of one formula on one frame (values cached by name)."""

    def __init__(self, df: pd.DataFrame, columns: list[str], source: str | None) -> None:
        self.df = df
        self.source = source
        self.cache: dict[str, np.ndarray] = {}
        self.notes: list[str] = []
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataError(
                f"the formula names column(s) not in the data: {', '.join(missing)}; "
                f"available: {', '.join(map(str, df.columns[:30]))}",
                source=source,
                column=missing[0],
            )
        self.columns = columns
        self.failed: list[np.ndarray] = []  # rows where a transform is not finite
        self.level_cache: dict[str, list[object]] = {}
        self._complete: np.ndarray | None = None

    @property
    def complete(self) -> np.ndarray:
        """Rows on which every formula variable is present and every transform finite (computed only
        when a categorical needs its levels, so plain formulas cost nothing here)."""
        if self._complete is None:
            ok = np.ones(len(self.df), dtype=bool)
            for c in self.columns:
                ok &= self.df[c].notna().to_numpy()
            for bad in self.failed:
                ok &= ~bad
            self._complete = ok
            self.level_cache = {}
        return self._complete

    def column(self, name: str) -> np.ndarray:
        if name not in self.cache:
            self.cache[name] = _float_column(self.df, name, self.source)
        return self.cache[name]

    def value(self, v: Value) -> np.ndarray:
        """A transform's values; not-finite results where the inputs are finite become NaN (warned)."""
        name = v.name
        if name in self.cache:
            return self.cache[name]
        with np.errstate(all="ignore"):
            out = np.asarray(_evaluate(v.expr, self.column), dtype=float)
        out = np.broadcast_to(out, (len(self.df),)).copy()
        inputs_ok = np.ones(len(self.df), dtype=bool)
        for c in v.columns():
            inputs_ok &= np.isfinite(self.column(c))
        bad = inputs_ok & ~np.isfinite(out)
        if bad.any():
            out[bad] = np.nan
            rows = list(self.df.index[bad])
            if bad.sum() == inputs_ok.sum():
                raise DataError(
                    f"the term {name} is not finite on any row (log/sqrt of values <= 0, division "
                    "by zero or overflow); check the transform",
                    source=self.source,
                    column=v.columns()[0],
                    rows=rows,
                )
            note = (
                f"the term {name} is not finite in {len(rows)} row(s) (log/sqrt of values <= 0, "
                f"division by zero or overflow): rows {describe_rows(rows)}; they are left out "
                "as missing values"
            )
            self.notes.append(note)
            warnings.warn(note, EstimationWarning, stacklevel=4)
        self.cache[name] = out
        self.failed.append(bad)
        self._complete = None
        return out

    def levels(self, col: str) -> list[object]:
        if col not in self.level_cache:
            s = self.df[col]
            self.level_cache[col] = list(s[self.complete].astype("category").cat.categories)
        return self.level_cache[col]

    def width(self, f: Factor, reduced: bool) -> int:
        """How many columns ``f`` makes (levels are computed, dummies are not)."""
        if isinstance(f, Value):
            return 1
        return len(_kept_levels(f, self.levels(f.column), reduced, self.source))

    def factor_columns(self, f: Factor, reduced: bool) -> tuple[list[str], np.ndarray]:
        """Names and values (rows x columns) of one factor: its value, or its kept dummies."""
        if isinstance(f, Value):
            return [f.name], self.value(f)[:, None]
        levels = self.levels(f.column)
        codes = pd.Categorical(self.df[f.column], categories=levels).codes.astype(np.int64)
        keep = _kept_levels(f, levels, reduced, self.source)
        position = np.full(len(levels) + 1, -1, dtype=np.int64)  # code -> column (-1: none)
        position[[j for j, _ in keep]] = np.arange(len(keep))
        col = position[codes]  # codes -1 (missing/other level) read the last entry: -1
        out = np.zeros((len(self.df), len(keep)))
        hit = np.flatnonzero(col >= 0)
        out[hit, col[hit]] = 1.0
        out[self.df[f.column].isna().to_numpy()] = np.nan
        if f.var2:
            out *= self.column(f.var2)[:, None]
        names = []
        for _, lev in keep:
            if f.kind == "C":
                names.append(f"C({f.column})[{'T.' if reduced else ''}{lev}]")
            elif f.kind == "auto":
                names.append(f"{f.column}[{'T.' if reduced else ''}{lev}]")
            else:
                names.append(f"{f.column}::{lev}" + (f":{f.var2}" if f.var2 else ""))
        return names, out

    def scoped_columns(self, term: Term, scoped: Scoped) -> tuple[list[str], np.ndarray]:
        """The row-wise Kronecker product of the factors, the first factor varying fastest (as
        formulaic and patsy order an interaction's columns)."""
        reduced = dict(scoped)
        names: list[str] = [""]
        block = np.ones((len(self.df), 1))
        for f in term:
            if f.name not in reduced:  # left out of this scoped term (its "1")
                continue
            fnames, fblock = self.factor_columns(f, reduced[f.name])
            block = (fblock[:, :, None] * block[:, None, :]).reshape(len(self.df), -1)
            names = [f"{a}:{b}" if a else b for b in fnames for a in names]
        return names, block


def _kept_levels(
    f: Categorical, levels: list[object], reduced: bool, source: str | None
) -> list[tuple[int, object]]:
    pairs = list(enumerate(levels))
    if f.refs is not None:
        absent = [r for r in f.refs if not any(r == lev for lev in levels)]
        if absent:
            shown = ", ".join(repr(lev) for lev in levels[:20])
            raise SpecError(
                f"{f.name}: reference level(s) {', '.join(map(repr, absent))} are not values of "
                f"column '{f.column}' in {source or 'the data'} (values: {shown}); quote text levels: "
                "ref='a'"
            )
        return [(j, lev) for j, lev in pairs if not any(r == lev for r in f.refs)]
    if reduced and f.var2 is None:
        return pairs[1:]
    return pairs


def _is_text(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _implicit(term: Term, df: pd.DataFrame, bool_categorical: bool) -> Term:
    """Plain text/category columns become categorical factors, as formulaic and patsy treat them;
    boolean columns too when ``bool_categorical`` (patsy; formulaic reads them as 0/1 numbers)."""
    out: list[Value | Categorical] = []
    for f in term:
        if isinstance(f, Value) and isinstance(f.expr, Col) and f.expr.name in df.columns:
            s = df[f.expr.name]
            if _is_text(s) or (bool_categorical and pd.api.types.is_bool_dtype(s)):
                out.append(Categorical("auto", f.expr.name))
                continue
        out.append(f)
    return tuple(out)


def _spans_intercept(f: Factor) -> bool:
    """Categories whose coding depends on the model (not i() with ref= or a second variable)."""
    return isinstance(f, Categorical) and f.refs is None and f.var2 is None


def _check_categories(term: Term) -> None:
    cats = [f for f in term if isinstance(f, Categorical)]
    if len(cats) > 1 and any(f.kind == "i" for f in cats):
        raise SpecError(
            f"the term {term_name(term)} interacts i() with another category ("
            f"{', '.join(f.name for f in cats)}); write C(a):C(b), a fixed effect a^b, or "
            "i(var, numeric_var)"
        )


def _check_size(b: _Builder, plan: list[tuple[Term, list[Scoped] | None]]) -> None:
    """Bound the dense design before computing it: columns, and columns x rows (memory)."""
    widths = []
    for term, scoped in plan:
        for sc in scoped or ():
            reduced = dict(sc)
            w = 1
            for f in term:
                if f.name in reduced:
                    w *= b.width(f, reduced[f.name])
            widths.append((w, term))
    total = sum(w for w, _ in widths)
    if total > MAX_COLUMNS or total * len(b.df) > MAX_CELLS:
        w, term = max(widths, key=lambda p: p[0])
        cats = [f.column for f in term if isinstance(f, Categorical)]
        hint = (
            f"absorb the categories as a fixed effect instead ('| {cats[0]}')"
            if cats
            else "use fewer terms"
        )
        where = f" in {b.source}" if b.source else ""
        raise SpecError(
            f"the formula's terms make {total:,} design columns on {len(b.df):,} rows{where} (limits: "
            f"{MAX_COLUMNS:,} columns, {MAX_CELLS:,} columns x rows); the largest term, "
            f"{term_name(term)}, makes {w:,}: {hint}"
        )


def _expand_terms(
    b: _Builder, terms: tuple[Term, ...], intercept: bool, passthrough: bool
) -> tuple[list[str], list[str], np.ndarray]:
    """Names of the regressors, and the generated ones with their values (formulaic's rank rule:
    :mod:`clusterimpact.formula._scoping`). ``passthrough``: plain numeric columns are not copied."""
    spanned: set[frozenset[str]] = {frozenset()} if intercept else set()
    plan: list[tuple[Term, list[Scoped] | None]] = []  # None: passed through
    for term in terms:
        if passthrough and len(term) == 1 and isinstance(term[0], Value):
            col = term[0].expr
            if isinstance(col, Col) and not _is_text(b.df[col.name]):
                spanned.add(frozenset([col.name]))
                plan.append((term, None))  # a plain column: the engines read it as it is
                continue
        term = _implicit(term, b.df, bool_categorical=not passthrough)
        _check_categories(term)
        scoped_terms, span = scope_term([(f.name, _spans_intercept(f)) for f in term], spanned)
        spanned |= span
        plan.append((term, scoped_terms))
    _check_size(b, plan)
    names: list[str] = []
    gen_names: list[str] = []
    blocks: list[np.ndarray] = []
    seen: set[str] = set()
    for term, scoped in plan:
        if scoped is None:
            names.append(term[0].name)
            seen.add(term[0].name)
            continue
        for sc in scoped:
            cols, block = b.scoped_columns(term, sc)
            for name in cols:
                if name in seen:
                    raise SpecError(f"two terms of the formula produce the column {name!r}")
                seen.add(name)
            names += cols
            gen_names += cols
            blocks.append(block)
    return names, gen_names, _stack(blocks, len(b.df))


def _stack(blocks: list[np.ndarray], n: int) -> np.ndarray:
    return np.hstack(blocks) if blocks else np.empty((n, 0))


def _values(b: _Builder, values: tuple[Value, ...], new: dict[str, np.ndarray]) -> list[str]:
    out = []
    for v in values:
        if not isinstance(v.expr, Col):
            new[v.name] = b.value(v)
        out.append(v.name)
    return out


def build_design(
    formula: str | ParsedFormula, data: pd.DataFrame, *, source: str | None = None
) -> tuple[_Formula, pd.DataFrame]:
    """Parse ``formula`` and compute its columns on ``data`` (not modified).

    Parameters
    ----------
    formula
        Formula text or an already parsed formula.
    data
        The frame the formula's columns are read from.
    source
        File name for error messages (None: the caller adds it).

    Returns
    -------
    formula, frame
        The lowered formula (:class:`_Formula`: every name a column of ``frame``) and ``data`` with the
        generated columns added (``data`` itself when nothing is generated).

    Raises
    ------
    SpecError
        The formula is outside the grammar, a reference level is not a value of its column, or a
        generated column's name is already a column of the data.
    DataError
        A column is missing, or arithmetic is asked of a non-numeric column.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.formula.design import build_design
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"], "y": [1.0, 2.0, 4.0]})
    >>> formula, frame = build_design("y ~ log(x) | s", df)
    >>> frame.columns.tolist()  # the columns read, plus the computed log(x)
    ['x', 's', 'y', 'log(x)']
    """
    p = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    b = _Builder(data, p.columns(), source)
    new: dict[str, np.ndarray] = {}
    depvar = _values(b, (p.lhs,), new)[0]
    endog = _values(b, p.iv[0], new) if p.iv else []
    instr = _values(b, p.iv[1], new) if p.iv else []
    for t in p.terms:  # transforms first: their missing rows decide the levels of categories
        for f in t:
            if isinstance(f, Value) and not isinstance(f.expr, Col):
                b.value(f)
    names, gen_names, block = _expand_terms(b, p.terms, p.intercept, passthrough=True)
    gen_names = [*new, *gen_names]
    block = np.hstack([np.column_stack(list(new.values())), block]) if new else block
    clash = [c for c in gen_names if c in data.columns]
    if clash:
        raise SpecError(
            f"formula {p.text!r}: the term {clash[0]!r} has the name of a column of the data; "
            "rename that column"
        )
    iv_text = None
    if p.iv is not None:
        iv_text = f"{' + '.join(v.name for v in p.iv[0])} ~ {' + '.join(v.name for v in p.iv[1])}"
    lowered = _Formula(
        p.text,
        depvar,
        tuple(names),
        p.fixed_effects,
        p.intercept,
        iv_text,
        frozenset(gen_names),
        tuple(endog),
        tuple(instr),
        tuple(b.notes),
    )
    if not gen_names:
        return lowered, data
    # one block, one concat: adding columns one by one fragments the frame (quadratic in columns)
    extra = pd.DataFrame(block, index=data.index, columns=gen_names)
    return lowered, pd.concat([data, extra], axis=1)


def model_matrix(formula: str, data: pd.DataFrame, *, source: str | None = None) -> pd.DataFrame:
    """The right-hand side of ``formula`` as a design matrix without intercept (patsy's names and coding).

    A replacement for ``patsy.dmatrix(rhs, data)`` that evaluates nothing. Plain text/boolean columns
    are categories (``sector[T.b]``), as in patsy.

    Parameters
    ----------
    formula
        ``"d ~ x1 + I(x1 ** 2) + C(sector)"`` or its right-hand side.
    data
        The frame (not modified).
    source
        File name for error messages.

    Returns
    -------
    pandas.DataFrame
        One column per design column, indexed like ``data``; rows where a variable is missing (or a
        transform not finite) are NaN. No ``Intercept`` column, but a kept intercept still makes
        categories drop their first level.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.formula.design import model_matrix
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"], "y": [1.0, 2.0, 4.0]})
    >>> model_matrix("y ~ x + I(x ** 2) + s", df)
         x  I(x ** 2)  s[T.b]
    0  1.0        1.0     0.0
    1  2.0        4.0     1.0
    2  3.0        9.0     0.0
    """
    terms, intercept = parse_rhs(formula)
    cols = list(dict.fromkeys(c for t in terms for f in t for c in f.columns()))
    b = _Builder(data, cols, source)
    for t in terms:
        for f in t:
            if isinstance(f, Value) and not isinstance(f.expr, Col):
                b.value(f)
    names, _, block = _expand_terms(b, terms, intercept, passthrough=False)
    out = pd.DataFrame(block, index=data.index, columns=names)
    out.loc[~b.complete] = np.nan
    return out


def pyfixest_formula(f: _Formula, safe: Mapping[str, str]) -> str:
    """The lowered formula in pyfixest syntax over generated identifiers ``safe[column]``.

    Parameters
    ----------
    f
        A lowered formula from :func:`build_design`.
    safe
        Column name -> identifier pyfixest may read (``civ0``, ``civ1``, ...).

    Returns
    -------
    str
        ``"civ0 ~ civ1 + civ2 | civ3 + civ4^civ5 | civ6 ~ civ7"``: names and operators only.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.formula.design import build_design, pyfixest_formula
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "a"], "y": [1.0, 2.0, 4.0]})
    >>> formula, frame = build_design("y ~ log(x) | s", df)
    >>> pyfixest_formula(formula, {c: f"civ{i}" for i, c in enumerate(frame.columns)})
    'civ2 ~ civ3 | civ1'
    """
    rhs = [safe[t] for t in f.terms]
    if not f.fixed_effects:
        rhs = ["1" if f.intercept else "0", *rhs]
    elif not rhs:
        rhs = ["1"]
    out = f"{safe[f.depvar]} ~ {' + '.join(rhs)}"
    if f.fixed_effects:
        out += " | " + " + ".join(
            "^".join(safe[c] for c in fe.split("^")) for fe in f.fixed_effects
        )
    if f.iv is not None:
        endog = " + ".join(safe[c] for c in f.iv_endog)
        out += f" | {endog} ~ {' + '.join(safe[c] for c in f.iv_instruments)}"
    return out
