"""Holm and Romano-Wolf adjusted p-values: Holm against statsmodels, Romano-Wolf against a brute-force
step-down on the same draws and against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.estimation.multiplicity import holm, romano_wolf
from tolerances import ELEMENTWISE_REL


@pytest.mark.parametrize("seed", range(6))
def test_holm_equals_statsmodels(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 12))
    p = rng.uniform(size=m) ** 3  # many small p-values
    if m > 3:
        p[1] = p[2]  # a tie
        p[0] = 1.0
    expected = multipletests(p, method="holm")[1]
    assert np.array_equal(holm(p), expected)


def test_holm_hand_computed_and_nan():
    # sorted 0.01, 0.02, 0.04 -> 3*0.01, max(.., 2*0.02), max(.., 1*0.04)
    assert_close(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04], rel=ELEMENTWISE_REL)
    out = holm([0.01, np.nan, 0.02])  # NaN is not part of the family (m = 2)
    assert np.isnan(out[1])
    assert_close(out[[0, 2]], 0.02, rel=ELEMENTWISE_REL)
    assert np.isnan(holm([np.nan])).all()
    with pytest.raises(SpecError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])


def _brute_force_rw(t: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Romano-Wolf step-down written out as loops: test the largest |t| still standing against the
    largest |t*| over every hypothesis still standing, in each draw; then remove it."""
    m = t.size
    B = draws.shape[0]
    remaining = list(range(m))
    p = np.empty(m)
    prev = 0.0
    while remaining:
        j = max(remaining, key=lambda k: (abs(t[k]), -k))
        count = 0
        for b in range(B):
            if max(abs(draws[b, k]) for k in remaining) >= abs(t[j]):
                count += 1
        prev = max(prev, (1 + count) / (1 + B))
        p[j] = prev
        remaining.remove(j)
    return p


@pytest.mark.parametrize("seed", range(5))
def test_romano_wolf_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 7))
    cov = np.full((m, m), 0.5) + 0.5 * np.eye(m)
    draws = rng.multivariate_normal(np.zeros(m), cov, size=300)
    t = rng.normal(scale=2.0, size=m)
    assert np.array_equal(romano_wolf(t, draws), _brute_force_rw(t, draws))


def test_romano_wolf_known_answers():
    draws = np.array([[0.5, 2.0], [3.5, 0.0], [1.0, 1.5], [0.0, 0.2]])
    # step 1 (|t| = 3): max over both per draw = 2, 3.5, 1.5, 0.2 -> one reaches 3 -> 2/5
    # step 2 (|t| = 1): second column 2, 0, 1.5, 0.2 -> two reach 1 -> 3/5
    assert_close(romano_wolf([3.0, -1.0], draws), [0.4, 0.6], rel=ELEMENTWISE_REL)
    # monotonicity: the second test alone would get 1/5, but it cannot be below the first's 2/5
    draws = np.array([[3.5, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert_close(romano_wolf([3.0, 2.9], draws), [0.4, 0.4], rel=ELEMENTWISE_REL)
    # one test: the bootstrap p-value itself
    assert_close(romano_wolf([2.0], np.array([[1.0], [-2.5], [0.5]])), [0.5], rel=ELEMENTWISE_REL)


def test_romano_wolf_between_unadjusted_and_single_step():
    rng = np.random.default_rng(11)
    draws = rng.normal(size=(999, 4))
    t = np.array([3.1, 2.2, 1.9, 0.3])
    p = romano_wolf(t, draws)
    raw = (1 + (np.abs(draws) >= np.abs(t)).sum(axis=0)) / 1000
    single = (1 + (np.abs(draws).max(axis=1)[:, None] >= np.abs(t)).sum(axis=0)) / 1000
    assert (p >= raw).all() and (p <= single).all()
    assert p[0] == single[0]  # the first step is the single-step max-t test
    assert p[-1] < single[-1]  # stepping down gains power


def test_romano_wolf_nan_and_bad_shapes():
    out = romano_wolf([2.0, np.nan], np.array([[0.1, np.nan], [3.0, 0.0]]))
    assert np.isnan(out[1])
    assert_close(out[0], 2 / 3, rel=ELEMENTWISE_REL)
    with pytest.raises(SpecError, match=r"\(B, 2\)"):
        romano_wolf([1.0, 2.0], np.zeros((5, 3)))
    with pytest.raises(SpecError, match="finite"):
        romano_wolf([1.0], np.array([[np.inf]]))
