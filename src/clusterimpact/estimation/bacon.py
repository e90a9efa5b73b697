"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD coefficient.

With a balanced panel and a binary, absorbing treatment that starts at different times, the TWFE
coefficient of ``y_it = a_i + l_t + b D_it + e_it`` is a weighted average of every 2x2 DiD between timing
groups (Goodman-Bacon 2021, Journal of Econometrics 225(2), Theorem 1):

- ``treated_vs_never``: cohort ``k`` against never-treated units over the whole panel;
- ``early_vs_late``: early cohort ``k`` against a later cohort ``l`` before ``l`` is treated;
- ``late_vs_early``: later cohort ``l`` against an earlier cohort ``k`` after ``k`` is treated (the
  "forbidden" comparison: ``k``'s changing effects enter as if they were trends);
- ``treated_vs_always``: a cohort against units treated throughout the panel (also forbidden).

Each comparison's weight is ``(share of units x share of periods in its sub-panel)^2`` times the
variance of the two-way demeaned treatment within the sub-panel, divided by that variance in the whole
panel; the weights sum to one and the weighted estimates to the TWFE coefficient. Both are computed
here directly from group-by-period means (the paper's eq. 10 in closed form).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import as_frame, require_columns, require_numeric
from clusterimpact.errors import DataError, EstimationError, PanelError
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult

__all__ = ["BaconResult", "bacon_decomposition"]

COMPARISON_TYPES = ("treated_vs_never", "early_vs_late", "late_vs_early", "treated_vs_always")
FORBIDDEN = ("late_vs_early", "treated_vs_always")


@dataclass(frozen=True, kw_only=True)
class BaconResult(EstimateResult):
    """Decomposition of the TWFE coefficient (term ``twfe``) into 2x2 comparisons.

    ``params`` holds ``twfe`` and, per comparison type, the weight-averaged 2x2 estimate; their standard
    errors are NaN (a decomposition, not an estimator).

    Attributes
    ----------
    comparisons
        One row per 2x2 comparison: type, treated (cohort), control (cohort; 0 = never, ``always``
        treated as the first period or earlier), estimate, weight.
    weights_by_type
        Total weight of each comparison type.
    twfe
        The TWFE coefficient (``sum(weight * estimate)``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> firms = df.groupby("firm_id")["year"].agg(["min", "max"])
    >>> keep = firms.index[(firms["min"] <= 2010) & (firms["max"] >= 2020)]
    >>> bacon = ci.bacon_decomposition(df[df["firm_id"].isin(keep) & df["year"].between(2010, 2020)], "ln_lp")
    >>> bacon.weights_by_type.index.tolist()
    ['treated_vs_never', 'early_vs_late', 'late_vs_early', 'treated_vs_always']
    """

    comparisons: pd.DataFrame
    weights_by_type: pd.Series
    twfe: float = float("nan")
    clean_estimate: float = float("nan")
    forbidden_estimate: float = float("nan")
    forbidden_weight: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def overall_term(self) -> str | None:
        """The coefficient decomposed: ``twfe``."""
        return "twfe"

    def predicted_bias_sign(self) -> int:
        """Sign of ``twfe - clean``: what the forbidden comparisons do to TWFE relative to the clean
        (treated vs never, early vs late) comparisons: ``sign(forbidden - clean)`` when they carry weight."""
        if self.forbidden_weight <= 0 or not np.isfinite(self.forbidden_estimate):
            return 0
        return int(np.sign(self.forbidden_estimate - self.clean_estimate))


def bacon_decomposition(
    data: Any,
    outcome: str,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
) -> BaconResult:
    """Goodman-Bacon (2021) decomposition of the TWFE DiD coefficient into 2x2 comparisons.

    Estimand decomposed: ``b`` in ``y_it = a_i + l_t + b 1{t >= G_i} + e_it`` (balanced panel, absorbing
    treatment). Under homogeneous, constant effects every 2x2 estimate equals the effect; with effects that
    change over time the ``late_vs_early`` comparisons are biased (Goodman-Bacon 2021, section 3).

    Parameters
    ----------
    data
        FirmPanel or long DataFrame, balanced (units missing a period are dropped and counted).
    outcome
        Outcome column.
    cohort
        First treatment period (0 or missing = never treated; at or before the first period = always
        treated; after the last period = never treated within the panel).
    unit, time
        Unit and period columns.

    Returns
    -------
    BaconResult

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> firms = df.groupby("firm_id")["year"].agg(["min", "max"])
    >>> keep = firms.index[(firms["min"] <= 2010) & (firms["max"] >= 2020)]
    >>> balanced = df[df["firm_id"].isin(keep) & df["year"].between(2010, 2020)]
    >>> bacon = ci.bacon_decomposition(balanced, "ln_lp")
    >>> total = float((bacon.comparisons["weight"] * bacon.comparisons["estimate"]).sum())
    >>> abs(total - bacon.twfe) < 1e-8  # the weighted 2x2 comparisons add up to the TWFE coefficient
    True
    >>> round(float(bacon.weights_by_type.sum()), 10)
    1.0
    """
    df0 = as_frame(data)
    require_columns(df0, [unit, time, cohort, outcome], what="Bacon decomposition")
    require_numeric(df0, [time, outcome], constant=[outcome])
    exclusions: dict[str, int] = {}
    Y, G, years = _balanced_matrix(df0, outcome, cohort, unit, time, exclusions)
    n, T = Y.shape
    # timing groups: first treated period index (0 = always, T = never)
    start = np.where(G > 0, np.searchsorted(years, G, side="left"), T).astype(int)
    start = np.where(G > years[-1], T, start)
    groups, gidx = np.unique(start, return_inverse=True)
    if groups.size < 2:
        raise EstimationError("need at least two timing groups (e.g. treated and never-treated)")
    N_g = np.bincount(gidx).astype(float)
    Ybar = np.vstack([Y[gidx == k].mean(axis=0) for k in range(groups.size)])  # groups x T
    # full-panel TWFE coefficient
    D = (np.arange(T)[None, :] >= start[:, None]).astype(float)
    Dd = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
    VD = float((Dd**2).mean())
    if VD <= 0:
        raise EstimationError(
            "the treatment has no variation after removing unit and period effects"
        )
    twfe = float((Dd * Y).sum() / (Dd**2).sum())
    comp = _comparisons(groups, Ybar, N_g, n, T, years, VD)
    total = float((comp["weight"] * comp["estimate"]).sum())
    if not np.isclose(total, twfe, rtol=1e-6, atol=1e-9):  # pragma: no cover - a bug guard
        raise EstimationError(
            f"Bacon weights do not reproduce the TWFE coefficient ({total} vs {twfe})"
        )
    return _bacon_result(comp, twfe, n * T, df0[[unit, time, cohort, outcome]], exclusions)


def _balanced_matrix(
    df0: pd.DataFrame,
    outcome: str,
    cohort: str,
    unit: str,
    time: str,
    exclusions: dict[str, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outcome as a units x periods matrix of the balanced units, their cohorts and the periods;
    units missing a period are dropped and counted in ``exclusions``."""
    df = df0[[unit, time, cohort, outcome]].copy()
    y = pd.to_numeric(df[outcome], errors="coerce").to_numpy(dtype=float)
    t = pd.to_numeric(df[time], errors="coerce").to_numpy(dtype=float)
    g = cohort_years(df[cohort], column=cohort)
    ucode, _ = pd.factorize(df[unit], sort=True)
    years = np.unique(t[np.isfinite(t)])
    T = years.size
    if T < 2:
        raise DataError(f"need at least two periods in '{time}'", column=time)
    tcode = np.searchsorted(years, t)
    n_all = int(ucode.max()) + 1
    Y = np.full((n_all, T), np.nan)
    if pd.Series(ucode * T + tcode).duplicated().any():
        raise PanelError(f"duplicate {unit} x {time} rows", column=unit)
    Y[ucode, tcode] = y
    G = np.zeros(n_all)
    G[ucode] = g
    gmin = pd.Series(g).groupby(ucode).min().to_numpy()
    gmax = pd.Series(g).groupby(ucode).max().to_numpy()
    if (gmin != gmax).any():
        raise PanelError(f"the cohort ('{cohort}') changes over time within units", column=cohort)
    ok = np.isfinite(Y).all(axis=1)
    if not ok.all():
        exclusions["unbalanced panel (units)"] = int((~ok).sum())
        Y, G = Y[ok], G[ok]
    if Y.shape[0] == 0:
        raise EstimationError("no balanced units left")
    return Y, G, years


def _comparisons(
    groups: np.ndarray,
    Ybar: np.ndarray,
    N_g: np.ndarray,
    n: int,
    T: int,
    years: np.ndarray,
    VD: float,
) -> pd.DataFrame:
    """Every 2x2 comparison between timing groups: type, treated, control, estimate, weight."""
    rows = []
    order = np.argsort(groups)
    for a_i in order:
        for b_i in order:
            sa, sb = int(groups[a_i]), int(groups[b_i])
            if sa >= sb:
                continue
            # sa earlier than sb; sb may be T (never); sa may be 0 (always)
            if sb == T:  # treated (sa) vs never
                if sa == 0:
                    continue  # always vs never: no variation
                win = np.arange(T)
                typ = "treated_vs_never"
                rows.append(_two_by_two(typ, sa, sb, a_i, b_i, win, Ybar, N_g, n, T, years))
                continue
            # early sa vs late sb: window before sb, sa treated from sa
            if sa > 0:
                win = np.arange(0, sb)
                rows.append(
                    _two_by_two("early_vs_late", sa, sb, a_i, b_i, win, Ybar, N_g, n, T, years)
                )
            # late sb vs early sa: window from sa on, sa is the (already treated) control
            win = np.arange(sa, T)
            typ = "treated_vs_always" if sa == 0 else "late_vs_early"
            rows.append(_two_by_two(typ, sb, sa, b_i, a_i, win, Ybar, N_g, n, T, years, VD=None))
    comp = pd.DataFrame([r for r in rows if r is not None])
    comp["weight"] = comp["raw_weight"] / VD
    comp = comp.drop(columns="raw_weight")
    return comp[comp["weight"] > 1e-14].reset_index(drop=True)


def _weighted_mean(comp: pd.DataFrame) -> float:
    if not len(comp):
        return float("nan")
    return float((comp["weight"] * comp["estimate"]).sum() / comp["weight"].sum())


def _bacon_result(
    comp: pd.DataFrame,
    twfe: float,
    nobs: int,
    used: pd.DataFrame,
    exclusions: dict[str, int],
) -> BaconResult:
    """The result: ``twfe`` and the weighted estimate of each comparison type, the clean and the
    forbidden comparisons' estimates and weight."""
    wt = comp.groupby("type")["weight"].sum().reindex(list(COMPARISON_TYPES)).fillna(0.0)
    params = {"twfe": twfe}
    for typ in COMPARISON_TYPES:
        sub = comp[comp["type"] == typ]
        if len(sub):
            params[typ] = _weighted_mean(sub)
    clean = comp[~comp["type"].isin(FORBIDDEN)]
    forb = comp[comp["type"].isin(FORBIDDEN)]
    idx = pd.Index(list(params), name="term")
    return BaconResult(
        params=pd.Series(list(params.values()), index=idx, name="estimate"),
        std_errors=pd.Series(np.nan, index=idx, name="std_error"),
        nobs=int(nobs),
        method="bacon",
        provenance=make_provenance("bacon", used),
        exclusions=exclusions,
        comparisons=comp,
        weights_by_type=wt,
        twfe=twfe,
        clean_estimate=_weighted_mean(clean),
        forbidden_estimate=_weighted_mean(forb),
        forbidden_weight=float(forb["weight"].sum()) if len(forb) else 0.0,
    )


def _label(s: int, T: int, years: np.ndarray) -> float:
    if s == T:
        return 0.0
    if s == 0:
        return float("-inf")
    return float(years[s])


def _two_by_two(
    typ: str,
    s_tr: int,
    s_ct: int,
    i_tr: int,
    i_ct: int,
    win: np.ndarray,
    Ybar: np.ndarray,
    N_g: np.ndarray,
    n: int,
    T: int,
    years: np.ndarray,
    VD: float | None = None,
) -> dict[str, Any] | None:
    """2x2 DiD of group ``i_tr`` (switching at ``s_tr``) vs ``i_ct`` (constant treatment in ``win``),
    with its unnormalised weight ``(n_sub/n * T_sub/T)^2 * Var(demeaned D in the sub-panel)``."""
    post = win >= s_tr
    pre = ~post
    if not post.any() or not pre.any():
        return None
    yt, yc = Ybar[i_tr, win], Ybar[i_ct, win]
    est = (yt[post].mean() - yt[pre].mean()) - (yc[post].mean() - yc[pre].mean())
    n_tr, n_ct = N_g[i_tr], N_g[i_ct]
    share = n_tr / (n_tr + n_ct)
    dbar = post.mean()
    var_sub = share * (1 - share) * dbar * (1 - dbar)
    raw = ((n_tr + n_ct) / n * win.size / T) ** 2 * var_sub
    ctl = _label(s_ct, T, years)
    return {
        "type": typ,
        "treated": str(int(_label(s_tr, T, years))),
        "control": "always" if ctl == float("-inf") else ("never" if ctl == 0 else str(int(ctl))),
        "estimate": float(est),
        "raw_weight": float(raw),
    }
