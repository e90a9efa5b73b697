"""Firm-block bootstrap for production-function estimators.

Whole firms (all their years) are drawn with replacement; a firm drawn twice enters as two firms, so
lags stay within each copy. Replication ``b`` uses the ``b``-th child of ``numpy.random.SeedSequence(seed)``,
so the draws do not depend on the number of worker processes. Progress goes to the
``clusterimpact.productivity`` logger (about every 10 %) and to an optional ``progress(done, total)``
callback. :func:`firm_block_rows` is the draw itself and ``firm_bootstrap(resample=...)`` takes any
data object with its own resampler built on it (the whole-chain bootstrap, :mod:`clusterimpact.chain`,
resamples the firm panel with the same draws).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

import numpy as np

from clusterimpact._progress import Progress, inner
from clusterimpact.productivity._prep import Arrays

__all__ = ["firm_block_rows", "firm_bootstrap", "resample_firms"]

log = logging.getLogger("clusterimpact.productivity")

D = TypeVar("D")
Statistic = Callable[[Any], np.ndarray]


def firm_block_rows(unit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One firm-block draw: the rows of the resample and the new firm code of each row.

    ``unit`` holds the firm of each row, rows sorted by firm (each firm a contiguous block). As many
    firms as there are are drawn with replacement; the ``j``-th drawn firm gets code ``j``, so a firm
    drawn twice enters as two firms.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.productivity.bootstrap import firm_block_rows
    >>> unit = np.array([0, 0, 1, 2, 2, 2])  # three firms, rows sorted by firm
    >>> rows, code = firm_block_rows(unit, np.random.default_rng(0))
    >>> len(np.unique(code)) == 3, bool(np.all(np.diff(code) >= 0))  # three draws, each a whole block
    (True, True)
    """
    n = unit.size
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    lens = np.diff(np.r_[starts, n])
    nf = starts.size
    pick = rng.integers(0, nf, nf)
    lens_p = lens[pick]
    firsts = np.r_[0, np.cumsum(lens_p)[:-1]]
    rows = np.arange(int(lens_p.sum())) + np.repeat(starts[pick] - firsts, lens_p)
    return rows, np.repeat(np.arange(nf, dtype=np.int64), lens_p)


def resample_firms(arr: Arrays, rng: np.random.Generator) -> Arrays:
    """One firm-block resample of ``arr`` (rows sorted by firm, so each firm is a contiguous block).

    Examples
    --------
    >>> import numpy as np
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.estimate_tfp(example_panel(), method="ols", bootstrap=49, seed=1)  # resample_firms inside
    >>> result.bootstrap_draws.shape[0], bool(np.isfinite(result.std_errors).all())
    (49, True)
    """
    return arr.take(*firm_block_rows(arr.unit, rng))


def _run_chunk(
    stat: Statistic,
    arr: D,
    seeds: list[np.random.SeedSequence],
    k: int,
    resample: Callable[[D, np.random.Generator], D],
) -> tuple[np.ndarray, list[str]]:
    out = np.full((len(seeds), k), np.nan)
    errors: list[str] = []
    for i, ss in enumerate(seeds):
        try:
            out[i] = stat(resample(arr, np.random.default_rng(ss)))
        except Exception as exc:  # a failed replication is counted, not fatal
            errors.append(f"{type(exc).__name__}: {exc}")
    return out, errors


def firm_bootstrap(
    stat: Statistic,
    arr: Any,
    *,
    reps: int,
    k: int,
    seed: int | None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    resample: Callable[[Any, np.random.Generator], Any] = resample_firms,
    label: str = "bootstrap",
) -> tuple[np.ndarray, list[str]]:
    """Run ``stat`` on ``reps`` firm-block resamples; returns draws (reps x k, NaN rows failed) and errors.

    ``resample(arr, rng)`` draws one resample (default :func:`resample_firms` for production
    ``Arrays``); replication ``b`` gets ``numpy.random.default_rng(SeedSequence(seed).spawn(reps)[b])``.
    ``stat`` and ``resample`` must be picklable when ``n_jobs > 1`` (worker processes). Without a
    ``progress`` callback, progress lines named ``label`` go to a terminal (:mod:`clusterimpact._progress`).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.productivity.bootstrap import firm_block_rows, firm_bootstrap
    >>> unit = np.repeat(np.arange(50), 4)
    >>> y = np.random.default_rng(1).standard_normal(200)
    >>> def resample(arr, rng):
    ...     rows, _ = firm_block_rows(arr[0], rng)
    ...     return arr[0][rows], arr[1][rows]
    >>> def mean(arr):
    ...     return np.array([arr[1].mean()])
    >>> draws, errors = firm_bootstrap(mean, (unit, y), reps=99, k=1, seed=0, resample=resample)
    >>> draws.shape, len(errors)
    ((99, 1), 0)
    """
    tick = progress if progress is not None else Progress(label, reps)
    children = np.random.SeedSequence(seed).spawn(reps)
    draws = np.full((reps, k), np.nan)
    errors: list[str] = []
    step = max(1, reps // 10)
    if n_jobs <= 1 or reps < 2:
        for b in range(reps):
            with inner():  # loops inside a replication stay silent
                row, err = _run_chunk(stat, arr, [children[b]], k, resample)
            draws[b] = row[0]
            errors += err
            done = b + 1
            tick(done, reps)
            if done % step == 0 or done == reps:
                log.info("bootstrap: %d of %d replications done", done, reps)
        return draws, errors
    n_chunks = min(reps, max(n_jobs * 4, n_jobs))
    bounds = np.linspace(0, reps, n_chunks + 1).astype(int)
    done = 0
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = {
            pool.submit(_run_chunk, stat, arr, children[lo:hi], k, resample): (lo, hi)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            if hi > lo
        }
        for fut in as_completed(futures):
            lo, hi = futures[fut]
            rows, err = fut.result()
            draws[lo:hi] = rows
            errors += err
            done += hi - lo
            tick(done, reps)
            log.info("bootstrap: %d of %d replications done", done, reps)
    return draws, errors
