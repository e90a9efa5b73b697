"""The pyfixest engine: the only module that imports pyfixest.

pyfixest receives generated column names only (``civ0``, ``civ1``, ...) and the plain columns
:func:`~clusterimpact.formula.design.build_design` computed; its answer is read through its public
methods (``coef``, ``se``, ``resid``) and mapped back to the user's names in an
:class:`~clusterimpact.estimation.fe.result.FixedEffectsResult`. What pyfixest keeps only in private
attributes is computed here from the public pieces on the rows it used: the collinear regressors (those
missing from ``coef``), the parameter count and residual degrees of freedom (fixest's rule, as on the fast
path), the rows used (missing values and singletons removed by the same rules), R-squared from
the residuals and the exact within transform. pyfixest 0.60 publishes no covariance
matrix, so ``vcov`` is None on this engine (standard errors are pyfixest's).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.fe._demean import (
    Absorber,
    drop_singletons,
    factorize,
    interact_codes,
)
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import count_df_k
from clusterimpact.formula.design import _Formula, pyfixest_formula
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
    # pyfixest sees generated identifiers only (civ0, civ1, ...), never the user's formula text: the
    # transforms and dummies were computed by build_design, so there is nothing left to evaluate
    cols = [f.depvar, *f.terms, *f.fe_columns(), *f.iv_endog, *f.iv_instruments, *ccols]
    cols = list(dict.fromkeys(cols + ([weights] if weights else [])))
    safe = {c: f"civ{j}" for j, c in enumerate(cols)}
    named = {v: k for k, v in safe.items()}

    def back(text: object) -> str:
        return re.sub(r"\bciv\d+\b", lambda mt: named.get(mt.group(0), mt.group(0)), str(text))

    sub = df[cols].set_axis([safe[c] for c in cols], axis=1)
    m, caught = _run(f, sub, safe, vtype, ccols, weights, G_df, singletons, back)
    coef = m.coef()
    regressors = [safe[c] for c in (*f.terms, *f.iv_endog)]
    collin = [named[c] for c in regressors if c not in coef.index]
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
    for caught_w in caught:
        msg = back(caught_w.message)
        if "singleton" in msg or "multicollinearity" in msg:
            continue
        warns.append(msg)
    u = np.asarray(m.resid(), dtype=float)
    used, excl = _used_rows(sub, len(u), f.fixed_effects, safe)
    fe_codes = [_fe_codes(used, fe, safe) for fe in f.fixed_effects]
    cl_codes = [factorize(used[safe[c]])[0] for c in ccols]
    n_clusters = None
    if ccols:
        G = [int(c.max()) + 1 for c in cl_codes]
        n_clusters = int(min(G))
        for name, g in zip(ccols, G, strict=True):
            few = inf.cluster_count_check(g, name)
            if few:
                warns.append(few)
                warnings.warn(few, EstimationWarning, stacklevel=3)
    levels = [int(c.max()) + 1 for c in fe_codes]
    df_k = count_df_k(len(coef), fe_codes, levels, cl_codes, vtype)
    df_resid = float(n_clusters - 1) if n_clusters is not None else float(len(u) - df_k)
    w = used[safe[weights]].to_numpy(dtype=float) if weights else None
    r2 = r2_within = float("nan")  # none for instrumental variables, as pyfixest
    if f.iv is None:
        r2, r2_within = _r_squared(used[safe[f.depvar]].to_numpy(dtype=float), u, w, fe_codes)
    idx = pd.Index([back(c) for c in coef.index])  # e.g. civ1[T.b] -> sector[T.b]
    return FixedEffectsResult(
        params=pd.Series(coef.to_numpy(), index=idx, name="estimate"),
        std_errors=pd.Series(m.se().to_numpy(dtype=float), index=idx, name="std_error"),
        nobs=len(u),
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
        vcov=None,
        warnings=tuple(warns),
        exclusions=excl,
        formula=f.text,
        depvar=f.depvar,
        fixed_effects=f.fixed_effects,
        vcov_type=vtype,
        cluster="+".join(ccols) if ccols else None,
        n_clusters=n_clusters,
        r2=r2,
        r2_within=r2_within if f.fixed_effects else float("nan"),
        rss=float("nan"),
        df_k=int(df_k),
        n_fe_levels={},
        weights=weights,
        engine="pyfixest",
        collinear=tuple(collin),
    )


def _run(
    f: _Formula,
    sub: pd.DataFrame,
    safe: dict[str, str],
    vtype: str,
    ccols: list[str],
    weights: str | None,
    G_df: str,
    singletons: bool,
    back: Any,
) -> tuple[Any, list[warnings.WarningMessage]]:
    """Fit with pyfixest (fixest's small-sample conventions), recording its warnings."""
    import pyfixest as pf

    pv: Any = vtype if vtype in ("iid", "hetero") else {"CRV1": "+".join(safe[c] for c in ccols)}
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
    return m, list(caught)


def _used_rows(
    sub: pd.DataFrame, nobs: int, fixed_effects: tuple[str, ...], safe: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows pyfixest used, and the rows it left out by reason: rows with a missing value, then the
    singleton fixed-effect levels, found by the same iterative rule
    (:func:`~clusterimpact.estimation.fe._demean.drop_singletons`). pyfixest reports only how many
    rows it used (the length of ``resid()``); the two must agree."""
    complete = sub.loc[sub.notna().all(axis=1).to_numpy()]
    used = complete
    if len(complete) != nobs and fixed_effects:
        keep = drop_singletons([_fe_codes(complete, fe, safe) for fe in fixed_effects])
        used = complete.loc[keep]
    if len(used) != nobs:  # pragma: no cover - a guard: pyfixest's row count must be explained
        raise EstimationError(
            f"pyfixest used {nobs} rows; {len(complete)} have no missing value and {len(used)} are "
            "left after removing singletons: cannot tell which rows it used"
        )
    excl = {}
    if len(sub) != len(complete):
        excl["missing_values"] = len(sub) - len(complete)
    if len(complete) != nobs:
        excl["singleton"] = len(complete) - nobs
    return used, excl


def _fe_codes(used: pd.DataFrame, fe: str, safe: dict[str, str]) -> np.ndarray:
    """Integer codes of a fixed effect (``a`` or an interaction ``a^b``) on the rows used."""
    parts = fe.split("^")
    if len(parts) == 1:
        return factorize(used[safe[parts[0]]])[0]
    return interact_codes([factorize(used[safe[p]])[0] for p in parts])[0]


def _r_squared(
    y: np.ndarray, u: np.ndarray, w: np.ndarray | None, fe_codes: list[np.ndarray]
) -> tuple[float, float]:
    """R-squared of the model and of the within-transformed model (pyfixest's definitions: weighted
    sums of squares; the within transform exact, by :class:`Absorber`)."""
    ww = np.ones_like(y) if w is None else w
    ssu = float(np.sum(ww * u**2))
    ssy = float(np.sum(ww * (y - np.average(y, weights=ww)) ** 2))
    r2 = 1 - ssu / ssy
    if not fe_codes:
        return r2, float("nan")
    yd = Absorber(fe_codes, w).demean(y)
    return r2, 1 - ssu / float(np.sum(ww * yd**2))
