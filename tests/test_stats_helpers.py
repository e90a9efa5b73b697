"""tests/_stats.py: the binomial thresholds against a brute-force sum of binomial probabilities."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest

from _asserts import assert_close
from _stats import (
    assert_binomial_power,
    assert_coverage,
    assert_mean_zero,
    binomial_max_hits,
    binomial_min_hits,
)
from tolerances import EXACT_REL


def _cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Bin(n, p), summed exactly in rationals."""
    q = Fraction(p)
    return float(sum(comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1)))


@pytest.mark.parametrize("n", [10, 20, 57, 200])
@pytest.mark.parametrize("p", [0.95, 0.9])
def test_min_and_max_hits_are_the_sharpest_thresholds(n, p):
    alpha = 0.001
    k = binomial_min_hits(n, p, alpha)
    assert _cdf(k - 1, n, p) <= alpha < _cdf(k, n, p)  # k passes the rule, k + 1 would not
    m = binomial_max_hits(n, p, alpha)
    assert 1 - _cdf(m, n, p) <= alpha < 1 - _cdf(m - 1, n, p)


def test_known_values_and_power():
    assert binomial_min_hits(200) == 179 and binomial_max_hits(200, alpha=0.0005) == 198
    assert_close(assert_binomial_power(200, 0.85), 1 - _cdf(178, 200, 0.85), rel=EXACT_REL)
    with pytest.raises(AssertionError, match="cannot tell"):
        assert_binomial_power(100, 0.85)  # P(pass | 0.85) = 0.35 with 100 seeds


def test_assertions_fail_when_they_should():
    assert_coverage(190, 200, "ok")
    with pytest.raises(AssertionError, match="178/200"):
        assert_coverage(178, 200, "too few")
    with pytest.raises(AssertionError, match="200/200"):
        assert_coverage(200, 200, "too many")
    z = np.random.default_rng(0).standard_normal(400)
    assert_mean_zero(z, "unbiased")
    with pytest.raises(AssertionError, match="mean z-score"):
        assert_mean_zero(z + 0.3, "biased")
