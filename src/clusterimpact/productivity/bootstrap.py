"""Firm-block bootstrap for production-function estimators.

Whole firms (all their years) are drawn with replacement; a firm drawn twice enters as two firms, so
lags stay within each copy. Replication ``b`` uses the ``b``-th child of ``numpy.random.SeedSequence(seed)``,
so the draws do not depend on the number of worker processes. Progress goes to the
``clusterimpact.productivity`` logger (about every 10 %) and to an optional ``progress(done, total)``
callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from clusterimpact.productivity._prep import Arrays

__all__ = ["firm_bootstrap", "resample_firms"]

log = logging.getLogger("clusterimpact.productivity")

Statistic = Callable[[Arrays], np.ndarray]


def resample_firms(arr: Arrays, rng: np.random.Generator) -> Arrays:
    """One firm-block resample of ``arr`` (rows sorted by firm, so each firm is a contiguous block)."""
    unit = arr.unit
    n = unit.size
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    lens = np.diff(np.r_[starts, n])
    nf = starts.size
    pick = rng.integers(0, nf, nf)
    lens_p = lens[pick]
    firsts = np.r_[0, np.cumsum(lens_p)[:-1]]
    rows = np.arange(int(lens_p.sum())) + np.repeat(starts[pick] - firsts, lens_p)
    return arr.take(rows, np.repeat(np.arange(nf, dtype=np.int64), lens_p))


def _run_chunk(
    stat: Statistic, arr: Arrays, seeds: list[np.random.SeedSequence], k: int
) -> tuple[np.ndarray, list[str]]:
    out = np.full((len(seeds), k), np.nan)
    errors: list[str] = []
    for i, ss in enumerate(seeds):
        try:
            out[i] = stat(resample_firms(arr, np.random.default_rng(ss)))
        except Exception as exc:  # a failed replication is counted, not fatal
            errors.append(f"{type(exc).__name__}: {exc}")
    return out, errors


def firm_bootstrap(
    stat: Statistic,
    arr: Arrays,
    *,
    reps: int,
    k: int,
    seed: int | None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Run ``stat`` on ``reps`` firm-block resamples; returns draws (reps x k, NaN rows failed) and errors.

    ``stat`` must be picklable when ``n_jobs > 1`` (worker processes).
    """
    children = np.random.SeedSequence(seed).spawn(reps)
    draws = np.full((reps, k), np.nan)
    errors: list[str] = []
    step = max(1, reps // 10)
    if n_jobs <= 1 or reps < 2:
        for b in range(reps):
            row, err = _run_chunk(stat, arr, [children[b]], k)
            draws[b] = row[0]
            errors += err
            done = b + 1
            if progress is not None:
                progress(done, reps)
            if done % step == 0 or done == reps:
                log.info("bootstrap: %d of %d replications done", done, reps)
        return draws, errors
    n_chunks = min(reps, max(n_jobs * 4, n_jobs))
    bounds = np.linspace(0, reps, n_chunks + 1).astype(int)
    done = 0
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = {
            pool.submit(_run_chunk, stat, arr, children[lo:hi], k): (lo, hi)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            if hi > lo
        }
        for fut in as_completed(futures):
            lo, hi = futures[fut]
            rows, err = fut.result()
            draws[lo:hi] = rows
            errors += err
            done += hi - lo
            if progress is not None:
                progress(done, reps)
            log.info("bootstrap: %d of %d replications done", done, reps)
    return draws, errors
