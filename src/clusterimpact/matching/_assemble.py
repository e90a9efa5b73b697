"""The :class:`MatchResult` of a cross-sectional run, built from the core's arrays."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact.balance import balance_before_after, common_support
from clusterimpact.errors import EstimationWarning
from clusterimpact.matching._prepare import Prepared
from clusterimpact.matching.result import MatchResult
from clusterimpact.provenance import make_provenance

if TYPE_CHECKING:
    from clusterimpact.matching.core import Core

__all__ = ["assemble"]


def assemble(
    df: pd.DataFrame,
    p: Prepared,
    core: Core,
    options: dict[str, Any],
    *,
    unit: str | None,
    seed: int | None,
) -> MatchResult:
    """Build the :class:`MatchResult` of a cross-sectional run."""
    estimand = options["estimand"]
    labels = p.frame.index
    d = p.d
    w = core.weights
    treatment = options["treatment"]
    covs = list(p.X.columns)
    # balance: before on all used units (unweighted), after on matched units (weighted)
    used = core.used
    bal_frame = p.X.assign(_d=d)
    if not used.all():
        bal_frame = bal_frame[used]
    before, after = balance_before_after(bal_frame, "_d", covs, w[used], estimand=estimand)
    balance = pd.concat(
        [before.assign(stage="before"), after.assign(stage="after")], ignore_index=True
    )
    balance = balance[["stage", *before.columns]]
    weights = pd.Series(w, index=labels, name="weight")
    matched = p.frame[w > 0].copy()
    matched["weight"] = w[w > 0]
    if core.subclass is not None:
        matched["subclass"] = core.subclass[w > 0]
    if len(core.focal):
        nm = np.bincount(core.focal, minlength=len(d)).astype(float)
        pairs = pd.DataFrame(
            {
                "focal": labels[core.focal],
                "match": labels[core.match],
                "focal_treated": d[core.focal] == 1,
                "distance": core.dist,
                "weight": 1.0 / nm[core.focal],
            }
        )
    else:
        pairs = pd.DataFrame(columns=["focal", "match", "focal_treated", "distance", "weight"])
    # unmatched report
    rows = [(lab, reason, dv) for lab, reason, dv in p.dropped]
    rows += [(labels[i], reason, int(d[i])) for i, reason in core.unmatched]
    unmatched = pd.DataFrame(rows, columns=["row", "reason", "treated"])
    if unit is not None and unit in df.columns and len(unmatched):
        unmatched.insert(1, "unit", df.loc[unmatched["row"], unit].to_numpy())
    exclusions = {str(k): int(v) for k, v in unmatched["reason"].value_counts().items()}
    counts = _counts(df, p, core, treatment)
    propensity = None
    support = None
    if core.ps is not None:
        propensity = pd.DataFrame(
            {
                "score": core.ps.score,
                "index": core.ps.index,
                "treated": d.astype(int),
                "matched": w > 0,
                "weight": w,
            },
            index=labels,
        )
        support = common_support(core.ps.score, d)
    term = estimand.upper()
    if p.y is not None and np.isfinite(core.estimate):
        params = pd.Series([core.estimate], index=[term], name="estimate")
        ses = pd.Series([core.se], index=[term], name="std_error")
    else:
        params = pd.Series(dtype=float, name="estimate")
        ses = pd.Series(dtype=float, name="std_error")
    msgs = list(core.warnings)
    focal_reasons = [r for _, r, _ in rows if r.startswith("no_") or r == "outside_caliper"]
    if focal_reasons:
        c = pd.Series(focal_reasons).value_counts()
        msgs.append(
            "unmatched focal units: "
            + ", ".join(f"{k}={v}" for k, v in c.items())
            + " (listed in result.unmatched)"
        )
    for m in msgs:
        warnings.warn(m, EstimationWarning, stacklevel=3)
    prov_frame = p.frame[[treatment]].assign(_w=w)
    return MatchResult(
        params=params,
        std_errors=ses,
        nobs=int((w > 0).sum()),
        method=options["method"],
        provenance=make_provenance(f"match:{options['method']}", prov_frame, seed, options=options),
        warnings=tuple(msgs),
        exclusions=exclusions,
        estimand=estimand,
        pairs=pairs,
        weights=weights,
        matched=matched,
        balance=balance,
        unmatched=unmatched,
        counts=counts,
        propensity=propensity,
        support=support,
        ps_params=None if core.ps is None else core.ps.params,
        options=options,
    )


def _counts(df: pd.DataFrame, p: Prepared, core: Core, treatment: str) -> pd.DataFrame:
    tr = pd.to_numeric(df[treatment].astype("Float64"), errors="coerce")
    out = []
    for name, g in (("treated", 1), ("control", 0)):
        sel = p.d == g
        out.append(
            {
                "group": name,
                "n_input": int((tr == g).sum()),
                "n_used": int((sel & core.used).sum()),
                "n_matched": int((sel & (core.weights > 0)).sum()),
            }
        )
    return pd.DataFrame(out)
