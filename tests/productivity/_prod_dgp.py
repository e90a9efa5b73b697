"""A small Ackerberg-Caves-Frazer style production DGP with known elasticities (productivity tests).

Value-added Cobb-Douglas ``y = bl*l + bk*k + omega + eps`` with productivity AR(1) in half periods
(omega_{t-1/2} = sqrt(rho) omega_{t-1} + a, omega_t = sqrt(rho) omega_{t-1/2} + b), labour chosen at
t-1/2 from omega_{t-1/2}, capital and a firm-specific AR(1) wage, with partial adjustment towards the
static optimum (share ``adjust``) and a small optimisation error (independent, persistent variation in
labour, so ACF is identified and the objective has no spurious root at ln(VA/L)), capital accumulated from investment chosen at t-1 (strictly increasing in
omega_{t-1}), materials m = 0.5 + 1.5 omega + 0.8 k (an exact proxy that does not depend on labour, so
LP and Wooldridge are identified too) and output noise eps.
Firms enter and leave: each is observed for a random window of years, a few with a one-year gap.
OLS is biased upward for labour (labour responds to the part of omega_t known at t-1/2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUTH = {"ln_emp": 0.6, "ln_capital": 0.3}


def make_production(
    n_firms: int = 1500,
    n_years: int = 10,
    *,
    bl: float = TRUTH["ln_emp"],
    bk: float = TRUTH["ln_capital"],
    rho: float = 0.8,
    sd_xi: float = 0.15,
    sd_eps: float = 0.1,
    sd_wage: float = 0.15,
    seed: int = 1,
    burn: int = 20,
    gaps: bool = True,
    adjust: float = 0.6,
    sd_opt: float = 0.05,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    T = n_years + burn
    sr = np.sqrt(rho)
    sd_half = sd_xi / np.sqrt(1 + rho)  # so omega_t - rho*omega_{t-1} has sd sd_xi
    omega = rng.normal(0, sd_xi / np.sqrt(1 - rho**2), n_firms)
    kscale = rng.normal(0, 1.0, n_firms)
    K = np.exp(kscale + 2.0)
    wage = rng.normal(0, sd_wage, n_firms)
    lnL = np.zeros(n_firms)
    rows = []
    for t in range(T):
        # investment chosen at t-1 from omega_{t-1}
        inv = 0.12 * np.exp(kscale + 2.0) * np.exp(1.5 * omega + rng.normal(0, 0.0, n_firms))
        om_half = sr * omega + rng.normal(0, sd_half, n_firms)
        omega_new = sr * om_half + rng.normal(0, sd_half, n_firms)
        K = 0.88 * K + inv
        k = np.log(K)
        wage = 0.3 * wage + rng.normal(0, sd_wage, n_firms)
        # static labour choice at t-1/2 (expected omega_t = sqrt(rho) * omega_{t-1/2})
        lstar = (np.log(bl) + sr * om_half + bk * k - wage) / (1 - bl)
        lnL = lstar if t == 0 else adjust * lstar + (1 - adjust) * lnL
        lnL = lnL + rng.normal(0, sd_opt, n_firms)
        ystar = bl * lnL + bk * k + omega_new
        y = ystar + rng.normal(0, sd_eps, n_firms)
        # materials demand strictly increasing in omega given capital, not a function of labour
        # (so the Levinsohn-Petrin/Wooldridge first equation identifies the labour elasticity)
        m = 0.5 + 1.5 * omega_new + 0.8 * k
        omega = omega_new
        if t >= burn:
            rows.append(
                pd.DataFrame(
                    {
                        "firm_id": [f"F{i:05d}" for i in range(n_firms)],
                        "year": 2000 + t - burn,
                        "ln_va": y,
                        "ln_emp": lnL,
                        "ln_capital": k,
                        "ln_materials": m,
                        "ln_investment": np.log(inv),
                        "omega": omega,
                    }
                )
            )
    df = pd.concat(rows, ignore_index=True)
    # random observation windows (entry/exit), at least 3 years each
    first = rng.integers(0, n_years - 3, n_firms)
    length = rng.integers(3, n_years + 1, n_firms)
    fi = df["firm_id"].str[1:].astype(int).to_numpy()
    yr = df["year"].to_numpy() - 2000
    keep = (yr >= first[fi]) & (yr < first[fi] + length[fi])
    if gaps:
        gap_year = rng.integers(0, n_years, n_firms)
        has_gap = rng.random(n_firms) < 0.05
        keep &= ~(has_gap[fi] & (yr == gap_year[fi]))
    out = df.loc[keep].sort_values(["firm_id", "year"]).reset_index(drop=True)
    for c in ("va", "emp", "capital", "materials", "investment"):
        out[c] = np.exp(out[f"ln_{c}"])
    return out
