"""Absorbing fixed effects exactly: the internal engine of the fast path.

Write ``v = alpha[g] + D delta + v~`` with ``g`` the primary fixed effect (the one with most levels, the
firm in a firm-year panel) and ``D`` the dummies of every other (secondary) effect, stacked: ``H`` columns
in all. The within transform ``v~`` is computed in three exact steps.

1. **Redundant effects are dropped.** An effect that is a coarsening of another (each of its levels is a
   union of the other's levels: ``year`` next to ``sector^year``, a firm-level ``sector`` next to
   ``firm_id``) spans no direction the finer one does not, so leaving it out changes no within transform
   and no coefficient. (The degrees-of-freedom count in :mod:`~clusterimpact.estimation.fe.vcov` still follows
   the effects as written, as fixest/pyfixest do.)
2. **The primary effect is swept out** by (weighted) group means from ``np.bincount``.
3. **The secondary coefficients are solved for exactly** (Frisch-Waugh-Lovell). With ``W`` the weights,
   ``W_g`` their primary-group totals and ``C[g, h]`` the weight total of primary group ``g`` in secondary
   level ``h``,

       A delta = D'W v - C' m,      A = D'WD - C' diag(1 / W_g) C,      m = primary means of v,

   where ``D'WD`` has the level totals on its diagonal and, for every *pair* of secondary effects, their
   cross totals off it (a row lies in one level of each effect; leaving these blocks out is only right for
   a single secondary effect). ``A`` is symmetric positive semi-definite and singular (one normalisation
   per connected component and effect, more where effects overlap); its null space does not change
   ``D delta``. ``A`` falls apart into the connected components of its graph (levels that share a row or a
   primary group), e.g. one block per sector for ``firm_id + sector^year``; each block is solved on its own:

   * up to ``max_dense`` levels by a rank-revealing (pivoted) Cholesky factorisation, which gives an exact
     generalised inverse: no iteration, no convergence tolerance;
   * larger blocks by Jacobi-preconditioned conjugate gradients on the sparse block, to a normwise
     backward error of ``cg_tol`` (1e-13) checked on the true residual; failure to converge raises
     (:mod:`clusterimpact.estimation.fe._blocksolve`).

Every product is a ``bincount`` or a product with an ``H x H`` (block) or ``G x H`` (cell-total) matrix: no
``N x H`` matrix is formed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterimpact.errors import EstimationError
from clusterimpact.estimation.fe._blocksolve import CG_TOL, BlockSolver

__all__ = [
    "Absorber",
    "drop_singletons",
    "factorize",
    "group_sums",
    "interact_codes",
    "redundant_effects",
]

# largest connected block of the secondary system solved by a direct factorisation; larger blocks use
# preconditioned conjugate gradients (a dense factorisation costs b^3 / 3 flops and b^2 memory)
MAX_DENSE_LEVELS = 4000
# assemble the secondary system densely up to this many levels
_DENSE_SYSTEM = 2500
# primary-by-secondary totals C are held densely (G x H) up to this many secondary levels, sparsely above
# (a dense C'C costs G H^2, the sparse one the sum over primary groups of their non-empty cells squared)
_DENSE_C_LEVELS = 64


def factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 (int64) and the number of levels; missing values raise.

    Fast paths (the hashing in ``pd.factorize`` dominates a fixed-effects fit on millions of rows):
    integers with a small range are offset and compacted; a column whose equal values are contiguous
    and sorted (a FirmPanel is sorted by firm and year) is run-length coded. Codes are then in sorted
    order of the values; otherwise in order of first appearance.
    """
    arr = values.array if isinstance(values, pd.Series) else values
    fast = _fast_codes(arr)
    if fast is not None:
        return fast
    codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and codes.min() < 0:
        raise EstimationError("missing values in a fixed-effect or cluster variable")
    return codes, len(uniques)


def _fast_codes(arr: object) -> tuple[np.ndarray, int] | None:
    n = len(arr)  # type: ignore[arg-type]
    if n == 0:
        return None
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "iu":
        v = arr
    elif isinstance(arr, pd.arrays.NumpyExtensionArray) and arr.dtype.kind in "iu":
        v = arr.to_numpy()
    else:
        v = None
    if v is not None:
        lo, hi = int(v.min()), int(v.max())
        if hi - lo <= max(4 * n, 1024):
            off = (v - lo).astype(np.int64, copy=False)
            present = np.bincount(off, minlength=hi - lo + 1) > 0
            if present.all():
                return off, int(present.size)
            remap = np.cumsum(present) - 1
            return remap[off], int(present.sum())
        return None
    pa_arr = getattr(arr, "_pa_array", None)
    if pa_arr is None or n < 2:
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        a = pa_arr
        if isinstance(a, pa.ChunkedArray):  # a single chunk needs no copy
            a = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
        if a.null_count:
            return None
        nxt, prv = a.slice(1), a.slice(0, n - 1)
        if pc.any(pc.less(nxt, prv)).as_py():
            return None
        change = pc.greater(nxt, prv).to_numpy(zero_copy_only=False)
    except Exception:  # pragma: no cover - unusual arrow types
        return None
    # run-length codes: repeat each run's index over its length (cheaper than a cumsum of booleans)
    starts = np.flatnonzero(change) + 1
    lengths = np.diff(np.concatenate(([0], starts, [n])))
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths), int(len(lengths))


def interact_codes(codes: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """Codes of the interaction (``a^b``) of several code arrays."""
    out = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        n = int(c.max()) + 1 if c.size else 1
        out = out * n + c
    return factorize(out)


def group_sums(codes: np.ndarray, n: int, v: np.ndarray) -> np.ndarray:
    """Sum of ``v`` within each of ``n`` groups (``v`` 1-D)."""
    return np.bincount(codes, weights=v, minlength=n)


def drop_singletons(fe_codes: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean mask of observations kept after iteratively removing singleton fixed-effect levels.

    A level observed once is fitted perfectly by its own dummy and carries no information on the slope
    coefficients; removing it (as reghdfe and fixest/pyfixest do by default) can create new singletons in
    another fixed effect, hence the iteration.
    """
    n = len(fe_codes[0]) if fe_codes else 0
    keep = np.ones(n, dtype=bool)
    if not fe_codes:
        return keep
    all_kept = True
    while True:
        changed = False
        for c in fe_codes:
            cnt = np.bincount(
                c if all_kept else c[keep], minlength=int(c.max()) + 1 if c.size else 0
            )
            if not (cnt == 1).any():  # no singleton level: nothing to drop (skips a pass over N)
                continue
            bad = keep & (cnt[c] == 1)
            if bad.any():
                keep &= ~bad
                changed = True
                all_kept = False
        if not changed:
            return keep


def _is_coarsening(coarse: np.ndarray, fine: np.ndarray, n_fine: int) -> bool:
    """True when every level of ``fine`` lies within a single level of ``coarse``."""
    probe = min(len(fine), 4096)  # cheap rejection on a prefix before the full pass
    for stop in (probe, len(fine)):
        first = np.empty(n_fine, dtype=np.int64)
        f = fine[:stop]
        first[f] = coarse[:stop]
        if not np.array_equal(first[f], coarse[:stop]):
            return False
    return True


def redundant_effects(
    fe_codes: Sequence[np.ndarray],
    n_levels: Sequence[int],
    keep: int | None = None,
    coarsening: Callable[[int, int], bool] | None = None,
) -> list[int]:
    """Indices of fixed effects that are coarsenings of another one (dropped without loss).

    Effects are visited from the most levels to the fewest (``keep`` first when given); an effect is
    redundant when it is a coarsening of one already kept, including an identical partition.
    ``coarsening(i, k)`` (default: computed from ``fe_codes``) tells whether effect ``i`` is a coarsening
    of effect ``k``; the Dask path passes one decided from statistics summed over partitions.
    """
    if coarsening is None:

        def coarsening(i: int, k: int) -> bool:
            return _is_coarsening(fe_codes[i], fe_codes[k], n_levels[k])

    order = sorted(range(len(n_levels)), key=lambda i: (i != keep, -n_levels[i], i))
    kept: list[int] = []
    dropped: list[int] = []
    for i in order:
        if i != keep and any(n_levels[i] <= n_levels[k] and coarsening(i, k) for k in kept):
            dropped.append(i)
        else:
            kept.append(i)
    return sorted(dropped)


def _cross_totals(
    a: np.ndarray, na: int, b: np.ndarray, nb: int, w: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, totals)`` of the non-empty cells of two crossed codes (weight totals)."""
    key = a * nb + b
    if na * nb <= max(4 * len(a), 1 << 20):
        flat = np.bincount(key, weights=w, minlength=na * nb)
        nz = np.flatnonzero(flat)
        vals = flat[nz].astype(float, copy=False)
    else:
        nz, inv = np.unique(key, return_inverse=True)
        vals = np.bincount(inv, weights=w, minlength=len(nz)).astype(float, copy=False)
    return nz // nb, nz % nb, vals


class Absorber:
    """Exact within transform for one primary and any number of secondary fixed effects.

    Parameters
    ----------
    fe_codes
        Integer codes (0..G_k-1, contiguous) of each fixed effect, all of the same length.
    weights
        Observation weights (analytic weights), or None.
    max_dense
        Largest connected block of the secondary system solved by a direct factorisation; larger blocks
        are solved by conjugate gradients (default :data:`MAX_DENSE_LEVELS`, read at call time).
    cg_tol, maxiter
        Relative residual and iteration limit of the conjugate-gradient solve of large blocks.
    primary
        Index of the fixed effect swept by group means (default: the one with most levels).

    Attributes
    ----------
    dropped
        Indices (into ``fe_codes``) of effects left out as coarsenings of another effect.
    exact
        True when every block was solved directly (no iteration).
    """

    def __init__(
        self,
        fe_codes: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        *,
        max_dense: int | None = None,
        cg_tol: float = CG_TOL,
        maxiter: int = 20_000,
        primary: int | None = None,
        n_levels: Sequence[int] | None = None,
        dropped: Sequence[int] | None = None,
        solve: bool = True,
    ) -> None:
        if not fe_codes:
            raise ValueError("Absorber needs at least one fixed effect")
        codes = [np.asarray(c, dtype=np.int64) for c in fe_codes]
        levels = (
            [int(c.max()) + 1 if c.size else 0 for c in codes]
            if n_levels is None
            else [int(v) for v in n_levels]
        )
        if dropped is not None:
            self.dropped = sorted(int(i) for i in dropped)
        else:
            self.dropped = redundant_effects(codes, levels, keep=primary) if len(codes) > 1 else []
        use = [i for i in range(len(codes)) if i not in self.dropped]
        order = max(use, key=lambda i: levels[i]) if primary is None else int(primary)
        self.codes = [codes[i] for i in use]
        self.n_levels = [levels[i] for i in use]
        self.primary = codes[order]
        self.G = levels[order]
        self.secondary = [codes[i] for i in use if i != order]
        self.sec_levels = [levels[i] for i in use if i != order]
        self.n = len(self.primary)
        self.w = None if weights is None else np.asarray(weights, dtype=float)
        wsum = (
            np.bincount(self.primary, minlength=self.G).astype(float)
            if self.w is None
            else np.bincount(self.primary, weights=self.w, minlength=self.G)
        )
        with np.errstate(divide="ignore"):
            self._inv_wg = np.where(wsum > 0, 1.0 / wsum, 0.0)
        self.H = int(sum(self.sec_levels))
        self.unique_cells = False
        self.rank_secondary = 0
        self.exact = True
        self._C: Any = None
        self._solver: BlockSolver | None = None
        offsets = np.cumsum([0, *self.sec_levels])[:-1]
        self._sec_off = [
            c if o == 0 else c + o for c, o in zip(self.secondary, offsets, strict=True)
        ]
        if self.H and solve:
            dense_max = MAX_DENSE_LEVELS if max_dense is None else int(max_dense)
            self._setup(dense_max, cg_tol, maxiter)

    @property
    def dense(self) -> bool:
        """Kept for callers of the former engine: the secondary solve is always available."""
        return True

    @property
    def inv_group_weights(self) -> np.ndarray:
        """``1 / W_g``: the reciprocal (weight) total of each primary group (0 for an empty group)."""
        return self._inv_wg

    @property
    def level_codes(self) -> list[np.ndarray]:
        """Each secondary effect's codes offset into the stacked levels ``0..H-1`` (``D delta`` is
        ``sum(delta[c] for c in level_codes)``)."""
        return self._sec_off

    def cell_sums(self, u: np.ndarray) -> np.ndarray | sp.csr_matrix:
        """Sums of ``u`` (1-D, unweighted) by primary group x stacked secondary level (G x H): a dense
        array when the cell totals ``C`` are held densely, a CSR matrix otherwise."""
        G, H, prim = self.G, self.H, self.primary
        if isinstance(self._C, np.ndarray):
            U = np.zeros(G * H)
            if self.unique_cells:
                U[prim * H + self._sec_off[0]] = u
            else:
                for cs in self._sec_off:
                    U += np.bincount(prim * H + cs, weights=u, minlength=G * H)
            return U.reshape(G, H)
        Us = sp.csr_matrix(
            (
                np.tile(u, len(self._sec_off)),
                (np.tile(prim, len(self._sec_off)), np.concatenate(self._sec_off)),
            ),
            shape=(G, H),
        )
        Us.sum_duplicates()
        return Us

    @property
    def iterations(self) -> int:
        """Largest number of conjugate-gradient iterations used so far (0 when solved directly)."""
        return 0 if self._solver is None else self._solver.iterations

    # -- primary sweep -----------------------------------------------------------------------------
    def _primary_means(self, v: np.ndarray) -> np.ndarray:
        wv = v if self.w is None else v * self.w
        return np.bincount(self.primary, weights=wv, minlength=self.G) * self._inv_wg

    def sweep_primary(self, v: np.ndarray) -> np.ndarray:
        """``v`` minus its (weighted) mean within primary groups."""
        return v - self._primary_means(v)[self.primary]

    # -- the secondary system ---------------------------------------------------------------------------
    def _setup(self, max_dense: int, cg_tol: float, maxiter: int) -> None:
        A = self.system_matrix()
        self.set_solver(BlockSolver(A, max_dense=max_dense, cg_tol=cg_tol, maxiter=maxiter))

    def set_solver(self, solver: BlockSolver) -> None:
        """Use ``solver`` for the secondary system (the Dask path solves the system summed over
        partitions once, on the client, and hands every partition its solution instead)."""
        self._solver = solver
        self.rank_secondary = solver.rank
        self.exact = not solver.iterative

    def cell_totals(self) -> None:
        """Hold the primary-by-secondary weight totals ``C`` (needed by :meth:`within`), without
        assembling the secondary system."""
        if self._C is None and self.H:
            self._cells(with_ctc=False)

    def _cells(self, with_ctc: bool = True) -> tuple[np.ndarray, Any]:
        """Set ``C`` (dense or sparse); return the level totals and ``C' diag(1 / W_g) C``."""
        H = self.H
        CtC: Any = None
        if H <= _DENSE_C_LEVELS and self.G * H <= max(2 * self.n, 10_000_000):
            Cd, diag, CtC = self._cell_totals_dense(with_ctc)
            self._C = Cd
        else:
            rows = np.concatenate([self.primary] * len(self._sec_off))
            cols = np.concatenate(self._sec_off)
            vals = np.ones(len(cols)) if self.w is None else np.tile(self.w, len(self._sec_off))
            Cs = sp.csr_matrix((vals, (rows, cols)), shape=(self.G, H))
            Cs.sum_duplicates()
            self._C = Cs
            diag = np.asarray(Cs.sum(axis=0)).ravel()
            if with_ctc:
                CtC = (Cs.T @ sp.diags(self._inv_wg) @ Cs).tocsr()
        return diag, CtC

    def system_matrix(self, dense: bool | None = None) -> Any:
        """The secondary system ``A = D'WD - C' diag(1 / W_g) C`` (H x H): a dense array up to
        ``_DENSE_SYSTEM`` levels (or when ``dense``), a CSR matrix above. Additive over primary groups:
        the Dask path sums it over partitions."""
        H = self.H
        diag, CtC = self._cells()
        # cross totals of every pair of secondary effects (the off-diagonal blocks of D'WD)
        offsets = np.cumsum([0, *self.sec_levels])[:-1]
        cr: list[np.ndarray] = []
        cc: list[np.ndarray] = []
        cv: list[np.ndarray] = []
        for i in range(len(self.secondary)):
            for j in range(i + 1, len(self.secondary)):
                r, c, v = _cross_totals(
                    self.secondary[i],
                    self.sec_levels[i],
                    self.secondary[j],
                    self.sec_levels[j],
                    self.w,
                )
                cr += [r + offsets[i], c + offsets[j]]
                cc += [c + offsets[j], r + offsets[i]]
                cv += [v, v]
        if (H <= _DENSE_SYSTEM) if dense is None else dense:
            A = -(CtC if isinstance(CtC, np.ndarray) else CtC.toarray())
            A[np.diag_indices(H)] += diag
            if cv:
                np.add.at(A, (np.concatenate(cr), np.concatenate(cc)), np.concatenate(cv))
            A = 0.5 * (A + A.T)
        else:
            cross = (
                sp.csr_matrix(
                    (np.concatenate(cv), (np.concatenate(cr), np.concatenate(cc))), shape=(H, H)
                )
                if cv
                else sp.csr_matrix((H, H))
            )
            CtCs = sp.csr_matrix(CtC)
            A = (sp.diags(diag) + cross - CtCs).tocsr()
            A = 0.5 * (A + A.T)
        return A

    def _cell_totals_dense(
        self, with_ctc: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Dense ``C`` (G x H), the level totals and ``C' diag(1 / W_g) C``."""
        G, H = self.G, self.H
        flat = np.bincount(
            self.primary * H + self._sec_off[0], weights=self.w, minlength=G * H
        ).astype(float, copy=False)
        for c in self._sec_off[1:]:
            flat += np.bincount(self.primary * H + c, weights=self.w, minlength=G * H)
        Cd = flat.reshape(G, H)
        # each (primary, secondary) cell holds at most one row (a firm-year panel): cell sums of a
        # single secondary effect are then a scatter, not a sum
        self.unique_cells = len(self._sec_off) == 1 and self.w is None and float(flat.max()) <= 1
        diag = Cd.sum(axis=0)
        if not with_ctc:
            return Cd, diag, None
        if self.unique_cells and H <= 20:
            # 0/1 counts: sum C'diag(1/n_g)C over the distinct presence patterns of the primary
            # groups (a firm's set of years), of which there are far fewer than groups
            pattern = np.einsum("gh,h->g", Cd, 2.0 ** np.arange(H)).astype(np.int64)
            wpat = np.bincount(pattern, weights=self._inv_wg, minlength=1 << H)
            nz = np.flatnonzero(wpat)
            P = ((nz[:, None] >> np.arange(H)) & 1).astype(float)
            CtC = np.einsum("pi,pj->ij", P * wpat[nz, None], P)
        else:
            # einsum (no BLAS threads: tall-skinny products stall on a loaded machine)
            CtC = np.einsum("gi,gj->ij", Cd * self._inv_wg[:, None], Cd)
        return Cd, diag, CtC

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``delta`` solving the secondary normal equations ``A delta = rhs`` (``rhs`` in range)."""
        assert self._solver is not None
        return self._solver.solve(rhs)

    def secondary_rhs(self, vt: np.ndarray) -> np.ndarray:
        """``D' W v`` stacked over the secondary effects (``v`` 1-D)."""
        wv = vt if self.w is None else vt * self.w
        return np.concatenate(
            [
                np.bincount(c, weights=wv, minlength=n)
                for c, n in zip(self.secondary, self.sec_levels, strict=True)
            ]
        )

    def secondary_fit(self, delta: np.ndarray) -> np.ndarray:
        """``D delta`` per observation."""
        out = np.zeros(self.n)
        for c in self._sec_off:
            out += delta[c]
        return out

    def demean(self, v: np.ndarray) -> np.ndarray:
        """The within transform of ``v`` (1-D, or 2-D with columns transformed separately)."""
        v = np.asarray(v, dtype=float)
        if v.ndim == 2:
            out = np.empty_like(v)
            for j in range(v.shape[1]):
                out[:, j] = self.demean(v[:, j])
            return out
        if not self.H:
            return self.sweep_primary(v)
        g_part, delta = self.projection(v)
        out = v - g_part[self.primary]
        for c in self._sec_off:
            out -= delta[c]
        return out

    def projection(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-effect fit of ``v`` (1-D): ``(g_part, delta)`` with the within transform
        ``v - g_part[primary] - (D delta)``.

        Never forms the swept vector: with ``m`` the primary means of ``v``,
        ``D'W(v - m[g]) = D'Wv - C'm`` and ``P_w(D delta) = (C delta / W_g)[g]``, so two sums over N give
        both parts.
        """
        m = self._primary_means(v)
        if not self.H:
            return m, np.zeros(0)
        rhs = self.secondary_rhs(v) - self.ct_times(m[:, None])[:, 0]
        delta = self.solve(rhs)
        return self._g_part(m, delta), delta

    def _g_part(self, m: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Primary part of the fixed-effect fit given the primary means ``m`` and ``delta``: ``m``
        minus the primary means of ``D delta`` (``C delta / W_g``)."""
        return m - self.c_times(delta[:, None])[:, 0] * self._inv_wg

    def reduced_rhs(self, v: np.ndarray) -> np.ndarray:
        """``D'W v - C' m`` (H, or H x K for 2-D ``v``): the right-hand side of the secondary system for
        ``v``, additive over primary groups (the Dask path sums it over partitions)."""
        V = np.asarray(v, dtype=float)
        one = V.ndim == 1
        V = V[:, None] if one else V
        M = np.column_stack([self._primary_means(V[:, j]) for j in range(V.shape[1])])
        R = np.column_stack([self.secondary_rhs(V[:, j]) for j in range(V.shape[1])])
        R = R - self.ct_times(M)
        return R[:, 0] if one else R

    def within(self, v: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """The within transform of ``v`` (1-D, or 2-D with ``delta`` H x K) given the solution ``delta``
        of the secondary system for it (``A delta = reduced_rhs(v)``): what :meth:`demean` computes,
        with ``delta`` solved elsewhere (on the client, from sums over partitions)."""
        V = np.asarray(v, dtype=float)
        if V.ndim == 2:
            D = np.asarray(delta, dtype=float).reshape(self.H, V.shape[1])
            out = np.empty_like(V)
            for j in range(V.shape[1]):
                out[:, j] = self.within(V[:, j], D[:, j])
            return out
        m = self._primary_means(V)
        if not self.H:
            return V - m[self.primary]
        out = V - self._g_part(m, delta)[self.primary]
        for c in self._sec_off:
            out -= delta[c]
        return out

    def ct_times(self, R: Any) -> np.ndarray:
        """``C' R`` (H x K, dense) for the primary-by-secondary weight matrix ``C``."""
        if isinstance(self._C, np.ndarray) and isinstance(R, np.ndarray):
            return np.einsum("gh,gk->hk", self._C, R)
        out: Any = self._C.T @ R
        return np.asarray(out.toarray() if hasattr(out, "toarray") else out)

    def ct_times_rows(self, rows: np.ndarray, R: np.ndarray) -> np.ndarray:
        """``C[rows]' R`` (H x K): ``C' R`` for an ``R`` that is zero outside ``rows``."""
        if isinstance(self._C, np.ndarray):
            return np.einsum("gh,gk->hk", self._C[rows], R)
        out: Any = self._C[rows].T @ R
        return np.asarray(out.toarray() if hasattr(out, "toarray") else out)

    def c_times(self, D: np.ndarray) -> np.ndarray:
        """``C D`` (G x K, dense)."""
        if isinstance(self._C, np.ndarray):
            return np.einsum("gh,hk->gk", self._C, D)
        out: Any = self._C @ D
        return np.asarray(out.toarray() if hasattr(out, "toarray") else out)

    # -- fixed-effect estimates -------------------------------------------------------------------
    def effects(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Primary and secondary effects of the fitted values ``r`` (e.g. ``y - X b``).

        Returns ``(alpha, delta)`` with ``r ~ alpha[primary] + D delta`` (``D`` over the secondary effects
        kept, see ``dropped``); the normalisation of ``delta`` is arbitrary (one solution of the normal
        equations), the sum ``alpha + D delta`` is not.
        """
        delta = None
        fit = np.zeros(self.n)
        if self.H:
            delta = self.solve(self.secondary_rhs(self.sweep_primary(r)))
            fit = self.secondary_fit(delta)
        alpha = self._primary_means(r - fit)
        return alpha, delta

    @property
    def n_absorbed_exact(self) -> int:
        """Number of linearly independent fixed-effect dummies (primary groups + rank of the secondary
        system; the rank of a block solved iteratively is taken as its size minus one)."""
        return int((self._inv_wg > 0).sum()) + self.rank_secondary
