"""Shared fit flow of the production-function estimators (validation, bootstrap, result assembly)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, check_choice
from clusterimpact.dask import wants_dask
from clusterimpact.errors import DataError, EstimationWarning, PanelError, SpecError
from clusterimpact.productivity._prep import Arrays, prepare
from clusterimpact.productivity.bootstrap import firm_bootstrap
from clusterimpact.productivity.result import ProductionResult
from clusterimpact.provenance import make_provenance

__all__ = ["Compat", "Point", "ProductionEstimator"]

Compat = Literal["none", "prodest"]
Backend = Literal["memory", "dask"]
COMPAT_CHOICES: tuple[str, ...] = ("none", "prodest")


@dataclass
class Point:
    """What one estimation on one sample produces (the estimators' internal currency)."""

    params: np.ndarray
    names: list[str]
    elasticities: np.ndarray
    el_names: list[str]
    ln_tfp: np.ndarray
    ln_tfp_resid: np.ndarray
    theta: np.ndarray | None = None  # optimiser solution (start of bootstrap replications)
    vcov: np.ndarray | None = None
    nobs: int = 0
    diagnostics: dict[str, Any] = field(default_factory=dict)
    starts: pd.DataFrame | None = None
    messages: list[str] = field(default_factory=list)
    exclusions: dict[str, int] = field(default_factory=dict)
    # on the Dask path: the RowRule computing (ln_tfp, ln_tfp_resid) per partition (arrays then empty)
    tfp_rule: Any = None

    def stat(self) -> np.ndarray:
        """The bootstrapped vector: params, elasticities, returns to scale."""
        return np.r_[self.params, self.elasticities, self.elasticities.sum()]


def _bootstrap_stat(est: ProductionEstimator, theta: np.ndarray | None, arr: Arrays) -> np.ndarray:
    return est._point(arr, full=False, start=theta).stat()


@dataclass(frozen=True, kw_only=True)
class ProductionEstimator:
    """Settings shared by every production-function estimator.

    Parameters
    ----------
    output
        Output column (log value added by default; gross output for ``value_added=False`` in ACF).
    free
        Freely chosen (variable) inputs, e.g. labour.
    state
        State inputs chosen one period ahead, e.g. capital.
    proxy
        Proxy variable (investment for Olley-Pakes, materials for Levinsohn-Petrin, ACF, Wooldridge).
    controls
        Extra exogenous regressors entering linearly (e.g. year dummies); their effect is netted out
        of the productivity series.
    unit, time
        Firm and year columns.
    logged
        True when output, inputs and proxy are already in logs; False to take logs here (non-positive
        values are then excluded and counted).
    bootstrap
        Number of firm-block bootstrap replications (0: none).
    seed
        Seed of the bootstrap and of the random starting points.
    n_jobs
        Worker processes for the bootstrap (results do not depend on it).
    progress
        Optional ``progress(done, total)`` callback during the bootstrap.
    compat
        ``"prodest"`` fills every option not given explicitly with the choices that reproduce
        prodest 0.1.1 (Rovigatti & Mollisi 2018), see ``tests/reference/chilean_plants/PROVENANCE.md``.
    """

    method: ClassVar[str] = ""
    uses_proxy: ClassVar[bool] = False
    uses_lags: ClassVar[bool] = False

    output: str = "ln_va"
    free: Sequence[str] = ("ln_emp",)
    state: Sequence[str] = ("ln_capital",)
    proxy: str | None = None
    controls: Sequence[str] = ()
    unit: str = "firm_id"
    time: str = "year"
    logged: bool = True
    bootstrap: int = 0
    seed: int | None = None
    n_jobs: int = 1
    progress: Callable[[int, int], None] | None = None
    compat: Compat = "none"

    # -- hooks -----------------------------------------------------------------------------------
    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        raise NotImplementedError

    def _options(self) -> dict[str, Any]:
        """Method-specific settings as resolved (recorded in provenance)."""
        return {}

    def _min_lag_rows(self, arr: Arrays) -> int:
        return 1

    # -- shared flow -----------------------------------------------------------------------------
    def _validate_settings(self) -> None:
        check_choice("compat", self.compat, COMPAT_CHOICES)
        if (
            isinstance(self.free, str)
            or isinstance(self.state, str)
            or isinstance(self.controls, str)
        ):
            raise SpecError(
                "free, state and controls take lists of column names, e.g. free=['ln_emp']"
            )
        if not self.free:
            raise SpecError(f"{self.method}: give at least one free input (free=[...])")
        if self.uses_proxy and not self.proxy:
            raise SpecError(f"{self.method}: needs a proxy variable (proxy=...)")
        if int(self.bootstrap) < 0:
            raise SpecError(
                f"bootstrap={self.bootstrap} must be 0 or a positive number of replications"
            )
        if int(self.n_jobs) < 1:
            raise SpecError(f"n_jobs={self.n_jobs} must be at least 1")

    def _check_arrays(self, arr: Arrays, source: str) -> None:
        names = [*self.free, *self.state, *self.controls]
        X = np.column_stack([np.ones(arr.n), arr.F, arr.K, arr.C])
        if arr.n <= X.shape[1]:
            raise too_few_rows(arr.n, X.shape[1], source)
        sd = X[:, 1:].std(axis=0)
        for j, c in enumerate(names):
            if sd[j] == 0:
                raise flat_input(c, source)
        Xs = np.column_stack([X[:, :1], (X[:, 1:] - X[:, 1:].mean(0)) / sd])
        for j in range(2, Xs.shape[1] + 1):
            if np.linalg.matrix_rank(Xs[:, :j], tol=1e-8 * np.sqrt(arr.n)) < j:
                raise collinear_inputs(names, j - 2, source)
        if self.uses_proxy and arr.P is not None and np.ptp(arr.P) == 0:
            raise flat_proxy(self.proxy, source)
        if self.uses_lags:
            need = self._min_lag_rows(arr)
            if arr.cur.size < need:
                raise few_lags(self, arr.cur.size, arr.n, need, source)

    def fit(
        self, data: Any, *, source: str = "data", backend: Backend = "memory"
    ) -> ProductionResult:
        """Estimate the production function on ``data`` (a FirmPanel, DataFrame or FirmPartitions).

        ``backend="dask"`` (or ``data`` a :class:`~clusterimpact.dask.FirmPartitions`) computes the
        same statistics as map-reduce over partitions that each hold whole firms (every method; the
        firm-block bootstrap is not done on Dask and is refused there); ``result.tfp`` and ``result.partitions`` are then lazy
        FirmPartitions. Returns a new :class:`ProductionResult`; ``data`` is not modified.
        """
        self._validate_settings()
        if wants_dask(data, backend):
            from clusterimpact.productivity._dask import fit_dask

            return fit_dask(self, data, source=source)
        frame = as_frame(data)
        source = str(frame.attrs.get("source") or source)
        prep = prepare(frame, **self._prepare_options(), source=source)
        arr = prep.arrays
        self._check_arrays(arr, source)
        point = self._point(arr, full=True)
        messages = list(point.messages)
        vcov = point.vcov
        draws_df = None
        stat_se = np.full(point.stat().size, np.nan)
        se_kind = "analytic, clustered by firm" if vcov is not None else "none (bootstrap=0)"
        if self.bootstrap:
            stat_se, boot_vcov, boot_kind, draws_df = self._bootstrap(point, arr, messages)
            if boot_vcov is not None:
                vcov, se_kind = boot_vcov, boot_kind
        elif vcov is not None:
            stat_se = _delta_method_se(point, vcov)
        keys = prep.keys.copy()
        keys["ln_tfp"] = point.ln_tfp
        keys["ln_tfp_resid"] = point.ln_tfp_resid
        est_frame = frame[self._used_columns()].iloc[prep.positions]
        prov = make_provenance(self.method, est_frame, seed=self.seed, **self._recorded_options())
        return self._result(
            point,
            stat_se=stat_se,
            vcov=vcov,
            se_kind=se_kind,
            messages=messages,
            exclusions=dict(prep.exclusions) | dict(point.exclusions),
            n_firms=arr.n_units,
            tfp=keys,
            provenance=prov,
            draws=draws_df,
        )

    def _prepare_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`prepare` for this estimator's columns."""
        return {
            "output": self.output,
            "free": list(self.free),
            "state": list(self.state),
            "proxy": self.proxy if self.uses_proxy else None,
            "controls": list(self.controls),
            "unit": self.unit,
            "time": self.time,
            "logged": self.logged,
        }

    def _result(
        self,
        point: Point,
        *,
        stat_se: np.ndarray,
        vcov: np.ndarray | None,
        se_kind: str,
        messages: list[str],
        exclusions: dict[str, int],
        n_firms: int,
        tfp: Any,
        provenance: Any,
        draws: pd.DataFrame | None = None,
        partitions: Any = None,
        dask_writer: Any = None,
    ) -> ProductionResult:
        """The result object, the same for both back ends (warnings are issued here)."""
        p = point.params.size
        ne = point.elasticities.size
        for m in messages:
            warnings.warn(f"{self.method}: {m}", EstimationWarning, stacklevel=3)
        diagnostics = dict(point.diagnostics)
        diagnostics["standard_errors"] = se_kind
        diagnostics["n_firms"] = n_firms
        params = pd.Series(point.params, index=point.names, name="estimate")
        vcov_df = (
            None if vcov is None else pd.DataFrame(vcov, index=point.names, columns=point.names)
        )
        return ProductionResult(
            params=params,
            std_errors=pd.Series(stat_se[:p], index=point.names, name="std_error"),
            nobs=int(point.nobs),
            method=self.method,
            provenance=provenance,
            vcov=vcov_df,
            warnings=tuple(f"{self.method}: {m}" for m in messages),
            exclusions=exclusions,
            elasticities=pd.Series(point.elasticities, index=point.el_names, name="elasticity"),
            elasticity_se=pd.Series(stat_se[p : p + ne], index=point.el_names, name="std_error"),
            returns_to_scale=float(point.elasticities.sum()),
            returns_to_scale_se=float(stat_se[p + ne]),
            tfp=tfp,
            unit=self.unit,
            time=self.time,
            output=self.output,
            inputs=tuple(point.el_names),
            diagnostics=diagnostics,
            starts=point.starts,
            bootstrap_draws=draws,
            partitions=partitions,
            dask_writer=dask_writer,
        )

    def _bootstrap(
        self, point: Any, arr: Any, messages: list[str]
    ) -> tuple[np.ndarray, np.ndarray | None, str, pd.DataFrame]:
        """Firm-block bootstrap SEs of every statistic, the params' covariance (None with fewer
        than 2 good replications), the SE label and the draws; failures go to ``messages``."""
        k = point.stat().size
        stat = functools.partial(_bootstrap_stat, replace(self, progress=None), point.theta)
        draws, errors = firm_bootstrap(
            stat,
            arr,
            reps=int(self.bootstrap),
            k=k,
            seed=self.seed,
            n_jobs=int(self.n_jobs),
            progress=self.progress,
            label=f"TFP bootstrap ({type(self).__name__})",
        )
        ok = np.all(np.isfinite(draws), axis=1)
        n_ok = int(ok.sum())
        if n_ok < draws.shape[0]:
            messages.append(
                f"{draws.shape[0] - n_ok} of {draws.shape[0]} bootstrap replications failed and were "
                f"left out ({errors[0] if errors else 'non-finite estimates'})"
            )
        stat_se = np.full(k, np.nan)
        vcov = None
        se_kind = ""
        if n_ok < 2:
            messages.append("fewer than 2 successful bootstrap replications: no standard errors")
        else:
            good = draws[ok]
            stat_se = good.std(axis=0, ddof=1)
            p = point.params.size
            vcov = np.atleast_2d(np.cov(good[:, :p], rowvar=False, ddof=1))
            se_kind = f"firm-block bootstrap ({n_ok} replications)"
        stat_names = [
            *point.names,
            *[f"elasticity:{n}" for n in point.el_names],
            "returns_to_scale",
        ]
        return stat_se, vcov, se_kind, pd.DataFrame(draws, columns=stat_names)

    def _recorded_options(self) -> dict[str, Any]:
        """The options a result's provenance records."""
        return {
            "output": self.output,
            "free": list(self.free),
            "state": list(self.state),
            "proxy": self.proxy if self.uses_proxy else None,
            "controls": list(self.controls),
            "unit": self.unit,
            "time": self.time,
            "logged": self.logged,
            "bootstrap": int(self.bootstrap),
            "compat": self.compat,
            **self._options(),
        }

    def _used_columns(self) -> list[str]:
        """The data columns the estimator reads (their rows are the provenance's data hash)."""
        return list(
            dict.fromkeys(
                [
                    self.unit,
                    self.time,
                    self.output,
                    *self.free,
                    *self.state,
                    *self.controls,
                    *([self.proxy] if self.uses_proxy and self.proxy else []),
                ]
            )
        )


def too_few_rows(n: int, k: int, source: str) -> DataError:
    """The error for fewer usable firm-years than coefficients."""
    return DataError(f"only {n} usable firm-years for {k} coefficients", source=source)


def flat_input(column: str, source: str) -> DataError:
    """The error for an input without variation in the estimation sample."""
    return DataError(
        "input does not vary in the estimation sample; drop it or use another column",
        source=source,
        column=column,
    )


def collinear_inputs(names: list[str], j: int, source: str) -> DataError:
    """The error for input ``names[j]`` collinear with the constant and ``names[:j]``."""
    return DataError(
        f"collinear inputs: '{names[j]}' is a linear combination of the constant and "
        f"{', '.join(names[:j]) or 'nothing else'}; drop one of them",
        source=source,
        column=names[j],
    )


def flat_proxy(proxy: str | None, source: str) -> DataError:
    """The error for a proxy without variation."""
    return DataError(
        "the proxy does not vary, so it cannot control for productivity; use another proxy",
        source=source,
        column=proxy,
    )


def few_lags(est: ProductionEstimator, n_cur: int, n: int, need: int, source: str) -> PanelError:
    """The error for too few firm-years with an observed previous year."""
    return PanelError(
        f"too few periods per firm for the lag structure: {est.method} needs firm-years "
        f"whose previous year is observed, and only {n_cur} of {n} have one "
        f"(at least {need} needed); use a panel with consecutive years per firm",
        source=source,
        column=est.time,
    )


def _delta_method_se(point: Any, vcov: np.ndarray) -> np.ndarray:
    """SEs of the params, the elasticities (Cobb-Douglas: a subset of params) and their sum."""
    idx = [point.names.index(n) for n in point.el_names if n in point.names]
    se_p = np.sqrt(np.clip(np.diag(vcov), 0, None))
    el_se = se_p[idx] if len(idx) == len(point.el_names) else np.full(len(point.el_names), np.nan)
    rts_se = (
        float(np.sqrt(max(vcov[np.ix_(idx, idx)].sum(), 0.0)))
        if len(idx) == len(point.el_names)
        else np.nan
    )
    return np.r_[se_p, el_se, rts_se]


def resolve(value: Any, default: Any, compat_value: Any, compat: str) -> Any:
    """An option's value: the user's if given, else the compat setting or the default."""
    if value is not None:
        return value
    return compat_value if compat == "prodest" else default


def parse_start(start: Any, names: list[str], method: str) -> np.ndarray | None:
    """Start values from a sequence (in ``names`` order) or a dict keyed by term name."""
    if start is None:
        return None
    if isinstance(start, dict):
        missing = [n for n in names if n not in start]
        extra = [k for k in start if k not in names]
        if missing or extra:
            raise SpecError(
                f"{method}: start values must name exactly the terms {names}; "
                f"missing {missing}, unknown {extra}"
            )
        return np.array([float(start[n]) for n in names])
    arr = np.asarray(start, dtype=float).ravel()
    if arr.size != len(names):
        raise SpecError(
            f"{method}: start has {arr.size} values but the optimiser has {len(names)} parameters "
            f"({', '.join(names)})"
        )
    return arr


def random_starts(
    primary: np.ndarray,
    n_starts: int,
    seed: int | None,
    scale: float = 0.1,
    first_order: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``primary`` plus ``n_starts - 1`` seeded starting points.

    Elasticity-like (first-order) coefficients are drawn uniformly from the economically plausible
    box [0.05, 0.95], so that the starts explore the whole region rather than the neighbourhood of a
    possibly biased primary start (OLS sits next to a spurious ACF root when labour responds to
    productivity); other coefficients (translog terms) are the primary value +- ``scale``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([0 if seed is None else int(seed), 7]))
    primary = np.asarray(primary, dtype=float)
    fo = np.ones(primary.size, dtype=bool) if first_order is None else np.asarray(first_order, bool)
    out = [primary]
    for _ in range(max(n_starts, 1) - 1):
        draw = primary + rng.uniform(-scale, scale, primary.size)
        draw[fo] = rng.uniform(0.05, 0.95, int(fo.sum()))
        out.append(draw)
    return out


def cluster_meat(scores: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Sum over firms of (sum of the firm's score rows) outer itself."""
    G = int(unit.max()) + 1 if unit.size else 0
    sums = np.column_stack(
        [np.bincount(unit, weights=scores[:, j], minlength=G) for j in range(scores.shape[1])]
    )
    return sums.T @ sums
