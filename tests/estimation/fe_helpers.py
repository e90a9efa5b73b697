"""Small firm-year panels with known effects for the fixed-effects / imputation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_panel(
    n_firms: int = 300,
    n_years: int = 10,
    seed: int = 0,
    *,
    heterogeneous: bool = True,
    never_share: float = 0.4,
    noise: float = 0.3,
    constant_effect: float | None = None,
    exit_share: float = 0.0,
    rho: float = 0.0,
    level_gap: float = 0.0,
) -> pd.DataFrame:
    """Staggered joining (cohorts 2013, 2015, 2017 or never) with firm and year effects.

    The true effect ``eff`` grows with event time and differs by cohort when ``heterogeneous``; with
    ``constant_effect`` it is that constant for every member firm-year. ``exit_share`` of the members
    leave three years after joining (their post-exit years are not membership years). ``rho`` makes the
    noise a stationary AR(1) within firm (same draws: ``rho=0`` is the iid panel); ``level_gap`` shifts
    the firm effects of future members (selection on levels, which the firm effects absorb).
    """
    rng = np.random.default_rng(seed)
    firms = np.repeat(np.arange(n_firms), n_years)
    years = np.tile(np.arange(2010, 2010 + n_years), n_firms)
    p = (1 - never_share) / 3
    cohorts = rng.choice([2013, 2015, 2017, 0], size=n_firms, p=[p, p, p, never_share])
    g = np.repeat(cohorts, n_years).astype(float)
    g[g == 0] = np.nan
    exits = np.repeat(np.where(rng.random(n_firms) < exit_share, cohorts + 3, 9999), n_years)
    rel = years - g
    ever = np.isfinite(g) & (rel >= 0)
    member = ever & (years < exits)
    member_years = np.where(ever, np.minimum(rel + 1, exits - g), 0)
    if constant_effect is not None:
        eff = np.where(member, constant_effect, 0.0)
    else:
        eff = np.where(
            member,
            0.1 + 0.02 * (member_years - 1) + (0.05 * (g == 2013) if heterogeneous else 0.0),
            0.0,
        )
    alpha = np.repeat(rng.normal(size=n_firms) + level_gap * (cohorts > 0), n_years)
    lam = 0.05 * (years - 2010) + 0.02 * np.sin(years)
    e = rng.normal(size=(n_firms, n_years))
    for j in range(1, n_years if rho else 0):
        e[:, j] = rho * e[:, j - 1] + np.sqrt(1 - rho**2) * e[:, j]
    y = alpha + lam + eff + noise * e.ravel()
    return pd.DataFrame(
        {
            "firm_id": np.char.add("f", firms.astype(str)),
            "year": years.astype(np.int64),
            "treat_year": pd.array(np.where(np.isfinite(g), g, np.nan), dtype="Float64").astype(
                "Int64"
            ),
            "member": member.astype(np.int64),
            "member_years": member_years.astype(np.int64),
            "sector": np.repeat(rng.integers(0, 4, n_firms), n_years).astype(str),
            "x": rng.normal(size=len(firms)),
            "w": rng.uniform(0.5, 2.0, len(firms)),
            "ln_lp": y,
            "eff": eff,
        }
    )
