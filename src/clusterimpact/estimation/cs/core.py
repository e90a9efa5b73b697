"""Internals of the Callaway-Sant'Anna estimator: the ATT(g,t) cells and their 2x2 estimators.

Not public: :mod:`clusterimpact.estimation.cs.api` wraps these into ``att_gt``; the data arrive
prepared by :mod:`clusterimpact.estimation.cs.prepare` (re-exported here for the tests).

Notation (Callaway & Sant'Anna 2021; Sant'Anna & Zhao 2020): for a cell (g, t) with base period b, the
treated units are those first treated in g, the controls the never-treated (or the not-yet-treated:
never treated or first treated after ``max(t, b) + anticipation``), ``dY = Y_t - Y_b``, ``w`` the
sampling weights. Every cell estimator returns the estimate and its influence function ``psi`` on the units
involved, scaled so that ``att_hat - att ~ sum_i psi_i`` (multiplied by ``n`` afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clusterimpact.errors import SpecError
from clusterimpact.estimation.cs.prepare import Prepared, note, prepare
from clusterimpact.estimation.influence import GroupBlockBasis, InfluenceFunction, SparseBasis

__all__ = ["Cell", "CellFailure", "Prepared", "enumerate_cells", "note", "prepare"]

TRIM_LEVEL = 0.995  # controls with a propensity score at or above this get no weight (as DRDID)


@dataclass
class Cell:
    """One ATT(g,t) cell: cohort, period, base period and the groups it compares.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.cs.prepare import prepare
    >>> prep = prepare(example_panel(), outcome="ln_lp", cohort="treat_year", unit="firm_id", time="year",
    ...                covariates=[], weights=None, cluster=None, stack=None, anticipation=0,
    ...                allow_unbalanced=True)
    >>> from clusterimpact.estimation.cs.core import enumerate_cells
    >>> cells, notes = enumerate_cells(prep, control="notyet", anticipation=0, base_period="varying")
    >>> post = next(c for c in cells if c.t >= c.g)
    >>> post.b == post.g - 1, len(post.treated) > 0, len(post.control) > 0
    (True, True, True)
    """

    g: int
    t: int
    b: int
    treated: np.ndarray  # group codes
    control: np.ndarray  # group codes


def enumerate_cells(
    prep: Prepared, *, control: str, anticipation: int, base_period: str
) -> tuple[list[Cell], list[str]]:
    """The ATT(g,t) cells of Callaway & Sant'Anna (2021) in R did's order (cohort, then period).

    Base period: for post-treatment cells (``g <= t``) and always under ``"universal"``, the last period
    before ``g - anticipation``; otherwise (``"varying"``) the period before ``t``. The universal base's own
    cell (``t == b``) is the normalisation and is not a cell.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.cs.prepare import prepare
    >>> prep = prepare(example_panel(), outcome="ln_lp", cohort="treat_year", unit="firm_id", time="year",
    ...                covariates=[], weights=None, cluster=None, stack=None, anticipation=0,
    ...                allow_unbalanced=True)
    >>> from clusterimpact.estimation.cs.core import enumerate_cells
    >>> cells, notes = enumerate_cells(prep, control="notyet", anticipation=0, base_period="varying")
    >>> first = cells[0]
    >>> (first.g, first.t, first.b), len(cells)  # cohort 2011 in 2009, against 2008
    ((2011, 2009, 2008), 150)
    """
    years = prep.years
    gc = prep.group_cohort
    cohorts = np.unique(gc[gc > 0]).astype(int)
    dropped: list[str] = []
    cells: list[Cell] = []
    t_iter = years[1:] if base_period == "varying" else years
    for g in cohorts:
        treated = np.flatnonzero(gc == g)
        stacks = np.unique(prep.group_stack[treated])
        pre = years[years + anticipation < g]
        if pre.size == 0:
            continue
        for t in t_iter:
            t = int(t)
            if base_period == "universal" or g <= t:
                b = int(pre[-1])
            else:
                b = t - 1
            if b == t:
                continue
            in_stack = np.isin(prep.group_stack, stacks)
            if control == "never":
                cmask = gc == 0
            else:
                cmask = (gc == 0) | ((gc > max(t, b) + anticipation) & (gc != g))
            ctrl = np.flatnonzero(cmask & in_stack)
            if ctrl.size == 0:
                dropped.append(f"ATT({g},{t})")
                continue
            cells.append(Cell(g=int(g), t=t, b=b, treated=treated, control=ctrl))
    return cells, dropped


# -------------------------------------------------------------------------------------------------
# fast path: no covariates, balanced panel -> group means and a group-block basis
# -------------------------------------------------------------------------------------------------
def fast_cells(
    prep: Prepared, cells: list[Cell], *, small_sample: bool = False
) -> tuple[np.ndarray, InfluenceFunction, np.ndarray]:
    """Unconditional 2x2 DiD in every cell from group sums; influence functions on the group basis.

    Returns the estimates, the influence functions and the (n_treated, n_control) counts per cell.
    ``small_sample``: the treated side's coefficients are scaled by :func:`small_sample_factor`.
    """
    n, T = prep.y.shape
    G = len(prep.group_cohort)
    q = T + 2
    wy = prep.y * prep.w[:, None]
    feats = np.empty((n, q))
    feats[:, :T] = wy
    feats[:, T] = prep.w
    feats[:, T + 1] = 1.0
    S = np.add.reduceat(feats, prep.starts[:-1], axis=0) if n else np.zeros((G, q))
    # reduceat misbehaves for empty groups (none exist: groups come from the units)
    cnt = np.diff(prep.starts)
    W = S[:, T]
    K = len(cells)
    coef = np.zeros((K, G * q))
    att = np.empty(K)
    counts = np.empty((K, 2), dtype=np.int64)
    tpos = {int(v): i for i, v in enumerate(prep.years)}
    for k, c in enumerate(cells):
        it, ib = tpos[c.t], tpos[c.b]
        mu = []
        f1 = small_sample_factor(int(cnt[c.treated].sum())) if small_sample else 1.0
        for side, groups in ((f1, c.treated), (-1.0, c.control)):
            Ws = W[groups].sum()
            m = (S[groups, it] - S[groups, ib]).sum() / Ws
            mu.append(m)
            # `side` only scales the influence function: the estimate is mu[0] - mu[1]
            base = groups * q
            coef[k, base + it] += side * n / Ws
            coef[k, base + ib] -= side * n / Ws
            coef[k, base + T] -= side * n * m / Ws
        att[k] = mu[0] - mu[1]
        counts[k] = (cnt[c.treated].sum(), cnt[c.control].sum())
    basis = group_block_basis(prep, feats)
    return att, InfluenceFunction(coef=coef, basis=basis, n=n), counts


def group_block_basis(prep: Prepared, feats: np.ndarray) -> GroupBlockBasis:
    """Group-block basis over units, or over (cluster x group) atoms when clustering."""
    if prep.cluster is None:
        return GroupBlockBasis(
            features=feats, starts=prep.starts, atom_cluster=None, n_clusters=prep.n
        )
    # sum the features of units sharing (group, cluster)
    key = prep.group * (prep.n_clusters + 1) + prep.cluster
    uk, inv = np.unique(key, return_inverse=True)
    agg = np.zeros((len(uk), feats.shape[1]))
    np.add.at(agg, inv, feats)
    atom_group = uk // (prep.n_clusters + 1)
    atom_cluster = uk % (prep.n_clusters + 1)
    starts = np.searchsorted(atom_group, np.arange(len(prep.group_cohort) + 1))
    return GroupBlockBasis(
        features=agg, starts=starts, atom_cluster=atom_cluster, n_clusters=prep.n_clusters
    )


# -------------------------------------------------------------------------------------------------
# general path: covariates and/or unbalanced panels -> per-cell 2x2 estimators, sparse basis
# -------------------------------------------------------------------------------------------------
def general_cells(
    prep: Prepared, cells: list[Cell], est: str, *, small_sample: bool = False
) -> tuple[np.ndarray, InfluenceFunction, np.ndarray, list[str]]:
    """Cell-by-cell estimation with covariates (``reg``/``ipw``/``dr``) or unbalanced panels.

    A cell whose estimation fails (a separated or non-converging propensity model, no overlap, a
    singular design, no treated or control unit observed in both periods) is NaN with a zero influence
    function, and the returned messages name it and the reason (R did and csdid: NA).
    ``small_sample``: the treated units' influence entries are scaled by :func:`small_sample_factor`.
    """
    n, T = prep.y.shape
    G = len(prep.group_cohort)
    K = len(cells)
    tpos = {int(v): i for i, v in enumerate(prep.years)}
    att = np.full(K, np.nan)
    counts = np.zeros((K, 2), dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    msgs: list[str] = []
    group_units = [np.arange(prep.starts[g], prep.starts[g + 1]) for g in range(G)]
    empty: list[str] = []
    failed: list[tuple[str, str]] = []
    for k, c in enumerate(cells):
        it, ib = tpos[c.t], tpos[c.b]
        d_idx = np.concatenate([group_units[g] for g in c.treated])
        c_idx = np.concatenate([group_units[g] for g in c.control])
        idx = np.concatenate([d_idx, c_idx])
        dmask = np.zeros(idx.size, dtype=bool)
        dmask[: d_idx.size] = True
        dy = prep.y[idx, it] - prep.y[idx, ib]
        ok = np.isfinite(dy)
        if prep.x is not None:
            xb = prep.x[idx, ib, :]
            ok &= np.isfinite(xb).all(axis=1)
        idx, dmask, dy = idx[ok], dmask[ok], dy[ok]
        nd, nc = int(dmask.sum()), int((~dmask).sum())
        counts[k] = (nd, nc)
        if nd == 0 or nc == 0:
            empty.append(f"ATT({c.g},{c.t})")
            continue
        if prep.x is not None:
            X = np.column_stack([np.ones(idx.size), prep.x[idx, ib, :]])
        else:
            X = np.ones((idx.size, 1))
        w = prep.w[idx]
        try:
            if prep.x is None:
                a, psi = cell_unconditional(dy, w, dmask)
            else:
                a, psi = CELL_ESTIMATORS[est](dy, X, w, dmask)
        except np.linalg.LinAlgError as exc:
            failed.append((f"ATT({c.g},{c.t})", f"singular design ({exc})"))
            continue
        except CellFailure as exc:
            failed.append((f"ATT({c.g},{c.t})", str(exc)))
            continue
        if not (np.isfinite(a) and np.all(np.isfinite(psi))):
            failed.append(
                (f"ATT({c.g},{c.t})", "the estimate or its influence function is not finite")
            )
            continue
        if small_sample:
            psi[dmask] *= small_sample_factor(nd)
        att[k] = a
        rows.append(idx)
        cols.append(np.full(idx.size, k))
        vals.append(psi * n)
    if empty:
        msgs.append(
            f"{len(empty)} cell(s) have no treated or no control unit observed in both of their "
            f"periods and are NaN: {', '.join(empty[:8])}{' ...' if len(empty) > 8 else ''}"
        )
    by_reason: dict[str, list[str]] = {}
    for term, why in failed:
        by_reason.setdefault(why, []).append(term)
    msgs += [
        f"{', '.join(terms)} {'is' if len(terms) == 1 else 'are'} NaN: {why}"
        for why, terms in by_reason.items()
    ]
    # unit-level basis: cell columns, group weight columns, a constant column
    r = np.concatenate(rows + [np.arange(n), np.arange(n)])
    cc = np.concatenate(cols + [K + prep.group, np.full(n, K + G)])
    vv = np.concatenate(vals + [prep.w, np.ones(n)])
    unit_phi = sp.csr_matrix((vv, (r, cc)), shape=(n, K + G + 1))
    if prep.cluster is not None:
        h = sp.csr_matrix((np.ones(n), (prep.cluster, np.arange(n))), shape=(prep.n_clusters, n))
        phi = sp.csr_matrix(h @ unit_phi)
    else:
        phi = unit_phi
    basis = SparseBasis(phi=phi, unit_phi=unit_phi)
    coef = np.zeros((K, K + G + 1))
    coef[np.arange(K), np.arange(K)] = 1.0
    return att, InfluenceFunction(coef=coef, basis=basis, n=n), counts, msgs


def weight_columns(
    influence: InfluenceFunction, n_groups: int, n_periods: int
) -> tuple[np.ndarray, int]:
    """Basis columns of ``w_i 1{group_i = g}`` (per group) and of the constant 1 (returned as a list).

    Returns ``(cols_w, const_kind)`` where for the group-block basis the constant is the sum over groups
    of each block's last column, and for the sparse basis a single column.
    """
    basis = influence.basis
    if isinstance(basis, GroupBlockBasis):
        q = basis.q
        return np.arange(n_groups) * q + (q - 2), 0
    p = basis.p
    return np.arange(p - 1 - n_groups, p - 1), 1


def const_coef(influence: InfluenceFunction, n_groups: int) -> np.ndarray:
    """Coefficient row (length p) that reproduces the constant function 1."""
    basis = influence.basis
    out = np.zeros(basis.p)
    if isinstance(basis, GroupBlockBasis):
        q = basis.q
        out[np.arange(n_groups) * q + (q - 1)] = 1.0
    else:
        out[basis.p - 1] = 1.0
    return out


def small_sample_factor(n_treated: int) -> float:
    """``sqrt(n / (n - 1))`` for ``n >= 2`` treated units in a cell, else 1.

    The treated units' influence entries ``w_i (dY_i - mean) / W_D`` have a sum of squares equal to the
    mean squared deviation from the cell's own treated mean divided by ``n``: the factor turns it into
    the unbiased variance (a single treated unit has no variance to estimate; it stays at 1).
    """
    return float(np.sqrt(n_treated / (n_treated - 1))) if n_treated >= 2 else 1.0


# -------------------------------------------------------------------------------------------------
# 2x2 cell estimators (Sant'Anna & Zhao 2020, panel data)
# -------------------------------------------------------------------------------------------------
def cell_unconditional(dy: np.ndarray, w: np.ndarray, d: np.ndarray) -> tuple[float, np.ndarray]:
    """Unconditional 2x2 DiD (what every ``est`` reduces to without covariates)."""
    c = ~d
    WD, WC = w[d].sum(), w[c].sum()
    m1 = float((w[d] * dy[d]).sum() / WD)
    m0 = float((w[c] * dy[c]).sum() / WC)
    psi = np.empty(dy.size)
    psi[d] = w[d] * (dy[d] - m1) / WD
    psi[c] = -w[c] * (dy[c] - m0) / WC
    return m1 - m0, psi


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xtw = X.T * w
    H = xtw @ X
    beta = np.linalg.solve(H, xtw @ y)
    return beta, H


def cell_reg(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Outcome regression (Heckman, Ichimura & Todd 1997): OLS of dY on X among controls.

    ``ATT = sum_D w (dY - X'beta) / W_D``; the influence function adds the estimation effect of beta.
    """
    c = ~d
    beta, H = _wls(X[c], dy[c], w[c])
    e = dy - X @ beta
    WD = w[d].sum()
    att = float((w[d] * e[d]).sum() / WD)
    psi = np.empty(dy.size)
    psi[d] = w[d] * (e[d] - att) / WD
    mbar = (w[d][:, None] * X[d]).sum(axis=0) / WD
    psi[c] = -w[c] * e[c] * (X[c] @ np.linalg.solve(H, mbar))
    return att, psi


class CellFailure(Exception):
    """A 2x2 cell's nuisance model has no valid estimate; the message is the reason (the cell is NaN).

    Examples
    --------
    >>> from clusterimpact.estimation.cs.core import CellFailure
    >>> try:
    ...     raise CellFailure("propensity model separated: no control with a score below 1")
    ... except CellFailure as failure:
    ...     print("cell is NaN:", failure)
    cell is NaN: propensity model separated: no control with a score below 1
    """


#: Newton iterations before a propensity model is declared not to converge.
PS_MAXITER = 100


def _logit(
    X: np.ndarray, d: np.ndarray, w: np.ndarray, maxiter: int = PS_MAXITER
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logit by Newton-Raphson with step halving; returns fitted probabilities and the Hessian.

    Raises :class:`CellFailure` when the maximum-likelihood estimate does not exist or was not found:
    separation (diagnosed by linear programming, :func:`clusterimpact._binary.separation`, once Newton
    fails to converge or the Hessian is singular), or no convergence in ``maxiter`` iterations. R did
    and csdid return NA for such a cell; returning the last iterate would give an ATT whose standard
    error is driven by a near-singular Hessian (1e5 and more).
    """
    from scipy.special import expit

    y = d.astype(float)
    beta = np.zeros(X.shape[1])
    pbar = np.average(y, weights=w)
    beta[0] = np.log(pbar / (1 - pbar))

    def loglik(b: np.ndarray) -> float:
        eta = X @ b
        return float(w @ (y * eta - np.logaddexp(0.0, eta)))

    ll = loglik(beta)
    converged = False
    for _ in range(maxiter):
        p = expit(X @ beta)
        grad = X.T @ (w * (y - p))
        H = (X.T * (w * p * (1 - p))) @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        new = loglik(beta + step)
        while not (np.isfinite(new) and new >= ll - 1e-12 * (1.0 + abs(ll))):
            t /= 2
            if t < 1e-10:
                break
            new = loglik(beta + t * step)
        if t < 1e-10:
            break  # no ascent along the Newton direction: not converged
        beta = beta + t * step
        ll = new
        if np.max(np.abs(t * step)) < 1e-10 * max(1.0, float(np.max(np.abs(beta)))):
            converged = True
            break
    p = expit(X @ beta)
    H = (X.T * (w * p * (1 - p))) @ X
    if not converged or not _well_conditioned(H):
        raise CellFailure(_ps_reason(X, d, w, converged, maxiter))
    return p, H


def _well_conditioned(H: np.ndarray) -> bool:
    """Hessian usable: finite, and not singular on the correlation scale (condition below 1e12)."""
    dg = np.sqrt(np.abs(np.diag(H)))
    if not np.all(np.isfinite(H)) or np.any(dg == 0):
        return False
    ev = np.linalg.eigvalsh(H / np.outer(dg, dg))
    return bool(ev.min() > 1e-12 * ev.max())


def _ps_reason(X: np.ndarray, d: np.ndarray, w: np.ndarray, converged: bool, maxiter: int) -> str:
    """Why a propensity-score fit failed, for the cell's warning."""
    from clusterimpact._binary import SEPARATION_MESSAGE, separation

    if separation(X, d, w):
        return f"propensity-score logit: {SEPARATION_MESSAGE}"
    if not converged:
        return f"propensity-score logit did not converge in {maxiter} Newton iterations"
    return "propensity-score logit: singular information matrix (collinear covariates in this cell)"


def _control_weight(wr: np.ndarray) -> float:
    """Total weight of the controls after trimming; no weight left means no overlap (a NaN cell)."""
    total = float(wr.sum())
    if not total > 0:
        raise CellFailure(
            f"no overlap: every control unit has a propensity score of {TRIM_LEVEL} or more and gets "
            "no weight"
        )
    return total


def cell_ipw(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) inverse-probability weighting (Abadie 2005; Sant'Anna & Zhao 2020, eq. 2.4).

    Logit propensity score; controls weighted by ``p/(1-p)`` (zero when ``p >= 0.995``), weights
    normalised within each arm. The influence function adds the logit's estimation effect.
    """
    c = ~d
    p, H = _logit(X, d, w)
    p = np.minimum(p, 1 - 1e-6)
    r = np.where(c & (p < TRIM_LEVEL), p / (1 - p), 0.0)
    WD = w[d].sum()
    mu1 = float((w[d] * dy[d]).sum() / WD)
    wr = w * r
    Wr = _control_weight(wr[c])
    mu0 = float((wr[c] * dy[c]).sum() / Wr)
    psi = np.zeros(dy.size)
    psi[d] = w[d] * (dy[d] - mu1) / WD
    psi[c] = -wr[c] * (dy[c] - mu0) / Wr
    M = (wr[c] * (dy[c] - mu0)) @ X[c] / Wr
    score = (w * (d.astype(float) - p))[:, None] * X
    psi -= score @ np.linalg.solve(H, M)
    return mu1 - mu0, psi


def _ipt(X: np.ndarray, d: np.ndarray, w: np.ndarray, maxiter: int = 2 * PS_MAXITER) -> np.ndarray:
    """Inverse probability tilting for the ATT (Graham, Pinto & Egel 2012): control odds ``exp(X'g)``
    with weighted control covariate means equal to the treated ones. Returns the odds.

    Raises :class:`CellFailure` when no tilting balances the covariates: the treated covariate mean
    lies outside (or on the edge of) the controls' convex hull, the tilting analogue of separation
    (:func:`clusterimpact._binary.outside_hull`), or Newton did not converge.
    """
    c = ~d
    gamma = np.zeros(X.shape[1])
    gamma[0] = np.log(w[d].sum() / w[c].sum())
    xd = (w[d][:, None] * X[d]).sum(axis=0)
    Xc, wc = X[c], w[c]

    def loss(gm: np.ndarray) -> float:
        return float((wc * np.exp(np.clip(Xc @ gm, -700, 700))).sum() - xd @ gm)

    cur = loss(gamma)
    converged = False
    for _ in range(maxiter):
        odds = np.exp(np.clip(Xc @ gamma, -700, 700))
        grad = Xc.T @ (wc * odds) - xd
        H = (Xc.T * (wc * odds)) @ Xc
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            break
        s = 1.0
        while s > 1e-10:
            new = gamma - s * step
            val = loss(new)
            if np.isfinite(val) and val <= cur + 1e-12 * abs(cur):
                break
            s /= 2
        else:
            break  # no descent: not converged
        gamma, cur = new, val
        if np.max(np.abs(s * step)) < 1e-10 * max(1.0, float(np.max(np.abs(gamma)))):
            converged = True
            break
    odds_c = np.exp(np.clip(Xc @ gamma, -700, 700))
    H = (Xc.T * (wc * odds_c)) @ Xc
    if not converged or not _well_conditioned(H):
        from clusterimpact._binary import outside_hull

        if outside_hull(Xc, xd / w[d].sum()):
            raise CellFailure(
                "propensity score (inverse probability tilting): the treated units' covariate mean "
                "lies outside the range of the controls' covariates (separation), so no reweighting "
                "of the controls balances them"
            )
        if not converged:
            raise CellFailure(
                f"propensity score (inverse probability tilting) did not converge in {maxiter} "
                "Newton iterations"
            )
        raise CellFailure(
            "propensity score (inverse probability tilting): singular information matrix "
            "(collinear covariates in this cell)"
        )
    return np.exp(np.clip(X @ gamma, -700, 700))


def cell_dr(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Improved locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, section 3.1, panel).

    Propensity score by inverse probability tilting, outcome model by weighted least squares among the
    controls with weights ``p/(1-p)``; both estimation effects vanish from the influence function by
    construction (the estimator is doubly robust for inference too).
    """
    c = ~d
    odds = _ipt(X, d, w)
    p = odds / (1 + odds)
    r = np.where(c & (p < TRIM_LEVEL), odds, 0.0)
    wr = w * r
    _control_weight(wr[c])
    beta, _ = _wls(X[c], dy[c], wr[c])
    e = dy - X @ beta
    WD = w[d].sum()
    Wr = wr[c].sum()
    a1 = float((w[d] * e[d]).sum() / WD)
    a0 = float((wr[c] * e[c]).sum() / Wr)
    psi = np.zeros(dy.size)
    psi[d] = w[d] * (e[d] - a1) / WD
    psi[c] = -wr[c] * (e[c] - a0) / Wr
    return a1 - a0, psi


def cell_dr_traditional(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Traditional locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, eq. 3.1, panel).

    Logit propensity score by maximum likelihood, outcome regression by OLS among the controls; the
    influence function carries both estimation effects. This is the variant R did's peers run for
    ``est_method="dr"`` on panel data (DRDID's ``drdid_panel``).
    """
    c = ~d
    p, Hg = _logit(X, d, w)
    p = np.minimum(p, 1 - 1e-6)
    r = np.where(c & (p < TRIM_LEVEL), p / (1 - p), 0.0)
    beta, Hb = _wls(X[c], dy[c], w[c])
    e = dy - X @ beta
    w0 = w * r
    WD, W0 = w[d].sum(), _control_weight(w0[c])
    a1 = float((w[d] * e[d]).sum() / WD)
    a0 = float((w0[c] * e[c]).sum() / W0)
    psi = np.zeros(dy.size)
    psi[d] = w[d] * (e[d] - a1) / WD
    psi[c] = -w0[c] * (e[c] - a0) / W0
    # outcome-regression estimation effect
    m_beta = -(w[d][:, None] * X[d]).sum(axis=0) / WD + (w0[c][:, None] * X[c]).sum(axis=0) / W0
    psi[c] += w[c] * e[c] * (X[c] @ np.linalg.solve(Hb, m_beta))
    # propensity-score estimation effect
    m_gamma = (w0[c] * (e[c] - a0)) @ X[c] / W0
    score = (w * (d.astype(float) - p))[:, None] * X
    psi -= score @ np.linalg.solve(Hg, m_gamma)
    return a1 - a0, psi


CELL_ESTIMATORS = {
    "reg": cell_reg,
    "ipw": cell_ipw,
    "dr": cell_dr,
    "dr_traditional": cell_dr_traditional,
}


def check_options(control: str, est: str, base_period: str, anticipation: int) -> None:
    """Cross-option checks (single options are checked with ``check_choice``)."""
    if anticipation < 0 or int(anticipation) != anticipation:
        raise SpecError(f"anticipation must be a non-negative integer, got {anticipation!r}")
