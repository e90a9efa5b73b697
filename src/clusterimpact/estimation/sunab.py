"""Sun & Abraham (2021) interaction-weighted event-study estimator.

A TWFE regression saturated in cohort x relative-period indicators,

    y_it = a_i + l_t + sum_{g not in C} sum_{e != ref} delta_{g,e} 1{G_i = g} 1{t - g = e} + u_it,

estimates every cohort-specific average treatment effect on the treated ``CATT(g, e)`` against a clean
control cohort ``C`` (the never-treated units; or, with ``control="last"``, the last-treated cohort
together with any never-treated units, every unit's periods from the last cohort's treatment on being
dropped). The interaction-weighted estimator averages them over cohorts,
``nu_e = sum_g delta_{g,e} Pr(G = g | G in cohorts observed at e)``, with the cohorts' shares of the
observations at relative period ``e`` as weights (held fixed in the delta method, as fixest's
``sunab`` aggregation does). ``simple`` is the observation-weighted average of all ``e >= 0`` cells.
Standard errors: cluster-robust (by unit by default) from the regression, then the delta method.
Written from the paper (Journal of Econometrics 225(2), 2021).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, check_choice, require_columns, require_numeric
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.provenance import make_provenance
from clusterimpact.results import ProfileResult

__all__ = ["SunAbrahamResult", "sun_abraham"]

SAControl = Literal["never", "last"]


@dataclass(frozen=True, kw_only=True)
class SunAbrahamResult(ProfileResult):
    """Interaction-weighted event study (terms ``simple`` and ``dynamic:e``).

    Attributes
    ----------
    catt
        Cohort x relative-period estimates: cohort, e, estimate, std_error, n (observations).
    control
        ``"never"`` or ``"last"`` (the last-treated cohort, and any never-treated units, as control).
    control_cohort
        The control cohort's value (0 for never-treated).
    """

    catt: pd.DataFrame
    control: str = "never"
    control_cohort: float = 0.0


def sun_abraham(
    data: Any,
    outcome: str,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    *,
    control: SAControl = "never",
    ref: int = -1,
    window: tuple[int, int] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    stack: str | None = None,
) -> SunAbrahamResult:
    """Sun & Abraham (2021) interaction-weighted event-study estimates.

    Estimand: ``nu_e``, the average over treated cohorts (weighted by their shares at relative period
    ``e``) of ``CATT(g, e) = E[Y_{g+e}(g) - Y_{g+e}(infinity) | G = g]``, relative to period ``ref``.
    Identifying assumptions: parallel trends between every treated cohort and the control cohort, and no
    anticipation; effects may differ arbitrarily across cohorts and periods.

    Parameters
    ----------
    data
        FirmPanel or long DataFrame.
    outcome
        Outcome column.
    cohort
        First treatment period (0 or missing = never treated).
    unit, time
        Unit and period columns.
    control
        ``"never"`` (never-treated units) or ``"last"``: the last-treated cohort *and the never-treated
        units* (both are untreated before the last cohort's treatment); every unit's periods from the
        last cohort's treatment on are dropped. To compare with
        the last-treated cohort alone, drop the never-treated units from ``data`` first.
    ref
        Omitted relative period (default -1).
    window
        Relative periods outside ``[lo, hi]`` are left out of the estimation sample (counted), else all.
    weights
        Regression weights (e.g. matching weights).
    cluster
        Cluster column (default ``unit``).
    stack
        Stack id of a cohort-stacked panel: unit and period effects become stack-specific.

    Returns
    -------
    SunAbrahamResult
    """
    from clusterimpact.estimation.twfe import feols

    check_choice("control", control, ("never", "last"))
    df0 = as_frame(data)
    cols = [unit, time, cohort, outcome] + [c for c in (weights, cluster, stack) if c]
    require_columns(df0, list(dict.fromkeys(cols)), what="Sun-Abraham")
    require_numeric(df0, [time, outcome], constant=[outcome])
    df = df0[list(dict.fromkeys(cols))].copy()
    exclusions: dict[str, int] = {}
    g = cohort_years(df[cohort], column=cohort)
    y = pd.to_numeric(df[outcome], errors="coerce")
    miss = y.isna().to_numpy()
    if miss.any():
        exclusions["missing outcome"] = int(miss.sum())
        df = df.loc[~miss]
        g = g[~miss]
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    cohorts = np.unique(g[g > 0])
    if cohorts.size == 0:
        raise EstimationError(f"no treated units: column '{cohort}' has no first-treatment period")
    warns: list[str] = []
    if control == "never":
        if not (g == 0).any():
            raise EstimationError(
                "no never-treated units for control='never'; use control='last' (last-treated cohort)"
            )
        ctrl_value = 0.0
        keep = np.ones(len(df), dtype=bool)
    else:
        ctrl_value = float(cohorts.max())
        keep = t < ctrl_value  # never-treated units stay: clean controls too (documented)
        n_drop = int((~keep).sum())
        if n_drop:
            exclusions["periods from the last cohort's treatment on"] = n_drop
        cohorts = cohorts[cohorts < ctrl_value]
        if cohorts.size == 0:
            raise EstimationError(
                "only one treated cohort: nothing left to compare with the last one"
            )
    rel = t - g
    is_treated_cohort = np.isin(g, cohorts)
    if window is not None:
        lo, hi = int(window[0]), int(window[1])
        out = is_treated_cohort & ((rel < lo) | (rel > hi))
        if out.any():
            exclusions["outside the event window"] = int(out.sum())
        keep &= ~out
    df = df.loc[keep].copy()
    g, t, rel, is_treated_cohort = g[keep], t[keep], rel[keep], is_treated_cohort[keep]
    if weights is not None:
        wv = pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float)
    else:
        wv = np.ones(len(df))

    # interaction dummies
    cells = (
        pd.DataFrame({"g": g[is_treated_cohort], "e": rel[is_treated_cohort]})
        .value_counts()
        .sort_index()
    )
    cells = cells[cells.index.get_level_values("e") != ref]
    names: list[str] = []
    X: dict[str, np.ndarray] = {}
    for key in cells.index:
        gg, ee = float(key[0]), float(key[1])
        nm = f"_sa_{int(gg)}_{'m' if ee < 0 else 'p'}{abs(int(ee))}"
        names.append(nm)
        X[nm] = ((g == gg) & (rel == ee)).astype(float)
    if not names:
        raise EstimationError("no cohort x relative-period cells to estimate")
    reg = pd.concat([df.reset_index(drop=True), pd.DataFrame(X)], axis=1)
    if stack is not None:
        reg["_sa_unit"] = reg[stack].astype(str) + "|" + reg[unit].astype(str)
        reg["_sa_time"] = reg[stack].astype(str) + "|" + reg[time].astype(str)
        fe = "_sa_unit + _sa_time"
    else:
        fe = f"{unit} + {time}"
    reg = reg.rename(columns={outcome: "_sa_y"})
    if weights is not None:
        reg["_sa_w"] = wv
    formula = f"_sa_y ~ {' + '.join(names)} | {fe}"
    fit = feols(
        formula,
        reg,
        vcov="cluster",
        cluster=cluster or unit,
        weights="_sa_w" if weights is not None else None,
    )
    dropped = [nm for nm in names if nm not in fit.params.index]
    if dropped:
        raise EstimationError(
            f"cohort x period cells collinear with the fixed effects: {dropped[:5]}"
        )
    delta = fit.params[names].to_numpy(dtype=float)
    V = fit.vcov.loc[names, names].to_numpy(dtype=float) if fit.vcov is not None else None
    if V is None:
        raise EstimationError("the regression returned no covariance matrix")
    cg = np.array([k[0] for k in cells.index], dtype=float)
    ce = np.array([k[1] for k in cells.index], dtype=float)
    cn = cells.to_numpy(dtype=float)
    # cell weights by observations (weighted by regression weights)
    wobs = np.array([wv[(g == a) & (rel == b)].sum() for a, b in zip(cg, ce, strict=True)])

    terms: list[str] = []
    rows: list[np.ndarray] = []
    xs: list[float] = []
    counts: list[float] = []
    post = ce >= 0
    if post.any():
        w = np.where(post, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append("simple")
    for e in np.unique(ce):
        sel = ce == e
        w = np.where(sel, wobs, 0.0)
        rows.append(w / w.sum())
        terms.append(f"dynamic:{int(e)}")
        xs.append(float(e))
        counts.append(float(cn[sel].sum()))
    W = np.vstack(rows)
    est = W @ delta
    vc = W @ V @ W.T
    se = np.sqrt(np.clip(np.diag(vc), 0, None))
    idx = pd.Index(terms, name="term")
    elem = [tm for tm in terms if tm.startswith("dynamic:")]
    catt = pd.DataFrame(
        {
            "cohort": cg.astype(int),
            "e": ce.astype(int),
            "estimate": delta,
            "std_error": np.sqrt(np.clip(np.diag(V), 0, None)),
            "n": cn.astype(int),
        }
    )
    if not np.isfinite(est).all():
        raise DataError("non-finite Sun-Abraham estimates (check weights and the outcome)")
    prov = make_provenance(
        "sa",
        df0[[unit, time, cohort, outcome]],
        control=control,
        ref=ref,
        window=list(window) if window is not None else None,
        weights=weights,
        cluster=cluster or unit,
        stack=stack,
    )
    if ref != -1 and not isinstance(ref, int):
        raise SpecError(f"ref must be an integer, got {ref!r}")
    return SunAbrahamResult(
        params=pd.Series(est, index=idx, name="estimate"),
        std_errors=pd.Series(se, index=idx, name="std_error"),
        nobs=int(fit.nobs),
        method="sa",
        provenance=prov,
        df_resid=None,
        vcov=pd.DataFrame(vc, index=idx, columns=idx),
        warnings=tuple(warns) + tuple(fit.warnings),
        exclusions={**exclusions, **fit.exclusions},
        x=pd.Series(xs, index=pd.Index(elem, name="term"), dtype=float),
        x_label="Periods since treatment",
        reference=float(ref),
        counts=pd.Series(counts, index=pd.Index(elem, name="term"), dtype=float),
        catt=catt,
        control=control,
        control_cohort=ctrl_value,
    )
