"""Polynomial designs used by the control-function estimators (first stage, law of motion, Wooldridge).

Columns are monomials of the given variables up to a total degree. The estimators only use the
*span* of these columns (fitted values, projections), so the variables may be rescaled first for
numerical conditioning without changing any estimate.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "round_bits",
    "poly_derivative",
    "poly_exponents",
    "poly_matrix",
    "poly_shift",
    "scale_columns",
]


def round_bits(x: np.ndarray, bits: int = 26) -> np.ndarray:
    """``x`` rounded to ``bits`` significant bits.

    For centring and scaling constants that no estimate depends on (a polynomial's span, an
    equation's own constant): sums of the same data in another order (one frame, or partitions on
    Dask) then give the same constants, so the design is the same by row, bit for bit.
    """
    m, e = np.frexp(np.asarray(x, dtype=float))
    return np.asarray(np.ldexp(np.round(m * 2.0**bits) / 2.0**bits, e))


def poly_exponents(d: int, order: int, *, min_degree: int = 1) -> list[tuple[int, ...]]:
    """Exponent tuples of every monomial in ``d`` variables with ``min_degree <= degree <= order``.

    Ordered by degree, then as ``itertools.combinations_with_replacement`` lists them, so that
    ``d=2, order=2`` gives ``x0, x1, x0^2, x0*x1, x1^2``.
    """
    out: list[tuple[int, ...]] = []
    for deg in range(max(min_degree, 0), order + 1):
        if deg == 0:
            out.append((0,) * d)
            continue
        for combo in itertools.combinations_with_replacement(range(d), deg):
            e = [0] * d
            for j in combo:
                e[j] += 1
            out.append(tuple(e))
    return out


def poly_matrix(x: np.ndarray, exps: list[tuple[int, ...]]) -> np.ndarray:
    """The monomial columns ``prod_j x[:, j] ** e_j`` for each exponent tuple in ``exps``.

    Each monomial is one multiplication of a lower-degree one (built on the way when not requested),
    written into a column-major array, so the cost is one pass over the rows per column.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    n, d = x.shape
    out = np.empty((n, len(exps)), order="F")
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def column(e: tuple[int, ...]) -> np.ndarray:
        if e in cache:
            return cache[e]
        deg = sum(e)
        if deg == 0:
            col = np.ones(n)
        elif deg == 1:
            col = x[:, e.index(1)]
        else:
            j = next(k for k in range(d) if e[k])
            parent = list(e)
            parent[j] -= 1
            col = column(tuple(parent)) * x[:, j]
        cache[e] = col
        return col

    for c, e in enumerate(sorted(range(len(exps)), key=lambda k: sum(exps[k]))):
        del c
        out[:, e] = column(exps[e])
    return out


def poly_derivative(x: np.ndarray, exps: list[tuple[int, ...]], var: int) -> np.ndarray:
    """Derivative of each monomial column with respect to variable ``var``."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    out = np.zeros((x.shape[0], len(exps)))
    for c, e in enumerate(exps):
        p = e[var]
        if p == 0:
            continue
        e2 = list(e)
        e2[var] = p - 1
        out[:, c] = p * poly_matrix(x, [tuple(e2)])[:, 0]
    return out


def poly_shift(exps: list[tuple[int, ...]], shift: np.ndarray) -> np.ndarray:
    """Coefficients of the monomials of ``u + shift`` in the monomials of ``u``.

    Column ``c`` of the returned ``(len(exps), len(exps))`` matrix ``T`` holds the expansion of
    ``prod_j (u_j + shift_j) ** e_j`` (``e = exps[c]``) by the binomial theorem, so that
    ``poly_matrix(u + shift, exps) == poly_matrix(u, exps) @ T``. ``exps`` must be closed under lowering
    an exponent (every monomial's divisors are listed; :func:`poly_exponents` with ``min_degree=0``
    is). Lets a fit use the well-conditioned centred monomials while keeping the span of a subset
    of the uncentred ones.
    """
    from math import comb

    pos = {e: i for i, e in enumerate(exps)}
    T = np.zeros((len(exps), len(exps)))
    for c, e in enumerate(exps):
        for f in itertools.product(*(range(k + 1) for k in e)):
            coef = 1.0
            for j, (ej, fj) in enumerate(zip(e, f, strict=True)):
                coef *= comb(ej, fj) * float(shift[j]) ** (ej - fj)
            T[pos[tuple(f)], c] += coef
    return T


def scale_columns(x: np.ndarray, *, center: bool = True) -> np.ndarray:
    """Columns divided by their standard deviation (and centred when ``center``); constant columns kept."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    if center:
        return (x - x.mean(axis=0)) / sd
    return x / sd
