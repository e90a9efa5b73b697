"""Where a production-function estimator's passes over the rows run: one frame, or Dask partitions.

The closed-form estimators (OLS, FE, labour productivity, Wooldridge) are written once, as

(a) per-partition functions ``fn(arr, cache, *args)`` returning additive statistics (cross-products,
    counts, firm-clustered score products: every firm is in one partition, so these are sums over
    partitions),
(b) a sum over partitions,
(c) a small solve on the client, and
(d) second passes given the solved coefficients (scores for the standard errors, ln TFP by row).

:class:`MemoryRunner` runs (a) and (d) on the whole estimation sample as one partition (``cache`` keeps
designs between its passes, so the in-memory path builds each design once); ``DaskRunner``
(in ``_dask.py``) maps them over the partitions of a :class:`~clusterimpact.dask.FirmPartitions` and sums
in partition order. The estimators cannot tell them apart, so both paths compute the same statistics
with the same code and differ only by the order of floating-point summation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from clusterimpact.errors import EstimationError
from clusterimpact.productivity._prep import Arrays

__all__ = [
    "Blocks",
    "EmptySample",
    "MemoryBlocks",
    "MemoryRunner",
    "RowRule",
    "Runner",
    "add_stats",
    "moments",
]

#: ``fn(arr, cache, *args)``: a pass over one partition's estimation arrays
PartFn = Callable[..., Any]


@dataclass(frozen=True)
class RowRule:
    """A per-row result (ln TFP) as the function that computes it from a partition's arrays and the
    broadcast coefficients: ``fn(arr, {}, *args) -> (ln_tfp, ln_tfp_resid)``."""

    fn: PartFn
    args: tuple[Any, ...]

    def __call__(self, arr: Arrays, cache: dict[str, Any] | None = None) -> Any:
        return self.fn(arr, {} if cache is None else cache, *self.args)


class Runner:
    """The interface the estimators compute through (see the module docstring)."""

    #: True on the Dask path (where the rows never come to the client)
    distributed: bool = False

    def reduce(self, fn: PartFn, *args: Any) -> Any:
        """The sum over partitions of ``fn(arr, cache, *args)`` (dicts key by key)."""
        raise NotImplementedError

    def rows(self, fn: PartFn, *args: Any) -> Any:
        """``fn(arr, cache, *args)`` by row: the arrays in memory, a :class:`RowRule` on Dask."""
        raise NotImplementedError

    def lstsq(self, design: PartFn, *args: Any) -> np.ndarray:
        """Least squares on the rows of ``design(arr, cache, *args) -> (D, y)`` (the fallback of an
        ill-conditioned normal-equation solve)."""
        raise NotImplementedError

    def blocks(self, fn: PartFn, *args: Any) -> Blocks:
        """Rows derived once per partition, ``fn(arr, cache, *args) -> dict`` of equal-length arrays
        (kept: the arrays in memory, persisted partitions on Dask), to be reduced over many times
        (an optimiser's criterion)."""
        raise NotImplementedError


class Blocks:
    """Derived rows kept per partition (see :meth:`Runner.blocks`)."""

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        """The sum over partitions of ``fn(rows, *args)`` (``rows``: the dict of arrays)."""
        raise NotImplementedError


class MemoryBlocks(Blocks):
    """The derived rows of the whole sample as one block."""

    def __init__(self, rows: dict[str, np.ndarray]) -> None:
        self.rows = rows

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(self.rows, *args)

    def subset(self, mask: np.ndarray) -> MemoryBlocks:
        """The rows where ``mask`` holds."""
        return MemoryBlocks({k: v[mask] for k, v in self.rows.items()})


class MemoryRunner(Runner):
    """The whole estimation sample as one partition (the in-memory path)."""

    def __init__(self, arr: Arrays) -> None:
        self.arr = arr
        self.cache: dict[str, Any] = {}

    def reduce(self, fn: PartFn, *args: Any) -> Any:
        return fn(self.arr, self.cache, *args)

    def rows(self, fn: PartFn, *args: Any) -> Any:
        return fn(self.arr, self.cache, *args)

    def lstsq(self, design: PartFn, *args: Any) -> np.ndarray:
        D, y = design(self.arr, self.cache, *args)
        return np.asarray(np.linalg.lstsq(D, y, rcond=None)[0])

    def blocks(self, fn: PartFn, *args: Any) -> MemoryBlocks:
        return MemoryBlocks(fn(self.arr, self.cache, *args))


def add_stats(a: Any, b: Any) -> Any:
    """``a + b`` of partition statistics; ``None`` (a partition without usable rows) adds nothing.

    Dict keys starting ``min_``/``max_`` combine by minimum/maximum, keys missing on one side (counts
    by exclusion reason) count as zero; arrays and numbers add.
    """
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        out = dict(a)
        for k, v in b.items():
            if k not in out:
                out[k] = v
            elif k.startswith("min_"):
                out[k] = np.minimum(out[k], v)
            elif k.startswith("max_"):
                out[k] = np.maximum(out[k], v)
            else:
                out[k] = add_stats(out[k], v)
        return out
    if isinstance(a, (tuple, list)):
        return type(a)(add_stats(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def columns(arr: Arrays) -> np.ndarray:
    """The estimation variables side by side: output, free, state, controls, then the proxy."""
    parts = [arr.y[:, None], arr.F, arr.K, arr.C]
    if arr.P is not None:
        parts.append(arr.P[:, None])
    return np.column_stack(parts)


def _columns(arr: Arrays, cache: dict[str, Any]) -> np.ndarray:
    if "columns" not in cache:
        cache["columns"] = columns(arr)
    return np.asarray(cache["columns"])


def _n_units(unit: np.ndarray) -> int:
    """Distinct firms (rows grouped by firm, as prepared, need no sort)."""
    if unit.size and np.all(unit[1:] >= unit[:-1]):
        return int(np.count_nonzero(unit[1:] != unit[:-1])) + 1
    return int(np.unique(unit).size)


def _sums(arr: Arrays, cache: dict[str, Any], full: bool) -> dict[str, Any]:
    V = _columns(arr, cache)
    out = {"n": arr.n, "n_cur": int(arr.cur.size), "sum": V.sum(axis=0)}
    if full:
        out |= {"n_units": _n_units(arr.unit), "min_": V.min(axis=0), "max_": V.max(axis=0)}
    else:
        out["ss"] = np.einsum("ij,ij->j", V, V)
    return out


def _centred(arr: Arrays, cache: dict[str, Any], mean: np.ndarray) -> np.ndarray:
    Vc = _columns(arr, cache)[:, 1:] - mean[1:]
    return np.asarray(Vc.T @ Vc)


def _ss(arr: Arrays, cache: dict[str, Any], mean: np.ndarray) -> np.ndarray:
    d = _columns(arr, cache) - mean
    return np.asarray((d * d).sum(axis=0))


class EmptySample(EstimationError):
    """No partition holds a usable firm-year (the Dask path turns it into prepare's DataError)."""


@dataclass(frozen=True)
class Moments:
    """Counts, means, standard deviations (ddof 0), ranges and the centred cross-product of the
    regressors and proxy (columns of :func:`columns` without the output) of the estimation sample
    (ranges, cross-product and firm count only from ``moments(full=True)``)."""

    n: int
    n_units: int
    n_cur: int
    mean: np.ndarray
    sd: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cross: np.ndarray


def moments(runner: Runner, *, full: bool = False) -> Moments:
    """Counts, means and standard deviations from one pass of sums and sums of squares (precise to
    about 1e-16 (mean/sd)^2: for scaling constants); ``full``: a second pass for the centred sums
    of squares and cross-product, with the ranges and the firm count (the data checks)."""
    s = runner.reduce(_sums, full)
    if s is None or s["n"] == 0:
        raise EmptySample("no usable firm-year in any partition")
    n = int(s["n"])
    mean = s["sum"] / n
    if full:
        cp = runner.reduce(_centred, mean)
        ss = runner.reduce(_ss, mean)
        lo, hi, n_units = s["min_"], s["max_"], int(s["n_units"])
    else:
        cp, ss = np.zeros((0, 0)), np.clip(s["ss"] - n * mean * mean, 0.0, None)
        lo = hi = np.zeros(0)
        n_units = -1
    return Moments(
        n=n,
        n_units=n_units,
        n_cur=int(s["n_cur"]),
        mean=mean,
        sd=np.sqrt(ss / n),
        lo=lo,
        hi=hi,
        cross=cp,
    )
