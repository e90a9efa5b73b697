"""A small staggered-adoption DGP with known ATT(g,t), for the staggered-DiD tests.

``y_it = a_i + l_t + tau_{g}(t) + e_it`` with unit effects correlated with the cohort (so levels differ by
cohort), common year effects (parallel trends hold), and effects that grow with event time and differ by
cohort: ``tau_g(t) = (base_g + slope * (t - g)) * 1{t >= g}``. Returns the long frame and the true
ATT(g,t) table (population values, so every consistent estimator recovers them within its CI).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_staggered(
    n_units: int = 3000,
    years: tuple[int, int] = (2010, 2019),
    cohorts: tuple[int, ...] = (2013, 2015, 2017),
    shares: tuple[float, ...] = (0.15, 0.15, 0.15),
    base: tuple[float, ...] = (0.10, 0.05, 0.02),
    slope: float = 0.03,
    noise: float = 0.2,
    seed: int = 1,
    covariate: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    T = np.arange(years[0], years[1] + 1)
    probs = np.array([*shares, 1 - sum(shares)])
    gi = rng.choice(len(probs), size=n_units, p=probs)
    g = np.where(gi < len(cohorts), np.array([*cohorts, 0])[gi], 0)
    x = rng.normal(size=n_units)
    a = rng.normal(size=n_units) + 0.5 * (g > 0) + 0.3 * x
    lt = 0.05 * (T - T[0]) + rng.normal(scale=0.05, size=T.size)
    unit = np.repeat(np.arange(n_units), T.size)
    year = np.tile(T, n_units)
    gg = np.repeat(g, T.size)
    eff = np.zeros(unit.size)
    truth = []
    for k, c in enumerate(cohorts):
        on = (gg == c) & (year >= c)
        eff[on] = base[k] + slope * (year[on] - c)
        for t in T:
            truth.append(
                {
                    "cohort": c,
                    "period": int(t),
                    "att": (base[k] + slope * (t - c)) if t >= c else 0.0,
                }
            )
    trend_x = 0.02 * (year - T[0]) * np.repeat(x, T.size) if covariate else 0.0
    y = (
        np.repeat(a, T.size)
        + np.tile(lt, n_units)
        + eff
        + trend_x
        + rng.normal(scale=noise, size=unit.size)
    )
    df = pd.DataFrame(
        {
            "firm_id": unit.astype(str),
            "year": year,
            "treat_year": pd.array(np.where(gg > 0, gg, pd.NA), dtype="Int64"),
            "y": y,
            "x": np.repeat(x, T.size),
        }
    )
    df["member"] = (df["treat_year"].fillna(10_000).to_numpy() <= year).astype(int)
    df["rel_year"] = (year - df["treat_year"]).astype("Int64")
    return df, pd.DataFrame(truth)


def truth_aggregates(df: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Population-share-weighted simple ATT and event-time ATTs, as CS aggregates them."""
    units = df.drop_duplicates("firm_id")
    share = units["treat_year"].value_counts()
    tr = truth[truth["period"] >= truth["cohort"]].copy()
    tr["w"] = tr["cohort"].map(share).astype(float)
    out = {"simple": float((tr["att"] * tr["w"]).sum() / tr["w"].sum())}
    tr["e"] = tr["period"] - tr["cohort"]
    for e, sub in tr.groupby("e"):
        out[f"dynamic:{e}"] = float((sub["att"] * sub["w"]).sum() / sub["w"].sum())
    return out
