"""Regression on mutually exclusive 0/1 dummies with absorbed fixed effects, never forming dense columns
(the binned duration model and the imputation estimator's event-time dummies)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.fe._demean import Absorber
from clusterimpact.estimation.fe._sample import _prepare, _ssq
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _df_k, _no_df_note
from clusterimpact.formula.design import _Formula
from clusterimpact.provenance import make_provenance


@dataclass(frozen=True)
class _Indicators:
    """Mutually exclusive 0/1 dummies stored sparsely: ``rows`` (positions in the frame) and ``which``
    (index into ``names`` of the dummy that is 1 there); every other row has all dummies at 0."""

    names: list[str]
    rows: np.ndarray
    which: np.ndarray
    n: int

    @classmethod
    def from_masks(cls, dummies: dict[str, np.ndarray]) -> _Indicators:
        masks = [np.asarray(d, dtype=bool) for d in dummies.values()]
        rows = [np.flatnonzero(m) for m in masks]
        which = [np.full(len(r), j, dtype=np.int64) for j, r in enumerate(rows)]
        return cls(
            list(dummies),
            np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
            np.concatenate(which) if which else np.empty(0, dtype=np.int64),
            len(masks[0]) if masks else 0,
        )

    def dense(self) -> dict[str, np.ndarray]:
        """Float columns (for the general path)."""
        out = {}
        for j, name in enumerate(self.names):
            col = np.zeros(self.n)
            col[self.rows[self.which == j]] = 1.0
            out[name] = col
        return out


def _residual_cell_products(
    ab: Absorber, u: np.ndarray, tf: np.ndarray, S1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``S1' U[tf]`` (k x H) and ``U'U`` (H x H) for ``U`` the residual sums by primary group x secondary
    level (:meth:`Absorber.cell_sums`, dense or sparse as the absorber holds its cell totals)."""
    U = ab.cell_sums(u)
    if isinstance(U, np.ndarray):
        return np.einsum("gk,gh->kh", S1, U[tf]), np.einsum("gi,gj->ij", U, U)
    return np.asarray((U[tf].T @ S1).T), np.asarray((U.T @ U).toarray())


def _fit_indicators(
    f: _Formula,
    df: pd.DataFrame,
    vtype: str,
    ccols: list[str],
    dummies: dict[str, np.ndarray] | _Indicators,
    *,
    method: str,
    options: dict[str, Any] | None = None,
) -> FixedEffectsResult | None:
    """Regression on mutually exclusive 0/1 dummies with absorbed effects, never forming dense columns.

    For a dummy ``D_e`` (rows ``r_e``) its fixed-effect fit is solved from group counts alone: firm means
    ``m_e = cnt_e / n_g``; secondary coefficients ``delta_e = A^+ (L_e - C' m_e)`` (``L_e`` the counts by
    secondary level, ``C`` the firm x level counts, ``A`` the within Gram matrix of the secondary
    dummies); firm coefficients ``a_e = m_e - (C delta_e) / n_g``. With ``D~_e = D_e - a_e[firm] -
    delta_e[level]`` the normal equations need only ``D~_e' D~_f = [e=f] n_e - cnt_e'a_f - L_e'delta_f``
    and ``D~_e' y~ = sum of y~ over r_e``; firm-cluster scores are ``sum_{r_e in g} u - (U delta_e)_g``
    (``U`` = residual sums by firm x level; residuals sum to zero within firms). Cost: O(N) for the
    outcome and O(treated rows) per dummy, instead of O(N) per dummy. The outcome's within transform
    ``y~`` is needed only on the dummy rows: over N the residual is formed directly from ``y`` and the
    combined fixed-effect fits, and ``y~'y~ = u'u + b'X~'y~`` (``u`` orthogonal to ``X~``).

    ``dummies`` maps names to 0/1 columns (length ``len(df)``) or is an :class:`_Indicators`.

    Returns None when the shortcut does not apply (weights, dense controls, clusters other than the
    primary effect, heteroskedastic or Driscoll-Kraay errors, a secondary effect too large for the dense
    solve); the caller then uses the general path.
    """
    if f.terms or vtype not in ("iid", "cluster") or not f.fixed_effects:
        return None
    p = _prepare(f, df, ccols, None, None, True)
    ab = p.absorber
    if ab is None or not ab.H:
        return None
    if vtype == "cluster" and p.cluster_codes[0] is not ab.primary:
        if not np.array_equal(p.cluster_codes[0], ab.primary):
            return None
    ind = dummies if isinstance(dummies, _Indicators) else _Indicators.from_masks(dummies)
    names = list(ind.names)
    k = len(names)
    if p.keep.all():
        r, jc = ind.rows, ind.which
    else:  # positions in the estimation sample
        kept = p.keep[ind.rows]
        r = (np.cumsum(p.keep) - 1)[ind.rows[kept]]
        jc = ind.which[kept]
    ne = _normal_equations(ab, p.y, r, jc, k)
    _check_identified(ne, names, f.fixed_effects)
    bread = np.linalg.inv(ne.gram)
    beta = bread @ ne.rhs
    u = _residuals(ab, p.y, ne, beta)
    n = p.nobs
    df_k = _df_k(p, k, vtype)
    rss = _ssq(u, None)
    warns: list[str] = []
    n_clusters = None
    df_resid = float(n - df_k)
    if vtype == "iid":
        V = rss / max(n - df_k, 1) * bread
    else:
        few = inf.cluster_count_check(ab.G, ccols[0])
        if few:
            warns.append(few)
            warnings.warn(few, EstimationWarning, stacklevel=3)
        V = _cluster_vcov(ab, ne, u, bread, n, df_k)
        n_clusters = ab.G
        df_resid = float(ab.G - 1)
    if n - df_k <= 0:
        warns.append(_no_df_note(n, df_k))
        warnings.warn(warns[-1], EstimationWarning, stacklevel=3)
        V = np.full_like(bread, np.nan)
    yc = p.y - p.y.mean()
    tss = _ssq(yc, None)
    tss_w = rss + float(beta @ ne.rhs)  # y~'y~ = u'u + b'X~'y~
    idx = pd.Index(names)
    opts = {"formula": f.text, "vcov": vtype, "cluster": ccols, "engine": "fast-indicators"}
    opts.update(options or {})
    return FixedEffectsResult(
        params=pd.Series(beta, index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=n,
        method=method,
        provenance=make_provenance(method, None, None, **opts),
        df_resid=df_resid,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(warns),
        exclusions=p.exclusions,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=1 - rss / tss if tss > 0 else float("nan"),
        r2_within=1 - rss / tss_w if tss_w > 0 else float("nan"),
        rss=rss,
        df_k=int(df_k),
        n_fe_levels=dict(zip(f.fixed_effects, p.fe_levels, strict=True)),
        weights=None,
        engine="fast",
    )


@dataclass(frozen=True)
class _NormalEquations:
    """The dummies' normal equations from group counts: dummy rows ``r`` (positions) and their dummy
    ``jc``; firms with dummy rows ``tf`` and the (firm, dummy) cell ``gk`` of each dummy row; the firm
    means ``M_t`` of each dummy on those firms, the secondary coefficients ``Delta`` of the dummies'
    fixed-effect fits; ``gram = X~'X~``, ``rhs = X~'y~``, ``n_e`` rows per dummy; the outcome's
    fixed-effect fit (``g_part``, ``delta_y``)."""

    r: np.ndarray
    jc: np.ndarray
    tf: np.ndarray
    gk: np.ndarray
    M_t: np.ndarray
    Delta: np.ndarray
    gram: np.ndarray
    rhs: np.ndarray
    n_e: np.ndarray
    g_part: np.ndarray
    delta_y: np.ndarray


def _normal_equations(
    ab: Absorber, y: np.ndarray, r: np.ndarray, jc: np.ndarray, k: int
) -> _NormalEquations:
    """``X~'X~`` and ``X~'y~`` of the ``k`` dummies without forming their columns (see
    :func:`_fit_indicators`)."""
    G, H = ab.G, ab.H
    pr = ab.primary[r]
    g_part, delta_y = ab.projection(y)  # y~ = y - g_part[firm] - D delta_y
    yd_r = y[r] - g_part[pr]
    for cs in ab.level_codes:
        yd_r -= delta_y[cs[r]]
    # Only firms with dummy rows (tf) have non-zero counts: number them 0..len(tf)-1 and restrict the
    # G-sized products to them. One bincount each for the firm x dummy counts, level x dummy counts,
    # n_e and X~'y~.
    has = np.zeros(G, dtype=bool)
    has[pr] = True
    tf = np.flatnonzero(has)
    gk = (np.cumsum(has) - 1)[pr] * k + jc
    CNT_t = np.bincount(gk, minlength=len(tf) * k).reshape(len(tf), k).astype(float)
    Lf = np.zeros(H * k)
    for cs in ab.level_codes:
        Lf += np.bincount(cs[r] * k + jc, minlength=H * k)
    L = Lf.reshape(H, k)
    n_e = np.bincount(jc, minlength=k).astype(float)
    rhs = np.bincount(jc, weights=yd_r, minlength=k)
    # Tall-skinny products use einsum (no BLAS thread pool: it stalls on a loaded machine).
    M_t = CNT_t * ab.inv_group_weights[tf, None]  # firm means of each dummy (treated firms)
    CtM = ab.ct_times_rows(tf, M_t)  # C'M, H x k
    Delta = ab.solve(L - CtM)  # H x k
    # CNT'Alpha with Alpha = M - C Delta / n  ->  CNT'M - (C'M)'Delta (M = CNT / n)
    gram = np.diag(n_e) - np.einsum("gi,gj->ij", CNT_t, M_t) + CtM.T @ Delta - L.T @ Delta
    gram = 0.5 * (gram + gram.T)
    return _NormalEquations(r, jc, tf, gk, M_t, Delta, gram, rhs, n_e, g_part, delta_y)


def _check_identified(
    ne: _NormalEquations, names: list[str], fixed_effects: tuple[str, ...]
) -> None:
    """Raise when a dummy is absorbed by the fixed effects (or empty), or the dummies are collinear."""
    for j, name in enumerate(names):
        if ne.n_e[j] == 0 or ne.gram[j, j] <= 1e-10 * ne.n_e[j]:
            raise EstimationError(
                f"regressor '{name}' is absorbed by the fixed effects ({' + '.join(fixed_effects)}) "
                "or has no observations"
            )
    d = np.sqrt(np.diag(ne.gram))
    ev = np.linalg.eigvalsh(ne.gram / np.outer(d, d))
    if ev.min() < 1e-10 * max(ev.max(), 1.0):
        raise EstimationError(
            f"regressors are collinear (given the fixed effects): {', '.join(names)}"
        )


def _residuals(ab: Absorber, y: np.ndarray, ne: _NormalEquations, beta: np.ndarray) -> np.ndarray:
    """``u = y~ - sum_e beta_e D~_e`` with ``D~_e = D_e - alpha_e[firm] - delta_e[level]``, formed from
    ``y``: ``u = y - (g_part - alpha b)[firm] - D (delta_y - delta b) - b[e]`` on the dummy rows."""
    db = ne.Delta @ beta
    a_b = -ab.c_times(db[:, None])[:, 0] * ab.inv_group_weights
    a_b[ne.tf] += np.einsum("gk,k->g", ne.M_t, beta)
    u = y - (ne.g_part - a_b)[ab.primary]
    d_fit = ne.delta_y - db
    for cs in ab.level_codes:
        u -= d_fit[cs]
    u[ne.r] -= beta[ne.jc]
    return u


def _cluster_vcov(
    ab: Absorber, ne: _NormalEquations, u: np.ndarray, bread: np.ndarray, n: int, df_k: int
) -> np.ndarray:
    """CRV1 by the primary effect: scores ``S = S1 - U Delta``, ``S1`` the residual sums by firm x dummy
    (non-zero on firms ``tf`` only), ``U`` the residual sums by firm x level; the meat
    ``S'S = S1'S1 - S1'U Delta - (S1'U Delta)' + Delta'(U'U)Delta`` needs one G-sized product."""
    G, k = ab.G, ne.gram.shape[0]
    S1 = np.bincount(ne.gk, weights=u[ne.r], minlength=len(ne.tf) * k).reshape(len(ne.tf), k)
    X1, UU = _residual_cell_products(ab, u, ne.tf, S1)
    X1 = X1 @ ne.Delta
    meat = np.einsum("gi,gj->ij", S1, S1) - X1 - X1.T + ne.Delta.T @ UU @ ne.Delta
    meat = 0.5 * (meat + meat.T)
    return G / (G - 1) * (n - 1) / max(n - df_k, 1) * (bread @ meat @ bread)  # type: ignore[no-any-return]
