"""Absorbing fixed effects exactly: the internal engine of the fast path.

The largest fixed effect (the firm, in a firm-year panel) is swept out by group means computed with
``np.bincount``. The remaining fixed effects (years, sector x year cells, ...) usually have few levels, so
their coefficients are solved for *exactly* after the first sweep (Frisch-Waugh-Lovell): with ``D`` the
dummies of the secondary effects, ``P`` the (weighted) projection on the primary groups and
``D~ = (I - P) D``,

    D~' W D~ = diag(sum of w by level) - C' diag(1 / W_g) C,     C[g, h] = sum of w over (g, h),
    D~' W v~ = D' W v~                                            (v~ already swept by P),

so ``D~ delta = D~ (D~'WD~)^+ D'Wv~`` is computed from ``bincount`` sums and an ``H x H`` matrix (``H`` = total
secondary levels) without forming any ``N x H`` matrix. The residual ``v~ - D~ delta`` is the exact
two-way (or multi-way) within transform: no iteration, no convergence tolerance. When the secondary
effects have too many levels for a dense solve, alternating projections (method of alternating
projections, Gaure 2013) are used instead, to a tight tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterimpact.errors import EstimationError

__all__ = ["Absorber", "drop_singletons", "factorize", "group_sums", "interact_codes"]

# above this many secondary levels the dense exact solve gives way to alternating projections
MAX_DENSE_LEVELS = 4000


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


class Absorber:
    """Exact within transform for one primary and any number of secondary fixed effects.

    Parameters
    ----------
    fe_codes
        Integer codes (0..G_k-1, contiguous) of each fixed effect, all of the same length.
    weights
        Observation weights (analytic weights), or None.
    max_dense
        Largest total number of secondary levels solved densely; above it, alternating projections.
    tol, maxiter
        Convergence settings of the alternating-projections fallback.
    primary
        Index of the fixed effect swept by group means (default: the one with most levels).
    """

    def __init__(
        self,
        fe_codes: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        *,
        max_dense: int = MAX_DENSE_LEVELS,
        tol: float = 1e-13,
        maxiter: int = 10_000,
        primary: int | None = None,
    ) -> None:
        if not fe_codes:
            raise ValueError("Absorber needs at least one fixed effect")
        self.n_levels = [int(c.max()) + 1 if c.size else 0 for c in fe_codes]
        order = int(np.argmax(self.n_levels)) if primary is None else int(primary)
        self.codes = [np.asarray(c, dtype=np.int64) for c in fe_codes]
        self.primary = self.codes[order]
        self.G = self.n_levels[order]
        self.secondary = [c for i, c in enumerate(self.codes) if i != order]
        self.sec_levels = [n for i, n in enumerate(self.n_levels) if i != order]
        self.n = len(self.primary)
        self.w = None if weights is None else np.asarray(weights, dtype=float)
        wsum = (
            np.bincount(self.primary, minlength=self.G).astype(float)
            if self.w is None
            else np.bincount(self.primary, weights=self.w, minlength=self.G)
        )
        with np.errstate(divide="ignore"):
            self._inv_wg = np.where(wsum > 0, 1.0 / wsum, 0.0)
        self.tol, self.maxiter = tol, maxiter
        self.H = int(sum(self.sec_levels))
        self.dense = 0 < self.H <= max_dense
        self.unique_cells = False
        self.rank_secondary = 0
        self.iterations = 0
        if self.dense:
            self._setup_dense()
        elif self.H:
            # rank of secondary dummies given the primary: levels minus one per extra FE (approximate)
            self.rank_secondary = self.H - len(self.secondary)

    # -- primary sweep -----------------------------------------------------------------------------
    def _primary_means(self, v: np.ndarray) -> np.ndarray:
        wv = v if self.w is None else v * self.w
        return np.bincount(self.primary, weights=wv, minlength=self.G) * self._inv_wg

    def sweep_primary(self, v: np.ndarray) -> np.ndarray:
        """``v`` minus its (weighted) mean within primary groups."""
        return v - self._primary_means(v)[self.primary]

    # -- secondary exact solve -----------------------------------------------------------------------
    def _setup_dense(self) -> None:
        offsets = np.cumsum([0, *self.sec_levels[:-1]])
        self._sec_off = [
            c if o == 0 else c + o for c, o in zip(self.secondary, offsets, strict=True)
        ]
        if self.G * self.H <= max(2 * self.n, 10_000_000):
            # dense G x H counts from one bincount per secondary effect
            flat = np.bincount(
                self.primary * self.H + self._sec_off[0], weights=self.w, minlength=self.G * self.H
            ).astype(float, copy=False)
            for c in self._sec_off[1:]:
                flat += np.bincount(
                    self.primary * self.H + c, weights=self.w, minlength=self.G * self.H
                )
            Cd = flat.reshape(self.G, self.H)
            # each (primary, secondary) cell holds at most one row (a firm-year panel): cell sums of
            # a single secondary effect are then a scatter, not a sum
            self.unique_cells = (
                len(self._sec_off) == 1 and self.w is None and float(flat.max()) <= 1
            )
            diag = Cd.sum(axis=0)
            if self.unique_cells and self.H <= 20:
                # 0/1 counts: sum C'diag(1/n_g)C over the distinct presence patterns of the primary
                # groups (a firm's set of years), of which there are far fewer than groups
                pattern = np.einsum("gh,h->g", Cd, 2.0 ** np.arange(self.H)).astype(np.int64)
                wpat = np.bincount(pattern, weights=self._inv_wg, minlength=1 << self.H)
                nz = np.flatnonzero(wpat)
                P = ((nz[:, None] >> np.arange(self.H)) & 1).astype(float)
                CtC = np.einsum("pi,pj->ij", P * wpat[nz, None], P)
            else:
                # einsum (no BLAS threads: tall-skinny products stall on a loaded machine)
                CtC = np.einsum("gi,gj->ij", Cd * self._inv_wg[:, None], Cd)
            C: Any = Cd
        else:
            rows = np.concatenate([self.primary] * len(self.secondary))
            cols = np.concatenate(self._sec_off)
            vals = np.ones(len(cols)) if self.w is None else np.tile(self.w, len(self.secondary))
            Cs = sp.csr_matrix((vals, (rows, cols)), shape=(self.G, self.H))
            Cs.sum_duplicates()
            C = Cs
            diag = np.asarray(C.sum(axis=0)).ravel()
            CtC = (Cs.T @ sp.diags(self._inv_wg) @ Cs).toarray()
        A = np.diag(diag) - CtC
        A = 0.5 * (A + A.T)
        evals, evecs = np.linalg.eigh(A)
        scale = max(float(evals.max()), 1.0)
        ok = evals > scale * 1e-11
        self.rank_secondary = int(ok.sum())
        self._A = A
        self._C = C
        self._Apinv = (evecs[:, ok] / evals[ok]) @ evecs[:, ok].T

    def secondary_rhs(self, vt: np.ndarray) -> np.ndarray:
        """``D' W v~`` stacked over the secondary effects."""
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
        """The within transform of ``v`` (1-D or 2-D, columns transformed separately)."""
        v = np.asarray(v, dtype=float)
        if v.ndim == 2:
            out = np.empty_like(v)
            for j in range(v.shape[1]):
                out[:, j] = self.demean(v[:, j])
            return out
        if not self.H:
            return self.sweep_primary(v)
        if self.dense:
            g_part, delta = self.projection(v)
            out = v - g_part[self.primary]
            for c in self._sec_off:
                out -= delta[c]
            return out
        return self._alternate(v)

    def projection(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-effect fit of ``v`` (1-D, dense solve): ``(g_part, delta)`` with the within transform
        ``v - g_part[primary] - (D delta)``.

        Never forms the swept vector: with ``m`` the primary means of ``v``,
        ``D'W(v - m[g]) = D'Wv - C'm`` and ``P_w(D delta) = (C delta / W_g)[g]``, so two sums over N give
        both parts.
        """
        m = self._primary_means(v)
        rhs = self.secondary_rhs(v) - self.ct_times(m[:, None])[:, 0]
        delta = self._Apinv @ rhs
        g_part = m - self.c_times(delta[:, None])[:, 0] * self._inv_wg
        return g_part, delta

    def _alternate(self, v: np.ndarray) -> np.ndarray:
        groups = [(self.primary, self.G), *zip(self.secondary, self.sec_levels, strict=True)]
        wts = [
            (
                np.bincount(c, minlength=n).astype(float)
                if self.w is None
                else np.bincount(c, weights=self.w, minlength=n)
            )
            for c, n in groups
        ]
        invs = [np.where(wt > 0, 1.0 / np.where(wt > 0, wt, 1.0), 0.0) for wt in wts]
        x = v.copy()
        scale = max(float(np.sqrt(np.mean(v * v))), 1e-300)
        for it in range(self.maxiter):
            prev = x.copy()
            for (c, n), inv in zip(groups, invs, strict=True):
                wv = x if self.w is None else x * self.w
                x -= (np.bincount(c, weights=wv, minlength=n) * inv)[c]
            if np.sqrt(np.mean((x - prev) ** 2)) < self.tol * scale:
                self.iterations = max(self.iterations, it + 1)
                return x
        raise EstimationError(
            f"alternating projections did not converge in {self.maxiter} iterations; "
            "use fewer or coarser fixed effects"
        )

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

        Returns ``(alpha, delta)`` with ``r ~ alpha[primary] + D delta``; ``delta`` is the minimum-norm
        solution (the normalisation is arbitrary, the sum ``alpha + D delta`` is not).
        """
        rt = self.sweep_primary(r)
        delta = None
        fit = np.zeros(self.n)
        if self.H:
            if not self.dense:
                raise EstimationError("fixed-effect estimates need the dense secondary solve")
            delta = self._Apinv @ self.secondary_rhs(rt)
            fit = self.secondary_fit(delta)
        alpha = self._primary_means(r - fit)
        return alpha, delta

    @property
    def n_absorbed_exact(self) -> int:
        """Exact number of linearly independent fixed-effect dummies (primary groups + rank)."""
        return int((self._inv_wg > 0).sum()) + self.rank_secondary
