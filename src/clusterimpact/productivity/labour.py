"""Labour productivity (output per unit of labour) through the production-function interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from clusterimpact.productivity._base import Backend, Point, ProductionEstimator
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import MemoryRunner, Runner
from clusterimpact.productivity.result import ProductionResult

__all__ = ["LabourProductivity", "labour_productivity"]


def _lp_rows(arr: Arrays, cache: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    lp = arr.y - arr.F[:, 0]
    return lp, lp


def _lp_sum(arr: Arrays, cache: dict[str, Any]) -> dict[str, Any]:
    return {"n": arr.n, "sum": float(_lp_rows(arr, cache)[0].sum())}


@dataclass(frozen=True, kw_only=True)
class LabourProductivity(ProductionEstimator):
    """Log labour productivity ln(output) - ln(labour), e.g. value added per FTE.

    Nothing is estimated: it is the TFP of a production function whose labour elasticity is fixed at 1
    and whose other elasticities are 0, so ``params`` holds that single fixed term (standard error NaN).
    The first free input is the labour measure; state inputs are ignored.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import LabourProductivity
    >>> df = example_panel()
    >>> result = LabourProductivity().fit(df)
    >>> bool((result.tfp["ln_tfp"].to_numpy() == (df["ln_va"] - df["ln_emp"]).to_numpy()).all())
    True
    """

    method: ClassVar[str] = "labour"
    state: Any = ()

    def _point(self, arr: Arrays, *, full: bool = True, start: np.ndarray | None = None) -> Point:
        return self._estimate(MemoryRunner(arr), full=full)

    def _estimate(self, runner: Runner, *, full: bool = True) -> Point:
        """Row-local: ln TFP by row, its mean from one pass of sums."""
        st = runner.reduce(_lp_sum)
        lp = runner.rows(_lp_rows)
        name = str(list(self.free)[0])
        return Point(
            params=np.array([1.0]),
            names=[name],
            elasticities=np.array([1.0]),
            el_names=[name],
            ln_tfp=np.zeros(0) if runner.distributed else lp[0],
            ln_tfp_resid=np.zeros(0) if runner.distributed else lp[1],
            tfp_rule=lp if runner.distributed else None,
            nobs=int(st["n"]),
            diagnostics={"mean_ln_lp": st["sum"] / st["n"], "note": "labour elasticity fixed at 1"},
        )


def labour_productivity(
    panel: Any,
    *,
    output: str = "ln_va",
    labour: str = "ln_emp",
    unit: str = "firm_id",
    time: str = "year",
    logged: bool = True,
    backend: Backend = "memory",
) -> ProductionResult:
    """Log labour productivity of every firm-year (``ln_tfp`` of the result), e.g. ln(VA / FTE).

    Parameters
    ----------
    panel
        FirmPanel or DataFrame.
    output, labour
        Output and labour columns (logs when ``logged``; levels, logged here, otherwise).
    unit, time
        Firm and year columns.
    logged
        Whether the columns are already in logs.
    backend
        ``"memory"`` or ``"dask"`` (row by row on each partition; a FirmPartitions panel always
        runs on Dask, and ``result.partitions`` holds it with ``ln_tfp`` added).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import labour_productivity
    >>> result = labour_productivity(example_panel())
    >>> result.method, result.tfp.shape[1]
    ('labour', 4)
    """
    return LabourProductivity(
        output=output, free=(labour,), state=(), unit=unit, time=time, logged=logged
    ).fit(panel, backend=backend)
