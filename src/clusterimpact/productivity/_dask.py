"""The production functions on the Dask back end: the estimators' own passes, mapped over partitions.

Each partition of a :class:`~clusterimpact.dask.FirmPartitions` holds whole firms sorted by year, so
:func:`~clusterimpact.productivity._prep.prepare` (validation, exclusions, logs, lags) runs on a
partition exactly as on the whole panel, and every statistic the closed-form estimators use (cross
products, counts, firm-clustered score products) is a sum over partitions. :class:`DaskRunner` gives
the estimators' ``_estimate(runner)`` (the code the in-memory path runs, see ``_runner.py``) that sum;
ln TFP is written back by row as a partition-local column (``result.partitions``).

Supported: labour productivity, OLS, FE (within firm: partition-local demeaning), Wooldridge, ACF
(``_dask_acf.py``: its criterion by map-reduce at every trial theta, the optimiser on the client), and
Olley-Pakes / Levinsohn-Petrin (``_op_passes.py``, the passes the in-memory path runs on one block:
the first stage from summed cross-products, the exit correction's survival probit by one map-reduce
per Newton step, the second stage's rows derived once per partition and persisted
(:meth:`DaskRunner.blocks`), then one map-reduce per trial theta of the optimiser on the client).
Every start of OP/LP runs on all rows (the in-memory coarse firm subsample of large panels is not
used), and the firm-block bootstrap is refused with an error (n_boot=0: no standard errors for
OP, LP and ACF on Dask).
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame
from clusterimpact.dask import FirmPartitions, as_partitions, compute_context, hold
from clusterimpact.errors import DataWarning, SpecError
from clusterimpact.productivity._base import (
    collinear_inputs,
    few_lags,
    flat_input,
    flat_proxy,
    too_few_rows,
)
from clusterimpact.productivity._prep import Arrays, no_usable_rows, prepare
from clusterimpact.productivity._runner import (
    Blocks,
    EmptySample,
    PartFn,
    RowRule,
    Runner,
    add_stats,
    moments,
)
from clusterimpact.provenance import make_provenance

if TYPE_CHECKING:
    from clusterimpact.dask import FirmPartitions
    from clusterimpact.productivity._base import ProductionEstimator
    from clusterimpact.productivity.result import ProductionResult

__all__ = ["DASK_METHODS", "DaskRunner", "fit_dask", "write_tfp"]

#: methods with a Dask path (the others raise a SpecError naming these)
DASK_METHODS = ("labour", "ols", "fe", "wooldridge", "acf", "op", "lp")
#: Collinearity on the Dask path is judged from the summed cross-product (the rows never meet): an
#: input is collinear when the smallest eigenvalue of the correlation matrix of it and the inputs
#: before it is below this (the in-memory check's SVD of the rows, tolerance 1e-8 on the singular
#: values, is not reachable from a cross-product, whose roundoff is about 1e-16 times the number of
#: rows on the eigenvalues: 1e-10 sits far above that and far below real data's values).
DASK_RANK_TOL = 1e-10


def _clean(part: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
    """A partition's estimation arrays as columns (rows kept, sorted by firm and year)."""
    arr = prepare(part, **options, allow_empty=True)
    a, keys = arr.arrays, arr.keys
    out = {"unit": keys[options["unit"]].to_numpy(), "time": a.time, "y": a.y}
    for tag, M in (("f", a.F), ("k", a.K), ("c", a.C)):
        for j in range(M.shape[1]):
            out[f"{tag}{j}"] = M[:, j]
    if a.P is not None:
        out["p"] = a.P
    return pd.DataFrame(out)


def _arrays(part: pd.DataFrame, shape: tuple[int, int, int, bool]) -> Arrays:
    pf, pk, pc, proxy = shape
    codes, _ = pd.factorize(part["unit"], sort=False)

    def mat(tag: str, k: int) -> np.ndarray:
        if k == 0:
            return np.zeros((len(part), 0))
        return part[[f"{tag}{j}" for j in range(k)]].to_numpy(dtype=float)

    return Arrays(
        y=part["y"].to_numpy(dtype=float),
        F=mat("f", pf),
        K=mat("k", pk),
        P=part["p"].to_numpy(dtype=float) if proxy else None,
        C=mat("c", pc),
        unit=np.asarray(codes, dtype=np.int64),
        time=part["time"].to_numpy(dtype=np.int64),
    )


def _on_part(part: pd.DataFrame, fn: PartFn, shape: tuple[int, int, int, bool], *args: Any) -> Any:
    """``fn`` on one partition's arrays; ``None`` for a partition without usable rows."""
    if len(part) == 0:
        return None
    return fn(_arrays(part, shape), {}, *args)


def _exclusions(part: pd.DataFrame, options: dict[str, Any]) -> dict[str, Any]:
    prep = prepare(part, **options, allow_empty=True)
    return {"excl": dict(prep.exclusions)}


def _with_tfp(
    part: pd.DataFrame, options: dict[str, Any], rule: RowRule, names: tuple[str, str]
) -> pd.DataFrame:
    """The partition with ln TFP and its residual (NaN outside the estimation sample)."""
    prep = prepare(part, **options, allow_empty=True)
    out = part.copy()
    ln, res = np.full(len(part), np.nan), np.full(len(part), np.nan)
    if prep.arrays.n:
        a, b = rule(prep.arrays)
        ln[prep.positions], res[prep.positions] = a, b
    out[names[0]], out[names[1]] = ln, res
    return out


def write_tfp(
    fp: FirmPartitions, options: dict[str, Any], rule: RowRule, name: str, resid_name: str
) -> FirmPartitions:
    """``fp`` with the columns ``name`` and ``resid_name`` (ln TFP, its residual) computed lazily,
    partition by partition, from the estimated coefficients in ``rule``."""
    meta = fp.frame._meta.assign(**{name: np.zeros(0), resid_name: np.zeros(0)})
    frame = fp.frame.map_partitions(_with_tfp, options, rule, (name, resid_name), meta=meta)
    return type(fp)(frame, fp.firm, fp.time)


def _sample_tfp(part: pd.DataFrame, unit: str, time: str) -> pd.DataFrame:
    keep = part["ln_tfp"].notna().to_numpy()
    return part.loc[keep, [unit, time, "ln_tfp", "ln_tfp_resid"]].reset_index(drop=True)


class DaskRunner(Runner):
    """The estimators' passes as map-reduce over cleaned firm partitions (persisted for ACF and
    OP's exit correction, streamed otherwise)."""

    distributed = True

    def __init__(self, clean: FirmPartitions, shape: tuple[int, int, int, bool]) -> None:
        self.clean = clean
        self.shape = shape

    def reduce(self, fn: PartFn, *args: Any) -> Any:
        return self.clean.map_reduce(_on_part, fn, self.shape, *args, combine=add_stats)

    def rows(self, fn: PartFn, *args: Any) -> Any:
        return RowRule(fn, args)

    def lstsq(self, design: PartFn, *args: Any) -> np.ndarray:  # pragma: no cover - not reached
        raise SpecError("the Dask path solves from cross-products only")

    def blocks(self, fn: PartFn, *args: Any) -> DaskBlocks:
        """``fn``'s rows computed once per partition and persisted on the workers (as columns)."""
        from clusterimpact.dask import FirmPartitions

        meta = _block_frame(self.clean.frame._meta, fn, self.shape, *args)
        frame = self.clean.frame.map_partitions(_block_frame, fn, self.shape, *args, meta=meta)
        return DaskBlocks(hold(FirmPartitions(frame, "unit", whole_firms=True)))


def _block_frame(part: pd.DataFrame, fn: PartFn, shape: Any, *args: Any) -> pd.DataFrame:
    """``fn(arrays, {}, *args)`` (a dict of arrays, 2-d ones by column ``name:j``) as a frame."""
    rows = fn(_arrays(part, shape), {}, *args)
    out: dict[str, Any] = {}
    for k, v in rows.items():
        if v.ndim == 1:
            out[k] = v
        else:
            out |= {f"{k}:{j}": v[:, j] for j in range(v.shape[1])}
    return pd.DataFrame(out)


def _block_call(part: pd.DataFrame, fn: Any, *args: Any) -> Any:
    """``fn(rows, *args)`` on a persisted block (2-d arrays rebuilt); ``None`` for an empty one."""
    if len(part) == 0:
        return None
    rows: dict[str, Any] = {}
    wide: dict[str, list[str]] = {}
    for c in part.columns:
        if ":" in c:
            wide.setdefault(c.split(":")[0], []).append(c)
        else:
            rows[c] = part[c].to_numpy()
    for k, cols in wide.items():
        rows[k] = part[cols].to_numpy(dtype=float)
    return fn(rows, *args)


class DaskBlocks(Blocks):
    """Rows derived per partition, persisted (see :meth:`DaskRunner.blocks`)."""

    def __init__(self, fp: FirmPartitions) -> None:
        self.fp = fp

    def reduce(self, fn: Any, *args: Any) -> Any:
        return self.fp.map_reduce(_block_call, fn, *args, combine=add_stats)


def _check(est: ProductionEstimator, runner: Runner, excl: dict[str, int], source: str) -> int:
    """The in-memory checks (``_check_arrays``) from summed statistics; returns the firm count."""
    names = [*est.free, *est.state, *est.controls]
    try:
        mo = moments(runner, full=True)
    except EmptySample:
        raise no_usable_rows(est._prepare_options(), excl, source) from None
    if mo.n <= len(names) + 1:
        raise too_few_rows(mo.n, len(names) + 1, source)
    k = len(names)
    for j, c in enumerate(names):
        if mo.hi[1 + j] == mo.lo[1 + j]:
            raise flat_input(c, source)
    sd = mo.sd[1 : 1 + k]
    corr = mo.cross[:k, :k] / np.outer(sd, sd) / mo.n
    for j in range(1, k + 1):
        if np.linalg.eigvalsh(corr[:j, :j]).min() < DASK_RANK_TOL:
            raise collinear_inputs(names, j - 1, source)
    if est.uses_proxy and mo.hi[-1] == mo.lo[-1]:
        raise flat_proxy(est.proxy, source)
    if est.uses_lags:
        shape = Arrays(
            y=np.zeros(0),
            F=np.zeros((0, len(est.free))),
            K=np.zeros((0, len(est.state))),
            P=np.zeros(0),
            C=np.zeros((0, len(est.controls))),
            unit=np.zeros(0, dtype=np.int64),
            time=np.zeros(0, dtype=np.int64),
        )
        need = est._min_lag_rows(shape)
        if mo.n_cur < need:
            raise few_lags(est, mo.n_cur, mo.n, need, source)
    return mo.n_units


def _refuse(est: ProductionEstimator) -> None:
    if est.method not in DASK_METHODS:
        raise SpecError(
            f"method={est.method!r} ({type(est).__name__}) has no Dask back end; backend='dask' "
            f"supports {', '.join(DASK_METHODS)} (run {est.method!r} with backend='memory')"
        )
    if int(est.bootstrap):
        raise SpecError(
            "the firm-block bootstrap (n_boot/bootstrap > 0) is not available on backend='dask'; "
            "use n_boot=0 (analytic firm-clustered standard errors) or backend='memory'"
        )


def fit_dask(est: ProductionEstimator, data: Any, *, source: str = "data") -> ProductionResult:
    """``est.fit(data)`` on the Dask back end (see the module docstring)."""
    from clusterimpact.productivity._base import _delta_method_se

    _refuse(est)
    options = est._prepare_options()
    if not hasattr(data, "map_reduce") and not type(data).__module__.startswith("dask."):
        data = as_frame(data)  # a FirmPanel or DataFrame, split by firm below
    owned = not isinstance(data, FirmPartitions)
    fp = as_partitions(data, est.unit, est.time)
    # column and type checks on the (empty) meta frame: the in-memory messages, before any work
    meta = _clean(fp.frame._meta, options)
    shape = (len(est.free), len(est.state), len(est.controls), bool(est.uses_proxy))
    with compute_context():
        excl = fp.map_reduce(_exclusions, options, combine=add_stats)["excl"]
        frame = fp.frame.map_partitions(_clean, options, meta=meta)
        # partition-local renames: the firms stay whole (no shuffle). Only ACF, which passes over the
        # data at every trial value, holds its model columns in the workers' memory; the others stream
        clean = type(fp)(frame, "unit", "time", whole_firms=True)
        # OP's exit correction passes over the data at every Newton step of its survival probit; and
        # a frame split here (not given as partitions) would be shuffled again at every pass
        if est.method == "acf" or getattr(est, "exit_correction", False) or owned:
            clean = hold(clean)
        runner = DaskRunner(clean, shape)
        n_firms = _check(est, runner, excl, source)
        if est.method == "acf":
            from clusterimpact.productivity._dask_acf import acf_dask

            point = acf_dask(est, runner)  # type: ignore[arg-type]
        else:
            point = est._estimate(runner, full=True)  # type: ignore[attr-defined]
    vcov = point.vcov
    if vcov is not None:
        stat_se, se_kind = _delta_method_se(point, vcov), "analytic, clustered by firm"
    else:
        stat_se, se_kind = np.full(point.stat().size, np.nan), "none (bootstrap=0)"
    clash = [c for c in ("ln_tfp", "ln_tfp_resid") if c in fp.columns]
    if clash:
        warnings.warn(
            f"the panel already has column(s) {', '.join(clash)}: result.partitions replaces them; "
            "result.join(panel, name=..., resid_name=...) adds the estimates under other names",
            DataWarning,
            stacklevel=3,
        )
    writer = functools.partial(write_tfp, options=options, rule=point.tfp_rule)
    with_tfp = writer(fp, name="ln_tfp", resid_name="ln_tfp_resid")
    cols = [est.unit, est.time, "ln_tfp", "ln_tfp_resid"]
    sample = with_tfp.frame.map_partitions(
        _sample_tfp, est.unit, est.time, meta=with_tfp.frame._meta[cols]
    )
    recorded = est._recorded_options() | {"backend": "dask", "npartitions": fp.npartitions}
    return est._result(
        point,
        stat_se=stat_se,
        vcov=vcov,
        se_kind=se_kind,
        messages=list(point.messages),
        exclusions={k: int(v) for k, v in excl.items()} | dict(point.exclusions),
        n_firms=n_firms,
        tfp=type(fp)(sample, est.unit, est.time),
        provenance=make_provenance(est.method, None, seed=est.seed, **recorded),
        partitions=with_tfp,
        dask_writer=(str(fp.frame._name), writer),
    )
