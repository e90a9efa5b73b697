"""The Sun-Abraham saturated regression from cell sums: no dense N x k design.

The model is ``y_i = a_{f(i)} + l_{t(i)} + b_{j(i)} + u_i`` with firm effects ``a``, period effects ``l``
and one coefficient ``b_j`` per cohort x relative-period cell (rows outside every cell have no ``b``),
fitted by (weighted) least squares. Write ``Z = [D, T]`` for the mutually exclusive cell indicators ``D``
(k columns) and the period indicators ``T``, ``W`` for the weights, ``F`` for the firm indicators and
``C = F'WZ`` for the firm x column weighted counts (a sparse G x (k + T) matrix). Sweeping the firm
effects (Frisch-Waugh-Lovell) leaves the normal equations of ``theta = (b, l)``

    A theta = r,    A = Z'WZ - C' diag(1/W_f) C,    r = Z'Wy - C' m_y,

where ``Z'WZ`` holds the cell and period totals and the cell x period totals (cells are exclusive, so
``D'WD`` is diagonal) and ``m_y`` the firms' weighted means of ``y``: every entry is a sum over cells,
built with ``np.bincount`` and one sparse product. Partialling the period effects out as well (the
Schur complement ``S = A_bb - A_bt A_tt^+ A_tb``, the Gram matrix of the two-way within-transformed
cell indicators) gives ``b = S^{-1} (r_b - A_bt A_tt^+ r_t)``; the pseudo-inverse absorbs the period
effects' rank deficiency (one per connected firm x period component, e.g. per stack).

Residuals come from ``y`` directly (one pass: ``u = y - l[t] - b[j] - firm mean of the rest``). The
cluster-robust (CRV1) scores of ``b`` are ``s_c = sum_{i in c} w_i u_i (D~_i - Gamma' T~_i)`` with
``Gamma = A_tt^+ A_tb`` and ``Z~ = Z - (C / W_f)[f(i)]`` the firm-demeaned indicators; they are summed
per cluster from the sparse cluster x column sums of ``w u Z`` minus the cluster x firm sums of ``w u``
times ``C / W_f`` (zero when firms are nested in the clusters), in blocks of clusters, so the largest
dense array is a block of clusters x k. The covariance is ``G/(G-1) (N-1)/(N-K) S^{-1} (sum_c s_c s_c')
S^{-1}`` with ``K`` counting the fixed effects as fixest's ``k_fixef="nonnested"`` (as ``feols``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation import inference as inf

__all__ = ["CellFit", "fit_cells"]

# clusters per block when the scores are summed (bounds the dense block at _BLOCK x k floats)
_BLOCK = 20_000
# relative eigenvalue below which a period-effect direction is treated as absorbed (as the FE engine)
_PINV_RTOL = 1e-11
# a cell whose within variation is below this share of its total variation is absorbed (as feols)
_ABSORBED_RTOL = 1e-10


@dataclass(frozen=True)
class CellFit:
    """Coefficients and CRV1 covariance of the cell indicators (in the order of the cells)."""

    beta: np.ndarray
    vcov: np.ndarray
    nobs: int
    n_clusters: int
    warnings: tuple[str, ...]


def _nested_in(fe: np.ndarray, cl: np.ndarray) -> bool:
    """True when every level of ``fe`` lies within a single cluster."""
    first = np.empty(int(fe.max()) + 1, dtype=np.int64)
    first[fe] = cl
    return bool(np.array_equal(first[fe], cl))


def _pinv_psd(M: np.ndarray) -> np.ndarray:
    evals, evecs = np.linalg.eigh(0.5 * (M + M.T))
    ok = evals > max(float(evals.max(initial=0.0)), 1.0) * _PINV_RTOL
    return np.asarray((evecs[:, ok] / evals[ok]) @ evecs[:, ok].T)


def _indicator_counts(
    firm: np.ndarray,
    period: np.ndarray,
    rows: np.ndarray,
    cell: np.ndarray,
    vals: np.ndarray,
    shape: tuple[int, int],
    k: int,
) -> sp.csr_matrix:
    """Sparse ``group x (cell, period)`` sums of ``vals``: ``firm`` indexes rows of the result."""
    r = np.concatenate([firm[rows], firm])
    c = np.concatenate([cell, period + k])
    v = np.concatenate([vals[rows], vals])
    out = sp.csr_matrix((v, (r, c)), shape=shape)
    out.sum_duplicates()
    return out


def _normal_equations(
    y: np.ndarray, w: np.ndarray, firm: np.ndarray, period: np.ndarray, rows: np.ndarray,
    cell: np.ndarray, G: int, T: int, k: int,
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:  # fmt: skip
    """``A``, ``r``, the firm x column counts ``C`` and the firms' inverse weight totals."""
    W_f = np.bincount(firm, weights=w, minlength=G)
    inv_wf = 1.0 / W_f  # every firm has a positive weight (zero weights were removed)
    C = _indicator_counts(firm, period, rows, cell, w, (G, k + T), k)
    Cs = sp.diags(inv_wf) @ C
    A = -np.asarray((C.T @ Cs).toarray())
    wr = w[rows]
    A[np.arange(k), np.arange(k)] += np.bincount(cell, weights=wr, minlength=k)
    A[np.arange(k, k + T), np.arange(k, k + T)] += np.bincount(period, weights=w, minlength=T)
    cross = np.bincount(cell * T + period[rows], weights=wr, minlength=k * T).reshape(k, T)
    A[:k, k:] += cross
    A[k:, :k] += cross.T
    wy = w * y
    m_y = np.bincount(firm, weights=wy, minlength=G) * inv_wf
    r = np.concatenate(
        [
            np.bincount(cell, weights=wy[rows], minlength=k),
            np.bincount(period, weights=wy, minlength=T),
        ]
    )
    r -= np.asarray(C.T @ m_y)
    return 0.5 * (A + A.T), r, C, inv_wf


def _check_cells(
    S: np.ndarray, w: np.ndarray, rows: np.ndarray, cell: np.ndarray, names: list[str]
) -> None:
    """Absorbed cells (no within variation) and collinear cells raise, as ``feols`` does."""
    k = len(names)
    W_j = np.bincount(cell, weights=w[rows], minlength=k)
    tot = W_j - W_j**2 / float(w.sum())  # total (weighted) sum of squares of each indicator
    for j, name in enumerate(names):
        if tot[j] <= 0 or S[j, j] <= _ABSORBED_RTOL * tot[j]:
            raise EstimationError(
                f"cohort x period cell {name} is absorbed by the unit and period effects or has no "
                "observations left (e.g. after singleton removal)"
            )
    d = np.sqrt(np.diag(S))
    ev = np.linalg.eigvalsh(S / np.outer(d, d))
    if ev.min() < _ABSORBED_RTOL * max(ev.max(), 1.0):
        raise EstimationError(
            "cohort x period cells are collinear with the unit and period effects (a treated cohort "
            "observed only in the estimated cells, e.g. without its reference period): "
            f"{', '.join(names[:8])}{' ...' if k > 8 else ''}"
        )


def _meat(
    u: np.ndarray, w: np.ndarray, firm: np.ndarray, period: np.ndarray, rows: np.ndarray,
    cell: np.ndarray, clus: np.ndarray, C: sp.csr_matrix, inv_wf: np.ndarray, Gamma: np.ndarray,
    k: int,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """``sum_c s_c s_c'`` over clusters, ``s_c`` the cluster's score sum for ``b``."""
    n_cl = int(clus.max()) + 1
    wu = w * u
    T = C.shape[1] - k
    S1 = _indicator_counts(clus, period, rows, cell, wu, (n_cl, k + T), k)
    if not _nested_in(firm, clus):  # residuals do not sum to zero within a cluster's firm parts
        E = sp.csr_matrix((wu, (clus, firm)), shape=(n_cl, len(inv_wf)))
        E.sum_duplicates()
        S1 = (S1 - E @ (sp.diags(inv_wf) @ C)).tocsr()
    L = np.vstack([np.eye(k), -Gamma])  # s_c = S1_c L
    meat = np.zeros((k, k))
    for lo in range(0, n_cl, _BLOCK):
        blk = S1[lo : lo + _BLOCK]
        s = np.asarray(blk @ L)
        meat += s.T @ s
    return 0.5 * (meat + meat.T), n_cl


def fit_cells(
    y: np.ndarray,
    w: np.ndarray,
    firm: np.ndarray,
    period: np.ndarray,
    clus: np.ndarray,
    rows: np.ndarray,
    cell: np.ndarray,
    names: list[str],
    *,
    cluster_name: str,
) -> CellFit:
    """Fit the saturated cell regression with firm and period effects and CRV1 errors.

    Parameters
    ----------
    y, w
        Outcome and positive weights (length N, all finite).
    firm, period, clus
        Codes 0..G-1, 0..T-1 and 0..n_cl-1 of the unit effect, the period effect and the cluster.
    rows, cell
        Positions of the rows inside a cell and the cell index (0..k-1) of each.
    names
        Cell labels (for error messages).
    cluster_name
        Cluster column (for the few-clusters warning).
    """
    k = len(names)
    G, T, n = int(firm.max()) + 1, int(period.max()) + 1, len(y)
    A, r, C, inv_wf = _normal_equations(y, w, firm, period, rows, cell, G, T, k)
    Att_p = _pinv_psd(A[k:, k:])
    Gamma = Att_p @ A[k:, :k]
    S = A[:k, :k] - A[:k, k:] @ Gamma
    S = 0.5 * (S + S.T)
    _check_cells(S, w, rows, cell, names)
    bread = np.linalg.inv(S)
    beta = bread @ (r[:k] - Gamma.T @ r[k:])
    lam = Att_p @ (r[k:] - A[k:, :k] @ beta)
    v = y - lam[period]
    v[rows] -= beta[cell]
    u = v - (np.bincount(firm, weights=w * v, minlength=G) * inv_wf)[firm]
    meat, n_cl = _meat(u, w, firm, period, rows, cell, clus, C, inv_wf, Gamma, k)
    few = inf.cluster_count_check(n_cl, cluster_name)
    warns = (few,) if few else ()
    if few:
        warnings.warn(few, EstimationWarning, stacklevel=4)
    nested = [lv for c, lv in ((firm, G), (period, T)) if _nested_in(c, clus)]
    df_k = k + G + T - 1 - sum(nested) + len(nested)
    V = n_cl / (n_cl - 1) * (n - 1) / (n - df_k) * (bread @ meat @ bread)
    return CellFit(beta=beta, vcov=V, nobs=n, n_clusters=n_cl, warnings=warns)
