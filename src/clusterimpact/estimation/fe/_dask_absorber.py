"""The fixed-effect absorber of :mod:`~clusterimpact.estimation.fe._demean` over firm partitions (Dask).

The in-memory :class:`~clusterimpact.estimation.fe._demean.Absorber` sweeps the primary effect (the firm)
by group means and solves the small secondary system ``A delta = D'Wv - C'm`` (years, sector^year ...).
Every firm lives in one partition, so the firm sweep is partition-local and ``A`` and the right-hand
sides are sums over partitions: each partition builds an ``Absorber`` on its own rows (local firm codes,
GLOBAL secondary level codes) without solving, hands back its piece of ``A`` (:meth:`Absorber.system_matrix`)
and of the right-hand sides (:meth:`Absorber.reduced_rhs`); the client sums them in partition order and
solves once with the same :class:`~clusterimpact.estimation.fe._blocksolve.BlockSolver`; every partition
then applies :meth:`Absorber.within` with the solution. The numbers are those of the in-memory engine up
to the order of summation (roundoff).

Use (on the running client if there is one, else on the local threaded scheduler)
---
>>> import pandas as pd
>>> from clusterimpact.dask import FirmPartitions
>>> from clusterimpact.estimation.fe._dask_absorber import DaskAbsorber, demean
>>> df = pd.DataFrame({"firm": [1, 1, 2, 2, 3, 3], "year": [1, 2, 1, 2, 1, 2],
...                    "y": [1.0, 2.0, 2.0, 5.0, 0.0, 1.0]})
>>> fp = FirmPartitions.from_pandas(df, "firm", "year", npartitions=2)
>>> ab = DaskAbsorber(fp, ["year"])  # level pass + the secondary system
>>> delta = ab.solve(["y"])  # one pass: right-hand sides summed, solved on the client
>>> def rss(part, spec, delta):  # any statistic of the within-transformed sample rows
...     z = demean(part, spec, ["y"], delta)
...     return float((z**2).sum())
>>> round(fp.map_reduce(rss, ab.spec, delta), 6)
1.333333

Level codes (years, sector^year) are global: a first pass counts the levels of every secondary effect
on the sample rows of every partition, and the union (sorted) fixes the codes. Effects that are
coarsenings of another (``year`` next to ``sector^year``; ``sector`` constant within firms) are found
from statistics summed over partitions and left out, as in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, SpecError
from clusterimpact.estimation.fe._blocksolve import CG_TOL, BlockSolver
from clusterimpact.estimation.fe._demean import (
    MAX_DENSE_LEVELS,
    Absorber,
    _is_coarsening,
    factorize,
    redundant_effects,
)

__all__ = [
    "MAX_SECONDARY_LEVELS",
    "AbsorbSpec",
    "DaskAbsorber",
    "demean",
    "effect_codes",
    "partition_absorber",
    "sample_mask",
    "sample_rows",
]

# the secondary system travels from every partition as a dense H x H array (8 H^2 bytes): its levels
# must be few (years, sector^year); above this the Dask path refuses
MAX_SECONDARY_LEVELS = 2500

Rows = str | Callable[[pd.DataFrame], np.ndarray] | None
# columns to absorb: names, or a function of the sample rows returning an n x K array
Columns = Sequence[str] | Callable[[pd.DataFrame], np.ndarray]


@dataclasses.dataclass(frozen=True)
class AbsorbSpec:
    """What every partition needs to absorb the fixed effects the same way (small; sent to tasks).

    Attributes
    ----------
    firm
        The primary effect: the partition key (firm id column).
    effects
        Secondary effects as written (``"year"``, ``"sector^year"``), all of them (also those dropped).
    levels
        Global levels of each effect on the sample rows (sorted; tuples for interactions).
    weights
        Weight column or None.
    rows
        The sample: a boolean column, a function ``rows(partition) -> bool array``, or None (all rows).
    dropped
        Indices into ``effects`` left out as coarsenings of another effect.
    """

    firm: str
    effects: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    weights: str | None = None
    rows: Rows = None
    dropped: tuple[int, ...] = ()

    @property
    def kept(self) -> list[int]:
        """Indices into ``effects`` of the effects absorbed."""
        return [i for i in range(len(self.effects)) if i not in self.dropped]

    @property
    def H(self) -> int:
        """Levels of the secondary system (effects kept)."""
        return int(sum(len(self.levels[i]) for i in self.kept))


def sample_mask(part: pd.DataFrame, rows: Rows) -> np.ndarray:
    """Boolean mask of a partition's sample rows (``rows``: column, function or None)."""
    if rows is None:
        return np.ones(len(part), dtype=bool)
    if isinstance(rows, str):
        return part[rows].to_numpy(dtype=bool)
    return np.asarray(rows(part), dtype=bool)


def sample_rows(part: pd.DataFrame, rows: Rows) -> pd.DataFrame:
    """The sample rows of a partition (the partition itself when every row is in the sample)."""
    mask = sample_mask(part, rows)
    return part if mask.all() else part.loc[mask]


def _effect_keys(sub: pd.DataFrame, effect: str) -> pd.Index:
    cols = effect.split("^")
    missing = [c for c in cols if c not in sub.columns]
    if missing:
        raise DataError(
            f"fixed effect {effect!r} needs column(s) {missing} that are not in the data",
            column=missing[0],
        )
    bad = sub[cols].isna().any(axis=1).to_numpy()
    if bad.any():
        raise DataError(
            f"missing values in fixed effect {effect!r} on sample rows",
            column=cols[0],
            rows=list(sub.index[bad][:20]),
        )
    if len(cols) == 1:
        return pd.Index(sub[cols[0]])
    return pd.MultiIndex.from_frame(sub[cols])


def _weights(sub: pd.DataFrame, weights: str | None) -> np.ndarray | None:
    if weights is None:
        return None
    w = sub[weights].to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(
            "weights must be finite and non-negative on sample rows",
            column=weights,
            rows=list(sub.index[bad][:20]),
        )
    return w


def _level_counts(part: pd.DataFrame, effects: Sequence[str], rows: Rows) -> dict[str, pd.Series]:
    sub = sample_rows(part, rows)
    return {e: _effect_keys(sub, e).value_counts(sort=False) for e in effects}


def _add_counts(a: dict[str, pd.Series], b: dict[str, pd.Series]) -> dict[str, pd.Series]:
    return {k: a[k].add(b[k], fill_value=0) for k in a}


def _sorted_levels(counts: pd.Series) -> pd.Index:
    idx = counts.index[counts.to_numpy() > 0]
    try:
        return idx.sort_values()
    except TypeError as exc:
        raise DataError(f"fixed-effect levels of mixed types cannot be ordered: {exc}") from None


def effect_codes(sub: pd.DataFrame, effect: str, levels: pd.Index) -> np.ndarray:
    """Global codes (0..len(levels)-1) of ``effect`` on the rows of ``sub``; unknown levels raise."""
    codes = np.asarray(levels.get_indexer(_effect_keys(sub, effect)), dtype=np.int64)
    if codes.size and codes.min() < 0:
        bad = codes < 0
        raise DataError(
            f"levels of fixed effect {effect!r} not in the global level list",
            column=effect.split("^")[0],
            rows=list(sub.index[bad][:20]),
        )
    return codes


def partition_absorber(
    part: pd.DataFrame, spec: AbsorbSpec, *, all_effects: bool = False
) -> tuple[Absorber, pd.DataFrame]:
    """The in-memory :class:`Absorber` of one partition's sample rows, with global secondary codes and
    no solve; returns it and the sample rows. ``all_effects`` keeps the effects ``spec`` drops."""
    sub = sample_rows(part, spec.rows)
    firm_codes, g = factorize(sub[spec.firm]) if len(sub) else (np.zeros(0, np.int64), 0)
    codes = [firm_codes] + [
        effect_codes(sub, e, lv) for e, lv in zip(spec.effects, spec.levels, strict=True)
    ]
    n_levels = [g] + [len(lv) for lv in spec.levels]
    dropped = [] if all_effects else [i + 1 for i in spec.dropped]
    ab = Absorber(
        codes,
        _weights(sub, spec.weights),
        primary=0,
        n_levels=n_levels,
        dropped=dropped,
        solve=False,
    )
    return ab, sub


def _system_stats(
    part: pd.DataFrame, spec: AbsorbSpec, columns: Columns | None = None
) -> dict[str, Any]:
    """Partition piece of ``A`` over all effects, plus what decides the redundant ones, plus (given
    ``columns``) the right-hand sides over all effects."""
    ab, sub = partition_absorber(part, spec, all_effects=True)
    H = ab.H
    A = ab.system_matrix(dense=True) if H and ab.n else np.zeros((H, H))
    R = None
    if columns is not None:
        V = _columns(sub, columns)
        R = ab.reduced_rhs(V).reshape(H, V.shape[1]) if H and ab.n else np.zeros((H, V.shape[1]))
    secs = ab.codes[1:]
    # effect i a coarsening of the firm: constant within every firm (count the partitions where not)
    not_in_firm = np.array(
        [0 if _is_coarsening(c, ab.primary, ab.G) else 1 for c in secs], dtype=np.int64
    )
    pairs = {}
    for i in range(len(secs)):
        for k in range(len(secs)):
            if i != k:
                ni, nk = len(spec.levels[i]), len(spec.levels[k])
                pairs[f"{i},{k}"] = np.bincount(secs[i] * nk + secs[k], minlength=ni * nk) > 0
    pairs = {k: v.astype(np.int64) for k, v in pairs.items()}
    out = {"A": A, "not_in_firm": not_in_firm, "pairs": pairs, "firms": ab.G, "n": ab.n}
    if R is not None:
        out["R"] = R
    return out


def _rhs_stats(part: pd.DataFrame, spec: AbsorbSpec, columns: Columns) -> np.ndarray:
    ab, sub = partition_absorber(part, spec)
    V = _columns(sub, columns)
    if not ab.H or not ab.n:
        return np.zeros((ab.H, V.shape[1]))
    ab.cell_totals()
    return np.asarray(ab.reduced_rhs(V)).reshape(ab.H, V.shape[1])


def _columns(sub: pd.DataFrame, columns: Columns) -> np.ndarray:
    if callable(columns):
        return np.asarray(columns(sub), dtype=float).reshape(len(sub), -1)
    V = np.empty((len(sub), len(columns)), order="F")
    for j, c in enumerate(columns):
        V[:, j] = sub[c].to_numpy(dtype=float, na_value=np.nan)
    return V


def demean(
    part: pd.DataFrame,
    spec: AbsorbSpec,
    columns: Columns | np.ndarray,
    delta: np.ndarray,
) -> np.ndarray:
    """Within transform of ``columns`` on a partition's sample rows (n_sample x K, partition order).

    ``columns``: column names, a function of the sample rows returning an n_sample x K array, or that
    array itself; ``delta``: :meth:`DaskAbsorber.solve` for them (H x K).
    """
    ab, sub = partition_absorber(part, spec)
    V = (
        np.asarray(columns, dtype=float)
        if isinstance(columns, np.ndarray)
        else _columns(sub, columns)
    )
    if not ab.n:
        return np.zeros((0, V.shape[1]))
    ab.cell_totals()
    return ab.within(V, np.asarray(delta, dtype=float).reshape(ab.H, V.shape[1]))


class DaskAbsorber:
    """Absorb a firm effect plus secondary effects with few levels on :class:`FirmPartitions`.

    Parameters
    ----------
    data
        :class:`~clusterimpact.dask.FirmPartitions` (its ``firm`` is the primary effect).
    effects
        Secondary effects (``"year"``, ``"sector^year"``); may be empty (the firm sweep only).
    weights
        Weight column (analytic weights) or None.
    rows
        The sample: boolean column, function ``rows(partition) -> bool array``, or None (all rows).
    levels
        Level counts of each effect on the sample rows (``{effect: pd.Series}``, e.g. from a pass the
        caller makes anyway): the level pass is skipped.
    columns
        Columns to absorb (as :meth:`solve`): their right-hand sides are summed in the same pass as the
        system, and :meth:`solve` without arguments solves for them.
    max_dense, cg_tol, maxiter
        As :class:`~clusterimpact.estimation.fe._demean.Absorber`.

    Attributes
    ----------
    spec
        :class:`AbsorbSpec` to pass to :func:`demean` in the partitions.
    n_firms, nobs
        Firms and rows in the sample.
    rank_secondary
        Rank of the secondary system (as ``Absorber.rank_secondary``).
    """

    def __init__(
        self,
        data: Any,
        effects: Sequence[str],
        *,
        weights: str | None = None,
        rows: Rows = None,
        levels: dict[str, pd.Series] | None = None,
        columns: Columns | None = None,
        max_dense: int | None = None,
        cg_tol: float = CG_TOL,
        maxiter: int = 20_000,
        scheduler: str | None = None,
    ) -> None:
        self.data = data
        self.scheduler = scheduler
        effects = tuple(effects)
        if data.firm in effects:
            raise SpecError(f"the firm {data.firm!r} is the primary effect: not a secondary one")
        counts = levels
        if counts is None:
            counts = data.map_reduce(
                _level_counts, effects, rows, combine=_add_counts, scheduler=scheduler
            )
        lvls = tuple(_sorted_levels(counts[e]) for e in effects)
        total = sum(len(lv) for lv in lvls)
        if total > MAX_SECONDARY_LEVELS:
            raise SpecError(
                f"fixed effects {' + '.join(effects)} have {total} levels: the Dask path absorbs the "
                f"firm plus effects with at most {MAX_SECONDARY_LEVELS} levels in all"
            )
        spec = AbsorbSpec(data.firm, effects, lvls, weights, rows)
        if columns is not None and not callable(columns):
            columns = list(columns)
        stats = data.map_reduce(_system_stats, spec, columns, scheduler=scheduler)
        self.n_firms = int(stats["firms"])
        self.nobs = int(stats["n"])
        dropped = self._redundant(stats, lvls)
        self.spec = dataclasses.replace(spec, dropped=tuple(dropped))
        keep = np.concatenate(
            [np.arange(len(lvls[i])) + sum(len(lv) for lv in lvls[:i]) for i in self.spec.kept]
            or [np.zeros(0, dtype=np.int64)]
        ).astype(np.int64)
        self.A = stats["A"][np.ix_(keep, keep)]
        # the right-hand sides of the effects kept are the rows of those over all effects
        self._R = None if columns is None else np.asarray(stats["R"], dtype=float)[keep]
        dense_max = MAX_DENSE_LEVELS if max_dense is None else int(max_dense)
        self.solver = BlockSolver(self.A, max_dense=dense_max, cg_tol=cg_tol, maxiter=maxiter)
        self.rank_secondary = self.solver.rank

    def _redundant(self, stats: dict[str, Any], levels: tuple[pd.Index, ...]) -> list[int]:
        """Effects that are coarsenings of another, decided as in memory (firm = effect 0)."""
        n = [self.n_firms] + [len(lv) for lv in levels]

        def coarsening(i: int, k: int) -> bool:
            if k == 0:
                return bool(stats["not_in_firm"][i - 1] == 0)
            if i == 0:
                return False
            P = stats["pairs"][f"{i - 1},{k - 1}"].reshape(n[i], n[k]) > 0
            per = P.sum(axis=0)
            return bool(np.all(per[per > 0] == 1))

        if not levels:
            return []
        return [i - 1 for i in redundant_effects([], n, keep=0, coarsening=coarsening)]

    @property
    def n_levels(self) -> list[int]:
        """Levels of every secondary effect (``spec.effects`` order, dropped ones included)."""
        return [len(lv) for lv in self.spec.levels]

    def solve(self, columns: Columns | None = None) -> np.ndarray:
        """``delta`` (H x K) of the secondary system for each of ``columns`` (names, or a function of
        a partition's sample rows returning an n x K array; one pass over the partitions), or for the
        ``columns`` given to the constructor (no pass)."""
        if columns is None:
            if self._R is None:
                raise SpecError("solve() without columns needs DaskAbsorber(..., columns=...)")
            return np.asarray(self.solver.solve(self._R)) if self.spec.H else self._R
        cols = columns if callable(columns) else list(columns)
        R = np.asarray(
            self.data.map_reduce(_rhs_stats, self.spec, cols, scheduler=self.scheduler), dtype=float
        )
        if not self.spec.H:
            return np.zeros((0, R.shape[1]))
        return np.asarray(self.solver.solve(R))
