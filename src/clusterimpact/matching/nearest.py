"""Nearest-neighbour search for matching: sorted arrays, never an n x m distance matrix when 1-D.

Two kinds of search:

* one-dimensional (a propensity-score index or a single covariate): controls are sorted once per exact
  cell and each query is placed with :func:`numpy.searchsorted`; the k nearest lie within k positions on
  either side, so the cost is O((n + m) log m) and the memory O(n k);
* several dimensions (Mahalanobis or inverse-variance metric): brute force per exact cell, in chunks of
  queries so the distance block stays below ~2*10^7 numbers.

Pairs come back as integer positions into the query and reference arrays. With ``ties=False`` exactly
``min(k, available)`` references are returned per query, ties at the k-th distance broken by sorted
position (lower score first, then lower row); with ``ties=True`` every reference at distance <= the k-th
smallest distance is kept (Abadie & Imbens 2006). A caliper drops pairs farther apart than it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np

__all__ = ["GreedyOrder", "greedy_1d", "greedy_md", "knn_1d", "knn_md"]

GreedyOrder = Literal["largest", "smallest", "data", "random"]

_REL_TIE = 1e-10  # distances equal up to this relative tolerance are ties
_BLOCK = 20_000_000  # numbers per brute-force distance block

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty() -> Pairs:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float)


def _cells(
    qcell: np.ndarray | None, rcell: np.ndarray | None, nq: int, nr: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (query positions, reference positions) per exact cell shared by both sides."""
    if qcell is None or rcell is None:
        yield np.arange(nq), np.arange(nr)
        return
    qo = np.argsort(_small(qcell), kind="stable")
    ro = np.argsort(_small(rcell), kind="stable")
    qs, rs = qcell[qo], rcell[ro]
    uq, q_start = np.unique(qs, return_index=True)
    q_end = np.append(q_start[1:], len(qs))
    r_lo = np.searchsorted(rs, uq, side="left")
    r_hi = np.searchsorted(rs, uq, side="right")
    for i in range(len(uq)):
        if r_hi[i] > r_lo[i]:
            yield qo[q_start[i] : q_end[i]], ro[r_lo[i] : r_hi[i]]


def _small(cell: np.ndarray) -> np.ndarray:
    """Cell codes as int16 when they fit: numpy's stable sort of 16-bit integers is a radix sort
    (linear; 10^6 codes in a few ms instead of a comparison sort)."""
    if len(cell) and cell.dtype.kind in "iu" and cell.min() >= -(2**15) and cell.max() < 2**15:
        return cell.astype(np.int16)
    return cell


def _argsort_stable(r: np.ndarray) -> np.ndarray:
    """Stable argsort at the price of the (SIMD) quicksort when there are no ties (any correct sort
    of distinct values is the stable one); the stable merge sort only when some value repeats."""
    order = np.argsort(r)
    sr = r[order]
    if len(r) > 1 and np.any(sr[1:] == sr[:-1]):
        return np.argsort(r, kind="stable")
    return order


def _concat(parts: list[Pairs]) -> Pairs:
    if not parts:
        return _empty()
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def knn_1d(
    q: np.ndarray,
    r: np.ndarray,
    k: int,
    *,
    qcell: np.ndarray | None = None,
    rcell: np.ndarray | None = None,
    caliper: float | None = None,
    ties: bool = False,
    q_ids: np.ndarray | None = None,
    r_ids: np.ndarray | None = None,
    tie_tol: float = 0.0,
) -> Pairs:
    """k nearest references of each query on a line, within exact cells.

    Parameters
    ----------
    q, r
        Query and reference values (1-D float arrays).
    k
        Number of neighbours.
    qcell, rcell
        Integer exact-cell codes (queries only meet references of the same cell).
    caliper
        Maximum absolute distance; farther pairs are dropped.
    ties
        Keep every reference tied with the k-th nearest.
    q_ids, r_ids
        Unit ids of queries and references when the two sets overlap: a unit is never its own
        neighbour (used to estimate conditional variances within a treatment group).
    tie_tol
        Distances within this (absolute) amount of the k-th smallest count as ties (R Matching's
        ``distance.tolerance`` is 1e-5); 0 keeps exact ties only (up to a 1e-10 relative rounding).

    Returns
    -------
    (query position, reference position, distance), sorted by query then distance.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([0.5, 0.9])              # treated scores (queries)
    >>> r = np.array([0.1, 0.45, 0.8, 1.0])   # control scores (references)
    >>> from clusterimpact.matching.nearest import knn_1d
    >>> query, ref, dist = knn_1d(q, r, 1)
    >>> query.tolist(), ref.tolist(), dist.round(2).tolist()
    ([0, 1], [1, 2], [0.05, 0.1])
    """
    parts = []
    for qi_cell, ri_cell in _cells(qcell, rcell, len(q), len(r)):
        ids = None if q_ids is None or r_ids is None else (q_ids[qi_cell], r_ids[ri_cell])
        p = _knn_1d_cell(q[qi_cell], r[ri_cell], k, caliper, ties, ids, tie_tol)
        parts.append((qi_cell[p[0]], ri_cell[p[1]], p[2]))
    return _concat(parts)


def _knn_1d_cell(
    q: np.ndarray,
    r: np.ndarray,
    k: int,
    caliper: float | None,
    ties: bool,
    ids: tuple[np.ndarray, np.ndarray] | None,
    tie_tol: float = 0.0,
) -> Pairs:
    m = len(r)
    self_exclude = ids is not None
    kk = k + 1 if self_exclude else k
    if m == 0 or len(q) == 0 or (self_exclude and m < 2):
        return _empty()
    order = _argsort_stable(r)
    sr = r[order]
    pos = np.searchsorted(sr, q, side="left")
    off = np.arange(-kk, kk)
    cand = pos[:, None] + off[None, :]
    valid = (cand >= 0) & (cand < m)
    cand_c = np.clip(cand, 0, m - 1)
    dist = np.where(valid, np.abs(q[:, None] - sr[cand_c]), np.inf)
    nq = len(q)
    if not ties:
        if ids is not None:
            rid_sorted = ids[1][order]
            dist = np.where(rid_sorted[cand_c] == ids[0][:, None], np.inf, dist)
            kk = k
        srt = np.argsort(dist, axis=1, kind="stable")[:, :kk]
        d = np.take_along_axis(dist, srt, axis=1)
        c = np.take_along_axis(cand_c, srt, axis=1)
        qi = np.repeat(np.arange(nq), d.shape[1])
        ri, dd = c.ravel(), d.ravel()
        keep = np.isfinite(dd)
        if caliper is not None:
            keep &= dd <= caliper
        return qi[keep], order[ri[keep]], dd[keep]
    # ties: threshold at the kk-th smallest distance, then the contiguous run within it
    kth = min(kk, m) - 1
    thr = np.partition(dist, kth, axis=1)[:, kth]
    if caliper is not None:
        thr = np.minimum(thr, caliper)
    tol = thr * _REL_TIE + 1e-300 + tie_tol
    lo = np.searchsorted(sr, q - thr - 2 * tol, side="left")
    hi = np.searchsorted(sr, q + thr + 2 * tol, side="right")
    counts = hi - lo
    qi = np.repeat(np.arange(nq), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    ri = starts + np.arange(counts.sum())
    dd = np.abs(q[qi] - sr[ri])
    keep = dd <= thr[qi] + tol[qi]
    ri_orig = order[ri]
    if ids is not None:
        keep &= ids[1][ri_orig] != ids[0][qi]
    return qi[keep], ri_orig[keep], dd[keep]


def knn_md(
    Q: np.ndarray,
    R: np.ndarray,
    k: int,
    *,
    qcell: np.ndarray | None = None,
    rcell: np.ndarray | None = None,
    caliper: float | None = None,
    ties: bool = False,
    q_ids: np.ndarray | None = None,
    r_ids: np.ndarray | None = None,
    tie_tol: float = 0.0,
) -> Pairs:
    """k nearest references in Euclidean distance (transform first for Mahalanobis/inverse variance).

    Same contract as :func:`knn_1d`; brute force per cell, chunked.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([0.5, 0.9])              # treated scores (queries)
    >>> r = np.array([0.1, 0.45, 0.8, 1.0])   # control scores (references)
    >>> from clusterimpact.matching.nearest import knn_md
    >>> query, ref, dist = knn_md(q[:, None], r[:, None], 1)  # one column: as knn_1d
    >>> ref.tolist()
    [1, 2]
    """
    parts = []
    for qi_cell, ri_cell in _cells(qcell, rcell, len(Q), len(R)):
        Qc, Rc = Q[qi_cell], R[ri_cell]
        qid = q_ids[qi_cell] if q_ids is not None and r_ids is not None else None
        rid = r_ids[ri_cell] if q_ids is not None and r_ids is not None else None
        self_exclude = qid is not None
        m = len(Rc)
        if m == 0 or (self_exclude and m < 2):
            continue
        chunk = max(1, _BLOCK // max(1, m * Q.shape[1]))
        for s in range(0, len(Qc), chunk):
            block = Qc[s : s + chunk]
            d = np.sqrt(((block[:, None, :] - Rc[None, :, :]) ** 2).sum(axis=2))
            if qid is not None and rid is not None:
                d[qid[s : s + chunk][:, None] == rid[None, :]] = np.inf
            kth = min(k, m - (1 if self_exclude else 0)) - 1
            if kth < 0:
                continue
            if ties:
                thr = np.partition(d, kth, axis=1)[:, kth]
                if caliper is not None:
                    thr = np.minimum(thr, caliper)
                mask = d <= (thr * (1 + _REL_TIE) + tie_tol)[:, None]
                qi, ri = np.nonzero(mask)
                dd = d[qi, ri]
                o = np.lexsort((dd, qi))
                qi, ri, dd = qi[o], ri[o], dd[o]
            else:
                srt = np.argsort(d, axis=1, kind="stable")[:, : kth + 1]
                dd = np.take_along_axis(d, srt, axis=1).ravel()
                qi = np.repeat(np.arange(len(block)), kth + 1)
                ri = srt.ravel()
                keep = np.isfinite(dd)
                if caliper is not None:
                    keep &= dd <= caliper
                qi, ri, dd = qi[keep], ri[keep], dd[keep]
            parts.append((qi_cell[s + qi], ri_cell[ri], dd))
    return _concat(parts)


def _order(q: np.ndarray, order: GreedyOrder, rng: np.random.Generator | None) -> np.ndarray:
    if order == "largest":
        return np.argsort(-q, kind="stable")
    if order == "smallest":
        return np.argsort(q, kind="stable")
    if order == "random":
        if rng is None:
            raise ValueError("order='random' needs a random generator")
        return rng.permutation(len(q))
    return np.arange(len(q))


def greedy_1d(
    q: np.ndarray,
    r: np.ndarray,
    k: int,
    *,
    qcell: np.ndarray | None = None,
    rcell: np.ndarray | None = None,
    caliper: float | None = None,
    order: GreedyOrder = "largest",
    rng: np.random.Generator | None = None,
) -> Pairs:
    """Greedy nearest-neighbour matching without replacement on a line.

    Queries are served in ``order`` (by their own value: ``"largest"`` first, as MatchIt's default for
    the ATT, ``"smallest"``, ``"data"`` order or ``"random"``), in ``k`` rounds: every query takes its
    nearest unused reference in round 1, then its second in round 2, and so on (so early queries do not
    exhaust the pool). Ties go to the lower sorted position. With a caliper, a query whose nearest
    unused reference is too far gets no further match.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([0.5, 0.9])              # treated scores (queries)
    >>> r = np.array([0.1, 0.45, 0.8, 1.0])   # control scores (references)
    >>> from clusterimpact.matching.nearest import greedy_1d
    >>> query, ref, dist = greedy_1d(q, r, 1)  # the largest query chooses first
    >>> query.tolist(), ref.tolist()
    ([1, 0], [2, 1])
    """
    parts = []
    for qi_cell, ri_cell in _cells(qcell, rcell, len(q), len(r)):
        qc, rc = q[qi_cell], r[ri_cell]
        ro = np.argsort(rc, kind="stable")
        sr = rc[ro]
        m = len(sr)
        pos = np.searchsorted(sr, qc, side="left")
        right = np.arange(m + 1)  # next unused at or right of i (m = none)
        left = np.arange(-1, m)  # left[i + 1] = next unused at or left of i (-1 = none)
        served = _order(qc, order, rng)
        done = np.zeros(len(qc), bool)
        out_q: list[int] = []
        out_r: list[int] = []
        out_d: list[float] = []
        for _ in range(k):
            for i in served:
                if done[i]:
                    continue
                p = pos[i]
                a = _find(right, p)
                b = _find_left(left, p - 1)
                da = sr[a] - qc[i] if a < m else np.inf
                db = qc[i] - sr[b] if b >= 0 else np.inf
                if db <= da:
                    j, dj = b, db
                else:
                    j, dj = a, da
                if not np.isfinite(dj) or (caliper is not None and dj > caliper):
                    done[i] = True
                    continue
                out_q.append(int(i))
                out_r.append(int(j))
                out_d.append(float(dj))
                right[j] = j + 1
                left[j + 1] = j - 1  # stored shifted by one: position j now defers to j - 1
        if out_q:
            qa = np.asarray(out_q)
            ra = ro[np.asarray(out_r)]
            parts.append((qi_cell[qa], ri_cell[ra], np.asarray(out_d)))
    return _concat(parts)


def _find(right: np.ndarray, i: int) -> int:
    root = i
    while right[root] != root:
        root = right[root]
    while right[i] != root:  # path compression
        right[i], i = root, right[i]
    return int(root)


def _find_left(left: np.ndarray, i: int) -> int:
    """Largest unused position <= i (-1 if none); ``left`` is stored shifted by one."""
    root = i
    while root >= 0 and left[root + 1] != root:
        root = left[root + 1]
    while i >= 0 and left[i + 1] != root:
        left[i + 1], i = root, left[i + 1]
    return int(root)


def greedy_md(
    Q: np.ndarray,
    R: np.ndarray,
    k: int,
    *,
    qcell: np.ndarray | None = None,
    rcell: np.ndarray | None = None,
    caliper: float | None = None,
    order_key: np.ndarray | None = None,
    order: GreedyOrder = "data",
    rng: np.random.Generator | None = None,
) -> Pairs:
    """Greedy matching without replacement in several dimensions (Euclidean after transformation).

    Same rounds and tie rules as :func:`greedy_1d`; queries are ordered by ``order_key`` (e.g. a
    propensity score) when given, else in data order. Cost O(n m) per cell.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([0.5, 0.9])              # treated scores (queries)
    >>> r = np.array([0.1, 0.45, 0.8, 1.0])   # control scores (references)
    >>> from clusterimpact.matching.nearest import greedy_md
    >>> query, ref, dist = greedy_md(q[:, None], r[:, None], 1)
    >>> sorted(zip(query.tolist(), ref.tolist()))
    [(0, 1), (1, 2)]
    """
    parts = []
    key = order_key if order_key is not None else np.zeros(len(Q))
    for qi_cell, ri_cell in _cells(qcell, rcell, len(Q), len(R)):
        Qc, Rc = Q[qi_cell], R[ri_cell]
        used = np.zeros(len(Rc), bool)
        served = _order(key[qi_cell], order if order_key is not None else "data", rng)
        done = np.zeros(len(Qc), bool)
        out: list[tuple[int, int, float]] = []
        for _ in range(k):
            for i in served:
                if done[i] or used.all():
                    done[i] = True
                    continue
                d = np.sqrt(((Rc - Qc[i]) ** 2).sum(axis=1))
                d[used] = np.inf
                j = int(np.argmin(d))
                if caliper is not None and d[j] > caliper:
                    done[i] = True
                    continue
                used[j] = True
                out.append((int(i), j, float(d[j])))
        if out:
            a = np.asarray(out)
            parts.append(
                (qi_cell[a[:, 0].astype(np.int64)], ri_cell[a[:, 1].astype(np.int64)], a[:, 2])
            )
    return _concat(parts)
