"""Production functions by least squares: pooled OLS and the within (firm fixed-effects) estimator.

Both are biased when input choices respond to productivity the firm knows (the transmission bias
that motivates Olley & Pakes 1996): OLS overstates the labour elasticity, and the within estimator,
which relies on within-firm changes, typically understates capital. They serve as benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from clusterimpact.errors import EstimationError
from clusterimpact.productivity._base import Point, ProductionEstimator, cluster_meat
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import MemoryRunner, Runner
from clusterimpact.productivity._stages import ols_from_cross

__all__ = ["OLS", "FixedEffects"]


def cluster_vcov(DD: np.ndarray, meat: np.ndarray, n: int, n_clusters: int, k: int) -> np.ndarray:
    """CR1 covariance from the cross-product ``D'D``, the firm-clustered meat and the counts:
    ``G/(G-1) (n-1)/(n-k) (D'D)^-1 meat (D'D)^-1``."""
    G = n_clusters
    bread = np.linalg.inv(DD)
    adj = (G / max(G - 1, 1)) * ((n - 1) / max(n - k, 1))
    return np.asarray(adj * bread @ meat @ bread)


def _solve(runner: Runner, DD: np.ndarray, Dy: np.ndarray, design: Any, *args: Any) -> np.ndarray:
    """Normal equations from the summed cross-products; the rows only if they are ill-conditioned."""
    b = ols_from_cross(DD, Dy)
    if b is not None:
        return b
    if runner.distributed:
        raise EstimationError(
            "the least-squares cross-product is ill-conditioned (nearly collinear inputs); the "
            "Dask path solves from cross-products only: drop or rescale an input"
        )
    return runner.lstsq(design, *args)


# -- pooled OLS: (a) cross-products, (d) scores and row values given the coefficients ---------------
def _ols_design(arr: Arrays, cache: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    if "D" not in cache:
        cache["D"] = np.column_stack([np.ones(arr.n), arr.F, arr.K, arr.C])
    return cache["D"], arr.y


def _ols_cross(arr: Arrays, cache: dict[str, Any]) -> dict[str, Any]:
    D, y = _ols_design(arr, cache)
    return {"DD": D.T @ D, "Dy": D.T @ y, "sy": float(y.sum()), "n": arr.n, "G": arr.n_units}


def _ols_scores(arr: Arrays, cache: dict[str, Any], b: np.ndarray, ybar: float) -> dict[str, Any]:
    D, y = _ols_design(arr, cache)
    e = y - D @ b
    d = y - ybar
    return {"meat": cluster_meat(D * e[:, None], arr.unit), "ee": float(e @ e), "tss": float(d @ d)}


def _ols_rows(
    arr: Arrays, cache: dict[str, Any], beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    resid = arr.y - np.column_stack([arr.F, arr.K, arr.C]) @ beta
    return resid, resid


# -- within (firm FE): firms are whole in a partition, so the demeaning is partition-local ----------
def _fe_within(arr: Arrays, cache: dict[str, Any]) -> dict[str, Any]:
    if "within" in cache:
        return dict(cache["within"])
    counts = np.bincount(arr.unit) if arr.n else np.zeros(0, dtype=np.int64)
    keep = counts[arr.unit] > 1
    X = np.column_stack([arr.F, arr.K, arr.C])
    _, inv = np.unique(arr.unit[keep], return_inverse=True)
    cnt = np.bincount(inv).astype(float)

    def demean(v: np.ndarray) -> np.ndarray:
        if v.ndim == 1:
            return np.asarray(v - (np.bincount(inv, weights=v) / cnt)[inv])
        return np.column_stack([demean(v[:, j]) for j in range(v.shape[1])])

    Xk, yk = X[keep], arr.y[keep]
    scale = np.abs(Xk).max(axis=0) if Xk.size else np.zeros(X.shape[1])
    out = {"Xd": demean(Xk), "yd": demean(yk), "inv": inv, "keep": keep, "scale": scale}
    cache["within"] = out
    return dict(out)


def _fe_design(arr: Arrays, cache: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    w = _fe_within(arr, cache)
    return w["Xd"], w["yd"]


def _fe_cross(arr: Arrays, cache: dict[str, Any]) -> dict[str, Any]:
    w = _fe_within(arr, cache)
    Xd, yd = w["Xd"], w["yd"]
    return {
        "DD": Xd.T @ Xd,
        "Dy": Xd.T @ yd,
        "yy": float(yd @ yd),
        "sx": Xd.sum(axis=0),
        "max_abs": w["scale"],
        "n": int(w["keep"].sum()),
        "n_single": int((~w["keep"]).sum()),
        "G": int(np.unique(w["inv"]).size),
    }


def _fe_scores(arr: Arrays, cache: dict[str, Any], b: np.ndarray) -> dict[str, Any]:
    w = _fe_within(arr, cache)
    e = w["yd"] - w["Xd"] @ b
    return {"meat": cluster_meat(w["Xd"] * e[:, None], w["inv"]), "ee": float(e @ e)}


@dataclass(frozen=True, kw_only=True)
class OLS(ProductionEstimator):
    """Pooled least squares of log output on log inputs (and controls), with a constant.

    Estimand: the Cobb-Douglas elasticities, consistent only if inputs are uncorrelated with
    productivity (they are not when firms choose inputs knowing it). Standard errors are clustered by
    firm (CR1). ``ln_tfp`` is output minus the inputs' and controls' contribution (constant included).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import OLS
    >>> result = OLS().fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "ols"

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        return self._estimate(MemoryRunner(arr), full=full)

    def _estimate(self, runner: Runner, *, full: bool = True) -> Point:
        """(a) cross-products, (c) the normal equations, (d) firm-clustered scores and residuals."""
        st = runner.reduce(_ols_cross)
        n = int(st["n"])
        b = _solve(runner, st["DD"], st["Dy"], _ols_design)
        sc = runner.reduce(_ols_scores, b, st["sy"] / n)
        names = [*self.free, *self.state, *self.controls]
        beta = b[1:]
        nin = len(self.free) + len(self.state)
        vcov = None
        if full:
            vcov = cluster_vcov(st["DD"], sc["meat"], n, int(st["G"]), b.size)[1:, 1:]
        tss = sc["tss"]
        resid = runner.rows(_ols_rows, beta)
        return Point(
            params=beta,
            names=names,
            elasticities=beta[:nin],
            el_names=names[:nin],
            ln_tfp=resid[0] if not runner.distributed else np.zeros(0),
            ln_tfp_resid=resid[1] if not runner.distributed else np.zeros(0),
            tfp_rule=resid if runner.distributed else None,
            vcov=vcov,
            nobs=n,
            diagnostics={
                "r2": 1 - sc["ee"] / tss if tss > 0 else float("nan"),
                "constant": float(b[0]),
            },
        )


@dataclass(frozen=True, kw_only=True)
class FixedEffects(ProductionEstimator):
    """Within (firm fixed-effects) least squares of log output on log inputs.

    Estimand: the Cobb-Douglas elasticities under the assumption that productivity is a firm constant
    plus noise unrelated to inputs. Firms observed once carry no within variation and are excluded
    (``singleton_firm``). Standard errors are clustered by firm (CRV1) with the small-sample factor
    ``G/(G-1) (N-1)/(N-K)``, ``K`` = slopes + 1: the firm effects, nested in the firm clusters, count as
    one parameter, as in pyfixest/fixest (``feols(y ~ l + k | firm_id, vcov={"CRV1": "firm_id"})``, equal
    to 1e-6 in the tests). Stata's ``xtreg, fe vce(cluster firm_id)`` uses the same ``K`` but keeps firms
    observed once in ``N``, so its standard errors differ by ``sqrt((N_s - K)(N - 1) / ((N - K)(N_s - 1)))``
    with ``N_s`` the count including them. ``ln_tfp`` keeps the firm effect.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import FixedEffects
    >>> result = FixedEffects().fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "fe"

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        return self._estimate(MemoryRunner(arr), full=full)

    def _estimate(self, runner: Runner, *, full: bool = True) -> Point:
        """(a) within-firm demeaning and its cross-products (partition-local: firms are whole),
        (c) the normal equations, (d) firm-clustered scores and residuals."""
        st = runner.reduce(_fe_cross)
        n = int(st["n"])
        if n == 0:
            raise EstimationError("fe: no firm is observed in more than one year")
        names = [*self.free, *self.state, *self.controls]
        var = np.diag(st["DD"]) / n - (st["sx"] / n) ** 2
        scale = np.maximum(st["max_abs"], np.finfo(float).tiny)
        flat = np.sqrt(np.clip(var, 0.0, None)) <= 1e-13 * scale
        if np.any(flat):
            bad = names[int(np.flatnonzero(flat)[0])]
            raise EstimationError(
                f"fe: '{bad}' does not vary within firms, so its elasticity is not identified by the "
                "within estimator; use another method"
            )
        b = _solve(runner, st["DD"], st["Dy"], _fe_design)
        sc = runner.reduce(_fe_scores, b)
        vcov = None
        if full:
            # the firm effects are nested in the firm clusters: as a block they count as one
            # parameter in (N-1)/(N-K), K = slopes + 1 (pyfixest/fixest k_fixef="nonnested"; Stata's
            # xtreg, fe vce(cluster) also has K = slopes + constant, but keeps singleton firms in N)
            vcov = cluster_vcov(st["DD"], sc["meat"], n, int(st["G"]), b.size + 1)
        nin = len(self.free) + len(self.state)
        resid = runner.rows(_ols_rows, b)
        n_single = int(st["n_single"])
        exclusions: dict[str, Any] = {"singleton_firm": n_single} if n_single else {}
        yy = st["yy"]
        return Point(
            params=b,
            names=names,
            elasticities=b[:nin],
            el_names=names[:nin],
            ln_tfp=resid[0] if not runner.distributed else np.zeros(0),
            ln_tfp_resid=resid[1] if not runner.distributed else np.zeros(0),
            tfp_rule=resid if runner.distributed else None,
            vcov=vcov,
            nobs=n,
            diagnostics={"within_r2": 1 - sc["ee"] / yy if yy > 0 else float("nan")},
            exclusions=exclusions,
        )
