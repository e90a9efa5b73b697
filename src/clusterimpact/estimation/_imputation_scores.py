"""Per-firm influence scores of the imputation estimator's leads and lags, for their joint covariance.

The imputation estimator (Borusyak, Jaravel & Spiess 2024) reports its event-time effects (lags) with
the BJS variance, ``V = U'U`` over firms, where ``U_i`` is firm ``i``'s influence on the estimates (the
treated part ``w_it (tau_it - tau~_it)`` plus the untreated part through the imputed firm and year
effects). Its pre-trend leads come from another regression: the untreated outcomes on firm and year
effects and the lead dummies ``1[t - G_i = e]``, ``e = -K..-1``, clustered by firm. By Frisch-Waugh-
Lovell the leads are ``b = (D~'D~)^{-1} D~'y~`` with ``D~, y~`` the within-transformed dummies and
outcome on the untreated firm-years, and firm ``i``'s influence on them is ``psi_i = (D~'D~)^{-1}
sum_t D~_it e_it`` (``e`` the residuals). Both estimators are sums of firm-level terms, so the joint
covariance of leads and lags is ``sum_i [psi_i; U_i] [psi_i; U_i]'``: its lag block is the BJS variance,
its lead block the leads' cluster sandwich (the lead scores are scaled by the square root of the
regression's small-sample factor so that the block equals the reported lead variances exactly), and
the cross block is what :func:`~clusterimpact.estimation.honest.honest_did` needs to treat leads and
lags as one event study.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clusterimpact.estimation.fe._demean import Absorber, factorize

__all__ = ["joint_scores"]


def joint_scores(
    y: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    rel: np.ndarray,
    untreated: np.ndarray,
    lag_scores: np.ndarray,
    lag_terms: list[str],
    leads: pd.DataFrame | None,
) -> pd.DataFrame | None:
    """Firm x term influence scores of the leads (``rel_year::e``) and the lags, or None without leads.

    Parameters
    ----------
    y, unit, time, rel, untreated
        Outcome, firm codes (0..n_units-1, the rows of ``lag_scores``), year codes, event time and the
        mask of the untreated firm-years, one entry per firm-year of the estimation sample.
    lag_scores, lag_terms
        The BJS influence sums ``U`` (firms x terms) and their terms.
    leads
        The lead regression's tidy frame (terms ``rel_year::e`` and their ``std_error``), or None.
    """
    if leads is None or leads.empty:
        return None
    terms = [str(t) for t in leads["term"]]
    es = [int(t.removeprefix("rel_year::")) for t in terms]
    y0, r0 = y[untreated], rel[untreated]
    u0, t0 = unit[untreated], factorize(time[untreated])[0]
    D = np.column_stack([(r0 == e).astype(float) for e in es])
    ab = Absorber([factorize(u0)[0], t0], primary=0, max_dense=10**9)
    Dt, yt = ab.demean(D), ab.demean(y0)
    bread = np.linalg.inv(Dt.T @ Dt)
    resid = yt - Dt @ (bread @ (Dt.T @ yt))
    n_units = lag_scores.shape[0]
    psi = np.zeros((n_units, len(es)))
    for j in range(len(es)):
        psi[:, j] = np.bincount(u0, weights=Dt[:, j] * resid, minlength=n_units)
    psi = psi @ bread
    raw = np.einsum("ij,ij->j", psi, psi)
    reported = leads["std_error"].to_numpy(dtype=float) ** 2
    scale = float(np.mean(reported / raw))
    cols = [*terms, *lag_terms]
    return pd.DataFrame(np.hstack([psi * np.sqrt(scale), lag_scores]), columns=cols)
