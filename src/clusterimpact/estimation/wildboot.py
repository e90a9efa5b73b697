"""The wild cluster bootstrap-t for one coefficient (Cameron, Gelbach & Miller 2008; Roodman et al.
2019) and its result; :func:`clusterimpact.estimation.fe.wild_bootstrap` is the front door on a formula.
Also reachable as ``clusterimpact.estimation.inference.wild_cluster_bootstrap`` and
``...inference.WildBootstrapResult``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import check_choice, resolve_rng
from clusterimpact.errors import EstimationWarning
from clusterimpact.estimation.inference import BootWeights, cluster_count_check
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["WildBootstrapResult", "wild_cluster_bootstrap"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class WildBootstrapResult(EstimateResult):
    """Wild cluster bootstrap test and confidence interval for one coefficient.

    ``params``/``std_errors`` hold the one term, its estimate and its analytic CRV1 standard error;
    :attr:`pvalues` and :meth:`conf_int` are the bootstrap ones.

    Attributes
    ----------
    term, estimate, std_error
        The coefficient, its estimate and its analytic CRV1 standard error.
    null
        Hypothesised value tested.
    t_stat
        Analytic t statistic against ``null``.
    p_value
        Symmetric bootstrap p-value: share of ``|t*| >= |t|``.
    bootstrap_interval
        Bootstrap CI at ``level`` (test inversion for the restricted bootstrap, percentile-t for the
        unrestricted); what the attribute ``conf_int`` held before it became the method.
    level
        Coverage of ``bootstrap_interval``.
    n_boot, weights, restricted, seed, n_clusters
        Settings (``B`` is the deprecated name of ``n_boot``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> wb = ci.wild_bootstrap("ln_lp ~ member | firm_id + year", example_panel(), "member",
    ...                        cluster="firm_id", n_boot=199, seed=1)
    >>> type(wb).__name__, wb.n_boot, wb.weights
    ('WildBootstrapResult', 199, 'rademacher')
    """

    term: str
    estimate: float
    std_error: float
    null: float
    t_stat: float
    p_value: float
    bootstrap_interval: tuple[float, float]
    level: float
    n_boot: int
    weights: str
    restricted: bool
    seed: int | None
    n_clusters: int

    @property
    def B(self) -> int:
        """Deprecated name of :attr:`n_boot`."""
        warnings.warn(
            "WildBootstrapResult.B is now spelled n_boot; the old name will be removed in a later "
            "release",
            FutureWarning,
            stacklevel=2,
        )
        return self.n_boot

    @property
    def overall_term(self) -> str | None:
        """The coefficient tested."""
        return self.term

    @property
    def tstats(self) -> pd.Series:
        """The analytic t statistic against ``null``."""
        return pd.Series([self.t_stat], index=[self.term], name="statistic")

    @property
    def pvalues(self) -> pd.Series:
        """The bootstrap p-value."""
        return pd.Series([self.p_value], index=[self.term], name="p_value")

    def conf_int(self, level: float | None = None, *, uniform: bool = False) -> pd.DataFrame:
        """The bootstrap confidence interval (columns ``lower``, ``upper``; one row, the term).

        Parameters
        ----------
        level
            Must be the level the bootstrap ran at (default: that level); another level needs a new
            run (``wild_bootstrap(..., level=...)``), as the interval is found by test inversion.
        uniform
            Accepted for the shared signature: with one coefficient the simultaneous interval is the
            pointwise one.
        """
        level = self.level if level is None else level
        if not np.isclose(level, self.level):
            raise ValueError(
                f"the bootstrap interval was computed at level {self.level}, not {level}: run the "
                "wild bootstrap again with level=..."
            )
        lo, hi = self.bootstrap_interval
        return pd.DataFrame({"lower": [lo], "upper": [hi]}, index=pd.Index([self.term]))

    def tidy(self, level: float | None = None, *, uniform: bool = False) -> pd.DataFrame:
        """One row: the term, estimate, CRV1 standard error, t against ``null``, bootstrap p-value
        and interval."""
        return super().tidy(self.level if level is None else level, uniform=uniform)

    def plot(self, **kwargs: Any) -> Axes:
        """Draw the estimate and its bootstrap interval (``plot_forest``; ``level`` defaults to the
        bootstrap's)."""
        kwargs.setdefault("level", self.level)
        return super().plot(**kwargs)

    def to_latex(self, level: float | None = None, digits: int = 4) -> str:
        """A LaTeX tabular of the estimate, its CRV1 standard error and the bootstrap interval."""
        return super().to_latex(self.level if level is None else level, digits)

    def summary(self, level: float | None = None) -> str:
        """Plain-text lines: the test, the p-value and the bootstrap interval."""
        self.conf_int(level)  # the interval is at self.level only
        kind = "restricted (WCR)" if self.restricted else "unrestricted (WCU)"
        lo, hi = self.bootstrap_interval
        return "\n".join(
            [
                f"Wild cluster bootstrap-t, {kind}, {self.weights} weights, B={self.n_boot:,}, "
                f"{self.n_clusters} clusters, seed={self.seed}",
                f"{self.term}: estimate {self.estimate:.4f}, CRV1 s.e. {self.std_error:.4f}, "
                f"t = {self.t_stat:.3f} against {self.null:g}",
                f"bootstrap p-value {self.p_value:.4f}; {100 * self.level:g}% CI [{lo:.4f}, {hi:.4f}]",
            ]
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def to_dict(self, level: float | None = None) -> dict[str, Any]:
        """JSON-ready form: the shared ``estimates`` list etc., plus the test's own keys (non-finite
        numbers as None; ``B`` repeats ``n_boot`` for readers of the former JSON)."""
        out = super().to_dict(self.level if level is None else level)

        def f(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        out.update(
            term=self.term,
            estimate=f(self.estimate),
            std_error=f(self.std_error),
            null=self.null,
            t_stat=f(self.t_stat),
            p_value=f(self.p_value),
            conf_low=f(self.bootstrap_interval[0]),
            conf_high=f(self.bootstrap_interval[1]),
            level=self.level,
            n_boot=self.n_boot,
            B=self.n_boot,
            weights=self.weights,
            restricted=self.restricted,
            seed=self.seed,
            n_clusters=self.n_clusters,
        )
        return out


def _draw_weights(kind: str, G: int, B: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(G, B))
    if kind == "webb":
        vals = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
        return rng.choice(vals, size=(G, B))
    if kind == "mammen":
        s5 = np.sqrt(5.0)
        p = (s5 + 1) / (2 * s5)
        return np.where(rng.random((G, B)) < p, -(s5 - 1) / 2, (s5 + 1) / 2)
    return rng.standard_normal((G, B))


@dataclass(frozen=True)
class _WildFit:
    """What every bootstrap-t draw shares: the design, the unrestricted fit, its CRV1 standard error,
    the contractions ``a = A[param]`` and ``W[g] = a' H_g A``, and the draws' cluster weights ``V``."""

    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    G: int
    param: int
    ssc: float
    A: np.ndarray
    bhat: np.ndarray
    uhat: np.ndarray
    se: float
    W: np.ndarray
    V: np.ndarray
    Xo: np.ndarray
    Ao: np.ndarray
    others: list[int]


def _wild_fit(
    X: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    param: int,
    df_k: int | None,
    V: np.ndarray,
) -> _WildFit:
    """The unrestricted fit, its CRV1 standard error and the per-cluster contractions."""
    n, k = X.shape
    G = int(codes.max()) + 1
    df_k = k if df_k is None else df_k
    ssc = G / (G - 1) * (n - 1) / (n - df_k)
    A = np.linalg.inv(X.T @ X)
    a = A[param]
    bhat = A @ (X.T @ y)
    uhat = y - X @ bhat
    Sg_hat = np.stack([np.bincount(codes, X[:, j] * uhat, minlength=G) for j in range(k)])
    se = float(np.sqrt(ssc * np.sum((a @ Sg_hat) ** 2)))
    # per-cluster X_g'X_g, contracted with a and A: W[g] = a H_g A  (G x k)
    Hg_a = np.zeros((G, k))
    for j in range(k):
        for m in range(k):
            Hg_a[:, m] += a[j] * np.bincount(codes, X[:, j] * X[:, m], minlength=G)
    W = Hg_a @ A  # row g: a' H_g A
    others = [j for j in range(k) if j != param]
    Xo = X[:, others]
    Ao = np.linalg.inv(Xo.T @ Xo) if others else np.zeros((0, 0))
    return _WildFit(X, y, codes, G, param, ssc, A, bhat, uhat, se, W, V, Xo, Ao, others)


def _boot_t(fit: _WildFit, r0: float, restricted: bool, chunk: int) -> tuple[np.ndarray, float]:
    """Bootstrap t statistics of every draw, and the observed t, for the hypothesis ``b_param = r0``:
    ``b* - b~ = A S v`` and the draw's cluster scores ``v_g s_g - H_g A S v`` from k x G sums."""
    X, y, codes, G, param = fit.X, fit.y, fit.codes, fit.G, fit.param
    k = X.shape[1]
    if restricted:
        yr = y - X[:, param] * r0
        bo = fit.Ao @ (fit.Xo.T @ yr) if fit.others else np.zeros(0)
        ut = yr - fit.Xo @ bo if fit.others else yr
    else:
        ut = fit.uhat
    S = np.stack([np.bincount(codes, X[:, j] * ut, minlength=G) for j in range(k)])  # k x G
    q = fit.A[param] @ S  # G
    B = fit.V.shape[1]
    tb = np.empty(B)
    for s in range(0, B, chunk):
        Vb = fit.V[:, s : s + chunk]
        num = q @ Vb
        cs = q[:, None] * Vb - fit.W @ (S @ Vb)  # G x b : a c_g
        tb[s : s + chunk] = num / np.sqrt(fit.ssc * np.sum(cs * cs, axis=0))
        if B > 20000 and s % (10 * chunk) == 0:
            logger.info("wild bootstrap: %d / %d draws", s, B)
    t0 = (fit.bhat[param] - r0) / fit.se
    return tb, t0


def _inverted_interval(fit: _WildFit, alpha: float, chunk: int) -> tuple[float, float]:
    """The restricted bootstrap's interval: the nulls whose bootstrap p-value is ``alpha``, one on each
    side of the estimate (bracketed by doubling steps of one standard error, then Brent's root)."""

    def pfun(r0: float) -> float:
        tb_r, t0 = _boot_t(fit, r0, True, chunk)
        return float(np.mean(np.abs(tb_r) >= abs(t0))) - alpha

    b0 = float(fit.bhat[fit.param])
    se = fit.se
    lo = hi = None
    for side in (-1, 1):
        step = se
        inner = b0
        outer = b0 + side * step
        for _ in range(60):
            if pfun(outer) < 0:
                break
            inner, outer = outer, b0 + side * (step := step * 2)
        try:
            root = optimize.brentq(pfun, min(inner, outer), max(inner, outer), xtol=1e-6 * se)
        except ValueError:
            root = np.nan
        if side < 0:
            lo = root
        else:
            hi = root
    return (float(lo), float(hi))  # type: ignore[arg-type]


@renamed_kwargs(B="n_boot")
def wild_cluster_bootstrap(
    X: np.ndarray,
    y: np.ndarray,
    cluster: np.ndarray,
    param: int,
    *,
    term: str = "",
    null: float = 0.0,
    n_boot: int = 9999,
    weights: BootWeights = "rademacher",
    restricted: bool = True,
    level: float = 0.95,
    seed: int | np.random.Generator | None = None,
    df_k: int | None = None,
    chunk: int = 2000,
) -> WildBootstrapResult:
    """Wild cluster bootstrap-t (Cameron, Gelbach & Miller 2008; Roodman et al. 2019) for one coefficient.

    Works on the within-transformed design (fixed effects already projected out). Bootstrap
    outcomes are ``y* = X b~ + u~ * v_g`` with cluster-level weights ``v_g``; ``b~, u~`` come from the
    model with ``H0: b_param = null`` imposed (restricted, WCR, recommended) or from the unrestricted fit
    (WCU). Each draw's t statistic uses the CRV1 standard error; everything is computed from k x G
    cluster sums (never an N x B matrix): ``b* - b~ = A S v`` and the cluster scores of draw ``v`` are
    ``v_g s_g - H_g A S v``.

    Parameters
    ----------
    X, y
        Within-transformed regressors (N x k) and outcome.
    cluster
        Integer cluster codes.
    param
        Column of ``X`` tested.
    term
        Name of the coefficient (the result's term).
    null
        Hypothesised value.
    n_boot
        Bootstrap draws (formerly ``B``).
    weights
        ``"rademacher"`` (default), ``"webb"`` (6-point, better with few clusters), ``"mammen"``, ``"normal"``.
    restricted
        Impose the null (WCR) or not (WCU).
    level
        Coverage of the bootstrap interval.
    seed
        Seed or Generator (the only source of randomness).
    df_k
        Parameter count for the small-sample factor (cancels in the bootstrap-t; affects the reported SE).
    chunk
        Draws processed at once (memory G x chunk).

    Returns
    -------
    WildBootstrapResult

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.wildboot import wild_cluster_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(30), 10)
    >>> X = np.column_stack([np.ones(300), rng.normal(size=300)])
    >>> y = 0.3 * X[:, 1] + rng.normal(size=30)[g] + rng.normal(size=300)
    >>> wb = wild_cluster_bootstrap(X, y, g, 1, term="x", n_boot=399, seed=1)
    >>> lo, hi = wb.bootstrap_interval
    >>> bool(wb.p_value < 0.05), bool(lo < 0.3 < hi)
    (True, True)
    """
    check_choice("weights", weights, ("rademacher", "webb", "mammen", "normal"))
    rng = resolve_rng(seed)
    seed_val = seed if isinstance(seed, int) else None
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    codes = np.asarray(cluster, dtype=np.int64)
    G = int(codes.max()) + 1
    msg = cluster_count_check(G, "cluster")
    if msg:
        warnings.warn(msg, EstimationWarning, stacklevel=3)  # above the renamed_kwargs wrapper
    fit = _wild_fit(X, y, codes, param, df_k, _draw_weights(weights, G, n_boot, rng))
    t_obs = (fit.bhat[param] - null) / fit.se
    tb, _ = _boot_t(fit, null, restricted, chunk)
    p = float(np.mean(np.abs(tb) >= abs(t_obs)))
    if restricted:
        ci = _inverted_interval(fit, 1 - level, chunk)
    else:
        qt = float(np.quantile(np.abs(tb), level))
        ci = (float(fit.bhat[param] - qt * fit.se), float(fit.bhat[param] + qt * fit.se))
    est, se = float(fit.bhat[param]), fit.se
    idx = pd.Index([term])
    return WildBootstrapResult(
        params=pd.Series([est], index=idx, name="estimate"),
        std_errors=pd.Series([se], index=idx, name="std_error"),
        nobs=int(X.shape[0]),
        method="wild_bootstrap",
        provenance=make_provenance(
            "wild_bootstrap",
            None,
            seed_val,
            term=term,
            null=null,
            n_boot=n_boot,
            weights=weights,
            restricted=restricted,
            level=level,
        ),
        df_resid=float(G - 1),
        warnings=(msg,) if msg else (),
        term=term,
        estimate=est,
        std_error=se,
        null=null,
        t_stat=float(t_obs),
        p_value=p,
        bootstrap_interval=ci,
        level=level,
        n_boot=n_boot,
        weights=weights,
        restricted=restricted,
        seed=seed_val,
        n_clusters=G,
    )
