"""Solving the secondary system of the fixed-effects engine block by block (see ``_demean``).

``A`` (symmetric positive semi-definite, singular) falls apart into the connected components of its graph;
each block is solved on its own: up to ``max_dense`` levels by a rank-revealing (pivoted) Cholesky
factorisation, which gives an exact generalised inverse, larger blocks by Jacobi-preconditioned conjugate
gradients with a backward-error stop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_solve, solve_triangular
from scipy.linalg.lapack import dpstrf
from scipy.sparse.csgraph import connected_components

from clusterimpact.errors import EstimationError

__all__ = ["CG_TOL", "RANK_TOL", "BlockSolver"]

# pivots of the rank-revealing Cholesky below this fraction of the largest diagonal entry count as zero:
# the secondary system holds weight totals, whose exactly-singular directions come out at roundoff
# (~1e-16 relative) while genuine pivots of count data are O(1 / levels) or larger
RANK_TOL = 1e-10
# relative residual at which conjugate gradients stop on a large block
CG_TOL = 1e-13
# blocks up to this size are applied as one sparse block-diagonal matrix (one product, not a loop)
_SMALL_BLOCK = 64


def _psd_factor(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pivoted Cholesky factorisation ``P'AP = LL'`` of a symmetric positive semi-definite ``A``, cut at
    its numerical rank ``r``: the ``r`` leading pivots (positions in ``A``) and ``L_r`` (r x r, lower).

    ``x[p] = (L_r L_r')^{-1} b[p]``, zero elsewhere, solves ``A x = b`` for every ``b`` in the range of ``A``
    (the other pivots' rows are combinations of these)."""
    b = A.shape[0]
    scale = float(np.max(np.diag(A))) if b else 0.0
    if scale <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    c, piv, rank, info = dpstrf(A, lower=1, tol=RANK_TOL * scale)
    if info < 0:  # pragma: no cover - LAPACK argument error
        raise EstimationError(f"pivoted Cholesky failed (LAPACK info {info})")
    r = int(rank)
    return np.asarray(piv[:r], dtype=np.int64) - 1, np.tril(c[:r, :r])


def _psd_ginv(A: np.ndarray) -> tuple[np.ndarray, int]:
    """The generalised inverse ``M = P_r (L_r L_r')^{-1} P_r'`` of :func:`_psd_factor` and the rank."""
    p, L = _psd_factor(A)
    M = np.zeros(A.shape)
    if len(p):
        Linv = solve_triangular(L, np.eye(len(p)), lower=True)
        M[np.ix_(p, p)] = Linv.T @ Linv
    return M, len(p)


def _pcg(A: sp.csr_matrix, B: np.ndarray, tol: float, maxiter: int) -> tuple[np.ndarray, int]:
    """Jacobi-preconditioned conjugate gradients for ``A X = B`` (PSD ``A``, consistent ``B``), all
    columns at once.

    Stops on the normwise backward error ``|r| <= tol (|A| |x| + |b|)`` (``|A|`` the largest absolute row
    sum), checked on the true residual ``B - A X``: the right-hand sides are differences of large totals,
    so a residual relative to ``|b|`` alone can stall at roundoff above any fixed tolerance.
    """
    d = A.diagonal()
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)[:, None]
    norm_a = float(abs(A).sum(axis=1).max()) if A.nnz else 0.0
    X = np.zeros_like(B)
    bnorm = np.sqrt(np.einsum("ij,ij->j", B, B))
    R = B.copy()
    Z = dinv * R
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)

    def converged(Rm: np.ndarray) -> bool:
        xnorm = np.sqrt(np.einsum("ij,ij->j", X, X))
        rnorm = np.sqrt(np.einsum("ij,ij->j", Rm, Rm))
        return bool(np.all(rnorm <= tol * (norm_a * xnorm + bnorm)))

    for it in range(maxiter):
        if converged(R):
            R = B - A @ X  # the recurrence drifts: confirm on the true residual
            if converged(R):
                return X, it
            Z = dinv * R
            P = Z.copy()
            rz = np.einsum("ij,ij->j", R, Z)
        AP = A @ P
        pap = np.einsum("ij,ij->j", P, AP)
        alpha = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        X += alpha * P
        R -= alpha * AP
        Z = dinv * R
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        P = Z + beta * P
        rz = rz_new
    raise EstimationError(
        f"the fixed-effect solve (conjugate gradients on a block of {A.shape[0]} levels) did not "
        f"converge in {maxiter} iterations; use engine='pyfixest' or coarser fixed effects"
    )


class BlockSolver:
    """Solves ``A X = B`` for a PSD ``A``, block by block over the connected components of its graph."""

    def __init__(self, A: Any, *, max_dense: int, cg_tol: float, maxiter: int) -> None:
        H = A.shape[0]
        self.H = H
        self.cg_tol, self.maxiter = cg_tol, maxiter
        if H <= _SMALL_BLOCK:
            labels = np.zeros(H, dtype=np.int64)
        else:
            pattern = sp.csr_matrix(A) if isinstance(A, np.ndarray) else A.tocsr()
            _, labels = connected_components(pattern, directed=False)
        order = np.argsort(labels, kind="stable")
        bounds = np.flatnonzero(np.diff(labels[order])) + 1
        blocks = np.split(order, bounds)
        Acsr = None if isinstance(A, np.ndarray) else A.tocsr()
        small_r: list[np.ndarray] = []
        small_c: list[np.ndarray] = []
        small_v: list[np.ndarray] = []
        self.direct: list[tuple[np.ndarray, np.ndarray]] = []
        self.iterative: list[tuple[np.ndarray, sp.csr_matrix]] = []
        self.rank = 0
        self.exact_rank = True
        self.n_blocks = len(blocks)
        for idx in blocks:
            if len(idx) > max_dense:
                sub = Acsr if Acsr is not None else sp.csr_matrix(A)
                self.iterative.append((idx, sub[idx][:, idx].tocsr()))
                self.rank += len(idx) - 1  # not computed for iterative blocks
                self.exact_rank = False
                continue
            Ab = A[np.ix_(idx, idx)] if Acsr is None else Acsr[idx][:, idx].toarray()
            Ab = 0.5 * (Ab + Ab.T)
            if len(idx) <= _SMALL_BLOCK and len(blocks) > 1:
                M, r = _psd_ginv(Ab)  # many small blocks: one sparse block-diagonal product
                rr, cc = np.nonzero(M)
                small_r.append(idx[rr])
                small_c.append(idx[cc])
                small_v.append(M[rr, cc])
            else:  # keep the factor: two triangular solves cost b^2 per column, an inverse b^3
                p, L = _psd_factor(Ab)
                r = len(p)
                self.direct.append((idx[p], L))
            self.rank += r
        self.small = (
            sp.csr_matrix(
                (np.concatenate(small_v), (np.concatenate(small_r), np.concatenate(small_c))),
                shape=(H, H),
            )
            if small_v
            else None
        )
        self.iterations = 0

    def solve(self, B: np.ndarray) -> np.ndarray:
        """``X`` with ``A X = B`` (``B`` 1-D or ``H x K``, in the range of ``A``)."""
        one = B.ndim == 1
        Bm = B[:, None] if one else B
        X = np.zeros(Bm.shape) if self.small is None else np.asarray(self.small @ Bm)
        for idx, L in self.direct:
            if len(idx):
                X[idx] = cho_solve((L, True), Bm[idx])
        for idx, Ab in self.iterative:
            Xb, it = _pcg(Ab, np.ascontiguousarray(Bm[idx]), self.cg_tol, self.maxiter)
            X[idx] = Xb
            self.iterations = max(self.iterations, it)
        return X[:, 0] if one else X
