"""The result of the whole-chain bootstrap: every estimate with its plug-in and chain uncertainty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.results import EstimateResult, _check_level, _f

__all__ = ["ChainResult"]


@dataclass(frozen=True, kw_only=True)
class ChainResult(EstimateResult):
    """Estimates of the whole chain with chain (firm-block bootstrap) and plug-in standard errors.

    Attributes
    ----------
    params
        Full-sample estimates, terms ``tfp:<input>`` (output elasticities), ``cs:simple``,
        ``cs:dynamic`` and ``cs:dynamic:<e>`` (Callaway-Sant'Anna), ``duration:average``,
        ``duration:member_years::<bin>``, ``duration:slope`` and ``matched_did:ATT``.
    std_errors
        Chain standard errors: the standard deviation of the bootstrap estimates (each term over the
        replications where it is finite).
    plugin_se
        The estimators' own standard errors on the full sample, which treat ln TFP as data (NaN
        where the estimator has none, e.g. ACF elasticities).
    draws
        Bootstrap estimates, one row per replication (all NaN for a failed replication).
    reps, n_failed, failures
        Replications asked for, replications that failed (raised), and the failure reasons with
        their counts (``"EstimationError: ..."``).
    n_boot
        Replications with a finite estimate, per term.
    n_warned
        Replications in which an estimator raised at least one warning (kept, not failed).
    warm_start
        True when every replication started the production-function optimiser at the full-sample
        solution (one local search instead of the multi-start search).
    production
        Settings and full-sample production-function estimates (method, elasticities, theta).
    fixed_tfp_se, fixed_draws
        The fixed-TFP bootstrap (``chain_bootstrap(fixed_tfp=True)``): the DiD and duration
        estimates of every replication re-run on the same resampled firms with ln TFP held at its
        full-sample values, and their SD per term (NaN for the elasticities; None when not run).

    Notes
    -----
    ``conf_int`` gives percentile intervals of the bootstrap draws; ``plugin_conf_int`` the normal
    intervals with the plug-in standard errors. ``tidy()`` holds both (``conf_low``/``conf_high`` are
    the percentile ends; ``plugin_std_error``, ``plugin_conf_low``, ``plugin_conf_high``, ``se_ratio``
    = chain / plug-in, ``n_boot``). p-values use the normal with the chain standard error.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> chain = ci.chain_bootstrap(example_panel(), reps=4, seed=1, method="ols",
    ...                            estimators=["duration"])
    >>> type(chain).__name__, chain.plugin_se.index.equals(chain.params.index)
    ('ChainResult', True)
    """

    plugin_se: pd.Series
    draws: pd.DataFrame
    reps: int
    n_failed: int
    failures: dict[str, int] = field(default_factory=dict)
    n_boot: pd.Series
    n_warned: int = 0
    warm_start: bool = True
    production: dict[str, Any] = field(default_factory=dict)
    fixed_tfp_se: pd.Series | None = None
    fixed_draws: pd.DataFrame | None = None

    def conf_int(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """Percentile intervals of the chain bootstrap (``lower``, ``upper``)."""
        if uniform:
            raise ValueError("chain: no uniform band; use the percentile intervals")
        _check_level(level)
        a = (1 - level) / 2
        lo, hi = [], []
        for t in self.params.index:
            d = self.draws[t].to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            ok = d.size >= 2
            lo.append(float(np.quantile(d, a)) if ok else np.nan)
            hi.append(float(np.quantile(d, 1 - a)) if ok else np.nan)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.params.index)

    def plugin_conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Normal intervals with the plug-in standard errors (TFP treated as data)."""
        _check_level(level)
        half = stats.norm.ppf(0.5 + level / 2) * self.plugin_se
        return pd.DataFrame({"lower": self.params - half, "upper": self.params + half})

    @property
    def se_ratio(self) -> pd.Series:
        """Chain standard error divided by the plug-in one."""
        return (self.std_errors / self.plugin_se).rename("se_ratio")

    @property
    def se_ratio_fixed(self) -> pd.Series:
        """Chain standard error divided by the fixed-TFP bootstrap's (same firm draws)."""
        fixed = self._fixed_se()
        return (self.std_errors / fixed).rename("se_ratio_fixed")

    def _fixed_se(self) -> pd.Series:
        if self.fixed_tfp_se is None:
            return pd.Series(np.nan, index=self.params.index, name="fixed_tfp_se")
        return self.fixed_tfp_se.reindex(self.params.index)

    def se_ratio_fixed_mc_se(self) -> pd.Series:
        """Monte Carlo standard error of ``log(se_ratio_fixed)`` over the replications.

        With paired draws ``(c_b, f_b)`` (chain, fixed TFP; replications where both are finite),
        ``u_b = (c_b - mean c)^2`` and ``v_b = (f_b - mean f)^2``, ``log(S_c / S_f) = (log mean u -
        log mean v) / 2``; the delta method gives ``sd(u_b / mean u - v_b / mean v) / (2 sqrt(B))``.
        Common random numbers make it small when the two bootstraps move together.
        """
        out = pd.Series(np.nan, index=self.params.index, name="se_ratio_fixed_mc_se")
        if self.fixed_draws is None:
            return out
        for t in self.fixed_draws.columns:
            c = self.draws[t].to_numpy(dtype=float)
            f = self.fixed_draws[t].to_numpy(dtype=float)
            ok = np.isfinite(c) & np.isfinite(f)
            if ok.sum() < 3:
                continue
            u, v = (c[ok] - c[ok].mean()) ** 2, (f[ok] - f[ok].mean()) ** 2
            if u.mean() > 0 and v.mean() > 0:
                g = u / u.mean() - v / v.mean()
                out[t] = float(g.std(ddof=1) / (2 * np.sqrt(ok.sum())))
        return out

    def tidy(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """The standard tidy columns (percentile CI) plus plug-in SE and CI, ratio and n_boot, and the
        fixed-TFP bootstrap SE with the ratio chain / fixed-TFP."""
        out = super().tidy(level, uniform=uniform)
        pci = self.plugin_conf_int(level)
        terms = self.params.index
        out["plugin_std_error"] = self.plugin_se.reindex(terms).to_numpy(dtype=float)
        out["plugin_conf_low"] = pci["lower"].to_numpy(dtype=float)
        out["plugin_conf_high"] = pci["upper"].to_numpy(dtype=float)
        out["se_ratio"] = self.se_ratio.reindex(terms).to_numpy(dtype=float)
        out["n_boot"] = self.n_boot.reindex(terms).to_numpy(dtype=int)
        out["fixed_tfp_std_error"] = self._fixed_se().to_numpy(dtype=float)
        out["se_ratio_fixed"] = self.se_ratio_fixed.to_numpy(dtype=float)
        return out

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        prod = self.production
        start = (
            "warm start at the full-sample estimate" if self.warm_start else "multi-start search"
        )
        lines.append(
            f"Chain: {prod.get('method', '?')} production function ({start}) -> "
            f"{prod.get('outcome', 'ln TFP')} -> {', '.join(prod.get('estimators', []))}"
        )
        lines.append(
            f"Firm-block bootstrap: {self.reps} replications, {self.n_failed} failed"
            + (f", {self.n_warned} with estimator warnings" if self.n_warned else "")
        )
        for reason, n in self.failures.items():
            lines.append(f"  failed x{n}: {reason}")
        return lines

    def summary(self, level: float = 0.95) -> str:
        """Estimate, plug-in SE, chain SE, their ratio and the percentile interval of every term."""
        t = self.tidy(level).set_index("term")
        pct = f"{100 * level:g}%"
        body = pd.DataFrame(
            {
                "estimate": t["estimate"],
                "plug-in SE": t["plugin_std_error"],
                "fixed-TFP SE": t["fixed_tfp_std_error"],
                "chain SE": t["std_error"],
                "ratio": t["se_ratio"],
                "ratio fixed": t["se_ratio_fixed"],
                f"{pct} low": t["conf_low"],
                f"{pct} high": t["conf_high"],
                "n": t["n_boot"],
            }
        )
        lines = self._summary_header()
        lines.append(body.to_string(float_format=lambda v: f"{v: .4f}"))
        lines.append(
            "Plug-in SE: the estimator's own, treating ln TFP as data; fixed-TFP SE: SD over the same "
            "firm-block resamples with ln TFP held fixed; chain SE: SD over firm-block resamples of "
            "the whole chain; ratio = chain / plug-in, ratio fixed = chain / fixed-TFP; interval: "
            "bootstrap percentiles."
        )
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form: the CLI contract's ``estimates`` (chain SE, percentile CI) with
        ``plugin_std_error``, ``plugin_conf_low``/``high``, ``se_ratio`` and ``n_boot`` per term, and a
        ``chain`` block (replications, failures, warm start, production function)."""
        out = super().to_dict(level)
        t = self.tidy(level)
        for row, r in zip(out["estimates"], t.itertuples(index=False), strict=True):
            row["plugin_std_error"] = _f(r.plugin_std_error)
            row["plugin_conf_low"] = _f(r.plugin_conf_low)
            row["plugin_conf_high"] = _f(r.plugin_conf_high)
            row["se_ratio"] = _f(r.se_ratio)
            row["n_boot"] = int(float(r.n_boot))  # type: ignore[arg-type]
            row["fixed_tfp_std_error"] = _f(r.fixed_tfp_std_error)
            row["se_ratio_fixed"] = _f(r.se_ratio_fixed)
        out["chain"] = {
            "reps": int(self.reps),
            "n_failed": int(self.n_failed),
            "failures": {str(k): int(v) for k, v in self.failures.items()},
            "n_warned": int(self.n_warned),
            "warm_start": bool(self.warm_start),
            "ci": "percentile",
            "production": self.production,
        }
        return out
