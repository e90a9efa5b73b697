"""Inference for linear (fixed-effects) regressions: covariance estimators and Wald tests (the wild
cluster bootstrap is :mod:`clusterimpact.estimation.wildboot`).

All covariance functions take the *within-transformed* design ``X`` (N x k), residuals ``u`` and optional
analytic weights ``w``, so they serve both absorbed-FE and plain OLS fits. Scores are ``x_i w_i u_i``
and the bread is ``(X'WX)^{-1}``.

Small-sample conventions (Stata ``reghdfe`` / R ``fixest`` / ``pyfixest`` defaults, matched to 1e-8 in
the tests):

* ``iid``: ``s^2 (X'WX)^{-1}`` with ``s^2 = sum w u^2 / (N - K)``.
* ``hetero`` (HC1): ``N / (N - K)`` times the White sandwich.
* ``cluster`` (CRV1): ``G/(G-1) * (N-1)/(N-K)`` times the cluster sandwich; t reference with ``G-1`` df.
* two-way cluster (Cameron, Gelbach & Miller 2011): ``V1 + V2 - V12``; each term scaled by
  ``Gmin/(Gmin-1) * (N-1)/(N-K)`` (``G_df="min"``, fixest/pyfixest default) or by its own
  ``G_j/(G_j-1)`` (``G_df="conventional"``, the original CGM/Stata ``cgmreg`` choice); df ``Gmin-1``.
* ``driscoll_kraay``: Newey-West (Bartlett) over time on cross-sectional sums of the scores,
  lag ``floor(T^{1/4})`` by default, scaled by ``T/(T-1) * (N-1)/(N-K)``; df ``T-1`` (as pyfixest).

``K`` counts the slope coefficients plus the absorbed fixed effects, ``sum(levels) - (n_fe - 1)``, where
fixed effects *nested* in the cluster variable are not counted (each fully nested one counts as 1). This is
fixest's/pyfixest's ``k_fixef="nonnested"`` rule and reghdfe's treatment of FE nested within clusters:
with firm and year effects and firm clusters, ``K = k + n_years``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from clusterimpact._validation import check_choice
from clusterimpact.errors import EstimationError, SpecError

__all__ = [
    "VCOV_TYPES",
    "cluster_count_check",
    "sandwich",
    "vcov_cluster",
    "vcov_driscoll_kraay",
    "vcov_hetero",
    "vcov_iid",
    "wald_test",
]

logger = logging.getLogger(__name__)

VcovType = Literal["iid", "hetero", "cluster", "twoway", "driscoll_kraay"]
VCOV_TYPES: tuple[str, ...] = ("iid", "hetero", "cluster", "twoway", "driscoll_kraay")
BootWeights = Literal["rademacher", "webb", "mammen", "normal"]

MIN_CLUSTERS_WARN = 30


def _bread(X: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    Xw = X if w is None else X * w[:, None]
    return np.linalg.inv(X.T @ Xw)


def _scores(X: np.ndarray, u: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    e = u if w is None else u * w
    return X * e[:, None]


def vcov_iid(
    X: np.ndarray,
    u: np.ndarray,
    w: np.ndarray | None,
    *,
    df_k: int,
    bread: np.ndarray | None = None,
) -> np.ndarray:
    """Homoskedastic covariance ``s^2 (X'WX)^{-1}``, ``s^2 = sum(w u^2) / (N - df_k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import vcov_iid
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(100), rng.normal(size=100)])
    >>> u = rng.normal(size=100)
    >>> V = vcov_iid(X, u, None, df_k=2)
    >>> bool(np.allclose(V, (u @ u / 98) * np.linalg.inv(X.T @ X)))
    True
    """
    n = len(u)
    B = _bread(X, w) if bread is None else bread
    rss = float(u @ u) if w is None else float((w * u) @ u)
    return sandwich("iid", B, rss, n=n, df_k=df_k)


def sandwich(
    kind: str, bread: np.ndarray, stat: Any, *, n: int, df_k: int, G: int | None = None
) -> np.ndarray:
    """The covariance from its sufficient statistic, with the small-sample factor of ``kind``.

    ``"iid"``: ``stat`` is ``sum(w u^2)``; ``"hetero"`` (HC1): the meat ``S'S`` of the scores;
    ``"cluster"`` (one-way CRV1): the meat summed over the ``G`` clusters. The statistics are sums over
    rows (or clusters), so the Dask path sums them over partitions and finalizes here, as in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import sandwich
    >>> sandwich("iid", np.eye(2), 9.0, n=11, df_k=2)
    array([[1., 0.],
           [0., 1.]])
    """
    if kind == "iid":
        return float(stat) / (n - df_k) * bread
    if kind == "hetero":
        return n / (n - df_k) * (bread @ stat @ bread)
    if kind == "cluster":
        assert G is not None
        kfac = (n - 1) / (n - df_k)
        return G / (G - 1) * kfac * (bread @ stat @ bread)
    raise SpecError(f"sandwich: unknown covariance kind {kind!r}")


def vcov_hetero(
    X: np.ndarray,
    u: np.ndarray,
    w: np.ndarray | None,
    *,
    df_k: int,
    bread: np.ndarray | None = None,
) -> np.ndarray:
    """White/HC1 covariance: ``N/(N - df_k)`` times the sandwich.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import vcov_hetero
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(100), rng.normal(size=100)])
    >>> u = rng.normal(size=100) * (1 + np.abs(X[:, 1]))
    >>> bread = np.linalg.inv(X.T @ X)
    >>> V = vcov_hetero(X, u, None, df_k=2)
    >>> bool(np.allclose(V, 100 / 98 * bread @ (X.T * u**2) @ X @ bread))  # HC1
    True
    """
    n = len(u)
    B = _bread(X, w) if bread is None else bread
    S = _scores(X, u, w)
    return sandwich("hetero", B, S.T @ S, n=n, df_k=df_k)


def cluster_count_check(G: int, name: str) -> str | None:
    """Error below 2 clusters; return a warning message below :data:`MIN_CLUSTERS_WARN`.

    Examples
    --------
    >>> from clusterimpact.estimation.inference import cluster_count_check
    >>> cluster_count_check(500, "firm_id") is None
    True
    >>> "firm_id" in cluster_count_check(8, "firm_id")  # few clusters: a warning message
    True
    """
    if G < 2:
        raise EstimationError(
            f"cluster-robust inference needs at least 2 clusters; '{name}' has {G}. "
            "Cluster on a coarser-grained but varying variable, or use vcov='hetero'."
        )
    if G < MIN_CLUSTERS_WARN:
        return (
            f"only {G} clusters in '{name}' (fewer than {MIN_CLUSTERS_WARN}): cluster-robust "
            "standard errors may be too small; consider the wild cluster bootstrap"
        )
    return None


def _meat_cluster(S: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, int]:
    G = int(codes.max()) + 1
    agg = np.empty((G, S.shape[1]))
    for j in range(S.shape[1]):
        agg[:, j] = np.bincount(codes, weights=S[:, j], minlength=G)
    return agg.T @ agg, G


def vcov_cluster(
    X: np.ndarray,
    u: np.ndarray,
    w: np.ndarray | None,
    clusters: list[np.ndarray],
    *,
    df_k: int,
    G_df: Literal["min", "conventional"] = "min",
    bread: np.ndarray | None = None,
) -> tuple[np.ndarray, list[int]]:
    """One- or two-way cluster-robust (CRV1) covariance with Stata's small-sample factor.

    Parameters
    ----------
    clusters
        One or two integer code arrays (0..G-1).
    df_k
        Parameters counted in ``(N-1)/(N-K)`` (see module notes on nested fixed effects).
    G_df
        Two-way scaling: ``"min"`` (fixest/pyfixest default) or ``"conventional"`` (own G per term).

    Returns
    -------
    vcov, [G_1, ...]
        The covariance and the number of clusters in each dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import vcov_cluster, vcov_hetero
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(100), rng.normal(size=100)])
    >>> u = rng.normal(size=100)
    >>> V, G = vcov_cluster(X, u, None, [np.arange(100)], df_k=2)  # one unit per cluster
    >>> G, bool(np.allclose(V, vcov_hetero(X, u, None, df_k=2)))  # singleton clusters: HC1
    ([100], True)
    """
    check_choice("G_df", G_df, ("min", "conventional"))
    n = len(u)
    B = _bread(X, w) if bread is None else bread
    S = _scores(X, u, w)
    kfac = (n - 1) / (n - df_k)
    if len(clusters) == 1:
        meat, G = _meat_cluster(S, clusters[0])
        return sandwich("cluster", B, meat, n=n, df_k=df_k, G=G), [G]
    if len(clusters) != 2:
        raise SpecError("cluster-robust inference supports one or two cluster variables")
    c1, c2 = clusters
    inter = c1.astype(np.int64) * (int(c2.max()) + 1) + c2
    _, inter = np.unique(inter, return_inverse=True)
    m1, G1 = _meat_cluster(S, c1)
    m2, G2 = _meat_cluster(S, c2)
    m12, G12 = _meat_cluster(S, inter.astype(np.int64))
    if G_df == "min":
        g = min(G1, G2)
        f1 = f2 = f12 = g / (g - 1)
    else:
        f1, f2, f12 = G1 / (G1 - 1), G2 / (G2 - 1), G12 / (G12 - 1)
    meat = f1 * m1 + f2 * m2 - f12 * m12
    V = kfac * (B @ meat @ B)
    return V, [G1, G2]


def vcov_driscoll_kraay(
    X: np.ndarray,
    u: np.ndarray,
    w: np.ndarray | None,
    time_codes: np.ndarray,
    *,
    df_k: int,
    lag: int | None = None,
    bread: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int]:
    """Driscoll-Kraay (1998) covariance: Bartlett-weighted autocovariances of period sums of scores.

    ``time_codes`` must be ordered codes of the period (0 = earliest). Returns ``(vcov, T, lag)``.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import vcov_driscoll_kraay
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> u = rng.normal(size=200)
    >>> V, T, lag = vcov_driscoll_kraay(X, u, None, np.repeat(np.arange(20), 10), df_k=2)
    >>> V.shape, T
    ((2, 2), 20)
    """
    n = len(u)
    B = _bread(X, w) if bread is None else bread
    S = _scores(X, u, w)
    T = int(time_codes.max()) + 1
    h = np.empty((T, S.shape[1]))
    for j in range(S.shape[1]):
        h[:, j] = np.bincount(time_codes, weights=S[:, j], minlength=T)
    if lag is None:
        lag = int(np.floor(T**0.25))
    meat = h.T @ h
    for ell in range(1, lag + 1):
        g = h[ell:].T @ h[:-ell]
        meat += (1 - ell / (lag + 1)) * (g + g.T)
    fac = T / (T - 1) * (n - 1) / (n - df_k)
    return fac * (B @ meat @ B), T, lag


@dataclass(frozen=True)
class WaldTest:
    """A joint Wald test of ``R b = r``.

    Attributes
    ----------
    statistic
        F statistic (chi2 / q) when ``df_denom`` is set, else chi2.
    df_num, df_denom
        Numerator restrictions; denominator df (None = chi2 reference).
    p_value
        P-value.
    terms
        Terms tested.
    """

    statistic: float
    df_num: int
    df_denom: float | None
    p_value: float
    terms: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "statistic": self.statistic,
            "df_num": self.df_num,
            "df_denom": self.df_denom,
            "p_value": self.p_value,
            "terms": list(self.terms),
        }


def wald_test(
    b: np.ndarray,
    V: np.ndarray,
    R: np.ndarray | None = None,
    r: np.ndarray | None = None,
    *,
    df_denom: float | None = None,
    terms: tuple[str, ...] = (),
) -> WaldTest:
    """Wald test of ``R b = r`` (default: all of ``b`` = 0); F(q, df_denom) or chi2(q).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.inference import wald_test
    >>> test = wald_test(np.array([0.2, 0.1]), np.diag([0.01, 0.01]))  # b = 0, chi2(2)
    >>> round(test.statistic, 6), test.df_num
    (5.0, 2)
    """
    b = np.asarray(b, dtype=float)
    R = np.eye(len(b)) if R is None else np.atleast_2d(R)
    r = np.zeros(R.shape[0]) if r is None else np.asarray(r, dtype=float)
    d = R @ b - r
    M = R @ V @ R.T
    stat = float(d @ np.linalg.pinv(M) @ d)
    q = R.shape[0]
    if df_denom is not None and np.isfinite(df_denom):
        F = stat / q
        return WaldTest(F, q, float(df_denom), float(stats.f.sf(F, q, df_denom)), terms)
    return WaldTest(stat, q, None, float(stats.chi2.sf(stat, q)), terms)


def __getattr__(name: str) -> Any:
    """The wild cluster bootstrap lives in :mod:`clusterimpact.estimation.wildboot`; its public names
    stay reachable here (imported on first use: that module builds on this one)."""
    if name in ("WildBootstrapResult", "wild_cluster_bootstrap"):
        from clusterimpact.estimation import wildboot

        return getattr(wildboot, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
