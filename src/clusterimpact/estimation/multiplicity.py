"""Multiple-testing adjustments: Holm's step-down and the Romano-Wolf bootstrap step-down.

Both control the family-wise error rate (the probability of rejecting at least one true null
hypothesis) over a family of ``m`` tests, such as "the effect in subgroup ``s`` is zero" for every
subgroup.

- :func:`holm` (Holm 1979) needs only the unadjusted p-values and holds under any dependence; it is
  conservative when the tests are positively correlated (subgroup estimates that share controls).
- :func:`romano_wolf` (Romano & Wolf 2005, Econometrica 73(4); the adjusted p-values of Romano & Wolf
  2016, Statistics & Probability Letters 113) uses the joint bootstrap distribution of the test
  statistics, so it is less conservative when the tests are dependent. The draws must come from one
  joint resampling scheme (the same multipliers for every test), or the dependence is lost.
"""

from __future__ import annotations

import numpy as np

from clusterimpact.errors import SpecError

__all__ = ["holm", "romano_wolf"]


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (as ``statsmodels.stats.multitest.multipletests``, "holm").

    Sort the ``m`` p-values ascending, ``p_(1) <= ... <= p_(m)``; the adjusted value of the ``i``-th is
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``. Rejecting where the adjusted p-value is at most ``alpha``
    controls the family-wise error rate at ``alpha`` under any dependence. NaN p-values are left out of
    the family (and stay NaN).

    Parameters
    ----------
    pvalues
        Unadjusted p-values, in [0, 1].

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    Examples
    --------
    >>> from clusterimpact.estimation.multiplicity import holm
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise SpecError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    m = int(ok.sum())
    if m == 0:
        return out
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[idx], kind="mergesort")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def romano_wolf(stats: np.ndarray | list[float], draws: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values for two-sided tests, from joint bootstrap draws.

    Order the hypotheses by ``|stats|``, largest first: ``r_1, ..., r_m``. The adjusted p-value of
    ``r_j`` is the bootstrap probability that the largest ``|draw|`` among the hypotheses not yet
    rejected (``r_j, ..., r_m``) reaches ``|stats[r_j]|``, made monotone in ``j``:

    ``p(r_j) = max(p(r_{j-1}), (1 + #{b : max_{k >= j} |draws[b, r_k]| >= |stats[r_j]|}) / (1 + B))``

    (Romano & Wolf 2016, algorithm 4.1; the ``(1 + count) / (1 + B)`` form, as Clarke, Romano & Wolf's
    ``rwolf``, is never zero and is valid for any number of draws).

    Parameters
    ----------
    stats
        Observed test statistics (e.g. ``estimate / std_error``), length ``m``.
    draws
        (B, m) bootstrap draws of the statistics *under the null*: centred and on the same scale (e.g.
        multiplier-bootstrap draws of ``estimate - truth`` divided by the same standard errors). Every
        row must come from one joint draw of the data.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order (NaN where ``stats`` is NaN; such tests are left out).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.multiplicity import romano_wolf
    >>> draws = np.random.default_rng(0).standard_normal((999, 3))  # bootstrap t-statistics under H0
    >>> p = romano_wolf([3.5, 0.2, -2.1], draws)
    >>> bool(p[0] < p[2] < p[1])
    True
    """
    t = np.abs(np.asarray(stats, dtype=float))
    d = np.abs(np.asarray(draws, dtype=float))
    if d.ndim != 2 or d.shape[1] != t.size:
        raise SpecError(f"draws must be (B, {t.size}), got shape {d.shape}")
    if d.shape[0] < 1:
        raise SpecError("need at least one bootstrap draw")
    out = np.full(t.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(t))
    if ok.size == 0:
        return out
    if not np.isfinite(d[:, ok]).all():
        raise SpecError("bootstrap draws must be finite for every test with a finite statistic")
    order = ok[np.argsort(-t[ok], kind="mergesort")]
    # running maximum over the hypotheses from j to the end (the not-yet-rejected set)
    tail_max = np.maximum.accumulate(d[:, order[::-1]], axis=1)[:, ::-1]
    B = d.shape[0]
    counts = (tail_max >= t[order][None, :]).sum(axis=0)
    p = (1.0 + counts) / (1.0 + B)
    out[order] = np.maximum.accumulate(p)
    return out
