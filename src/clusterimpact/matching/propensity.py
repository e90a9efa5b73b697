"""Propensity scores (Rosenbaum & Rubin 1983) by logit or probit maximum likelihood.

The score is estimated on the rows that survive the missing-value screen. Matching uses the *linear
predictor* (the logit or probit index) by default, as Rosenbaum & Rubin (1985) recommend, and the
caliper is expressed in standard deviations of that index (Austin 2011 suggests 0.2 SD of the logit).

Perfect separation (some covariate combination predicts treatment exactly) makes the maximum-likelihood
estimates diverge and the scores 0 or 1: matching on such a score is meaningless, so it raises
:class:`~clusterimpact.errors.EstimationError` naming the likely culprits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError

__all__ = ["Link", "PropensityFit", "fit_propensity"]

Link = Literal["logit", "probit"]

# fitted probabilities this close to 0 or 1 signal (quasi-)separation
_SEP_EPS = 1e-10


@dataclass(frozen=True)
class PropensityFit:
    """A fitted propensity-score model.

    Attributes
    ----------
    score
        Fitted probabilities P(D = 1 | X), one per estimation row.
    index
        Linear predictor X'b (logit or probit index), one per estimation row.
    params
        Coefficients, labelled by design-matrix column.
    bse
        Their maximum-likelihood standard errors.
    link
        ``"logit"`` or ``"probit"``.
    design
        The design matrix used (with constant), kept for the Abadie-Imbens (2016) adjustment.
    converged
        Whether the optimiser converged.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from clusterimpact.matching.propensity import fit_propensity
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=500)})
    >>> d = (rng.uniform(size=500) < 0.3).astype(int)
    >>> fit = fit_propensity(X, d, link="probit")
    >>> fit.link, bool(((fit.score > 0) & (fit.score < 1)).all())
    ('probit', True)
    """

    score: np.ndarray
    index: np.ndarray
    params: pd.Series
    bse: pd.Series
    link: str
    design: np.ndarray
    converged: bool


def fit_propensity(X: pd.DataFrame, d: np.ndarray, link: Link = "logit") -> PropensityFit:
    """Fit P(D = 1 | X) by maximum likelihood.

    Parameters
    ----------
    X
        Covariates (no constant: one is added); numeric, no missing values.
    d
        Treatment indicator (0/1).
    link
        ``"logit"`` or ``"probit"``.

    Raises
    ------
    EstimationError
        Perfect or quasi-complete separation, a singular design, or no variation in ``d``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from clusterimpact.matching.propensity import fit_propensity
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=2000)})
    >>> d = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(0.5 + X["x"])))).astype(int).to_numpy()
    >>> fit = fit_propensity(X, d)
    >>> fit.params.index.tolist(), fit.converged
    (['const', 'x'], True)
    >>> bool((abs(fit.params - [0.5, 1.0]) < 3 * fit.bse).all())  # the truth within 3 SE
    True
    """
    d = np.asarray(d, dtype=float)
    if d.min() == d.max():
        raise EstimationError("the treatment has no variation: a propensity score cannot be fitted")
    cols = list(X.columns)
    # the design is held transposed (k x n, rows contiguous): every pass below is over one row
    ZT = np.empty((X.shape[1] + 1, len(X)))
    ZT[0] = 1.0
    ZT[1:] = X.to_numpy(dtype=float).T
    names = ["const", *map(str, cols)]
    const = ZT.min(axis=1) == ZT.max(axis=1)
    const_cols = [c for c, k in zip(cols, const[1:], strict=True) if k]
    if const_cols:
        raise EstimationError(
            f"propensity model: covariate(s) {', '.join(const_cols)} are constant in the estimation "
            "sample; drop them (or match exactly on them instead)"
        )
    gram = ZT @ ZT.T  # Z'Z: rank, column moments for scaling
    rank = _rank(gram)
    if rank < ZT.shape[0]:
        raise EstimationError(
            f"propensity model: the covariates are collinear (design matrix of rank {rank} < "
            f"{ZT.shape[0]} columns: {', '.join(names)}); drop redundant ones"
        )
    params, converged, cov = _newton(ZT.T, d, link, gram=gram)
    index = params @ ZT
    score = _cdf(index, link)
    extreme = (score < _SEP_EPS) | (score > 1 - _SEP_EPS)
    perfect = np.all((index > 0) == (d == 1))
    if (
        not np.all(np.isfinite(params))
        or extreme.mean() > 0.5
        or (perfect and np.abs(index).min() > 5)
        or (not converged and extreme.any())
    ):
        raise _separation_error(X, d)
    if not converged or extreme.any():
        _check_symptoms(ZT.T, d, link, converged, int(extreme.sum()), X)
    bse = np.sqrt(np.diag(cov)) if converged else np.full(len(names), np.nan)
    return PropensityFit(
        score=score,
        index=index,
        params=pd.Series(params, index=names, name="coef"),
        bse=pd.Series(bse, index=names, name="std_error"),
        link=link,
        design=ZT.T,
        converged=converged,
    )


def _check_symptoms(
    Z: np.ndarray, d: np.ndarray, link: str, converged: bool, n_extreme: int, X: pd.DataFrame
) -> None:
    """Newton did not converge, or some scores are numerically 0 or 1: settle whether the data are
    separated (linear programme, :func:`clusterimpact._binary.separation`) and say so.

    Not converged: an error (separation, or plain non-convergence: the scores would be those of an
    arbitrary iterate). Converged with extreme scores: a warning that says whether the data are
    quasi-completely separated or only have extreme covariate values (those units lie outside common
    support either way).
    """
    import warnings

    from clusterimpact._binary import separation
    from clusterimpact.errors import EstimationWarning

    separated = separation(Z, d)
    if not converged:
        if separated:
            raise _separation_error(X, d)
        raise EstimationError(
            f"propensity model: the {link} maximum likelihood did not converge in 100 Newton "
            "iterations (the data are not separated); rescale or drop covariates"
        )
    why = (
        "quasi-complete separation"
        if separated
        else "extreme covariate values; the data are not separated"
    )
    warnings.warn(
        f"propensity model: fitted probabilities numerically 0 or 1 for {n_extreme} units ({why}); "
        "they lie outside common support, consider discard='both' or exact matching on the "
        "covariate concerned",
        EstimationWarning,
        stacklevel=4,
    )


def _rank(gram: np.ndarray) -> int:
    """Numerical rank of Z from the eigenvalues of its column-scaled cross-product Z'Z (k x k)."""
    norms = np.sqrt(np.diag(gram))
    norms = np.where(norms > 0, norms, 1.0)
    ev = np.linalg.eigvalsh(gram / np.outer(norms, norms))
    return int((ev > 1e-10 * ev.max()).sum())


def _cdf(index: np.ndarray, link: str) -> np.ndarray:
    from scipy.special import expit, ndtr

    return expit(index) if link == "logit" else ndtr(index)


# above this many rows the full-sample Newton starts from a fit on an evenly spaced subsample
_WARM_ROWS = 200_000


def _newton(
    Z: np.ndarray,
    d: np.ndarray,
    link: str,
    maxiter: int = 100,
    gram: np.ndarray | None = None,
) -> tuple[np.ndarray, bool, np.ndarray]:
    """Maximum likelihood by Newton-Raphson (logit) or Fisher scoring (probit).

    Both give the same maximum as statsmodels' ``Logit``/``Probit`` (checked in the tests); written out
    because one fit on 10^6 rows is a few matrix products here against several passes per iteration
    there. The design is held transposed (k x n, contiguous) so that X'b, X'g and X'WX are single
    BLAS calls over contiguous rows. On more than ``_WARM_ROWS`` rows the iterations start from the
    fit on an evenly spaced subsample of about 10^5 rows (deterministic), so the full sample needs
    two or three Newton steps and no line search. Returns (coefficients, converged, inverse
    information matrix).
    """
    n, k = Z.shape
    ZT0 = Z.T  # a view; contiguous when Z is the transpose of a C-ordered (k x n) array
    # scale the columns for conditioning (undone at the end); column moments from Z'Z when known
    if gram is not None and np.all(ZT0[0] == 1.0):
        mean = gram[0] / n
        scale = np.sqrt(np.maximum(np.diag(gram) / n - mean**2, 0.0))
    else:
        scale = Z.std(axis=0)
    scale[0] = 1.0
    scale = np.where(scale > 0, scale, 1.0)
    ZT = np.ascontiguousarray(ZT0 / scale[:, None])
    b, converged, info = _newton_t(ZT, np.asarray(d, float), link, maxiter)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    return b / scale, converged, cov / np.outer(scale, scale)


def _newton_t(
    ZT: np.ndarray, d: np.ndarray, link: str, maxiter: int
) -> tuple[np.ndarray, bool, np.ndarray]:
    """Newton / Fisher scoring on a scaled, transposed design ``ZT`` (k x n)."""
    from scipy.special import expit, log_ndtr, ndtr

    k, n = ZT.shape
    warm = None
    if n > _WARM_ROWS:
        ds = d[:: n // (_WARM_ROWS // 2)]
        if 0 < ds.sum() < len(ds):
            sub = np.ascontiguousarray(ZT[:, :: n // (_WARM_ROWS // 2)])
            bw, ok, _ = _newton_t(sub, ds, link, maxiter)
            if ok and np.all(np.isfinite(bw)):
                warm = bw

    def loglik(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = b @ ZT
        if link == "logit":
            return float(d @ eta - np.logaddexp(0, eta).sum()), eta
        return float(np.sum(d * log_ndtr(eta) + (1 - d) * log_ndtr(-eta))), eta

    b = np.zeros(k)
    pbar = float(np.clip(d.mean(), 1e-6, 1 - 1e-6))
    b[0] = np.log(pbar / (1 - pbar)) if link == "logit" else float(_probit_q(pbar))
    ll: float | None
    if warm is None:
        ll, eta = loglik(b)
    else:
        b = warm
        ll, eta = None, b @ ZT
    info = np.eye(k)
    converged = False
    for it in range(maxiter):
        if link == "logit":
            p = expit(eta)
            w = p * (1 - p)
            g = d - p
        else:
            p = ndtr(eta)
            pdf = np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi)
            den = np.clip(p * (1 - p), 1e-300, None)
            w = pdf**2 / den
            g = pdf * (d - p) / den
        info = (ZT * w) @ ZT.T
        grad = ZT @ g
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        big = np.max(np.abs(step))
        if (it < 3 and warm is None) or big > 0.1:
            # step halving keeps early and large steps ascent steps (Newton can overshoot)
            if ll is None:
                ll, _ = loglik(b)
            t = 1.0
            for _half in range(30):
                ll_new, eta_new = loglik(b + t * step)
                if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * (1 + abs(ll)):
                    break
                t /= 2
            ll, eta = ll_new, eta_new
            full = False
        else:
            # close to the maximum Newton converges quadratically: take the full step
            t = 1.0
            eta = (b + step) @ ZT
            ll = None
            full = True
        b = b + t * step
        size = np.max(np.abs(t * step))
        tol = 1e-9 * (1 + np.max(np.abs(b)))
        # logit Newton is quadratic: after a full step below sqrt-scale tolerance the next one
        # would be below tol (its square), so stop without paying for it
        if size < tol or (link == "logit" and full and size < 1e-5 * (1 + np.max(np.abs(b)))):
            converged = bool(np.max(np.abs(b)) < 1e4)
            break
        if not np.all(np.isfinite(b)) or np.max(np.abs(b)) > 1e6:
            break
    return b, converged, info


def _probit_q(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))


def _separation_error(X: pd.DataFrame, d: np.ndarray) -> EstimationError:
    culprits = []
    for c in X.columns:
        v = X[c].to_numpy(dtype=float)
        t, u = v[d == 1], v[d == 0]
        if (
            t.min() > u.max()
            or t.max() < u.min()
            or (
                len(np.unique(v)) <= 10
                and any(
                    (np.all(d[v == val] == 1) or np.all(d[v == val] == 0)) for val in np.unique(v)
                )
            )
        ):
            culprits.append(str(c))
    hint = (
        f" (covariate(s) that separate treated from controls on their own: {', '.join(culprits)})"
        if culprits
        else ""
    )
    return EstimationError(
        "propensity model: perfect separation, the covariates predict treatment exactly and the "
        f"scores are 0 or 1{hint}; drop or coarsen those covariates, match exactly on them, or "
        "use method='cem' / distance='mahalanobis'"
    )
