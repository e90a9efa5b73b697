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

__all__ = ["joint_cov", "joint_scores", "lead_dummies", "lead_moments", "lead_scale", "lead_scores"]


def lead_dummies(rel: np.ndarray, es: list[int]) -> np.ndarray:
    """The lead dummies ``1[t - G_i = e]`` (rows x leads)."""
    return np.column_stack([(rel == e).astype(float) for e in es])


def lead_moments(Dt: np.ndarray, yt: np.ndarray) -> dict[str, np.ndarray]:
    """Additive moments of the lead regression on within-transformed rows: ``D~'D~`` and ``D~'y~``."""
    return {"DD": np.einsum("ni,nj->ij", Dt, Dt), "Dy": Dt.T @ yt}


def lead_scores(
    Dt: np.ndarray, yt: np.ndarray, beta: np.ndarray, unit: np.ndarray, n_units: int
) -> np.ndarray:
    """Firm sums ``sum_t D~_it e_it`` of the lead regression (firms x leads; ``e = y~ - D~ b``)."""
    resid = yt - Dt @ beta
    S = np.zeros((n_units, Dt.shape[1]))
    for j in range(Dt.shape[1]):
        S[:, j] = np.bincount(unit, weights=Dt[:, j] * resid, minlength=n_units)
    return S


def lead_scale(bread: np.ndarray, SS: np.ndarray, reported: np.ndarray) -> float:
    """Factor on the lead scores' cross product ``bread S'S bread`` that gives the reported lead
    variances (the regression's small-sample factor)."""
    raw = np.diag(bread @ SS @ bread)
    return float(np.mean(reported / raw))


def joint_cov(
    SS: np.ndarray,
    SU: np.ndarray,
    UU: np.ndarray,
    bread: np.ndarray,
    scale: float,
    terms: list[str],
) -> pd.DataFrame:
    """The joint covariance of leads and lags from the summed score cross products: ``psi'psi``,
    ``psi'U`` and ``U'U`` with ``psi = S bread sqrt(scale)``."""
    LL = scale * (bread @ SS @ bread)
    LU = np.sqrt(scale) * (bread @ SU)
    V = np.block([[LL, LU], [LU.T, UU]])
    return pd.DataFrame(0.5 * (V + V.T), index=terms, columns=terms)


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
    ab = Absorber([factorize(u0)[0], t0], primary=0, max_dense=10**9)
    Dt, yt = ab.demean(lead_dummies(r0, es)), ab.demean(y0)
    mom = lead_moments(Dt, yt)
    bread = np.linalg.inv(mom["DD"])
    S = lead_scores(Dt, yt, bread @ mom["Dy"], u0, lag_scores.shape[0])
    psi = S @ bread
    reported = leads["std_error"].to_numpy(dtype=float) ** 2
    scale = lead_scale(bread, np.einsum("gi,gj->ij", S, S), reported)
    cols = [*terms, *lag_terms]
    return pd.DataFrame(np.hstack([psi * np.sqrt(scale), lag_scores]), columns=cols)
