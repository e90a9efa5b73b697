"""Each estimator's own estimand, computed on the realised sample of a simulated data set.

The estimators of the premium average the same firm-year effects with different weights and on
different firm-years. Every entry below is the estimator's target written out on the observed
firm-years (exits, entries and survivors as they are), with the sample rule the estimator applies,
so an estimate is compared with the truth of *its* estimand. Entries are ``{"att", "att_lp", "n"}``:
the mean effect on log TFP (``effect``) and on log labour productivity (``ln_lp - ln_lp0``), and the
number of firm-years (or firms, or cells) behind it. Names are ``"<estimator>:<term>"`` with the
term as the estimator's result names it:

``cs:simple``, ``cs:dynamic:<e>``, ``cs:dynamic``, ``cs:group:<g>``, ``cs:group``,
``cs:calendar:<t>``, ``cs:calendar``
    Callaway & Sant'Anna (``att_gt(..., allow_unbalanced=True)`` then ``aggte``). Cell
    ``ATT(g, t)`` (``t >= g``) is the mean effect over the cohort-``g`` firms observed in both ``g - 1``
    (the base period) and ``t``; cohort weights are the numbers of firms in each cohort (R did's
    ``pg``). ``simple`` weights every post cell by its cohort's size; ``dynamic:e`` averages the cells
    with ``t - g = e`` by cohort size and ``dynamic`` is the mean of ``dynamic:e`` over
    ``0 <= e <= window[1]`` (``aggte(..., max_e=window[1])``); ``group:g`` is the mean of cohort
    ``g``'s post cells and ``group`` their cohort-size-weighted mean; ``calendar:t`` averages the
    cells of year ``t`` by cohort size and ``calendar`` is the mean over years. The cells and
    weights do not depend on the control group (never or not-yet treated firms exist in every year).
``sa:simple``, ``sa:dynamic:<e>``
    Sun & Abraham with ``window``: the mean effect over the member firm-years with
    ``0 <= t - g <= window[1]`` (cells weighted by their observations), and by event time.
``imputation:simple``, ``imputation:dynamic:<e>``, ``imputation:cluster:<name>``
    Borusyak, Jaravel & Spiess: the mean effect over the member firm-years with ``t >= g`` of firms
    observed in at least one year before joining (the others cannot be imputed), overall, by event
    time and by the firm's first cluster.
``duration:member_years::<bin>``, ``duration:average``, ``duration:slope``
    :func:`~clusterimpact.estimation.duration_effects` with ``bins``: the mean effect over the firm-years
    in membership (``member == 1``; years after an exit are left out) of firms observed before
    joining, by bin of ``member_years``, overall, and the OLS slope of the bin means on the bins' mean
    ``member_years``.
``twfe:treated``, ``twfe:member``
    The mean effect over the firm-years a static TWFE regressor marks as treated (``t >= g``, and
    ``member == 1``). TWFE does not estimate these: its coefficient is a variance-weighted average of
    2x2 comparisons that can carry negative weights when effects vary by cohort and duration. The
    rows say how far it lands from the average effect on the firm-years it calls treated.
``matched_did:ATT``
    The matched DiD (mean outcome over event times ``0..window[1]`` minus the outcome in ``g - 1``):
    the firm-equal-weighted mean of each member's mean effect over its observed event times
    ``0..window[1]``, over members observed in ``g - 1`` and at least once in that window. The
    per-firm values are in ``member_window_effects`` so that the target on the *matched* members (the
    estimator leaves unmatched members out) can be computed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_BINS", "DEFAULT_WINDOW", "compute_estimands", "parse_bin"]

#: Event window of the default study (``[estimation] event_window``).
DEFAULT_WINDOW: tuple[int, int] = (-5, 5)
#: Years-of-membership bins of the default study (``duration_bins = [1, 2, 3, 4, 5]``).
DEFAULT_BINS: tuple[str, ...] = ("1", "2", "3", "4", "5+")


def parse_bin(label: str) -> tuple[int, float]:
    """``"3"`` -> (3, 3); ``"5+"`` -> (5, inf); ``"2-4"`` -> (2, 4)."""
    s = str(label)
    if s.endswith("+"):
        return int(s[:-1]), float("inf")
    if "-" in s:
        lo, hi = s.split("-", 1)
        return int(lo), float(hi)
    return int(s), float(s)


def _entry(att: float, att_lp: float, n: int) -> dict[str, Any]:
    return {"att": float(att), "att_lp": float(att_lp), "n": int(n)}


def _means(df: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=True)
    return pd.DataFrame({"att": g["tau"].mean(), "att_lp": g["dlp"].mean(), "n": g["tau"].size()})


def _mean_entry(df: pd.DataFrame) -> dict[str, Any]:
    return _entry(df["tau"].mean(), df["dlp"].mean(), len(df))


def _weighted_entry(values: pd.DataFrame, weights: np.ndarray, n: int) -> dict[str, Any]:
    w = np.asarray(weights, dtype=float) / float(np.sum(weights))
    return _entry(w @ values["att"].to_numpy(), w @ values["att_lp"].to_numpy(), n)


def _by(frame: pd.DataFrame, col: str) -> Iterator[tuple[Any, pd.DataFrame]]:
    """(value, rows) for each distinct value of ``col``, in sorted order."""
    values = frame[col].to_numpy()
    for v in np.unique(values):
        yield v, frame[values == v]


def _named(means: pd.DataFrame, prefix: str) -> dict[str, dict[str, Any]]:
    """``{prefix + key: entry}`` for the rows of a :func:`_means` frame."""
    keys = [str(int(k)) if isinstance(k, (int, np.integer)) else str(k) for k in means.index]
    return {
        f"{prefix}{k}": _entry(a, b, n)
        for k, a, b, n in zip(
            keys,
            means["att"].to_numpy(),
            means["att_lp"].to_numpy(),
            means["n"].to_numpy(),
            strict=True,
        )
    }


def _frame(latent: pd.DataFrame) -> pd.DataFrame:
    """Member firm-years with the effects, event time and the firm's sample facts."""
    g_all = latent["treat_year"].to_numpy()
    d = pd.DataFrame(
        {
            "firm_id": latent["firm_id"].to_numpy(),
            "year": latent["year"].to_numpy(dtype=np.int64),
            "g": g_all.astype(np.int64),
            "cluster": latent["cluster"].to_numpy(dtype=object),
            "member": latent["member"].to_numpy(dtype=np.int64),
            "m": latent["member_years"].to_numpy(dtype=np.int64),
            "tau": latent["effect"].to_numpy(dtype=float),
            "dlp": (latent["ln_lp"] - latent["ln_lp0"]).to_numpy(dtype=float),
        }
    )
    d = d[d["g"] > 0].copy()
    d["e"] = d["year"] - d["g"]
    first = d.groupby("firm_id")["year"].transform("min")
    d["pre_obs"] = first < d["g"]  # observed before joining: imputable
    base = d.loc[d["e"] == -1, "firm_id"]
    d["has_base"] = d["firm_id"].isin(base)  # observed in g - 1: CS / matched DiD base period
    return d


def _cs(d: pd.DataFrame, cohort_size: pd.Series, hi: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    cells = _means(d[(d["e"] >= 0) & d["has_base"]], ["g", "year"]).reset_index()
    if cells.empty:
        return out
    cells["e"] = cells["year"] - cells["g"]
    cells["pg"] = cohort_size.reindex(cells["g"]).to_numpy(dtype=float)
    out["cs:simple"] = _weighted_entry(cells, cells["pg"].to_numpy(), int(cells["n"].sum()))
    dyn = []
    for e, c in _by(cells, "e"):
        ent = _weighted_entry(c, c["pg"].to_numpy(), int(c["n"].sum()))
        out[f"cs:dynamic:{int(e)}"] = ent
        if int(e) <= hi:
            dyn.append(ent)
    out["cs:dynamic"] = _entry(
        np.mean([x["att"] for x in dyn]), np.mean([x["att_lp"] for x in dyn]), len(dyn)
    )
    grp = []
    for g, c in _by(cells, "g"):
        ent = _entry(c["att"].mean(), c["att_lp"].mean(), len(c))
        out[f"cs:group:{int(g)}"] = ent
        grp.append((float(cohort_size[g]), ent))
    gw = np.array([w for w, _ in grp])
    gv = pd.DataFrame([e for _, e in grp])
    out["cs:group"] = _weighted_entry(gv, gw, len(grp))
    cal = []
    for t, c in _by(cells, "year"):
        ent = _weighted_entry(c, c["pg"].to_numpy(), int(c["n"].sum()))
        out[f"cs:calendar:{int(t)}"] = ent
        cal.append(ent)
    out["cs:calendar"] = _entry(
        np.mean([x["att"] for x in cal]), np.mean([x["att_lp"] for x in cal]), len(cal)
    )
    return out


def _duration(d: pd.DataFrame, bins: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    mem = d[(d["member"] == 1) & d["pre_obs"]]
    rows, xs = [], []
    in_bins = np.zeros(len(mem), dtype=bool)
    for b in bins:
        lo, hi = parse_bin(b)
        sel = ((mem["m"] >= lo) & (mem["m"] <= hi)).to_numpy()
        in_bins |= sel
        part = mem[sel]
        if part.empty:
            return {}
        ent = _mean_entry(part)
        out[f"duration:member_years::{b}"] = ent
        rows.append(ent)
        xs.append(float(part["m"].mean()))
    out["duration:average"] = _mean_entry(mem[in_bins])
    if len(rows) >= 2:
        X = np.column_stack([np.ones(len(xs)), xs])
        L = np.linalg.solve(X.T @ X, X.T)[1]
        out["duration:slope"] = _entry(
            L @ np.array([r["att"] for r in rows]),
            L @ np.array([r["att_lp"] for r in rows]),
            int(in_bins.sum()),
        )
    return out


def _member_window(d: pd.DataFrame, hi: int) -> pd.DataFrame:
    """Per member firm observed in g - 1: mean effect over its observed event times 0..hi."""
    w = d[d["has_base"] & (d["e"] >= 0) & (d["e"] <= hi)]
    return _means(w, "firm_id")


def compute_estimands(
    latent: pd.DataFrame,
    window: tuple[int, int] = DEFAULT_WINDOW,
    bins: Sequence[str] = DEFAULT_BINS,
) -> dict[str, Any]:
    """Every estimator's estimand on the realised sample (see the module docstring).

    Parameters
    ----------
    latent
        ``SyntheticData.latent``: firm_id, year, treat_year (0 = never), cluster (first cluster),
        member, member_years, effect, ln_lp, ln_lp0.
    window
        Event window ``(lo, hi)`` of the study (SA's sample, CS's dynamic overall, matched DiD).
    bins
        Years-of-membership bins of the duration profile (``"5+"`` open).

    Returns
    -------
    dict
        ``estimands`` (name -> ``{"att", "att_lp", "n"}``), ``member_window_effects`` (firm_id ->
        ``{"att", "att_lp", "n"}``), ``estimand_window`` and ``estimand_bins``.
    """
    hi = int(window[1])
    firms = latent.groupby("firm_id", sort=False)["treat_year"].first()
    cohort_size = firms[firms > 0].value_counts().sort_index()
    d = _frame(latent)
    est: dict[str, dict[str, Any]] = {}
    est.update(_cs(d, cohort_size, hi))
    post = d[d["e"] >= 0]
    sa = post[post["e"] <= hi]
    if len(sa):
        est["sa:simple"] = _mean_entry(sa)
        est.update(_named(_means(sa, "e"), "sa:dynamic:"))
    imp = post[post["pre_obs"]]
    if len(imp):
        est["imputation:simple"] = _mean_entry(imp)
        est.update(_named(_means(imp, "e"), "imputation:dynamic:"))
        est.update(_named(_means(imp, "cluster"), "imputation:cluster:"))
    est.update(_duration(d, bins))
    if len(post):
        est["twfe:treated"] = _mean_entry(post)
    mem = d[d["member"] == 1]
    if len(mem):
        est["twfe:member"] = _mean_entry(mem)
    per_firm = _member_window(d, hi)
    if len(per_firm):
        est["matched_did:ATT"] = _entry(
            per_firm["att"].mean(), per_firm["att_lp"].mean(), len(per_firm)
        )
    return {
        "estimands": est,
        "member_window_effects": _named(per_firm, ""),
        "estimand_window": [int(window[0]), hi],
        "estimand_bins": [str(b) for b in bins],
    }
