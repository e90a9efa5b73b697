"""The matched DiD's arithmetic on a cohort-stacked matched panel (no checks, no result object).

It sits in ``matching/`` because :func:`clusterimpact.matching.match_panel` reports the matched DiD
as its ``params["ATT"]`` summary; the public estimator
:func:`clusterimpact.estimation.matched.matched_did` checks its inputs and calls the same arithmetic,
so matching never imports ``estimation`` (the layering of docs/DESIGN.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["did_on_stacks", "estimate_on_stacks"]


def did_on_stacks(
    long: pd.DataFrame, outcome: str, unit: str, window: tuple[int, int] | None
) -> tuple[float, float, int]:
    """(estimate, firm-clustered SE, firm-stacks without the outcome); NaN when a group is empty."""
    est, se, n_missing, _, _ = estimate_on_stacks(long, outcome, unit, window)
    return est, se, n_missing


def estimate_on_stacks(
    long: pd.DataFrame, outcome: str, unit: str, window: tuple[int, int] | None
) -> tuple[float, float, int, int, int]:
    """Weighted DiD of (mean post outcome - outcome in g-1), members vs matched controls."""
    y = pd.to_numeric(long[outcome], errors="coerce").to_numpy(float)
    rel = long["rel_year"].to_numpy()
    key = long["stack_unit"].to_numpy()
    frame = pd.DataFrame({"k": key, "rel": rel, "y": y})
    pre = frame[(frame["rel"] == -1)].groupby("k")["y"].first()
    post_mask = frame["rel"] >= 0
    if window is not None:
        post_mask &= frame["rel"] <= window[1]
    post = frame[post_mask].groupby("k")["y"].mean()
    units = long.drop_duplicates("stack_unit").set_index("stack_unit")[
        [unit, "stack", "treated", "weight"]
    ]
    dlt = (post - pre).reindex(units.index)
    ok = dlt.notna().to_numpy()
    n_missing = int((~ok).sum())
    u = units[ok]
    dv = dlt.to_numpy()[ok]
    t = u["treated"].to_numpy() == 1
    n_t, n_c = int(t.sum()), int((~t).sum())
    if n_t == 0 or n_c == 0:
        return np.nan, np.nan, n_missing, n_t, n_c
    w = _stack_weights(u["weight"].to_numpy(float), t, u["stack"].to_numpy())
    WT, WC = w[t].sum(), w[~t].sum()
    mt = (w[t] * dv[t]).sum() / WT
    mc = (w[~t] * dv[~t]).sum() / WC
    psi = np.where(t, w * (dv - mt) / WT, -w * (dv - mc) / WC)
    firm = u[unit].to_numpy()
    s = pd.Series(psi).groupby(firm).sum().to_numpy()
    G = len(s)
    v = (s**2).sum() * G / max(G - 1, 1)
    return float(mt - mc), float(np.sqrt(v)), n_missing, n_t, n_c


def _stack_weights(w: np.ndarray, t: np.ndarray, stk: np.ndarray) -> np.ndarray:
    """Control weights renormalised within each stack to its members' total; none without controls."""
    wt = pd.Series(np.where(t, w, 0.0)).groupby(stk).transform("sum").to_numpy()
    wc_sum = pd.Series(np.where(~t, w, 0.0)).groupby(stk).transform("sum").to_numpy()
    w = np.where(t, w, np.where(wc_sum > 0, w * wt / np.where(wc_sum > 0, wc_sum, 1), 0.0))
    has_c = pd.Series(~t).groupby(stk).transform("any").to_numpy()
    return np.where(has_c, w, 0.0)
