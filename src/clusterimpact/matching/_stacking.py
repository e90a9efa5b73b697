"""match_panel's second half: the matched cohorts' pieces, pooled balance and the stacked panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.balance import balance_table, common_support
from clusterimpact.matching._cohorts import Keys


@dataclass(frozen=True)
class Pieces:
    """What the matched cohorts add up to (every frame carries a ``stack`` column)."""

    balance: pd.DataFrame
    weights_frame: pd.DataFrame
    matched: pd.DataFrame
    pairs: pd.DataFrame
    propensity: pd.DataFrame | None
    support: Any


def _pairs_frame(g: int, p: Any, core: Any) -> pd.DataFrame:
    """One cohort's pairs (focal, match, distance, 1/number of matches)."""
    labels = p.frame.index
    nm = np.bincount(core.focal, minlength=len(core.weights)).astype(float)
    return pd.DataFrame(
        {
            "stack": g,
            "focal": labels[core.focal],
            "match": labels[core.match],
            "focal_treated": True,
            "distance": core.dist,
            "weight": 1.0 / nm[core.focal],
        }
    )


def _matched_rows(g: int, p: Any, core: Any) -> pd.DataFrame:
    """One cohort's matched units in g - 1 with treated, weight (and subclass)."""
    w = core.weights
    m = p.frame[w > 0].copy()
    m = m.drop(columns=[c for c in m.columns if c.startswith("_")])
    m.insert(0, "stack", g)
    m["treated"] = p.d[w > 0].astype(int)
    m["weight"] = w[w > 0]
    if core.subclass is not None:
        m["subclass"] = core.subclass[w > 0]
    return m.reset_index(drop=True)


def assemble_stacks(stacks: list[dict[str, Any]], match_cols: list[str], unit: str) -> Pieces:
    """Balance by cohort and pooled, pairs, propensity scores, matched units and weights."""
    bal_parts: list[pd.DataFrame] = []
    bal_pool_before: list[pd.DataFrame] = []
    pair_parts, ps_parts, matched_parts, weight_parts = [], [], [], []
    for st in stacks:
        g, p, core = st["g"], st["p"], st["core"]
        labels = p.frame.index
        w = core.weights
        X = p.X.copy()
        X["_d"] = p.d
        X["stack"] = g
        X["_w"] = w
        u = core.used
        b = balance_table(X[u], "_d", match_cols, estimand="att")
        a = balance_table(X[u], "_d", match_cols, weights=w[u], estimand="att")
        bal_parts += [b.assign(stage="before", stack=g), a.assign(stage="after", stack=g)]
        bal_pool_before.append(X[u])
        if len(core.focal):
            pair_parts.append(_pairs_frame(g, p, core))
        if core.ps is not None:
            ps_parts.append(
                pd.DataFrame(
                    {
                        "stack": g,
                        unit: labels,
                        "score": core.ps.score,
                        "index": core.ps.index,
                        "treated": p.d.astype(int),
                        "matched": w > 0,
                        "weight": w,
                    }
                )
            )
        matched_parts.append(_matched_rows(g, p, core))
        weight_parts.append(
            pd.DataFrame({"stack": g, unit: labels, "treated": p.d.astype(int), "weight": w})
        )
    balance = _pooled_balance(bal_parts, pd.concat(bal_pool_before, ignore_index=True), match_cols)
    pairs = (
        pd.concat(pair_parts, ignore_index=True)
        if pair_parts
        else pd.DataFrame(
            columns=["stack", "focal", "match", "focal_treated", "distance", "weight"]
        )
    )
    propensity = pd.concat(ps_parts, ignore_index=True) if ps_parts else None
    support = None
    if propensity is not None:
        support = common_support(propensity["score"].to_numpy(), propensity["treated"].to_numpy())
    return Pieces(
        balance=balance,
        weights_frame=pd.concat(weight_parts, ignore_index=True),
        matched=pd.concat(matched_parts, ignore_index=True),
        pairs=pairs,
        propensity=propensity,
        support=support,
    )


def _pooled_balance(
    bal_parts: list[pd.DataFrame], pooled: pd.DataFrame, match_cols: list[str]
) -> pd.DataFrame:
    """The cohorts' balance rows plus the pooled rows (stack <NA>)."""
    # pooled balance: each cohort standardised by its own SD would differ; pool with the pooled SDs
    pb = balance_table(pooled, "_d", match_cols, estimand="att")
    pa = balance_table(pooled, "_d", match_cols, weights=pooled["_w"].to_numpy(), estimand="att")
    na = pd.array([pd.NA] * len(pb), dtype="Int64")
    bal_parts = [
        *bal_parts,
        pb.assign(stage="before", stack=na),
        pa.assign(stage="after", stack=na),
    ]
    balance = pd.concat(bal_parts, ignore_index=True)
    balance["stack"] = balance["stack"].astype("Int64")
    return balance[["stage", "stack", *[c for c in balance.columns if c not in ("stage", "stack")]]]


def stacked_panel(
    df: pd.DataFrame,
    weights_frame: pd.DataFrame,
    k: Keys,
    window: tuple[int, int] | None,
    unit: str,
    time: str,
    msgs: list[str],
) -> tuple[pd.DataFrame, int]:
    """Every matched unit's rows within ``window`` of its stack; not-yet controls stop at joining.

    Returns the stacked panel and the number of control rows left out from their own joining on
    (said in ``msgs`` too).
    """
    sel = weights_frame[weights_frame["weight"] > 0]
    sel_code = k.units.get_indexer(pd.Index(sel[unit].to_numpy()))
    row_order = np.argsort(k.ucode, kind="stable")
    sorted_codes = k.ucode[row_order]
    first = np.searchsorted(sorted_codes, sel_code, side="left")
    last = np.searchsorted(sorted_codes, sel_code, side="right")
    cnt = last - first
    which = np.repeat(np.arange(len(sel)), cnt)
    rows = row_order[np.repeat(first - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())]
    long = df.iloc[rows].reset_index(drop=True)
    for c in ("stack", "treated", "weight"):
        long[c] = sel[c].to_numpy()[which]
    long["_g"] = k.gvals[rows]
    long["_y"] = k.years[rows]
    rel = long["_y"].to_numpy() - long["stack"].to_numpy()
    keep = np.ones(len(long), bool)
    if window is not None:
        keep &= (rel >= window[0]) & (rel <= window[1])
    own = long["_g"].to_numpy()
    after_own = (long["treated"].to_numpy() == 0) & (long["_y"].to_numpy() >= own)
    n_after_own = int((keep & after_own).sum())
    keep &= ~after_own
    long = long[keep].copy()
    rel = rel[keep]
    if "rel_year" in long.columns:
        long = long.rename(columns={"rel_year": "rel_year_own"})
    long["rel_year"] = rel.astype(np.int64)
    long["stack_cohort"] = np.where(long["treated"].to_numpy() == 1, long["stack"].to_numpy(), 0)
    long["stack_unit"] = long["stack"].astype(str) + ":" + long[unit].astype(str)
    front = ["stack", "stack_unit", unit, time, "rel_year", "treated", "stack_cohort", "weight"]
    long = long[front + [c for c in long.columns if c not in front and c not in ("_g", "_y")]]
    long = long.sort_values(["stack", "stack_unit", time], kind="mergesort").reset_index(drop=True)
    if n_after_own:
        msgs.append(
            f"{n_after_own} rows of not-yet-member controls from their own joining year on were left "
            "out of the stacked panel"
        )
    return long, n_after_own


def group_counts(weights_frame: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Members and controls: units in the cohorts' samples, firm-stacks used, matched."""
    return pd.DataFrame(
        [
            {
                "group": name,
                "n_input": int(weights_frame.loc[weights_frame["treated"] == g, unit].nunique()),
                "n_used": int((weights_frame["treated"] == g).sum()),
                "n_matched": int(
                    ((weights_frame["treated"] == g) & (weights_frame["weight"] > 0)).sum()
                ),
            }
            for name, g in (("treated", 1), ("control", 0))
        ]
    )
