"""Covariate balance diagnostics before and after matching (Stuart 2010; Austin 2009).

Statistics per covariate, optionally weighted and by group (e.g. joining cohort):

* ``smd``: standardized mean difference (weighted treated mean - weighted control mean) / s. The
  denominator follows cobalt's conventions and is always computed on the *unweighted, full* sample, so it
  is the same before and after matching and the change in ``smd`` reflects the change in the means only:
  the treated SD for the ATT, the control SD for the ATC, and sqrt((s_t^2 + s_c^2) / 2) (the pooled SD of
  Rosenbaum & Rubin 1985) for the ATE. Binary covariates are standardized too (cobalt would report the raw
  difference by default; ``diff`` carries it).
* ``var_ratio``: weighted treated variance / weighted control variance (ideal 1; 0.5-2 tolerable).
* ``ecdf_mean``, ``ecdf_max``: mean and maximum absolute difference between the weighted empirical CDFs
  of treated and controls over the pooled support points (the latter is the Kolmogorov-Smirnov statistic).

Weights are matching weights (treated 1, controls the sum of their 1/(number of matches) shares);
unmatched units have weight 0 and drop out of the "after" statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice

__all__ = [
    "BALANCE_COLUMNS",
    "balance_before_after",
    "balance_table",
    "common_support",
    "effective_sample_size",
    "pooled_sd",
    "standardized_difference",
]

Estimand = Literal["att", "ate", "atc"]

BALANCE_COLUMNS = [
    "covariate",
    "mean_treated",
    "mean_control",
    "diff",
    "smd",
    "var_ratio",
    "ecdf_mean",
    "ecdf_max",
    "n_treated",
    "n_control",
    "ess_control",
]


def standardized_difference(diff: float, sd: float) -> float:
    """The one standardized mean difference of the package: ``diff / sd``.

    Parameters
    ----------
    diff
        Treated (or members') mean minus control mean.
    sd
        The standardizing SD (see the module notes for which SD each table uses).

    Returns
    -------
    float
        ``diff / sd``; 0 when ``diff`` is 0 and ``sd`` is not a positive number (no difference to
        scale), NaN when ``diff`` is not 0 and ``sd`` is not a positive number.

    Examples
    --------
    >>> from clusterimpact.balance import pooled_sd, standardized_difference
    >>> standardized_difference(0.5, 2.0)
    0.25
    >>> round(standardized_difference(1.0, float(pooled_sd(1.0, 1.0))), 3)
    1.0
    """
    if sd and np.isfinite(sd) and sd > 0:
        return diff / sd
    return 0.0 if diff == 0 else np.nan


def pooled_sd(sd_treated: Any, sd_control: Any) -> Any:
    """Pooled SD of two groups, ``sqrt((s_t^2 + s_c^2) / 2)`` (Rosenbaum & Rubin 1985); elementwise.

    Examples
    --------
    >>> from clusterimpact.balance import pooled_sd
    >>> round(float(pooled_sd(3.0, 4.0)) ** 2, 12)  # the mean of the two variances
    12.5
    """
    return np.sqrt((sd_treated**2 + sd_control**2) / 2)


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    s = w.sum()
    return float((w * x).sum() / s) if s > 0 else np.nan


def _wvar(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted variance with the reliability-weights correction (equals ``var(ddof=1)`` for w = 1)."""
    s = w.sum()
    if s <= 0:
        return np.nan
    m = (w * x).sum() / s
    s2 = (w**2).sum()
    denom = s - s2 / s
    return float((w * (x - m) ** 2).sum() / denom) if denom > 0 else np.nan


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.balance import effective_sample_size
    >>> effective_sample_size(np.ones(10)), effective_sample_size(np.array([1.0, 1.0, 2.0]))
    (10.0, 2.6666666666666665)
    """
    w = np.asarray(w, float)
    s2 = (w**2).sum()
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0


def _ecdf_stats(
    xt: np.ndarray, wt: np.ndarray, xc: np.ndarray, wc: np.ndarray
) -> tuple[float, float]:
    """Mean and max |F_t - F_c| over the pooled distinct values (weighted eCDFs)."""
    if wt.sum() <= 0 or wc.sum() <= 0:
        return np.nan, np.nan
    keep_t, keep_c = wt > 0, wc > 0
    if not keep_t.all():
        xt, wt = xt[keep_t], wt[keep_t]
    if not keep_c.all():
        xc, wc = xc[keep_c], wc[keep_c]
    if np.all(wt == wt[0]) and np.all(wc == wc[0]):
        return _ecdf_stats_unweighted(xt, xc)
    vals = np.concatenate([xt, xc])
    mass = np.concatenate([wt / wt.sum(), -wc / wc.sum()])
    order = np.argsort(vals, kind="stable")
    v = vals[order]
    gap = np.cumsum(mass[order])  # F_t - F_c just after each sorted point
    last = np.r_[v[1:] != v[:-1], True]  # evaluate once per distinct value, after all its ties
    diff = np.abs(gap[last])
    return float(diff.mean()), float(diff.max())


def _ecdf_stats_unweighted(xt: np.ndarray, xc: np.ndarray) -> tuple[float, float]:
    """Same statistics with equal weights: two plain sorts, no pooled argsort (10^6 controls against
    a few thousand treated take one sort of the controls). On the distinct control values the
    control eCDF is read off the sorted array (index of the last tie + 1) and the treated eCDF is a
    cumulative count of the treated values binned between them."""
    st, sc = np.sort(xt), np.sort(xc)
    nt, nc = len(st), len(sc)
    neq = sc[1:] != sc[:-1]
    if neq.all():  # continuous covariate: every control value is distinct
        dc = sc
        fc = np.arange(1, nc + 1) / nc
    else:
        last_c = np.empty(nc, bool)
        last_c[:-1] = neq
        last_c[-1] = True
        idx = np.flatnonzero(last_c)
        dc = sc[idx]  # distinct control values
        fc = (idx + 1) / nc
    # number of treated values <= dc[i]: treated value v counts from the first dc >= v on
    first_ge = np.searchsorted(dc, st, side="left")
    ft = np.cumsum(np.bincount(first_ge, minlength=len(dc) + 1)[: len(dc)]) / nt
    np.subtract(ft, fc, out=ft)
    np.abs(ft, out=ft)
    total, top, count = float(ft.sum()), float(ft.max()), len(ft)
    dt = np.unique(st)
    pos = np.searchsorted(dc, dt)
    only_t = dt[(pos >= len(dc)) | (dc[np.minimum(pos, len(dc) - 1)] != dt)]
    if len(only_t):
        ft_o = np.searchsorted(st, only_t, side="right") / nt
        fc_o = np.searchsorted(sc, only_t, side="right") / nc
        extra = np.abs(ft_o - fc_o)
        total, top, count = (
            total + float(extra.sum()),
            max(top, float(extra.max())),
            count + len(extra),
        )
    return total / count, top


def balance_table(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    *,
    weights: str | np.ndarray | pd.Series | None = None,
    estimand: Estimand = "att",
    by: str | None = None,
    sd_data: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Balance statistics per covariate (and per group of ``by``).

    Parameters
    ----------
    data
        Units with the treatment indicator and covariates.
    treatment
        Column with 1 for treated and 0 for control units.
    covariates
        Numeric covariates to check.
    weights
        Column name or array of matching weights (None = all 1).
    estimand
        Which SD standardizes the mean difference (see the module notes).
    by
        Optional grouping column (e.g. ``"stack"`` for joining cohorts): one block per group.
    sd_data
        Frame whose unweighted SDs standardize the differences (default: ``data`` itself, or the same
        group of it). Pass the unmatched sample when ``data`` is the matched one so that before and
        after share the denominator.

    Returns
    -------
    DataFrame with :data:`BALANCE_COLUMNS` (plus ``by`` first when grouping).

    Examples
    --------
    >>> from clusterimpact.balance import balance_table
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel().query("year == 2016").assign(d=lambda f: f["treat_year"].notna().astype(int))
    >>> table = balance_table(df, "d", ["ln_emp", "ln_kl", "age"])
    >>> table["covariate"].tolist()
    ['ln_emp', 'ln_kl', 'age']
    >>> bool(table.set_index("covariate").loc["ln_emp", "smd"] > 0.1)  # members are larger
    True
    """
    check_choice("estimand", estimand, ("att", "ate", "atc"))
    w_all = (
        np.ones(len(data))
        if weights is None
        else (
            data[weights].to_numpy(float)
            if isinstance(weights, str)
            else np.asarray(weights, float)
        )
    )
    if by is None:
        return _balance_block(data, treatment, covariates, w_all, estimand, sd_data)
    out = []
    groups = data[by].to_numpy()
    for g in pd.unique(groups):
        sel = groups == g
        sd_block = None
        if sd_data is not None:
            sd_block = sd_data[sd_data[by].to_numpy() == g]
        t = _balance_block(data[sel], treatment, covariates, w_all[sel], estimand, sd_block)
        t.insert(0, by, g)
        out.append(t)
    return (
        pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[by, *BALANCE_COLUMNS])
    )


def _balance_block(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    w: np.ndarray,
    estimand: str,
    sd_data: pd.DataFrame | None,
) -> pd.DataFrame:
    covs = list(covariates)
    XT = _columns_t(data, covs)
    d = data[treatment].to_numpy(float)
    if sd_data is None:
        sdev = _sd_denominator(XT, d, estimand)
    else:
        sdev = _sd_denominator(
            _columns_t(sd_data, covs), sd_data[treatment].to_numpy(float), estimand
        )
    return _block_stats(XT, d, w, sdev, covs)


def balance_before_after(
    data: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str],
    weights: np.ndarray,
    estimand: Estimand = "att",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``balance_table`` unweighted (before) and with ``weights`` (after) on the same sample, both
    standardised by the unweighted SDs; one extraction of the covariates serves both.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.balance import balance_before_after
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel().query("year == 2016").assign(d=lambda f: f["treat_year"].notna().astype(int))
    >>> w = np.where(df["d"] == 1, 1.0, 0.5)
    >>> before, after = balance_before_after(df, "d", ["ln_emp", "age"], w)
    >>> before["covariate"].tolist(), bool((before["smd"].abs() > 0).all())
    (['ln_emp', 'age'], True)
    """
    covs = list(covariates)
    XT = _columns_t(data, covs)
    d = data[treatment].to_numpy(float)
    sdev = _sd_denominator(XT, d, estimand)
    before = _block_stats(XT, d, np.ones(len(d)), sdev, covs)
    after = _block_stats(XT, d, np.asarray(weights, float), sdev, covs)
    return before, after


def _columns_t(data: pd.DataFrame, covs: list[str]) -> np.ndarray:
    """Covariates as a contiguous (k x n) float array: per-covariate work runs over contiguous rows."""
    return np.ascontiguousarray(data[covs].to_numpy(dtype=float, na_value=np.nan).T)


def _sd_denominator(XT: np.ndarray, d: np.ndarray, estimand: str) -> np.ndarray:
    nan_k = np.full(XT.shape[0], np.nan)

    def sd(mask: np.ndarray) -> np.ndarray:
        return XT[:, mask].std(axis=1, ddof=1) if mask.sum() > 1 else nan_k

    if estimand == "att":
        return sd(d == 1)
    if estimand == "atc":
        return sd(d == 0)
    return pooled_sd(sd(d == 1), sd(d == 0))


def _block_stats(
    XT: np.ndarray, d: np.ndarray, w: np.ndarray, sdev: np.ndarray, covs: list[str]
) -> pd.DataFrame:
    k = len(covs)
    nan_k = np.full(k, np.nan)
    t, c = d == 1, d == 0
    wt, wc = w[t], w[c]
    n_t, n_c = int((wt > 0).sum()), int((wc > 0).sum())
    ess_c = effective_sample_size(wc)
    # units of weight 0 contribute nothing: after matching most controls drop out here
    tsel = t & (w > 0) if n_t < len(wt) else t
    csel = c & (w > 0) if n_c < len(wc) else c
    XtT, XcT = XT[:, tsel], XT[:, csel]
    wt, wc = w[tsel], w[csel]

    def moments(Z: np.ndarray, wz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(wz) == 0:
            return nan_k, nan_k
        if np.all(wz == wz[0]):
            m = Z.mean(axis=1)
            if len(wz) < 2:
                return m, nan_k
            dev = Z - m[:, None]
            return m, np.einsum("ij,ij->i", dev, dev) / (len(wz) - 1)
        return (
            np.array([_wmean(Z[j], wz) for j in range(k)]),
            np.array([_wvar(Z[j], wz) for j in range(k)]),
        )

    mt, vt = moments(XtT, wt)
    mc, vc = moments(XcT, wc)
    rows = []
    for j, cov in enumerate(covs):
        em, ex = _ecdf_stats(XtT[j], wt, XcT[j], wc) if len(wt) and len(wc) else (np.nan, np.nan)
        diff = float(mt[j] - mc[j])
        s = float(sdev[j])
        rows.append(
            {
                "covariate": cov,
                "mean_treated": float(mt[j]),
                "mean_control": float(mc[j]),
                "diff": diff,
                "smd": standardized_difference(diff, s),
                "var_ratio": float(vt[j] / vc[j])
                if vc[j] and np.isfinite(vc[j]) and vc[j] > 0
                else np.nan,
                "ecdf_mean": em,
                "ecdf_max": ex,
                "n_treated": n_t,
                "n_control": n_c,
                "ess_control": ess_c,
            }
        )
    return pd.DataFrame(rows, columns=BALANCE_COLUMNS)


def common_support(score: np.ndarray, d: np.ndarray) -> pd.DataFrame:
    """Propensity-score overlap summary: range and quantiles per group, units outside the other's range.

    Returns one row per group (``treated``, ``control``) with n, min, p01, p50, p99, max and
    ``n_outside`` (units whose score lies outside the other group's [min, max]).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.balance import common_support
    >>> score = np.array([0.1, 0.2, 0.45, 0.4, 0.5, 0.9])
    >>> d = np.array([0, 0, 0, 1, 1, 1])
    >>> common_support(score, d)[["group", "n", "n_outside"]]
         group  n  n_outside
    0  treated  3          2
    1  control  3          2
    """
    score = np.asarray(score, float)
    d = np.asarray(d, float)
    rows = []
    for name, own, other in (("treated", d == 1, d == 0), ("control", d == 0, d == 1)):
        s, o = score[own], score[other]
        if len(s) == 0:
            continue
        lo, hi = (o.min(), o.max()) if len(o) else (np.nan, np.nan)
        rows.append(
            {
                "group": name,
                "n": int(len(s)),
                "min": float(s.min()),
                "p01": float(np.quantile(s, 0.01)),
                "p50": float(np.quantile(s, 0.5)),
                "p99": float(np.quantile(s, 0.99)),
                "max": float(s.max()),
                "n_outside": int(((s < lo) | (s > hi)).sum()),
            }
        )
    return pd.DataFrame(rows)
