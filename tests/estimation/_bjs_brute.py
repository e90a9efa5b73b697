"""Dense, independent implementation of the Borusyak-Jaravel-Spiess imputation estimator (tests only).

Firm and year dummies written out, ``np.linalg.pinv`` for the untreated regression, and the BJS
conservative variance with the leave-out residuals. Used by test_imputation.py and test_duration.py as
the reference the package's sparse solve is compared with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bjs_brute(df, term_of, leave_out=True, weights=None):
    """Dense implementation of BJS: Z = [firm, year] dummies, v_0 = -Z0 (Z0'Z0)^+ Z1'w1."""
    g = df["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    rel = df["year"].to_numpy() - g
    tr = np.isfinite(g) & (rel >= 0)
    Z = pd.concat(
        [pd.get_dummies(df["firm_id"], dtype=float), pd.get_dummies(df["year"], dtype=float)],
        axis=1,
    ).to_numpy()
    y = df["ln_lp"].to_numpy()
    Z0, Z1 = Z[~tr], Z[tr]
    P0 = np.linalg.pinv(Z0.T @ Z0)
    gam = P0 @ (Z0.T @ y[~tr])
    tau = y[tr] - Z1 @ gam
    eps0 = y[~tr] - Z0 @ gam
    d = df.loc[tr].assign(tau=tau, rel=rel[tr], term=term_of(df.loc[tr], rel[tr]))
    w_raw = np.ones(len(d)) if weights is None else d[weights].to_numpy()
    out = {}
    for term in d["term"].unique():
        w1 = np.where(d["term"] == term, w_raw, 0.0)
        w1 = w1 / w1.sum()
        est = w1 @ tau
        v0 = -Z0 @ (P0 @ (Z1.T @ w1))
        grp = d["treat_year"].astype(str) + "_" + d["term"].astype(str)
        wt = pd.Series(w1 * tau)
        ww = pd.Series(w1)
        S = wt.groupby(grp.to_numpy()).transform("sum").to_numpy()
        N = ww.groupby(grp.to_numpy()).transform("sum").to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):  # rows outside the term: N = 0
            if leave_out:  # a firm's own weight share of its cell; 1e-14: nothing else left in it
                key = [grp.to_numpy(), d["firm_id"].to_numpy()]
                Si = wt.groupby(key).transform("sum").to_numpy()
                Ni = ww.groupby(key).transform("sum").to_numpy()
                rest = N - Ni > 1e-14
                tt = np.where(rest, (S - Si) / np.where(rest, N - Ni, 1), S / N)
            else:
                tt = S / N
        tt = np.where(w1 > 0, tt, 0.0)
        vv = np.zeros(len(df))
        vv[~tr] = v0 * eps0
        vv[tr] = w1 * (tau - tt)
        var = pd.Series(vv).groupby(df["firm_id"].to_numpy()).sum().pow(2).sum()
        out[term] = (est, np.sqrt(var))
    return out
