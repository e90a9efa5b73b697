"""One closeness assertion for every floating-point comparison in the suite.

``assert_close(actual, expected, rel=..., floor=..., abs=...)`` passes when, element by element,

    |actual - expected| <= abs + floor * max|expected| + rel * |expected|

``floor`` is the absolute floor scaled to the magnitude of the whole array: two computations of the same
matrix along different summation paths (BLAS kernels, thread counts, SIMD widths, row orders) agree to
a few ulps *of its largest entries*, so an entry that is small only because of cancellation (a
covariance of 2.6e-6 next to variances of 5e-4) cannot be held to a relative tolerance of its own.
``abs`` is a fixed absolute tolerance, for comparisons with printed tables (half a unit in the last
printed digit). All three come from named constants in ``tests/tolerances.py``.

NaN must sit in the same places on both sides. Arrays, pandas objects and scalars are compared as float
arrays after broadcasting ``expected`` to the shape of ``actual`` (indexes are not aligned: compare
labels separately when they matter).

With ``CLUSTERIMPACT_TOL_AUDIT=<file>`` set, every call appends the share of its tolerance it used
(``max |diff| / allowed``) to ``<file>``; ``python tests/_tolerance_audit.py`` runs the numeric tests
under several BLAS/SIMD settings and tabulates the largest share per call site (tests/README.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["assert_close", "assert_dask_equal", "assert_differ", "used_share"]


def used_share(actual: Any, expected: Any, *, rel: float, floor: float, abs: Any) -> float:
    """Largest share of its tolerance an element uses (``inf`` on a NaN mismatch or a shape error)."""
    a = np.asarray(actual, dtype=float)
    e = np.broadcast_to(np.asarray(expected, dtype=float), a.shape)
    ab = np.broadcast_to(np.asarray(abs, dtype=float), a.shape)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if (nan_a != nan_e).any():
        return float("inf")
    ok = ~nan_a
    if not ok.any():
        return 0.0
    a, e, ab = a[ok], e[ok], ab[ok]
    inf = np.isinf(a) | np.isinf(e)
    if inf.any():
        if not (a == e)[inf].all():
            return float("inf")
        a, e, ab = a[~inf], e[~inf], ab[~inf]
        if a.size == 0:
            return 0.0
    diff = np.abs(a - e)
    allowed = ab + floor * float(np.max(np.abs(e))) + rel * np.abs(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(diff == 0, 0.0, diff / allowed)
    return float(np.max(share))


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rel: float = 0.0,
    floor: float = 0.0,
    abs: Any = 0.0,
    msg: object = "",
) -> None:
    """Assert ``|actual - expected| <= abs + floor * max|expected| + rel * |expected|`` elementwise.

    Parameters
    ----------
    actual, expected
        Scalars, arrays or pandas objects; ``expected`` broadcasts to ``actual``'s shape.
    rel
        Relative tolerance on each element.
    floor
        Absolute floor as a multiple of ``max|expected|`` (the magnitude of the whole comparison).
    abs
        Fixed absolute tolerance (printed precision, or a multiple of a standard error): a scalar or
        an array broadcasting to ``actual``.
    msg
        Shown on failure.
    """
    if min(rel, floor, float(np.min(abs))) < 0 or rel + floor + float(np.max(abs)) == 0:
        raise ValueError("assert_close needs a positive tolerance (rel, floor or abs)")
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    try:
        np.broadcast_to(e, a.shape)
    except ValueError:
        raise AssertionError(
            f"shapes differ: actual {a.shape}, expected {e.shape}. {msg}"
        ) from None
    share = used_share(a, e, rel=rel, floor=floor, abs=abs)
    if os.environ.get("CLUSTERIMPACT_TOL_AUDIT"):
        from _tolerance_audit import record

        record(share, a, e)
    if not share <= 1.0:
        eb = np.broadcast_to(e, a.shape)
        diff = np.abs(a - eb)
        worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), -1, diff))), a.shape)
        raise AssertionError(
            f"not close: used {share:.3g} of the tolerance (rel={rel:g}, floor={floor:g} x "
            f"max|expected|={float(np.nanmax(np.abs(eb))) if eb.size else 0:.3g}, "
            f"abs={float(np.max(abs)):g}); "
            f"worst at {worst}: actual {a[worst]!r}, expected {eb[worst]!r}. {msg}"
        )


def assert_differ(actual: Any, other: Any, *, rel: float, msg: object = "") -> None:
    """Assert that two arrays differ somewhere by more than ``rel * max|other|`` (a real change).

    The counterpart of ``assert_close`` for "this option changes the answer": a difference at the
    level of rounding noise does not count.
    """
    a = np.asarray(actual, dtype=float)
    b = np.broadcast_to(np.asarray(other, dtype=float), a.shape)
    gap = float(np.nanmax(np.abs(a - b))) if a.size else 0.0
    scale = float(np.nanmax(np.abs(b))) if b.size else 0.0
    if not gap > rel * scale:
        raise AssertionError(
            f"expected a difference above {rel:g} x max|other| = {rel * scale:.3g}, got {gap:.3g}. {msg}"
        )


def assert_dask_equal(actual: Any, expected: Any, msg: object = "") -> None:
    """A Dask result against its in-memory twin: :func:`assert_close` at ``DASK_REL`` / ``DASK_FLOOR``
    (the same sufficient statistics, summed in another order), the bar of every ``tests/dask`` module."""
    from tolerances import DASK_FLOOR, DASK_REL

    assert_close(actual, expected, rel=DASK_REL, floor=DASK_FLOOR, msg=msg)
