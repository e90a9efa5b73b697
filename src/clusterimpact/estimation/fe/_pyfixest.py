"""The pyfixest engine: the only module that imports pyfixest.

pyfixest receives generated column names only (``civ0``, ``civ1``, ...) and the plain columns
:func:`~clusterimpact.estimation.design.build_design` computed; its answer is read through its public
methods and mapped back to the user's names in an
:class:`~clusterimpact.estimation.fe.result.FixedEffectsResult`.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.design import _Formula, pyfixest_formula
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.provenance import make_provenance


def _fit_pyfixest(
    f: _Formula,
    df: pd.DataFrame,
    vtype: str,
    ccols: list[str],
    weights: str | None,
    G_df: str,
    singletons: bool,
    collinear: str = "drop",
) -> FixedEffectsResult:
    import pyfixest as pf

    # pyfixest sees generated identifiers only (civ0, civ1, ...), never the user's formula text: the
    # transforms and dummies were computed by build_design, so there is nothing left to evaluate
    cols = [f.depvar, *f.terms, *f.fe_columns(), *f.iv_endog, *f.iv_instruments, *ccols]
    cols = list(dict.fromkeys(cols + ([weights] if weights else [])))
    safe = {c: f"civ{j}" for j, c in enumerate(cols)}
    named = {v: k for k, v in safe.items()}

    def back(text: object) -> str:
        return re.sub(r"\bciv\d+\b", lambda mt: named.get(mt.group(0), mt.group(0)), str(text))

    pv: Any = vtype if vtype in ("iid", "hetero") else {"CRV1": "+".join(safe[c] for c in ccols)}
    sub = df[cols].set_axis([safe[c] for c in cols], axis=1)
    n0 = len(sub)
    complete = sub.notna().all(axis=1).to_numpy()
    n_missing = int(n0 - complete.sum())
    ssc = pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df=G_df)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = pf.feols(
                pyfixest_formula(f, safe),
                data=sub,
                vcov=pv,
                weights=safe[weights] if weights else None,
                ssc=ssc,
                fixef_rm="singleton" if singletons else "none",
                fixef_tol=1e-10,
            )
        except Exception as exc:  # pyfixest raises assorted types; map to ours
            raise EstimationError(f"pyfixest could not fit '{f.text}': {back(exc)}") from exc
    collin = [back(c) for c in getattr(m, "_collin_vars", []) or []]
    warns = []
    if collin:
        note = (
            f"regressor(s) {', '.join(map(repr, collin))} absorbed by the fixed effects "
            f"({' + '.join(f.fixed_effects)}) or collinear with regressors before them"
        )
        if collinear == "raise":
            raise EstimationError(f"{note}; drop them")
        warns.append(f"{note}: dropped (fixest's rule)")
        warnings.warn(warns[-1], EstimationWarning, stacklevel=3)
    for w in caught:
        msg = back(w.message)
        if "singleton" in msg or "multicollinearity" in msg:
            continue
        warns.append(msg)
    n_single = int(n0 - n_missing - m._N)
    excl = {}
    if n_missing:
        excl["missing_values"] = n_missing
    if n_single:
        excl["singleton"] = n_single
    n_clusters = None
    df_resid = float(m._df_t)
    if ccols:
        na_pos = np.asarray(sorted(getattr(m, "_na_index", ()) or ()), dtype=np.int64)
        used = sub.iloc[np.setdiff1d(np.arange(len(sub)), na_pos)]
        if len(used) != m._N:  # fall back to the complete rows
            used = sub.loc[complete]
        G = [int(used[safe[c]].nunique()) for c in ccols]
        n_clusters = int(min(G))
        for name, g in zip(ccols, G, strict=True):
            few = inf.cluster_count_check(int(g), name)
            if few:
                warns.append(few)
                warnings.warn(few, EstimationWarning, stacklevel=3)
    coef = m.coef()
    idx = pd.Index([back(c) for c in coef.index])  # e.g. civ1[T.b] -> sector[T.b]
    V = np.asarray(m._vcov)
    return FixedEffectsResult(
        params=pd.Series(coef.to_numpy(), index=idx, name="estimate"),
        std_errors=pd.Series(np.sqrt(np.diag(V)), index=idx, name="std_error"),
        nobs=int(m._N),
        method="twfe",
        provenance=make_provenance(
            "twfe",
            None,
            None,
            formula=f.text,
            vcov=vtype,
            cluster=ccols,
            weights=weights,
            engine="pyfixest",
        ),
        df_resid=df_resid,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        warnings=tuple(warns),
        exclusions=excl,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=float(m._r2),
        r2_within=float(m._r2_within) if f.fixed_effects else float("nan"),
        rss=float("nan"),
        df_k=int(m._df_k),
        n_fe_levels={},
        weights=weights,
        engine="pyfixest",
        collinear=tuple(collin),
    )
