"""Syntax of our formula grammar: the tree a formula parses into, its display names, and the tokenizer.

The parser and the grammar are in :mod:`clusterimpact.formula.grammar`; nothing here evaluates text.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from clusterimpact.errors import SpecError

#: Longest formula accepted, in characters.
MAX_LENGTH = 20_000
#: Deepest nesting of parentheses, calls and unary operators.
MAX_DEPTH = 40
#: Most terms a formula may expand to (``(a+b+c)*(d+e+f)*...`` grows multiplicatively).
MAX_TERMS = 2_000
#: Most design columns a formula may generate (dummies and products); a category with many levels
#: belongs in the fixed effects (``| id``), which are absorbed, not built as dense columns.
MAX_COLUMNS = 1_000
#: Most generated values (columns x rows: 100 million, 800 MB as float64).
MAX_CELLS = 100_000_000
#: Whitelisted transforms, computed by our own code.
TRANSFORMS: tuple[str, ...] = ("log", "exp", "sqrt", "I")
_FUNCTIONS = (*TRANSFORMS, "C", "i")
_ALLOWED = "log, exp, sqrt, I (arithmetic), C (categories), i (fixest dummies)"


#: Most operations on one path of an arithmetic expression (``x + x + ... + x`` is a deep tree).
MAX_HEIGHT = 200


# -- tree ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A column of the data.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import Col
    >>> f.terms[0][0].expr == Col(name="ln_emp")
    True
    """

    name: str


@dataclass(frozen=True)
class Num:
    """A numeric literal; ``text`` is how it is displayed (Python's repr, as formulaic names terms).

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import Num
    >>> f.terms[1][0].expr.arg.right
    Num(value=2.0, text='2')
    """

    value: float
    text: str


@dataclass(frozen=True)
class Unary:
    """Unary ``-`` or ``+``.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import Unary, parse_rhs
    >>> terms, _ = parse_rhs("I(-x)")
    >>> isinstance(terms[0][0].expr.arg, Unary)
    True
    """

    op: str
    operand: Expr
    height: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class BinOp:
    """``+ - * / **`` on two operands.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import BinOp
    >>> power = f.terms[1][0].expr.arg
    >>> isinstance(power, BinOp), power.op
    (True, '**')
    """

    op: str
    left: Expr
    right: Expr
    height: int = field(default=1, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    """A whitelisted transform (:data:`TRANSFORMS`) of one argument.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import Call
    >>> call = f.terms[1][0].expr
    >>> isinstance(call, Call), call.func
    (True, 'I')
    """

    func: str
    arg: Expr
    height: int = field(default=1, compare=False, repr=False)


Expr = Col | Num | Unary | BinOp | Call


@dataclass(frozen=True)
class Value:
    """A numeric factor: a column or a transform of columns (one design column).

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import Col, Value
    >>> f.lhs == Value(expr=Col(name="ln_va"))
    True
    """

    expr: Expr

    @property
    def name(self) -> str:
        return unparse(self.expr)

    def columns(self) -> list[str]:
        return list(dict.fromkeys(_expr_columns(self.expr)))


@dataclass(frozen=True)
class Categorical:
    """``C(column)`` or ``i(column[, var2][, ref=...])``: one dummy per level (fixest/formulaic coding).

    ``kind="auto"`` is a plain text/boolean column in a term, which formulaic and patsy code as categories.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import Categorical
    >>> f.terms[2][0]
    Categorical(kind='C', column='sector', var2=None, refs=None)
    """

    kind: Literal["C", "i", "auto"]
    column: str
    var2: str | None = None
    refs: tuple[int | float | str, ...] | None = None

    @property
    def name(self) -> str:
        if self.kind == "auto":
            return self.column
        if self.kind == "C":
            return f"C({self.column})"
        args = [self.column] + ([self.var2] if self.var2 else [])
        if self.refs is not None:
            r = [repr(v) for v in self.refs]
            args.append("ref=" + (r[0] if len(r) == 1 else "[" + ", ".join(r) + "]"))
        return f"i({', '.join(args)})"

    def columns(self) -> list[str]:
        return [self.column] + ([self.var2] if self.var2 else [])


Factor = Value | Categorical
Term = tuple[Factor, ...]


def term_name(term: Term) -> str:
    """``x:w``, ``C(sector):x``: the factors' names joined by ``:``, in written order.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import term_name
    >>> [term_name(t) for t in f.terms]
    ['ln_emp', 'I(ln_emp ** 2)', 'C(sector):ln_capital']
    """
    return ":".join(f.name for f in term)


def _term_key(term: Term) -> frozenset[str]:
    return frozenset(f.name for f in term)


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed formula: outcome, expanded regressor terms, intercept, fixed effects, instruments.

    Attributes
    ----------
    text
        The formula as given (stripped).
    lhs
        The outcome (a column or a transform).
    terms
        Regressor terms after expanding ``*``, ``:`` and removals, ordered as formulaic/patsy order them
        (by number of factors, then as written).
    intercept
        False after ``0``, ``+0`` or ``-1``.
    fe
        Fixed effects, each a tuple of columns (``("sector", "year")`` for ``sector^year``).
    iv
        ``(endogenous, instruments)`` of a last ``| endog ~ instr`` part, or None.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> type(f).__name__, f.text.split(" ~ ")[0], f.iv is None
    ('ParsedFormula', 'ln_va', True)
    """

    text: str
    lhs: Value
    terms: tuple[Term, ...]
    intercept: bool
    fe: tuple[tuple[str, ...], ...]
    iv: tuple[tuple[Value, ...], tuple[Value, ...]] | None

    @property
    def depvar(self) -> str:
        """The outcome's name (``ln_lp``, ``log(va)``)."""
        return self.lhs.name

    @property
    def fixed_effects(self) -> tuple[str, ...]:
        """Fixed effects as written (``("firm_id", "sector^year")``)."""
        return tuple("^".join(f) for f in self.fe)

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of the expanded terms (``("x", "log(w)", "C(sector):x")``)."""
        return tuple(term_name(t) for t in self.terms)

    def columns(self) -> list[str]:
        """Every data column the formula refers to, in order of first use."""
        out = self.lhs.columns()
        for t in self.terms:
            for f in t:
                out += f.columns()
        out += [c for f in self.fe for c in f]
        if self.iv is not None:
            out += [c for v in (*self.iv[0], *self.iv[1]) for c in v.columns()]
        return list(dict.fromkeys(out))


def _expr_columns(e: Expr) -> Iterator[str]:
    if isinstance(e, Col):
        yield e.name
    elif isinstance(e, Unary):
        yield from _expr_columns(e.operand)
    elif isinstance(e, BinOp):
        yield from _expr_columns(e.left)
        yield from _expr_columns(e.right)
    elif isinstance(e, Call):
        yield from _expr_columns(e.arg)


# -- display (the names Python's ast.unparse gives, as formulaic/patsy show terms) -----------------
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}
_UNARY_PREC = 3


def unparse(e: Expr, prec: int = 0) -> str:
    """Canonical text of an arithmetic tree: ``I(x ** 2)``, ``log(w + 1)``, ``x ** (-1)``.

    Examples
    --------
    >>> from clusterimpact.estimation.formula import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> from clusterimpact.estimation.formula import unparse
    >>> unparse(f.terms[1][0].expr)
    'I(ln_emp ** 2)'
    """
    if isinstance(e, Col):
        return e.name
    if isinstance(e, Num):
        return e.text
    if isinstance(e, Call):
        return f"{e.func}({unparse(e.arg)})"
    if isinstance(e, Unary):
        s = e.op + unparse(e.operand, _UNARY_PREC)
        return f"({s})" if _UNARY_PREC < prec else s
    p = _PREC[e.op]
    if e.op == "**":  # right-associative
        s = f"{unparse(e.left, p + 1)} ** {unparse(e.right, p)}"
    else:
        s = f"{unparse(e.left, p)} {e.op} {unparse(e.right, p + 1)}"
    return f"({s})" if p < prec else s


# -- tokens ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Tok:
    kind: Literal["name", "qname", "number", "string", "op", "end", "bad"]
    text: str  # as written
    pos: int  # 0-based offset
    value: str  # a name without backquotes, an operator, a number's text


_SPACE = re.compile(r"[ \t\r\n]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r"'[^'\\\n]*'|\"[^\"\\\n]*\"")
_QNAME = re.compile(r"`[^`\n]+`")
_OPS = ("**", "~", "+", "-", "*", "/", ":", "^", "|", "(", ")", "[", "]", ",", "=")
# not the soft keywords: `type` and `match` are fine column names
_KEYWORDS = frozenset(keyword.kwlist)
_HINTS = {
    ",": "a comma is only allowed inside i(...)",
    "=": "'=' is only allowed as i(var, ref=...)",
    "[": "brackets are only allowed as i(var, ref=[...]); subscripts are not allowed",
    "]": "brackets are only allowed as i(var, ref=[...])",
    "^": "'^' combines fixed effects after '|'; for a power write I(x ** 2)",
    "**": "arithmetic is only allowed inside I(...), log(), exp() or sqrt()",
    "/": "arithmetic is only allowed inside I(...), log(), exp() or sqrt()",
    "~": "a formula has one '~' (plus 'endog ~ instruments' in its last '|' part)",
    ")": "unbalanced ')'",
    "(": "a term cannot be followed by '('",
}


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Error:
    """Builds SpecErrors that quote the formula and point at a token."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def at(self, pos: int, shown: str | None, message: str) -> SpecError:
        where = f"{shown!r} at position {pos + 1}" if shown is not None else "at the end"
        return SpecError(f"{self.what} {_short(self.text)!r}: {_short(where, 60)}: {message}")


def _tokenize(text: str) -> list[_Tok]:
    """Tokens of ``text``; a lexical error becomes a ``"bad"`` token (its ``value`` is the message) that
    the parser raises when it reaches it, so the first offending token in reading order is reported."""
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if m := _SPACE.match(text, i):
            i = m.end()
            continue
        if m := _NAME.match(text, i):
            name = m.group(0)
            toks.append(_name_token("name", name, i, name))
        elif m := _QNAME.match(text, i):
            toks.append(_name_token("qname", m.group(0), i, m.group(0)[1:-1]))
        elif m := _NUMBER.match(text, i):
            num = m.group(0)
            after = text[m.end() : m.end() + 1]
            if after and (after.isalnum() or after in "._`'\""):
                toks.append(_Tok("bad", text[i : m.end() + 1], i, "is not a number or a name"))
                i = m.end() + 1
                continue
            toks.append(_Tok("number", num, i, num))
        elif m := _STRING.match(text, i):
            toks.append(_Tok("string", m.group(0), i, m.group(0)[1:-1]))
        else:
            op = next((o for o in _OPS if text.startswith(o, i)), None)
            if op is None:
                toks.append(_Tok("bad", ch, i, _BAD_CHARS.get(ch, "not allowed in a formula")))
                op = ch
            else:
                toks.append(_Tok("op", op, i, op))
            i += len(op)
            continue
        i = m.end()
    toks.append(_Tok("end", "", n, ""))
    return toks


_BAD_CHARS = {
    "`": "a backquoted name must be closed by '`' on the same line",
    "'": "unterminated string (strings are only allowed as i(var, ref='a'))",
    '"': "unterminated string (strings are only allowed as i(var, ref='a'))",
    ".": "attribute access is not allowed (write log(x), not np.log(x)); backquote a column name "
    "with dots: `a.b`",
}


def _name_token(kind: Literal["name", "qname"], text: str, pos: int, name: str) -> _Tok:
    if "__" in name:
        return _Tok("bad", text, pos, "names containing '__' (dunder names) are not allowed")
    if kind == "name" and name in _KEYWORDS:
        why = f"is a Python keyword, not a column; backquote a column of that name: `{name}`"
        return _Tok("bad", text, pos, why)
    if any(not c.isprintable() for c in name):
        return _Tok("bad", text, pos, "a column name must not contain control characters")
    return _Tok(kind, text, pos, name)
