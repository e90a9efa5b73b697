"""Which factors of a term are coded full-rank and which by contrasts (formulaic's rank rule, on names).

A categorical factor ``a`` spans the intercept: its full dummies ``a[l]`` sum to one. To keep a design
structurally full-rank, formulaic (and patsy, "Coding categorical data / redundancy") expand each term
into the sub-terms it spans, ``a:b -> 1 + a- + b- + a-:b-`` (``a-``: contrasts, first level left out),
drop those an earlier term already spans, and merge the rest greedily with the rule
``(anything):a- + (anything) -> (anything):a+`` (``a+``: every level). ``s:t`` after the intercept
becomes ``t- + s-:t+`` (``t[T.y]``, ``s[T.b]:t[x]``, ...), not ``s-:t-``, so the model spans every
cell. This module is our own implementation of that documented rule (the behaviour of formulaic 1.x,
MIT licence, which tests/estimation/test_formula_interactions.py cross-checks column for column), on
factor names: a term is a sequence of ``(name, spans_intercept)``, a scoped term a tuple of
``(name, reduced)`` in the term's order. Numeric factors never span the intercept and are
never reduced.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

__all__ = ["Scoped", "scope_term"]

#: A scoped term: ``(factor name, reduced)`` per factor, in the term's order.
Scoped = tuple[tuple[str, bool], ...]


def scope_term(
    factors: Sequence[tuple[str, bool]], spanned: set[frozenset[str]]
) -> tuple[list[Scoped], set[frozenset[str]]]:
    """The scoped terms one term contributes, and the sub-terms it spans.

    Parameters
    ----------
    factors
        ``(name, spans_intercept)`` of each factor of the term, in written order.
    spanned
        Sub-terms earlier terms span, each the set of its factor names (``frozenset()``: the
        intercept). Not modified; the caller adds the returned span.

    Returns
    -------
    scoped, span
        The term's scoped terms, in formulaic's order, and every sub-term the term spans.
    """
    options = [((name, True), None) if spans else ((name, False),) for name, spans in factors]
    span: list[Scoped] = []
    for prod in itertools.product(*options):
        sub = tuple(p for p in prod if p is not None)
        if frozenset(n for n, _ in sub) not in spanned:
            span.append(sub)
    return _simplify(span), {frozenset(n for n, _ in sub) for sub in span}


def _simplify(terms: list[Scoped]) -> list[Scoped]:
    """The fewest scoped terms spanning the same space, as formulaic merges them (see module doc)."""
    out: list[Scoped] = []
    for term in sorted(terms, key=len):  # stable: formulaic sorts the same way
        factors = set(term)
        for existing in out:
            diff = factors - set(existing)
            if len(factors) - 1 != len(existing) or len(diff) != 1:
                continue
            (new_name, new_reduced) = next(iter(diff))
            if new_reduced:
                full = tuple((n, False) if n == new_name else (n, r) for n, r in term)
                out = _simplify([t for t in out if set(t) != set(existing)] + [full])
                break
        else:
            if all(set(t) != factors for t in out):
                out.append(term)
    return out
