"""Rosenbaum bounds: the lead pairs, independent constructions of each bound, match results, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _asserts import assert_close
from clusterimpact.errors import DataError, SpecError
from clusterimpact.matching import match
from clusterimpact.matching.rosenbaum import (
    matched_pair_differences,
    rosenbaum_bounds,
    rosenbaum_from_match,
)
from conftest import REFERENCE
from tolerances import ELEMENTWISE_REL, EXACT_FLOOR, EXACT_REL, ROOT_FIND_ABS


@pytest.fixture(scope="module")
def lead() -> np.ndarray:
    d = pd.read_csv(REFERENCE / "rosenbaum" / "lead_pairs.csv")
    return (d.exposed - d.control).to_numpy(dtype=float)


def test_lead_signed_rank_statistic_matches_published(lead):
    r = rosenbaum_bounds(lead)
    refs = pd.read_csv(REFERENCE / "rosenbaum" / "reference_values.csv").set_index("statistic")
    ref = refs.loc["wilcoxon_signed_rank_V"]  # V = 499
    assert r.statistic == ref["value"]
    assert r.n_pairs == ref["n_pairs"] and r.n_zero == ref["n_zero"] and r.nobs == 33


def test_gamma_one_is_the_usual_signed_rank_test(lead):
    r = rosenbaum_bounds(lead, gammas=[1.0])
    ref = stats.wilcoxon(
        lead, zero_method="wilcox", correction=False, alternative="greater", method="approx"
    )
    row = r.bounds.iloc[0]
    assert_close(row.p_upper, ref.pvalue, rel=EXACT_REL)
    assert_close(row.p_lower, ref.pvalue, rel=EXACT_REL)


def _walsh_solution(d: np.ndarray, p: float) -> float:
    """Brute force: T(tau) = #{Walsh averages > tau} (no ties), crossing p * N."""
    n = len(d)
    w = np.sort([(d[i] + d[j]) / 2 for i in range(n) for j in range(i, n)])
    N = len(w)
    E = p * N
    k_sup = int(np.ceil(N - E))  # 1-based
    k_inf = int(np.floor(N - E)) + 1
    return 0.5 * (w[k_sup - 1] + w[k_inf - 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hodges_lehmann_bounds_equal_walsh_quantiles(seed):
    d = np.random.default_rng(seed).normal(0.3, 1.0, size=41)
    r = rosenbaum_bounds(d, gammas=[1.0, 1.5, 2.0, 3.0])
    assert_close(r.params["HL"], _walsh_solution(d, 0.5), rel=EXACT_REL, floor=EXACT_FLOOR)
    for row in r.bounds.itertuples():
        g = row.gamma
        assert_close(
            row.hl_lower, _walsh_solution(d, g / (1 + g)), rel=EXACT_REL, floor=EXACT_FLOOR
        )
        assert_close(
            row.hl_upper, _walsh_solution(d, 1 / (1 + g)), rel=EXACT_REL, floor=EXACT_FLOOR
        )


def test_moments_by_enumeration():
    """The bounding distribution's mean and variance (used in the normal approximation) equal the
    exact moments of sum q_i B_i, B_i ~ Bernoulli(Gamma / (1 + Gamma)), enumerated."""
    d = np.array([1.3, -0.4, 2.2, 0.9, -1.7, 3.1, 0.2, -2.6])
    q = stats.rankdata(np.abs(d))
    g = 2.5
    p = g / (1 + g)
    signs = np.array(np.meshgrid(*[[0, 1]] * len(q))).reshape(len(q), -1).T
    prob = np.prod(np.where(signs == 1, p, 1 - p), axis=1)
    t = signs @ q
    mean, var = prob @ t, prob @ (t - prob @ t) ** 2
    T = float(q[d > 0].sum())
    z = (T - mean) / np.sqrt(var)
    r = rosenbaum_bounds(d, gammas=[g])
    assert_close(r.bounds.p_upper.iloc[0], stats.norm.sf(z), rel=ELEMENTWISE_REL)


def test_bounds_widen_with_gamma_and_critical_gamma(lead):
    r = rosenbaum_bounds(lead, gammas=[1, 2, 3, 4, 5, 6])
    b = r.bounds
    assert np.all(np.diff(b.p_upper) > 0) and np.all(np.diff(b.p_lower) <= 0)
    assert np.all(np.diff(b.hl_lower) <= 0) and np.all(np.diff(b.hl_upper) >= 0)
    crit = r.critical_gamma
    at = rosenbaum_bounds(lead, gammas=[crit]).bounds.p_upper.iloc[0]
    assert_close(at, 0.05, abs=ROOT_FIND_ABS)
    assert 4 < crit < 5  # p_upper(4) < 0.05 < p_upper(5) in the table above
    t = r.tidy()
    assert t.term.tolist()[0] == "Gamma=1" and t.p_value.equals(b.p_upper.rename("p_value"))
    d = r.to_dict()
    assert d["rosenbaum"]["critical_gamma"] == crit and len(d["rosenbaum"]["bounds"]) == 6


def test_from_a_match_result():
    nsw = pd.read_csv(REFERENCE / "nsw" / "nsw_dw.csv")
    m = match(
        nsw,
        treatment="treat",
        covariates=["age", "educ", "re74", "re75"],
        outcome="re78",
        method="nearest",
        neighbors=1,
    )
    diff = matched_pair_differences(m, nsw, "re78")
    pairs = m.pairs[m.pairs.focal_treated]
    want = nsw.re78.loc[pairs.focal].to_numpy() - nsw.re78.loc[pairs.match].to_numpy()
    np.testing.assert_array_equal(diff.to_numpy(), want)
    r = rosenbaum_from_match(m, nsw, "re78", gammas=[1.0, 1.5])
    assert r.n_pairs + r.n_zero == len(pairs)
    m2 = match(
        nsw,
        treatment="treat",
        covariates=["age", "educ"],
        outcome="re78",
        method="nearest",
        neighbors=2,
        replace=True,
    )
    with pytest.raises(SpecError, match="neighbors=1"):
        matched_pair_differences(m2, nsw, "re78")
    with pytest.raises(DataError, match="not in the data"):
        matched_pair_differences(m, nsw, "nope")


def test_matching_with_replacement_is_refused():
    """Reused controls make the pairs dependent; the signed-rank bounds assume independent pairs."""
    nsw = pd.read_csv(REFERENCE / "nsw" / "nsw_dw.csv")
    kw = dict(treatment="treat", covariates=["age", "educ", "re74", "re75"], outcome="re78")
    m = match(nsw, method="nearest", neighbors=1, replace=True, **kw)
    pairs = m.pairs[m.pairs.focal_treated]
    reused = pairs["match"][pairs["match"].duplicated(keep=False)]
    assert len(pairs) == 185 and pairs["match"].nunique() < len(pairs)  # the referee's repro
    want = f"{reused.nunique():,} controls are used {len(reused):,} times in all"
    with pytest.raises(SpecError, match=rf"needs disjoint pairs.*{want}.*replace=False"):
        rosenbaum_from_match(m, nsw, "re78", gammas=[1.0, 1.5])
    with pytest.raises(SpecError, match="needs disjoint pairs"):
        matched_pair_differences(m, nsw, "re78")
    # the same matching without replacement gives disjoint pairs and runs
    m0 = match(nsw, method="nearest", neighbors=1, replace=False, **kw)
    assert not m0.pairs.loc[m0.pairs.focal_treated, "match"].duplicated().any()
    assert rosenbaum_from_match(m0, nsw, "re78", gammas=[1.0]).n_pairs > 0


def test_bad_input(lead):
    with pytest.raises(SpecError, match="gammas"):
        rosenbaum_bounds(lead, gammas=[0.5])
    with pytest.raises(DataError, match="non-finite at pairs \\[2\\]"):
        rosenbaum_bounds([1.0, np.nan, 2.0])
    with pytest.raises(DataError, match="at least 2"):
        rosenbaum_bounds([0.0, 0.0, 1.0])
