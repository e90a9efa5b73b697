"""Report step ``tfp``: the production function by each requested method, and ln TFP as outcomes."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from clusterimpact.productivity import estimate_tfp
from clusterimpact.productivity.api import Method
from clusterimpact.report._common import frame, on_engine
from clusterimpact.report._study import Study

__all__ = ["step_tfp"]

_BOOTSTRAPPED = ("op", "lp", "acf")
# the methods whose estimator is a map-reduce over firm partitions on the Dask engine
_ON_DASK = ("ols", "fe", "wooldridge")


def step_tfp(study: Study) -> str:
    """Estimate the production function by each requested method and add ln_tfp_<method>."""
    methods = study.spec.outcomes.tfp_methods
    if not methods:
        return "no TFP outcome requested"
    df = frame(study)
    reps = study.spec.bootstrap.tfp_reps
    done, rows = [], []
    for m in methods:
        # ACF, OP and LP on Dask have no bootstrap: with bootstrapped SEs they run in memory
        on_dask = m in _ON_DASK or (m in _BOOTSTRAPPED and not reps)
        data, on = on_engine(study, f"tfp:{m}", estimate_tfp, dask_path=on_dask)
        res = estimate_tfp(
            data if on else (study.panel if study.panel is not None else df),
            method=cast(Method, m),  # the spec checked it against the methods
            output="ln_va",
            free=["ln_emp"],
            state=["ln_capital"],
            proxy="ln_investment" if m == "op" else "ln_materials",
            seed=study.seed + 2,
            n_boot=reps if m in _BOOTSTRAPPED else 0,
            n_jobs=2 if reps and m in _BOOTSTRAPPED else 1,
            **on,
        )
        study.results[f"tfp:{m}"] = res
        df = _joined(res, df, data if on else None, m)
        done.append(m)
        for r in res.tidy().to_dict("records"):
            rows.append(
                {
                    "method": m,
                    "input": str(r["term"]),
                    "elasticity": float(r["estimate"]),
                    "std_error": float(r["std_error"]),
                    "conf_low": float(r["conf_low"]),
                    "conf_high": float(r["conf_high"]),
                }
            )
    study.frame = df
    table = pd.DataFrame(rows)
    if study.truth and "elasticities" in study.truth:
        el = study.truth["elasticities"]
        table["truth"] = [float(el.get(i, np.nan)) for i in table["input"]]
    study.add_table(
        "production_functions",
        "productivity",
        "Production-function estimates",
        "Value-added Cobb-Douglas in logs: output ln_va, free input ln_emp, state ln_capital, proxy "
        "ln_materials (ln_investment for Olley-Pakes); log TFP is the estimated productivity term. "
        + _se_note(reps)
        + " The premium estimates on ln TFP treat TFP as data (first-stage uncertainty not "
        "propagated).",
        table,
        digits=4,
    )
    return f"ln TFP by {', '.join(done)}"


def _joined(res: Any, df: pd.DataFrame, partitions: Any, m: str) -> pd.DataFrame:
    """The frame with ``ln_tfp_<m>`` and ``ln_tfp_<m>_resid``; a Dask result's columns are computed
    on its partitions and brought back by firm-year (the later steps read the frame in memory)."""
    name, resid = f"ln_tfp_{m}", f"ln_tfp_{m}_resid"
    if partitions is None:
        return res.join(df, name=name, resid_name=resid)
    on_dask = res.join(partitions, name=name, resid_name=resid)
    back = on_dask.frame[["firm_id", "year", name, resid]].compute()
    where = pd.MultiIndex.from_frame(back[["firm_id", "year"]])
    pos = where.get_indexer(pd.MultiIndex.from_frame(df[["firm_id", "year"]]))
    out = df.copy()
    for c in (name, resid):
        vals = np.full(len(out), np.nan)
        vals[pos >= 0] = back[c].to_numpy(dtype=float)[pos[pos >= 0]]
        out[c] = vals
    return out


def _se_note(reps: int) -> str:
    if reps:
        return (
            f"Standard errors: firm-block bootstrap with {reps} replications for Olley-Pakes, "
            "Levinsohn-Petrin and ACF; analytic for OLS, FE and Wooldridge (GMM)."
        )
    return (
        "Standard errors: analytic where the method has them (OLS, FE, Wooldridge GMM); "
        "Olley-Pakes, Levinsohn-Petrin and ACF need the firm-block bootstrap, which this study "
        "skipped ([bootstrap] tfp_reps = 0)."
    )
