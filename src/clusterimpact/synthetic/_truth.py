"""The truth of a simulated data set, computed on the realised (observed) firm-years."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.synthetic._estimands import compute_estimands

__all__ = ["compute_truth", "round_floats"]


def round_floats(obj: Any, digits: int = 10) -> Any:
    """Round every float to ``digits`` significant digits (stable JSON across platforms)."""
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            return None
        return float(f"{x:.{digits}g}")
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, dict):
        return {str(k): round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def _cells(df: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "att": g["effect"].mean(),
            "att_lp": g["dlp"].mean(),
            "n": g["effect"].size(),
            "n_firms": g["firm_id"].nunique(),
        }
    )
    return out


def _profile(cells: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    return {
        str(k): {
            "att": float(r.att),
            "att_lp": float(r.att_lp),
            "n": int(r.n),
            "n_firms": int(r.n_firms),
        }
        for k, r in cells.iterrows()
    }


def compute_truth(latent: pd.DataFrame) -> dict[str, Any]:
    """ATT(g,t), event-time, member-years, cluster and cohort effects on the realised sample.

    ``latent`` needs firm_id, year, treat_year (0 = never), cluster, member_years, effect, ln_lp,
    ln_lp0. Effects are means over observed firm-years of ``effect`` (log TFP) and of
    ``ln_lp - ln_lp0`` (labour productivity, potential outcomes from the same draws).
    """
    cohort = latent["treat_year"].to_numpy()
    treated = cohort > 0
    d = pd.DataFrame(
        {
            "firm_id": latent["firm_id"].to_numpy()[treated],
            "year": latent["year"].to_numpy()[treated],
            "cohort": cohort[treated],
            "cluster": latent["cluster"].to_numpy(dtype=object)[treated],
            "member_years": latent["member_years"].to_numpy()[treated],
            "effect": latent["effect"].to_numpy()[treated],
            "dlp": (latent["ln_lp"] - latent["ln_lp0"]).to_numpy()[treated],
        }
    )
    d["e"] = d["year"] - d["cohort"]
    post = d[d["e"] >= 0]
    gt = _cells(d, ["cohort", "year"])
    idx = gt.index
    att_gt = [
        {
            "cohort": int(g),
            "year": int(t),
            "att": float(a),
            "att_lp": float(b),
            "n": int(n),
        }
        for g, t, a, b, n in zip(
            idx.get_level_values(0),
            idx.get_level_values(1),
            gt["att"],
            gt["att_lp"],
            gt["n"],
            strict=True,
        )
    ]
    bins = post.assign(
        b=np.where(post["member_years"] >= 5, "5+", post["member_years"].astype(str))
    )
    truth: dict[str, Any] = {
        "att_overall": float(post["effect"].mean()) if len(post) else 0.0,
        "att_overall_lp": float(post["dlp"].mean()) if len(post) else 0.0,
        "att_gt": att_gt,
        "event_time": _profile(_cells(d, "e")),
        "member_years": _profile(_cells(post, "member_years")),
        "member_years_bins": _profile(_cells(bins, "b")),
        "by_cluster": _profile(_cells(post, "cluster")),
        "by_cohort": _profile(_cells(post, "cohort")),
    }
    truth.update(compute_estimands(latent))
    return truth
