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
from clusterimpact.estimation.cs import staged
from clusterimpact.estimation.cs.prepare import Prepared, note, prepare
from clusterimpact.estimation.cs.staged import PS_MAXITER, TRIM_LEVEL, CellFailure
from clusterimpact.estimation.influence import (
    GroupBlockBasis,
    InfluenceFunction,
    ReducedBasis,
    SparseBasis,
)

__all__ = [
    "PS_MAXITER",
    "TRIM_LEVEL",
    "Cell",
    "CellFailure",
    "Prepared",
    "enumerate_cells",
    "note",
    "prepare",
]


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
    n = prep.y.shape[0]
    G = len(prep.group_cohort)
    feats = fast_features(prep.y, prep.w)
    S = np.add.reduceat(feats, prep.starts[:-1], axis=0) if n else np.zeros((G, feats.shape[1]))
    # reduceat misbehaves for empty groups (none exist: groups come from the units)
    att, coef, counts = fast_cells_from_sums(
        S, np.diff(prep.starts), prep.years, cells, n, small_sample=small_sample
    )
    basis = group_block_basis(prep, feats)
    return att, InfluenceFunction(coef=coef, basis=basis, n=n), counts


def fast_features(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The group-block basis functions of every unit: ``w Y_t`` (every period), ``w`` and ``1``."""
    n, T = y.shape
    feats = np.empty((n, T + 2))
    np.multiply(y, w[:, None], out=feats[:, :T])
    feats[:, T] = w
    feats[:, T + 1] = 1.0
    return feats


def fast_cells_from_sums(
    S: np.ndarray,
    cnt: np.ndarray,
    years: np.ndarray,
    cells: list[Cell],
    n: int,
    *,
    small_sample: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell's unconditional DiD and its influence coefficients from the groups' feature sums.

    ``S`` (groups x (T + 2)) sums :func:`fast_features` within each group, ``cnt`` counts the units of
    each group; both are additive over any split of the units (the Dask path sums them over
    partitions). Returns the estimates, the coefficients on the group-block basis and the counts.
    """
    T = len(years)
    G, q = S.shape
    W = S[:, T]
    K = len(cells)
    coef = np.zeros((K, G * q))
    att = np.empty(K)
    counts = np.empty((K, 2), dtype=np.int64)
    tpos = {int(v): i for i, v in enumerate(years)}
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
    return att, coef, counts


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
    The estimators are the stages of :mod:`clusterimpact.estimation.cs.staged`, driven on all units.
    """
    n = prep.y.shape[0]
    G = len(prep.group_cohort)
    K = len(cells)
    tpos = {int(v): i for i, v in enumerate(prep.years)}
    key, k_x = stage_key(est, prep.x)
    att = np.full(K, np.nan)
    counts = np.zeros((K, 2), dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    empty: list[str] = []
    failed: list[tuple[str, str]] = []
    for k, c in enumerate(cells):
        idx, data = cell_data(prep.y, prep.x, prep.w, prep.starts, c, tpos)
        nd, nc = int(data.d.sum()), int((~data.d).sum())
        counts[k] = (nd, nc)
        if nd == 0 or nc == 0:
            empty.append(f"ATT({c.g},{c.t})")
            continue
        try:
            a, psi_fn = staged.run_local(staged.STAGES[key](k_x), data)
            psi = psi_fn(data)
        except (np.linalg.LinAlgError, CellFailure) as exc:
            failed.append((f"ATT({c.g},{c.t})", failure_reason(exc)))
            continue
        if not (np.isfinite(a) and np.all(np.isfinite(psi))):
            failed.append((f"ATT({c.g},{c.t})", NOT_FINITE))
            continue
        if small_sample:
            psi[data.d] *= small_sample_factor(nd)
        att[k] = a
        rows.append(idx)
        cols.append(np.full(idx.size, k))
        vals.append(psi * n)
    unit_phi = unit_basis(rows, cols, vals, prep.w, prep.group, K, G)
    if prep.cluster is not None:
        h = sp.csr_matrix((np.ones(n), (prep.cluster, np.arange(n))), shape=(prep.n_clusters, n))
        phi = sp.csr_matrix(h @ unit_phi)
    else:
        phi = unit_phi
    basis = SparseBasis(phi=phi, unit_phi=unit_phi)
    infl = InfluenceFunction(coef=sparse_coef(K, G), basis=basis, n=n)
    return att, infl, counts, cell_messages(empty, failed)


NOT_FINITE = "the estimate or its influence function is not finite"


def stage_key(est: str, x: np.ndarray | None) -> tuple[str, int]:
    """The staged estimator a cell runs (unconditional without covariates) and its design width."""
    if x is None:
        return "unconditional", 1
    return est, 1 + int(x.shape[2])


def failure_reason(exc: Exception) -> str:
    """The reason a cell is NaN, for its message."""
    if isinstance(exc, np.linalg.LinAlgError):
        return f"singular design ({exc})"
    return str(exc)


def cell_data(
    y: np.ndarray,
    x: np.ndarray | None,
    w: np.ndarray,
    starts: np.ndarray,
    c: Cell,
    tpos: dict[int, int],
) -> tuple[np.ndarray, staged.CellData]:
    """The units of cell ``c`` observed in both its periods (treated groups first, then controls):
    their row numbers in ``y`` and their :class:`~clusterimpact.estimation.cs.staged.CellData`.

    ``y`` (units x periods), ``x`` (units x periods x k) and ``w`` hold units sorted by group, group
    ``g`` owning rows ``starts[g]:starts[g+1]``: all units, or one partition's.
    """
    it, ib = tpos[c.t], tpos[c.b]
    d_idx = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in c.treated])
    c_idx = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in c.control])
    idx = np.concatenate([d_idx, c_idx])
    dmask = np.zeros(idx.size, dtype=bool)
    dmask[: d_idx.size] = True
    dy = y[idx, it] - y[idx, ib]
    ok = np.isfinite(dy)
    if x is not None:
        xb = x[idx, ib, :]
        ok &= np.isfinite(xb).all(axis=1)
    idx, dmask, dy = idx[ok], dmask[ok], dy[ok]
    if x is not None:
        X = np.column_stack([np.ones(idx.size), x[idx, ib, :]])
    else:
        X = np.ones((idx.size, 1))
    return idx, staged.CellData(dy=dy, X=X, w=w[idx], d=dmask)


def cell_messages(empty: list[str], failed: list[tuple[str, str]]) -> list[str]:
    """The messages on cells without units and on failed cells (grouped by reason)."""
    msgs: list[str] = []
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
    return msgs


def unit_basis(
    rows: list[np.ndarray],
    cols: list[np.ndarray],
    vals: list[np.ndarray],
    w: np.ndarray,
    group: np.ndarray,
    K: int,
    G: int,
) -> sp.csr_matrix:
    """Unit-level sparse basis: the cells' influence columns, the group weight columns
    ``w_i 1{group_i = g}`` and a constant column (units x (K + G + 1))."""
    n = w.size
    r = np.concatenate(rows + [np.arange(n), np.arange(n)])
    cc = np.concatenate(cols + [K + group, np.full(n, K + G)])
    vv = np.concatenate(vals + [w, np.ones(n)])
    return sp.csr_matrix((vv, (r, cc)), shape=(n, K + G + 1))


def sparse_coef(K: int, G: int) -> np.ndarray:
    """Coefficients of the cells on :func:`unit_basis`: the identity on the first ``K`` columns."""
    coef = np.zeros((K, K + G + 1))
    coef[np.arange(K), np.arange(K)] = 1.0
    return coef


def weight_columns(
    influence: InfluenceFunction, n_groups: int, n_periods: int
) -> tuple[np.ndarray, int]:
    """Basis columns of ``w_i 1{group_i = g}`` (per group) and of the constant 1 (returned as a list).

    Returns ``(cols_w, const_kind)`` where for the group-block basis the constant is the sum over groups
    of each block's last column, and for the sparse basis a single column.
    """
    basis = influence.basis
    q = block_width(basis)
    if q is not None:
        return np.arange(n_groups) * q + (q - 2), 0
    p = basis.p
    return np.arange(p - 1 - n_groups, p - 1), 1


def block_width(basis: GroupBlockBasis | SparseBasis | ReducedBasis) -> int | None:
    """The group-block width ``q`` when the coefficients follow the group-block layout, else None."""
    if isinstance(basis, GroupBlockBasis):
        return basis.q
    if isinstance(basis, ReducedBasis):
        return basis.block_q
    return None


def const_coef(influence: InfluenceFunction, n_groups: int) -> np.ndarray:
    """Coefficient row (length p) that reproduces the constant function 1."""
    basis = influence.basis
    out = np.zeros(basis.p)
    q = block_width(basis)
    if q is not None:
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
    return _run("unconditional", dy, np.ones((dy.size, 1)), w, d)


def _run(
    key: str, dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    data = staged.CellData(dy=dy, X=X, w=w, d=d)
    att, psi_fn = staged.run_local(staged.STAGES[key](X.shape[1]), data)
    return float(att), psi_fn(data)


def cell_reg(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Outcome regression (Heckman, Ichimura & Todd 1997): OLS of dY on X among controls.

    ``ATT = sum_D w (dY - X'beta) / W_D``; the influence function adds the estimation effect of beta
    (:func:`clusterimpact.estimation.cs.staged.reg_stages`).
    """
    return _run("reg", dy, X, w, d)


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

    data = staged.CellData(dy=np.zeros(d.size), X=X, w=w, d=d)
    beta, H = staged.run_local(staged.logit_stages(X.shape[1], maxiter), data)
    return expit(X @ beta), H


def _ipt(X: np.ndarray, d: np.ndarray, w: np.ndarray, maxiter: int = 2 * PS_MAXITER) -> np.ndarray:
    """Inverse probability tilting for the ATT (Graham, Pinto & Egel 2012): control odds ``exp(X'g)``
    with weighted control covariate means equal to the treated ones. Returns the odds.

    Raises :class:`CellFailure` when no tilting balances the covariates: the treated covariate mean
    lies outside (or on the edge of) the controls' convex hull, the tilting analogue of separation
    (:func:`clusterimpact._binary.outside_hull`), or Newton did not converge.
    """
    data = staged.CellData(dy=np.zeros(d.size), X=X, w=w, d=d)
    gamma = staged.run_local(staged.ipt_stages(X.shape[1], maxiter), data)
    return np.exp(np.clip(X @ gamma, -700, 700))


def cell_ipw(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) inverse-probability weighting (Abadie 2005; Sant'Anna & Zhao 2020, eq. 2.4)
    (:func:`clusterimpact.estimation.cs.staged.ipw_stages`)."""
    return _run("ipw", dy, X, w, d)


def cell_dr(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Improved locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, section 3.1, panel)
    (:func:`clusterimpact.estimation.cs.staged.dr_stages`)."""
    return _run("dr", dy, X, w, d)


def cell_dr_traditional(
    dy: np.ndarray, X: np.ndarray, w: np.ndarray, d: np.ndarray
) -> tuple[float, np.ndarray]:
    """Traditional locally efficient doubly robust DiD (Sant'Anna & Zhao 2020, eq. 3.1, panel)
    (:func:`clusterimpact.estimation.cs.staged.dr_traditional_stages`)."""
    return _run("dr_traditional", dy, X, w, d)


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
