"""One pass of the chain (production function -> ln TFP -> matching -> DiD / duration) on one sample.

:class:`ChainData` holds the firm panel sorted by (firm, year) with the production-function arrays of
the same rows; :func:`resample_chain` draws one firm-block resample of both with the productivity
bootstrap's draw (:func:`clusterimpact.productivity.bootstrap.firm_block_rows`), so a firm drawn twice
enters every estimator as two firms. :class:`ChainSteps` runs the estimators on a sample: on the full
sample it returns estimates and plug-in standard errors; called on a resample it returns the estimates
as one bootstrap row (the statistic handed to ``firm_bootstrap``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import PanelKeys
from clusterimpact.errors import EstimationError
from clusterimpact.productivity._base import ProductionEstimator
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity.bootstrap import firm_block_rows

__all__ = ["CHAIN_ESTIMATORS", "FIXED_TFP", "ChainData", "ChainSteps", "resample_chain"]

CHAIN_ESTIMATORS: tuple[str, ...] = ("cs", "duration", "matched_did")
# column of the chain's frame holding the full-sample ln TFP (the fixed-TFP bootstrap's outcome)
FIXED_TFP = "__chain_fixed_tfp"


@dataclass
class ChainData:
    """A sample the chain runs on.

    ``frame``: the panel, rows sorted by (firm, year), index 0..n-1; ``unit_codes``: integer firm code
    of each row (contiguous blocks); ``arrays``: the production-function arrays (rows ``pf_rows`` of
    ``frame``, same order); ``arr_index``: for each frame row its row in ``arrays`` or -1 (firm-years
    outside the production-function sample); ``match_seed``: seed of the matching step.
    """

    frame: pd.DataFrame
    unit_codes: np.ndarray
    arrays: Arrays
    pf_rows: np.ndarray
    arr_index: np.ndarray = field(init=False)
    match_seed: int | None = None

    def __post_init__(self) -> None:
        idx = np.full(len(self.frame), -1, dtype=np.int64)
        idx[self.pf_rows] = np.arange(self.pf_rows.size)
        self.arr_index = idx


def resample_chain(data: ChainData, rng: np.random.Generator, *, unit: str) -> ChainData:
    """One firm-block resample of the panel and its production-function arrays (new firm ids 0..)."""
    rows, new_unit = firm_block_rows(data.unit_codes, rng)
    frame = data.frame.take(rows).reset_index(drop=True)
    frame[unit] = new_unit
    sub = data.arr_index[rows]
    keep = sub >= 0
    arrays = data.arrays.take(sub[keep], new_unit[keep])
    return ChainData(
        frame=frame,
        unit_codes=new_unit,
        arrays=arrays,
        pf_rows=np.flatnonzero(keep),
        match_seed=int(rng.integers(0, 2**31 - 1)),
    )


@dataclass(frozen=True)
class ChainResample:
    """Picklable ``resample(data, rng)`` for ``firm_bootstrap`` (binds the firm column's name)."""

    unit: str

    def __call__(self, data: ChainData, rng: np.random.Generator) -> ChainData:
        return resample_chain(data, rng, unit=self.unit)


@dataclass(frozen=True)
class ChainSteps:
    """Settings of the chain and the full-sample quantities the replications need.

    ``theta`` is the full-sample optimiser solution (warm start of every replication; ``None``: each
    replication runs the estimator's own multi-start search). ``names`` are the reported terms in
    order; a replication returns them, then (``fixed``) the estimates of ``fixed_names`` with ln TFP
    held at its full-sample values (column :data:`FIXED_TFP` of the frame: the same firm draw and the
    same matching seed, the production function not re-estimated), and last the number of warnings
    it raised.
    """

    estimator: ProductionEstimator
    outcome: str
    cohort: str
    unit: str
    time: str
    control: str
    window: tuple[int, int]
    bins: tuple[int | str, ...]
    estimators: tuple[str, ...]
    matching: Mapping[str, Any] | None
    theta: np.ndarray | None = None
    names: tuple[str, ...] = ()
    fixed_names: tuple[str, ...] = ()

    @property
    def keys(self) -> PanelKeys:
        """``cohort``, ``unit`` and ``time``: the panel keywords of every estimator it runs."""
        return {"cohort": self.cohort, "unit": self.unit, "time": self.time}

    # -- the production function ------------------------------------------------------------------
    def tfp(self, data: ChainData, *, full: bool) -> tuple[pd.DataFrame, Any]:
        """The frame with the outcome column (ln TFP) recomputed, and the estimator's point."""
        start = None if full else self.theta
        point = self.estimator._point(data.arrays, full=full, start=start)
        conv = point.diagnostics.get("converged", True)
        if not full and not conv:
            raise EstimationError(
                "production function: the optimiser did not converge "
                f"({point.diagnostics.get('optimizer_status', 'no status')})"
            )
        vals = np.full(len(data.frame), np.nan)
        vals[data.pf_rows] = point.ln_tfp
        frame = data.frame.copy(deep=False)
        frame[self.outcome] = vals
        return frame, point

    # -- the estimators ---------------------------------------------------------------------------
    def _cs(self, frame: pd.DataFrame) -> list[tuple[str, float, float]]:
        from clusterimpact.estimation.staggered import aggte, att_gt

        gt = att_gt(
            frame,
            self.outcome,
            **self.keys,
            control=self.control,  # type: ignore[arg-type]
            allow_unbalanced=True,
            cluster=self.unit,
            n_boot=0,
        )
        lo, hi = self.window
        out = []
        for agg in (aggte(gt, "simple"), aggte(gt, "dynamic", min_e=lo, max_e=hi)):
            se = agg.std_errors.reindex(agg.params.index).to_numpy(dtype=float)
            out += [
                (f"cs:{t}", float(v), float(e))
                for (t, v), e in zip(agg.params.items(), se, strict=True)
            ]
        return out

    def _duration(self, frame: pd.DataFrame) -> list[tuple[str, float, float]]:
        from clusterimpact.estimation.duration import duration_effects

        res = duration_effects(
            frame,
            self.outcome,
            bins=self.bins,
            **self.keys,
            leads=abs(self.window[0]),
        )
        se = res.std_errors.reindex(res.params.index).to_numpy(dtype=float)
        return [
            (f"duration:{t}", float(v), float(e))
            for (t, v), e in zip(res.params.items(), se, strict=True)
        ]

    def _matched(self, frame: pd.DataFrame, seed: int | None) -> list[tuple[str, float, float]]:
        from clusterimpact.matching.panel import match_panel

        opts = dict(self.matching or {})
        res = match_panel(
            frame,
            **self.keys,
            control=opts.pop("control", self.control),
            outcome=self.outcome,
            window=self.window,
            seed=seed,
            **opts,
        )
        return [("matched_did:ATT", float(res.params["ATT"]), float(res.std_errors["ATT"]))]

    def run(self, data: ChainData, *, full: bool) -> tuple[pd.DataFrame, Any]:
        """Every estimate on ``data``: a frame (term, estimate, plugin_se) and the production point."""
        frame, point = self.tfp(data, full=full)
        rows: list[tuple[str, float, float]] = []
        se_pf = (
            np.sqrt(np.clip(np.diag(point.vcov), 0, None))
            if point.vcov is not None
            else np.full(len(point.names), np.nan)
        )
        for name, est in zip(point.el_names, point.elasticities, strict=True):
            se = se_pf[point.names.index(name)] if name in point.names else np.nan
            rows.append((f"tfp:{name}", float(est), float(se)))
        rows += self.did(frame, data.match_seed)
        table = pd.DataFrame(rows, columns=["term", "estimate", "plugin_se"])
        return table, point

    def did(self, frame: pd.DataFrame, seed: int | None) -> list[tuple[str, float, float]]:
        """The DiD / duration estimates (term, estimate, plug-in SE) with ``outcome`` in ``frame``."""
        rows: list[tuple[str, float, float]] = []
        if "cs" in self.estimators:
            rows += self._cs(frame)
        if "duration" in self.estimators:
            rows += self._duration(frame)
        if "matched_did" in self.estimators:
            rows += self._matched(frame, seed)
        return rows

    def __call__(self, data: ChainData) -> np.ndarray:
        """One bootstrap row: the estimates of ``names`` (NaN where absent), those of ``fixed_names``
        with ln TFP held fixed, and the warning count."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            table, _ = self.run(data, full=False)
            fixed: list[tuple[str, float, float]] = []
            if self.fixed_names:
                frame = data.frame.copy(deep=False)
                frame[self.outcome] = frame[FIXED_TFP]
                fixed = self.did(frame, data.match_seed)
        out = [
            _values(table, self.names),
            _values(
                pd.DataFrame(fixed, columns=["term", "estimate", "plugin_se"]), self.fixed_names
            ),
        ]
        return np.r_[out[0], out[1], float(len(caught))]


def _values(table: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    est = table.set_index("term")["estimate"]
    return est[~est.index.duplicated()].reindex(list(names)).to_numpy(dtype=float)
