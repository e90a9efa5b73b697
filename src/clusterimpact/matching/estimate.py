"""Estimates and standard errors from matches.

Pair-based matching (nearest neighbour, Abadie-Imbens) follows Abadie & Imbens (2006, 2011):

* each focal unit i (treated for the ATT, controls for the ATC, everyone for the ATE) has a set J(i) of
  matches from the other group (several when ``neighbors > 1`` or when distances tie); its missing
  potential outcome is the mean over J(i), optionally bias-adjusted with a regression of the outcome on
  the covariates in the matches' group, fitted on the units used as matches and weighted by the number of
  times they are used (Abadie & Imbens 2011);
* tau_hat is the mean over matched focal units of the imputed individual effects;
* with w_i = sum over focal l with i in J(l) of 1/#J(l) (K_M(i)/M in the paper) and
  q_i = sum of 1/#J(l)^2, and f_i = 1 for matched focal units, the variance of the sample estimand is
  V_s = N_F^-2 sum_i (f_i + w_i)^2 sigma^2_i, and of the population estimand
  V_p = N_F^-2 [sum_focal (tau_i - tau_hat)^2 + sum_i (w_i^2 + 2 f_i w_i - q_i) sigma^2_i]
  (AI 2006, Theorems 6-7, written for a varying number of matches);
* sigma^2_i (robust) = #H(i) / (#H(i) + 1) * (Y_i - mean over H(i))^2, H(i) being the ``var_neighbors``
  nearest units of i's *own* group in the matching metric, ties kept (AI 2006, section 4.3); ``iid``
  assumes one conditional variance per group and averages the robust estimates within it.

Stratum-based matching (exact, CEM) gives a weighted (stratified) difference in means; its standard
error treats the weights as fixed and uses the within-stratum outcome variances (see
:func:`strata_estimate`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pair_estimate", "strata_estimate"]


def _wls_slopes(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Slopes (no intercept returned) of a weighted least-squares fit of y on [1, X]."""
    Z = np.column_stack([np.ones(len(X)), X])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(Z * sw[:, None], y * sw, rcond=None)
    return coef[1:]


def pair_estimate(
    y: np.ndarray,
    d: np.ndarray,
    focal: np.ndarray,
    match: np.ndarray,
    sigma2: np.ndarray,
    *,
    X_bias: np.ndarray | None = None,
    se_target: str = "population",
) -> tuple[float, float, dict[str, np.ndarray]]:
    """Matching estimate and Abadie-Imbens standard error from pairs.

    Parameters
    ----------
    y, d
        Outcome and treatment of every unit (positions).
    focal, match
        Pair arrays: focal unit and one of its matches (positions), one row per pair.
    sigma2
        Conditional outcome variance estimate per unit (only units in pairs are read).
    X_bias
        Covariates for the bias adjustment (None = no adjustment).
    se_target
        ``"population"`` (PATT/PATE) or ``"sample"`` (SATT/SATE) variance.

    Returns
    -------
    (estimate, standard error, per-unit arrays ``tau`` (NaN for non-focal), ``w``, ``q``, ``f``).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.matching.estimate import pair_estimate
    >>> y = np.array([2.0, 3.0, 4.0, 1.0, 1.5, 3.0])
    >>> d = np.array([1, 1, 1, 0, 0, 0])
    >>> tau, se, parts = pair_estimate(y, d, np.array([0, 1, 2]), np.array([3, 4, 5]), np.ones(6))
    >>> round(tau, 4), parts["tau"][:3].tolist()  # the mean of the pair differences
    (1.1667, [1.0, 1.5, 1.0])
    """
    n = len(y)
    nmatch = np.bincount(focal, minlength=n).astype(float)
    inv = 1.0 / nmatch[focal]
    w = np.bincount(match, weights=inv, minlength=n)
    q = np.bincount(match, weights=inv**2, minlength=n)
    f = (nmatch > 0).astype(float)
    yhat: np.ndarray = np.bincount(focal, weights=y[match] * inv, minlength=n).astype(float)
    if X_bias is not None:
        # imputed outcome + beta_g' (X_focal - mean X_matches), beta_g from the matches' group g
        adj = np.zeros(n)
        for g in (0, 1):
            users = (w > 0) & (d == g)
            if users.sum() <= X_bias.shape[1] + 1:
                continue
            beta = _wls_slopes(X_bias[users], y[users], w[users])
            sel = d[match] == g  # pairs whose match is in group g (focal in the other)
            xm = np.zeros((n, X_bias.shape[1]))
            for k in range(X_bias.shape[1]):
                xm[:, k] = np.bincount(
                    focal[sel], weights=X_bias[match[sel], k] * inv[sel], minlength=n
                )
            has = np.bincount(focal[sel], minlength=n) > 0
            adj[has] = (X_bias[has] - xm[has]) @ beta
        yhat = yhat + adj
    is_f = f > 0
    tau = np.full(n, np.nan)
    tau[is_f] = np.where(d[is_f] == 1, y[is_f] - yhat[is_f], yhat[is_f] - y[is_f])
    nf = is_f.sum()
    est = float(tau[is_f].mean())
    s2 = np.where(np.isfinite(sigma2), sigma2, 0.0)
    if se_target == "sample":
        v = ((f + w) ** 2 * s2).sum() / nf**2
    else:
        v = (((tau[is_f] - est) ** 2).sum() + ((w**2 + 2 * f * w - q) * s2).sum()) / nf**2
    return est, float(np.sqrt(max(v, 0.0))), {"tau": tau, "w": w, "q": q, "f": f}


def strata_estimate(
    y: np.ndarray, d: np.ndarray, w: np.ndarray, strata: np.ndarray | None = None
) -> tuple[float, float]:
    """Weighted difference in means and its standard error.

    With ``strata`` (exact / CEM subclasses), tau_hat = sum_i a_i y_i with a_i = w_i / W_t for treated
    and -w_i / W_c for controls, and Var = sum_i a_i^2 s^2_(stratum, group of i): the within-cell
    variance (n - 1 denominator), or for single-unit cells the pooled within-cell variance of the same
    group. Without strata: the HC1 standard error of the weighted regression of y on 1 and d.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.matching.estimate import strata_estimate
    >>> y = np.array([2.0, 3.0, 4.0, 1.0, 1.5, 3.0])
    >>> d = np.array([1, 1, 1, 0, 0, 0])
    >>> tau, se = strata_estimate(y, d, np.ones(6), np.array([0, 1, 2, 0, 1, 2]))
    >>> round(tau, 4)  # mean(2, 3, 4) - mean(1, 1.5, 3)
    1.1667
    """
    t, c = (d == 1) & (w > 0), (d == 0) & (w > 0)
    wt, wc = w[t].sum(), w[c].sum()
    mt = (w[t] * y[t]).sum() / wt
    mc = (w[c] * y[c]).sum() / wc
    if strata is None:
        n = int(t.sum() + c.sum())
        v = ((w[t] ** 2) * (y[t] - mt) ** 2).sum() / wt**2 + (
            (w[c] ** 2) * (y[c] - mc) ** 2
        ).sum() / wc**2
        v *= n / max(n - 2, 1)
        return float(mt - mc), float(np.sqrt(v))
    a = np.where(t, w / wt, np.where(c, -w / wc, 0.0))
    v = 0.0
    for grp in (t, c):
        s = strata[grp]
        yy = y[grp]
        ns = np.bincount(s).astype(float)
        mean = np.bincount(s, weights=yy) / np.where(ns > 0, ns, 1)
        ss = np.bincount(s, weights=(yy - mean[s]) ** 2)
        multi = ns > 1
        pooled = ss[multi].sum() / max((ns[multi] - 1).sum(), 1) if multi.any() else yy.var(ddof=1)
        cell_var = np.where(multi, ss / np.where(multi, ns - 1, 1), pooled)
        v += float((a[grp] ** 2 * cell_var[s]).sum())
    return float(mt - mc), float(np.sqrt(v))
