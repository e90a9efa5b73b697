"""Our own grammar for fixest-style formulas: parsed here, never evaluated as code.

A formula is read by a tokenizer and a recursive-descent parser into a small tree of columns, numbers and
whitelisted operations; :mod:`clusterimpact.formula.design` then computes every transform with numpy.
No formula text ever reaches ``eval``, formulaic, patsy or pyfixest's formula parser.

Grammar (``[...]`` optional, ``{...}`` repeated)::

    formula    := value '~' sum ['|' fixed] ['|' value {'+' value} '~' value {'+' value}]
    sum        := ['+'|'-'] item {('+'|'-') item}        item: product, or 0 / 1 (intercept)
    product    := inter {'*' inter}                      a*b = a + b + a:b
    inter      := atom {':' atom}                        a:b = the product of a and b
    atom       := name | value | 'C(' name ')' | 'i(' name [',' name] [',' 'ref=' ref] ')' | '(' sum ')'
    fixed      := '0' | name {'^' name} {'+' name {'^' name}}
    value      := name | ('log'|'exp'|'sqrt'|'I') '(' arith ')'
    arith      := arithmetic on names and numbers: + - * / ** unary minus, parentheses, log/exp/sqrt/I
    ref        := number | string | '[' ref {',' ref} ']'
    name       := [A-Za-z_][A-Za-z0-9_]* | `any text without backquotes`

``-1``, ``+0`` and ``0`` remove the intercept, ``- term`` removes a term. ``^`` combines fixed effects;
powers are written ``I(x ** 2)``. Everything else (attribute access, other function names, strings
outside ``i(..., ref=...)``, subscripts, keywords such as ``lambda``, names containing ``__``, commas
outside ``i()``) is a :class:`~clusterimpact.errors.SpecError` naming the token and its position
(1-based character). Input is bounded: :data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of
nesting, :data:`MAX_HEIGHT` operations on one arithmetic path and :data:`MAX_TERMS` expanded terms, so no
input can exhaust the stack or hang the parser; the design built from it is bounded by :data:`MAX_COLUMNS`
generated columns and :data:`MAX_CELLS` values. ``C(a):C(b)`` (and text columns ``a:b``) are coded as
formulaic codes them; an i() term is not interacted with another C()/i(). The tree, display names and tokenizer live in
:mod:`clusterimpact.formula._syntax`.
"""

from __future__ import annotations

from clusterimpact.errors import SpecError
from clusterimpact.formula._syntax import (
    _ALLOWED,
    _FUNCTIONS,
    _HINTS,
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
    _Error,
    _expr_columns,
    _short,
    _term_key,
    _Tok,
    _tokenize,
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


# -- parser ----------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str, what: str = "formula") -> None:
        self.err = _Error(text, what)
        if len(text) > MAX_LENGTH:
            raise SpecError(
                f"{what} is {len(text):,} characters long; the limit is {MAX_LENGTH:,} "
                f"(it starts {_short(text, 40)!r})"
            )
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    # token helpers
    @property
    def tok(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind == "bad":  # a lexical error, reported when reading reaches it
            raise self.err.at(t.pos, t.text, t.value)
        return t

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def take(self) -> _Tok:
        t = self.tok
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def expect(self, op: str, context: str) -> _Tok:
        if not self.is_op(op):
            t = self.tok
            hint = _HINTS.get(t.value) if t.kind == "op" else None
            if t.kind == "string":
                hint = "a string is only allowed as an i() reference level (ref='a')"
            raise self.fail(t, f"expected '{op}' {context}" + (f"; {hint}" if hint else ""))
        return self.take()

    def fail(self, t: _Tok, message: str) -> SpecError:
        return self.err.at(t.pos, t.text if t.kind != "end" else None, message)

    def unexpected(self, t: _Tok) -> SpecError:
        if t.kind == "string":
            return self.fail(t, "a string is only allowed as an i() reference level (ref='a')")
        if t.kind == "number":
            return self.fail(t, "a number is not a term here; for arithmetic write I(...)")
        if t.kind in ("name", "qname"):
            return self.fail(t, "expected an operator (+ - * : | ~) before this name")
        if t.kind == "end":
            return self.fail(t, "the formula ends too early")
        return self.fail(t, _HINTS.get(t.value, "unexpected here"))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(self.tok, f"nested more than {MAX_DEPTH} levels deep")

    # formula
    def formula(self, text: str) -> ParsedFormula:
        lhs = self.value_factor("the outcome")
        self.expect("~", "after the outcome")
        terms, intercept = self.sum(top=True)
        fe: tuple[tuple[str, ...], ...] = ()
        iv = None
        seen_fe = False
        while self.is_op("|"):
            bar = self.take()
            if iv is not None or (seen_fe and not self._part_has_tilde()):
                raise self.fail(bar, "at most 'regressors | fixed effects | endog ~ instruments'")
            if self._part_has_tilde():
                iv = self.iv_part()
            else:
                fe, seen_fe = self.fixed_part(), True
        if self.tok.kind != "end":
            raise self.unexpected(self.tok)
        return ParsedFormula(text, lhs, tuple(terms), intercept, fe, iv)

    def _part_has_tilde(self) -> bool:
        depth = 0
        for t in self.toks[self.i :]:
            if t.kind == "op" and t.value in "([":
                depth += 1
            elif t.kind == "op" and t.value in ")]":
                depth -= 1
            elif depth == 0 and t.kind == "op" and t.value in ("|", "~"):
                return t.value == "~"
        return False

    def sum(self, *, top: bool) -> tuple[list[Term], bool]:
        terms: dict[frozenset[str], Term] = {}
        intercept = True
        sign = self.take().value if self.is_op("+", "-") else "+"
        while True:
            t = self.tok
            if t.kind == "number" and top:
                self.take()
                if t.value not in ("0", "1"):
                    raise self.fail(t, "a number is not a term; 0, 1 and -1 set the intercept")
                if not (self.is_op("+", "-", "|") or self.tok.kind == "end"):
                    raise self.fail(t, "0 / 1 / -1 stand alone in the sum of terms")
                intercept = (t.value == "1") == (sign == "+")
            elif t.kind == "number":
                raise self.fail(t, "0 / 1 / -1 (the intercept) go directly in the sum of terms")
            else:
                for term in self.product():
                    key = _term_key(term)
                    if sign == "+":
                        terms.setdefault(key, term)
                    else:
                        terms.pop(key, None)
                    if len(terms) > MAX_TERMS:
                        raise self.fail(t, f"the formula expands to more than {MAX_TERMS} terms")
            if not self.is_op("+", "-"):
                break
            sign = self.take().value
        ordered = sorted(terms.values(), key=len)  # stable: by number of factors, then as written
        return ordered, intercept

    def product(self) -> list[Term]:
        out = self.inter()
        while self.is_op("*"):
            star = self.take()
            right = self.inter()
            both = self._combine(out, right, star)
            out = _unique([*out, *right, *both])
        return out

    def inter(self) -> list[Term]:
        out = self.atom()
        while self.is_op(":"):
            colon = self.take()
            out = _unique(self._combine(out, self.atom(), colon))
        return out

    def _combine(self, a: list[Term], b: list[Term], at: _Tok) -> list[Term]:
        if len(a) * len(b) > MAX_TERMS:
            raise self.fail(at, f"the formula expands to more than {MAX_TERMS} terms")
        out = []
        for x in a:
            for y in b:
                merged = tuple({f.name: f for f in (*x, *y)}.values())
                cats = [f for f in merged if isinstance(f, Categorical)]
                if len(cats) > 1 and any(f.kind == "i" for f in cats):
                    raise self.fail(
                        at,
                        "an i() term cannot be interacted with another C()/i() term; write "
                        "C(a):C(b), a fixed effect a^b, or i(var, numeric_var)",
                    )
                out.append(merged)
        return out

    def atom(self) -> list[Term]:
        t = self.tok
        if self.is_op("("):
            self.take()
            self.enter()
            terms, _ = self.sum(top=False)
            self.depth -= 1
            self.expect(")", "to close '('")
            return terms
        if t.kind == "name" and t.value in ("C", "i") and self.toks[self.i + 1].value == "(":
            return [(self.categorical(),)]
        if t.kind in ("name", "qname"):
            return [(self.value_factor("a term"),)]
        raise self.unexpected(t)

    # factors
    def value_factor(self, what: str) -> Value:
        t = self.tok
        if t.kind == "qname" or (t.kind == "name" and not self._calls()):
            self.take()
            return Value(Col(t.value))
        if t.kind == "name":
            if t.value in ("C", "i"):
                raise self.fail(t, f"{t.value}() cannot be used as {what}")
            expr = self.arith_atom()
            if not list(_expr_columns(expr)):
                raise self.fail(t, "a transform must involve at least one column")
            return Value(expr)
        if t.kind == "end":
            raise self.fail(t, f"expected {what}")
        raise self.unexpected(t) if t.kind != "op" else self.fail(t, f"expected {what}")

    def _calls(self) -> bool:
        nxt = self.toks[self.i + 1]
        return nxt.kind == "op" and nxt.value == "("

    def column(self, context: str) -> str:
        t = self.tok
        if t.kind not in ("name", "qname") or (t.kind == "name" and self._calls()):
            raise self.fail(t, f"expected a column name {context}")
        self.take()
        return t.value

    def categorical(self) -> Categorical:
        fn = self.take()
        self.take()  # '('
        col = self.column(f"in {fn.value}()")
        if fn.value == "C":
            if self.is_op(","):
                raise self.fail(
                    self.tok, "C() takes one column; for a reference level use i(var, ref=...)"
                )
            self.expect(")", "to close C(")
            return Categorical("C", col)
        var2: str | None = None
        refs: tuple[int | float | str, ...] | None = None
        while self.is_op(","):
            self.take()
            t = self.tok
            if t.kind == "name" and self.toks[self.i + 1].value == "=":
                if t.value != "ref":
                    raise self.fail(
                        t, "i() accepts i(var), i(var, var2) and ref=...; no other option"
                    )
                if refs is not None:
                    raise self.fail(t, "ref is given twice")
                self.take()
                self.take()  # '='
                refs = self.ref_values()
            elif var2 is None and refs is None:
                var2 = self.column("as the second argument of i()")
            else:
                raise self.fail(t, "i() accepts i(var), i(var, var2) and ref=...")
        self.expect(")", "to close i(")
        return Categorical("i", col, var2, refs)

    def ref_values(self) -> tuple[int | float | str, ...]:
        if self.is_op("["):
            self.take()
            vals = [self.ref_value()]
            while self.is_op(","):
                self.take()
                vals.append(self.ref_value())
            self.expect("]", "to close the list of reference levels")
            return tuple(vals)
        return (self.ref_value(),)

    def ref_value(self) -> int | float | str:
        t = self.tok
        if t.kind == "string":
            self.take()
            return t.value
        sign = self.take().value if self.is_op("-", "+") else "+"
        num = self.tok
        if num.kind != "number":
            raise self.fail(num, "a reference level is a number or a quoted string")
        self.take()
        v = self.number(num).value
        iv = int(v) if v.is_integer() and not any(c in num.value for c in ".eE") else v
        return -iv if sign == "-" else iv

    def number(self, t: _Tok) -> Num:
        if len(t.value) > 40:
            raise self.fail(t, "numbers are limited to 40 characters")
        v = float(t.value)
        if v != v or v in (float("inf"), float("-inf")):
            raise self.fail(t, "the number is too large")
        integer = not any(c in t.value for c in ".eE")
        return Num(v, repr(int(t.value)) if integer else repr(v))

    def fixed_part(self) -> tuple[tuple[str, ...], ...]:
        if self.tok.kind == "number" and self.tok.value == "0":
            self.take()
            return ()
        out = [self.fixed_effect()]
        while self.is_op("+"):
            self.take()
            out.append(self.fixed_effect())
        if not (self.is_op("|") or self.tok.kind == "end"):
            raise self.fail(
                self.tok, "fixed effects are columns joined by '+', interactions by '^' (a^b)"
            )
        return tuple(out)

    def fixed_effect(self) -> tuple[str, ...]:
        parts = [self._fe_column()]
        while self.is_op("^"):
            self.take()
            parts.append(self._fe_column())
        return tuple(parts)

    def _fe_column(self) -> str:
        t = self.tok
        name = self.column(
            "as a fixed effect (fixed effects are plain columns, a^b for interactions)"
        )
        if "^" in name:
            raise self.fail(t, "a fixed-effect column name must not contain '^'; rename the column")
        return name

    def iv_part(self) -> tuple[tuple[Value, ...], tuple[Value, ...]]:
        endog = self.value_list("an endogenous regressor")
        self.expect("~", "between the endogenous regressors and the instruments")
        instr = self.value_list("an instrument")
        if not (self.tok.kind == "end"):
            raise self.unexpected(self.tok)
        return endog, instr

    def value_list(self, what: str) -> tuple[Value, ...]:
        out = [self.value_factor(what)]
        while self.is_op("+"):
            self.take()
            out.append(self.value_factor(what))
        return tuple(out)

    # arithmetic (inside I(), log(), exp(), sqrt())
    def binop(self, op: str, left: Expr, right: Expr) -> BinOp:
        return BinOp(op, left, right, self.height(left, right))

    def height(self, *operands: Expr) -> int:
        h = 1 + max(getattr(e, "height", 1) for e in operands)
        if h > MAX_HEIGHT:
            raise self.fail(self.tok, f"the arithmetic is more than {MAX_HEIGHT} operations deep")
        return h

    def arith(self) -> Expr:
        left = self.arith_term()
        while self.is_op("+", "-"):
            op = self.take().value
            left = self.binop(op, left, self.arith_term())
        return left

    def arith_term(self) -> Expr:
        left = self.arith_unary()
        while self.is_op("*", "/"):
            op = self.take().value
            left = self.binop(op, left, self.arith_unary())
        return left

    def arith_unary(self) -> Expr:
        if self.is_op("-", "+"):
            op = self.take().value
            self.enter()
            operand = self.arith_unary()
            self.depth -= 1
            return Unary(op, operand, self.height(operand))
        base = self.arith_atom()
        if self.is_op("**"):
            self.take()
            self.enter()
            exponent = self.arith_unary()
            self.depth -= 1
            return self.binop("**", base, exponent)
        if self.is_op("^"):
            raise self.fail(self.tok, "write powers as '**' (x ** 2); '^' combines fixed effects")
        return base

    def arith_atom(self) -> Expr:
        t = self.tok
        if t.kind == "number":
            self.take()
            return self.number(t)
        if t.kind == "qname" or (t.kind == "name" and not self._calls()):
            self.take()
            return Col(t.value)
        if t.kind == "name":
            if t.value not in TRANSFORMS:
                why = (
                    "cannot be used inside arithmetic"
                    if t.value in _FUNCTIONS
                    else "is not allowed"
                )
                raise self.fail(t, f"the function {t.value}() {why}; allowed: {_ALLOWED}")
            self.take()
            self.take()  # '('
            self.enter()
            arg = self.arith()
            self.depth -= 1
            self.expect(")", f"to close {t.value}(")
            return Call(t.value, arg, self.height(arg))
        if self.is_op("("):
            self.take()
            self.enter()
            inner = self.arith()
            self.depth -= 1
            self.expect(")", "to close '('")
            return inner
        if t.kind == "op" and t.value in (":", "|", "~", ",", "=", "[", "]", ")", "^"):
            raise self.fail(t, "expected a column, a number or '(' in arithmetic")
        raise self.unexpected(t)


def _unique(terms: list[Term]) -> list[Term]:
    out: dict[frozenset[str], Term] = {}
    for t in terms:
        out.setdefault(_term_key(t), t)
    return list(out.values())


# -- front doors -----------------------------------------------------------------------------------
def parse_formula(formula: str) -> ParsedFormula:
    """Parse ``y ~ x1 + x2 | fe1 + fe2 [| endog ~ instr]`` with our grammar (nothing is evaluated).

    Parameters
    ----------
    formula
        fixest-style formula text (grammar in this module's docstring).

    Returns
    -------
    ParsedFormula
        Outcome, expanded terms, intercept, fixed effects and instruments.

    Raises
    ------
    SpecError
        Naming the offending token and its 1-based position, for anything outside the grammar in
        this module's docstring.

    Examples
    --------
    >>> from clusterimpact.formula.grammar import parse_formula
    >>> f = parse_formula("ln_va ~ ln_emp + I(ln_emp ** 2) + C(sector):ln_capital | firm_id + year")
    >>> f.lhs, f.intercept, f.fe
    (Value(expr=Col(name='ln_va')), True, (('firm_id',), ('year',)))
    >>> len(f.terms)
    3
    >>> parse_formula("y ~ __import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clusterimpact.errors.SpecError: ...
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise SpecError(f"formula {formula!r} must look like 'y ~ x1 + x2 | fe1 + fe2'")
    text = formula.strip()
    if not text.split("~", 1)[0].strip():
        raise SpecError(f"formula {_short(text)!r} has no outcome on the left of '~'")
    return _Parser(text).formula(text)


def parse_rhs(text: str) -> tuple[tuple[Term, ...], bool]:
    """Parse the right-hand side of a model formula (``"age + I(age ** 2) + C(sector)"``).

    Parameters
    ----------
    text
        Terms as in :func:`parse_formula`; a left-hand side (``"d ~ ..."``) is accepted and ignored.
        Fixed effects (``|``) are not allowed.

    Returns
    -------
    terms, intercept
        The expanded terms (formulaic/patsy order) and whether the intercept is kept.

    Examples
    --------
    >>> from clusterimpact.formula.grammar import parse_rhs, term_name
    >>> terms, intercept = parse_rhs("age + I(age ** 2)")
    >>> [term_name(t) for t in terms], intercept
    (['age', 'I(age ** 2)'], True)
    """
    if not isinstance(text, str):
        raise SpecError(f"formula {text!r} must be a string like 'd ~ x1 + x2'")
    text = text.strip()
    p = _Parser(text)
    if p._part_has_tilde():
        p.value_factor("the left-hand side")
        p.expect("~", "after the left-hand side")
    terms, intercept = p.sum(top=True)
    if p.tok.kind != "end":
        if p.is_op("|"):
            raise p.fail(p.tok, "fixed effects ('|') are not allowed in this formula")
        raise p.unexpected(p.tok)
    return tuple(terms), intercept


def parse_column_name(text: str, what: str = "column name") -> str:
    """Check that ``text`` is one column name of our grammar (``ln_lp``, or backquoted: ```my col```).

    Used for settings that name a column (study TOML keys): an expression there is an error, never
    evaluated.

    Parameters
    ----------
    text
        The setting's value.
    what
        How the error message names the setting (``"[matching] covariates entry"``).

    Returns
    -------
    str
        The column name without backquotes.

    Examples
    --------
    >>> from clusterimpact.formula.grammar import parse_column_name
    >>> parse_column_name("ln_lp"), parse_column_name("`my col`")
    ('ln_lp', 'my col')
    """
    if not isinstance(text, str):
        raise SpecError(f"{what} {text!r} must be a string naming a column")
    p = _Parser(text.strip(), what)
    t = p.tok
    if t.kind not in ("name", "qname"):
        raise p.fail(t, "expected a column name")
    p.take()
    if p.tok.kind != "end":
        raise p.fail(
            p.tok, "a column name only (no operators, calls or spaces; backquote `odd names`)"
        )
    return t.value
