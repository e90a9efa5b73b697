"""Binomial rules for the coverage and size checks that run in every test run.

A check counts *hits* (a 95 % interval that covers the truth, a 5 % test that does not reject) over ``n``
independent replications (seeds) and passes when ``hits >= binomial_min_hits(n)``. The threshold is the
largest count whose shortfall probability under the nominal rate ``p_true`` is at most ``alpha``: a correct
interval fails the check with probability <= ``alpha``. ``assert_binomial_power`` states the other side of
the design: an interval whose true rate is only ``p_bad`` passes with probability < ``max_pass``.
``binomial_max_hits`` is the upper end (too many hits: an interval far too wide); ``assert_coverage``
uses both ends and gives each ``alpha / 2``.

Replications must be independent: counting several cells of one sample (event times, bins) correlates
the hits. Checking one cell per seed (rotating through the cells) keeps them independent; the count is
then Poisson-binomial, whose tails are lighter than the binomial's at the same mean, so the thresholds
stay valid when the cells' rates average to the nominal one.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def binomial_min_hits(n: int, p_true: float = 0.95, alpha: float = 0.001) -> int:
    """Smallest passing count: the largest ``k`` with ``P(X < k) <= alpha`` for ``X ~ Bin(n, p_true)``."""
    k = int(stats.binom.ppf(alpha, n, p_true))  # smallest x with P(X <= x) >= alpha
    if stats.binom.cdf(k, n, p_true) <= alpha:  # P(X <= k) == alpha exactly: k + 1 passes too
        k += 1
    return k


def binomial_max_hits(n: int, p_true: float = 0.95, alpha: float = 0.001) -> int:
    """Largest passing count: the smallest ``m`` with ``P(X > m) <= alpha`` for ``X ~ Bin(n, p_true)``."""
    return n - binomial_min_hits(n, 1.0 - p_true, alpha)


def assert_binomial_power(
    n: int,
    p_bad: float = 0.85,
    *,
    p_true: float = 0.95,
    alpha: float = 0.001,
    max_pass: float = 0.05,
) -> float:
    """Assert that a rate of ``p_bad`` passes the ``binomial_min_hits(n, p_true, alpha)`` rule with
    probability below ``max_pass``; return that probability."""
    k = binomial_min_hits(n, p_true, alpha)
    p_pass = float(stats.binom.sf(k - 1, n, p_bad))  # P(X >= k | p_bad)
    assert p_pass < max_pass, (
        f"{n} replications cannot tell {p_true} from {p_bad}: P(pass | {p_bad}) = {p_pass:.3f}"
    )
    return p_pass


def assert_coverage(
    hits: int, n: int, what: str, *, p_true: float = 0.95, alpha: float = 0.001
) -> None:
    """Two-sided binomial rule for ``hits`` covering intervals out of ``n`` seeds (``alpha / 2`` a side):
    a correct ``p_true`` interval fails with probability <= ``alpha``."""
    lo = binomial_min_hits(n, p_true, alpha / 2)
    hi = binomial_max_hits(n, p_true, alpha / 2)
    assert lo <= hits <= hi, f"{what}: {hits}/{n} intervals cover the truth (pass: {lo}..{hi})"


def assert_mean_zero(z: np.ndarray, what: str, *, alpha: float = 0.001) -> None:
    """t-test of zero mean for independent z-scores ``(estimate - truth) / se`` (no bias)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    bound = float(stats.t.ppf(1 - alpha / 2, n - 1) * z.std(ddof=1) / np.sqrt(n))
    assert abs(z.mean()) <= bound, f"{what}: mean z-score {z.mean():+.3f} (|.| <= {bound:.3f})"
