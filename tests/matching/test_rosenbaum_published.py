"""Rosenbaum bounds against published numbers: Rosenbaum (2011)'s U-statistic on the methotrexate pairs.

Rosenbaum (2011), "A new U-statistic with superior design sensitivity in matched observational
studies", Biometrics 67, 1017-1027, web supplement 2 (an R session), prints the 21 matched-pair
differences of the paper's methotrexate example, the scaled (8, 6, 7) scores, and the upper bound on the
one-sided p-value at Gamma = 2 that "appears in Table 2". Data and values: tests/reference/rosenbaum/
(PROVENANCE.md). The sign test, Wilcoxon's ranks and the Walsh-average form of the (2, 2, 2) estimate
check the other score choices by independent constructions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.matching.rosenbaum import _u_scores, rosenbaum_bounds
from clusterimpact.matching.rosenbaum_sets import rosenbaum_sets
from conftest import REFERENCE
from tolerances import (
    ELEMENTWISE_REL,
    EXACT_FLOOR,
    EXACT_REL,
    ROSENBAUM_SCORES_PRINTED_ABS,
    ROSENBAUM_U_PRINTED_ABS,
)


@pytest.fixture(scope="module")
def methotrexate() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "rosenbaum" / "methotrexate_pairs.csv")


def _published(name: str) -> float:
    ref = pd.read_csv(REFERENCE / "rosenbaum" / "reference_values.csv").set_index("statistic")
    return float(ref.loc[name, "value"])


def _paper_bound(d: np.ndarray, m: int, m1: int, m2: int, gamma: float, choose) -> float:
    """Expression (3) of the paper with the scores of (8), written out here from the paper: every pair
    ranked by |d| among all I pairs (average ranks), zeros scored 0."""
    n = d.size
    a = stats.rankdata(np.abs(d))
    q = sum(choose(a - 1, ell - 1) * choose(n - a, m - ell) for ell in range(m1, m2 + 1))
    q = q * (d != 0)
    p = gamma / (1 + gamma)
    z = (q[d > 0].sum() - p * q.sum()) / math.sqrt(p * (1 - p) * (q**2).sum())
    return float(stats.norm.sf(z))


def test_methotrexate_u_statistic_bound_reproduces_rosenbaum_2011(methotrexate):
    d = methotrexate["difference"].to_numpy(dtype=float)
    r = rosenbaum_bounds(d, gammas=[1.0, 2.0], scores=(8, 6, 7))
    assert r.scores == "u(8,6,7)" and r.n_pairs == 20 and r.n_zero == 1
    printed = _published("u867_p_upper_gamma2")  # 0.02910648, 8 decimals
    assert_close(r.bounds["p_upper"].iloc[1], printed, abs=ROSENBAUM_U_PRINTED_ABS)
    assert r.bounds["p_upper"].iloc[0] < r.bounds["p_upper"].iloc[1] < 0.05


def test_methotrexate_scaled_scores_match_the_printed_ones(methotrexate):
    """The supplement prints round(q / max(q), 3): our scores are a constant multiple of the paper's."""
    d = methotrexate["difference"].to_numpy(dtype=float)
    q = _u_scores(d, (8, 6, 7))
    assert_close(q / q.max(), methotrexate["score_867_scaled"], abs=ROSENBAUM_SCORES_PRINTED_ABS)


def test_the_printed_value_pins_the_tie_convention(methotrexate):
    """Tied |d| take the average rank and C(x, k) is the polynomial x (x-1) ... (x-k+1) / k! (R's
    choose); scipy's comb, which is 0 for x < k, misses the printed value by ~117 units of its last
    digit -- so the comparison above can tell the conventions apart."""
    d = methotrexate["difference"].to_numpy(dtype=float)
    printed = _published("u867_p_upper_gamma2")

    def poly(x, k):
        return np.prod([x - j for j in range(k)], axis=0) / math.factorial(k) if k else 1.0 + 0 * x

    ours = rosenbaum_bounds(d, gammas=[2.0], scores=(8, 6, 7)).bounds["p_upper"].iloc[0]
    assert_close(ours, _paper_bound(d, 8, 6, 7, 2.0, poly), rel=EXACT_REL)
    zeroed = _paper_bound(d, 8, 6, 7, 2.0, special.comb)
    assert abs(zeroed - printed) > 100 * ROSENBAUM_U_PRINTED_ABS


@pytest.mark.parametrize("gamma", [1.0, 1.7, 3.0])
def test_sign_test_scores(gamma):
    """(1, 1, 1) is the sign test: T = #{d > 0} of n non-zero pairs, bounded by Binomial(n, p)."""
    rng = np.random.default_rng(4)
    d = np.round(rng.normal(0.4, 1.0, size=57), 1)
    d[:3] = 0.0
    r = rosenbaum_bounds(d, gammas=[gamma], scores=(1, 1, 1))
    n, k = int((d != 0).sum()), int((d > 0).sum())
    p = gamma / (1 + gamma)
    want = stats.norm.sf((k - n * p) / math.sqrt(n * p * (1 - p)))
    assert_close(r.bounds["p_upper"].iloc[0], want, rel=ELEMENTWISE_REL)
    assert r.statistic == k
    # Wilcoxon's ranks with every |d| tied are the sign test's scores too
    signs = np.sign(d)
    w = rosenbaum_bounds(signs, gammas=[gamma]).bounds["p_upper"].iloc[0]
    assert_close(w, want, rel=EXACT_REL)


def test_u222_equals_wilcoxon_when_one_zero_is_the_smallest():
    """With exactly one zero difference, the (2, 2, 2) score a - 1 of each non-zero pair is its Wilcoxon
    rank among the non-zero pairs (the lead pairs have one zero), so the p-value bounds coincide."""
    lead = pd.read_csv(REFERENCE / "rosenbaum" / "lead_pairs.csv")
    d = (lead.exposed - lead.control).to_numpy(dtype=float)
    assert (d == 0).sum() == 1
    g = [1.0, 2.0, 3.0, 4.0, 5.0]
    w = rosenbaum_bounds(d, gammas=g)
    u = rosenbaum_bounds(d, gammas=g, scores=(2, 2, 2))
    for col in ("p_lower", "p_upper"):
        assert_close(u.bounds[col], w.bounds[col], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(u.critical_gamma, w.critical_gamma, rel=EXACT_REL)


def _walsh_strict(d: np.ndarray, p: float) -> float:
    """The (2, 2, 2) statistic of d - tau counts the Walsh averages (d_i + d_j) / 2, i < j, above tau
    (no ties): T(tau) = p * N is crossed midway between two order statistics."""
    n = len(d)
    w = np.sort([(d[i] + d[j]) / 2 for i in range(n) for j in range(i + 1, n)])
    N = len(w)
    E = p * N
    k_sup, k_inf = int(np.ceil(N - E)), int(np.floor(N - E)) + 1
    return 0.5 * (w[k_sup - 1] + w[k_inf - 1])


@pytest.mark.parametrize("seed", [0, 1])
def test_u222_estimates_equal_walsh_quantiles(seed):
    d = np.random.default_rng(seed).normal(0.3, 1.0, size=31)
    r = rosenbaum_bounds(d, gammas=[1.0, 2.0, 3.0], scores=(2, 2, 2))
    assert_close(r.params["HL"], _walsh_strict(d, 0.5), rel=EXACT_REL, floor=EXACT_FLOOR)
    for row in r.bounds.itertuples():
        g = row.gamma
        want_lo, want_hi = _walsh_strict(d, g / (1 + g)), _walsh_strict(d, 1 / (1 + g))
        assert_close(row.hl_lower, want_lo, rel=EXACT_REL, floor=EXACT_FLOOR)
        assert_close(row.hl_upper, want_hi, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_u_score_moments_by_enumeration():
    """The normal approximation uses the exact mean and variance of sum q_i B_i under the bound."""
    d = np.array([1.3, -0.4, 2.2, 0.9, -1.7, 3.1, 0.2, -2.6, 0.0])
    q = _u_scores(d, (5, 4, 5))
    g = 2.5
    p = g / (1 + g)
    signs = np.array(np.meshgrid(*[[0, 1]] * len(q))).reshape(len(q), -1).T
    prob = np.prod(np.where(signs == 1, p, 1 - p), axis=1)
    t = signs @ q
    mean, var = prob @ t, prob @ (t - prob @ t) ** 2
    z = (q[d > 0].sum() - mean) / np.sqrt(var)
    r = rosenbaum_bounds(d, gammas=[g], scores=(5, 4, 5))
    assert_close(r.bounds["p_upper"].iloc[0], stats.norm.sf(z), rel=EXACT_REL)
    # the scores are the paper's (8) up to the constant factor I^(m-1) / (m-1)!
    a = stats.rankdata(np.abs(d))
    paper = (special.comb(a - 1, 3) * (9 - a) + special.comb(a - 1, 4)) * (d != 0)
    assert_close(q * 9**4 / math.factorial(4), paper, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_u_scores_on_many_pairs_do_not_overflow():
    """C(a - 1, 79) on 5,000 pairs reaches 1e175, its square overflows; the scores are divided by
    I^(m-1) / (m-1)! first. The bound equals the one from the scores built in logs here."""
    d = np.random.default_rng(2).normal(0.1, 1.0, size=5_000)
    m = 80
    r = rosenbaum_bounds(d, gammas=[1.0, 1.5], scores=(m, m, m))
    a = stats.rankdata(np.abs(d))
    with np.errstate(invalid="ignore"):
        logq = special.gammaln(a) - special.gammaln(m) - special.gammaln(a - m + 1)
    q = np.where(a >= m, np.exp(logq - logq[a >= m].max()), 0.0)
    for row in r.bounds.itertuples():
        p = row.gamma / (1 + row.gamma)
        z = (q[d > 0].sum() - p * q.sum()) / math.sqrt(p * (1 - p) * (q**2).sum())
        assert_close(row.p_upper, stats.norm.sf(z), rel=EXACT_REL, floor=EXACT_FLOOR)
    assert np.isfinite(r.statistic) and 0 < r.statistic < r.n_pairs


def test_result_reports_the_scores(methotrexate):
    d = methotrexate["difference"].to_numpy(dtype=float)
    r = rosenbaum_bounds(d, gammas=[1.0, 2.0], scores=[8, 5, 8])
    assert r.to_dict()["rosenbaum"]["scores"] == "u(8,5,8)"
    assert "u(8,5,8) signed rank" in r.summary()
    assert rosenbaum_bounds(d, gammas=[1.0]).to_dict()["rosenbaum"]["scores"] == "wilcoxon"
    assert "Wilcoxon signed rank" in rosenbaum_bounds(d, gammas=[1.0]).summary()
    sets = rosenbaum_sets(np.random.default_rng(0).normal(size=(30, 3)), gammas=[1.0])
    assert sets.to_dict()["rosenbaum"]["scores"] == "huber_m"  # 1:k sets: Huber's M-scores


@pytest.mark.parametrize("bad", ["sign", (2, 3, 2), (0, 0, 0), (2.0, 2, 2), (True, 1, 1), (8, 6)])
def test_bad_scores(bad):
    with pytest.raises(SpecError, match="scores must be"):
        rosenbaum_bounds([1.0, -0.5, 2.0, 0.3], scores=bad)
