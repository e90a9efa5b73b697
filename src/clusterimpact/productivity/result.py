"""The result of a production-function estimation: elasticities, TFP series and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, require_columns
from clusterimpact.errors import DataError, SpecError
from clusterimpact.results import EstimateResult

__all__ = ["ProductionResult"]


@dataclass(frozen=True, kw_only=True)
class ProductionResult(EstimateResult):
    """Production-function estimates and the implied (log) productivity of every firm-year.

    Attributes
    ----------
    params, std_errors, vcov
        Coefficients of the production function (terms named after the input columns; translog
        terms as ``a^2`` and ``a:b``) and of any controls. Standard errors are firm-block bootstrap
        standard errors for OP, LP and ACF (``NaN`` when ``bootstrap=0``), cluster-robust (by firm)
        analytic ones for OLS, FE and Wooldridge unless a bootstrap was asked for.
    elasticities, elasticity_se
        Output elasticity of each input (Cobb-Douglas: the coefficient; translog: the sample mean of
        the firm-year elasticities).
    returns_to_scale, returns_to_scale_se
        Sum of the elasticities and its standard error.
    tfp
        One row per firm-year of the estimation sample: the unit and time columns, ``ln_tfp`` (log
        productivity omega-hat, with the noise removed where the method separates it) and
        ``ln_tfp_resid`` (output minus the inputs' contribution, noise included). A DataFrame, or on
        the Dask back end a lazy :class:`~clusterimpact.dask.FirmPartitions` with those columns.
    partitions
        Dask back end only (else ``None``): the input FirmPartitions with ``ln_tfp`` and
        ``ln_tfp_resid`` added as partition-local columns (``NaN`` outside the estimation sample),
        computed lazily from the estimated coefficients: the outcome for the Dask estimators.
    unit, time, output, inputs
        Column names the result refers to.
    diagnostics
        First-stage R², criterion value, optimiser status, sample sizes, settings used.
    starts
        One row per starting point of the optimiser (start values, optimum, criterion, status,
        ``chosen``), or ``None`` for the closed-form methods.
    bootstrap_draws
        The bootstrap replications (one row each), or ``None``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.estimate_tfp(example_panel(), method="wooldridge")
    >>> float(result.returns_to_scale) == float(result.elasticities.sum())
    True
    >>> result.tidy()["term"].tolist()
    ['ln_emp', 'ln_capital']
    """

    elasticities: pd.Series
    elasticity_se: pd.Series
    returns_to_scale: float
    returns_to_scale_se: float = float("nan")
    tfp: Any
    unit: str
    time: str
    output: str
    inputs: tuple[str, ...]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    starts: pd.DataFrame | None = None
    bootstrap_draws: pd.DataFrame | None = None
    partitions: Any = None
    # Dask back end: (name of the estimation partitions' graph, writer(fp, name=, resid_name=))
    dask_writer: Any = field(default=None, repr=False)

    def join(
        self, panel: Any, *, name: str = "ln_tfp", resid_name: str = "ln_tfp_resid"
    ) -> pd.DataFrame:
        """A copy of the panel frame with ``ln_tfp`` and ``ln_tfp_resid`` added by firm-year.

        Firm-years outside the estimation sample get ``NaN``. The input is not modified.

        Parameters
        ----------
        panel
            A :class:`~clusterimpact.panel.FirmPanel` or DataFrame with the unit and time columns; for a
            result of the Dask back end, the FirmPartitions it was estimated on (returned as
            FirmPartitions with the two columns computed lazily, partition by partition).
        name, resid_name
            Names of the new columns.
        """
        if self.dask_writer is not None or hasattr(panel, "map_reduce"):
            return self._join_partitions(panel, name, resid_name)
        frame = as_frame(panel)
        require_columns(frame, [self.unit, self.time], what="join keys")
        for c in (name, resid_name):
            if c in frame.columns:
                raise DataError(
                    f"the panel already has a column '{c}'; pass name=/resid_name= to choose "
                    "other names",
                    column=c,
                )
        keys = self.tfp[[self.unit, self.time]]
        out = frame.copy()
        left = pd.MultiIndex.from_arrays([out[self.unit].to_numpy(), out[self.time].to_numpy()])
        right = pd.MultiIndex.from_arrays([keys[self.unit].to_numpy(), keys[self.time].to_numpy()])
        pos = right.get_indexer(left)
        found = pos >= 0
        for src, dst in (("ln_tfp", name), ("ln_tfp_resid", resid_name)):
            vals = np.full(len(out), np.nan)
            vals[found] = self.tfp[src].to_numpy(dtype=float)[pos[found]]
            out[dst] = vals
        return out

    def _join_partitions(self, panel: Any, name: str, resid_name: str) -> Any:
        if self.dask_writer is None or not hasattr(panel, "map_reduce"):
            raise SpecError(
                "join a result of backend='dask' to the FirmPartitions it was estimated on (or use "
                "result.partitions), and an in-memory result to a DataFrame or FirmPanel"
            )
        source, writer = self.dask_writer
        if panel.frame._name != source:
            raise SpecError(
                "these FirmPartitions are not the ones the production function was estimated on; "
                "use result.partitions (the estimation panel with ln_tfp added)"
            )
        for c in (name, resid_name):
            if c in panel.columns:
                raise DataError(
                    f"the panel already has a column '{c}'; pass name=/resid_name= to choose "
                    "other names",
                    column=c,
                )
        return writer(panel, name=name, resid_name=resid_name)

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        lines.append(f"Output: {self.output}; inputs: {', '.join(self.inputs)}")
        rts_se = (
            f" (se {self.returns_to_scale_se:.4f})" if np.isfinite(self.returns_to_scale_se) else ""
        )
        lines.append(f"Returns to scale: {self.returns_to_scale:.4f}{rts_se}")
        d = self.diagnostics
        extra = []
        if "first_stage_r2" in d:
            extra.append(f"first-stage R2 {d['first_stage_r2']:.4f}")
        if "criterion" in d:
            extra.append(f"criterion {d['criterion']:.4g}")
        if "converged" in d:
            extra.append(f"converged {d['converged']}")
        if "standard_errors" in d:
            extra.append(f"SE: {d['standard_errors']}")
        if extra:
            lines.append("; ".join(extra))
        if not np.isfinite(self.std_errors.to_numpy(dtype=float)).any():
            lines.append(
                "No standard errors for this method without a bootstrap: "
                "set n_boot=B (CLI: --bootstrap B) for firm-block bootstrap SEs."
            )
        return lines

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form (CLI contract) with returns to scale, elasticities and diagnostics."""
        out = super().to_dict(level)
        out["returns_to_scale"] = {
            "estimate": float(self.returns_to_scale),
            "std_error": float(self.returns_to_scale_se),
        }
        out["elasticities"] = {
            str(k): {"estimate": float(v), "std_error": float(self.elasticity_se.get(k, np.nan))}
            for k, v in self.elasticities.items()
        }
        out["diagnostics"] = _plain(self.diagnostics)
        if self.starts is not None:
            out["starts"] = _plain(self.starts.to_dict(orient="records"))
        return out


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_plain(v) for v in obj.tolist()]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj
