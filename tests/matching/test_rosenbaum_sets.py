"""Rosenbaum bounds for 1:k matched sets: brute force over the sensitivity model, exact enumeration of
the bounding distribution, the pairs special case, the M-estimate's bounds, match results, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _asserts import assert_close
from clusterimpact.errors import DataError, SpecError
from clusterimpact.matching import match
from clusterimpact.matching.rosenbaum import rosenbaum_bounds, rosenbaum_from_match
from clusterimpact.matching.rosenbaum_sets import (
    huber_scores,
    matched_set_outcomes,
    rosenbaum_sets,
    separable_bound,
)
from conftest import REFERENCE
from tolerances import EXACT_FLOOR, EXACT_REL, ROOT_FIND_ABS


def _brute_set(q: np.ndarray, gamma: float, upper: bool) -> tuple[float, float]:
    """Every u in {0,1}^J (the extreme points of the model's [0,1]^J): the treated unit is j with
    probability Gamma^u_j / sum Gamma^u_i. Largest (smallest) expectation; the largest variance
    among the u reaching it."""
    best: list[tuple[float, float]] = []
    for u in itertools.product([0, 1], repeat=len(q)):
        w = gamma ** np.asarray(u, dtype=float)
        p = w / w.sum()
        e = float(p @ q)
        best.append((e if upper else -e, float(p @ q**2) - e * e))
    top = max(b[0] for b in best)
    v = max(b[1] for b in best if abs(b[0] - top) <= 1e-12 * max(1.0, np.abs(q).max()))
    return (top if upper else -top), v


@pytest.mark.parametrize("J", [2, 3, 5])
@pytest.mark.parametrize("gamma", [1.0, 1.7, 4.0])
def test_separable_bound_is_the_extreme_over_all_hidden_covariates(J, gamma):
    q = np.random.default_rng(J).normal(size=(25, J))
    q[3] = q[3, 0]  # a set with equal scores, and one with ties
    q[4, 1] = q[4, 2 % J]
    for upper in (True, False):
        e, v = separable_bound(q, gamma, upper=upper)
        parts = np.array([_brute_set(row, gamma, upper) for row in q])
        assert_close(e, parts[:, 0].sum(), rel=EXACT_REL, floor=EXACT_FLOOR)
        assert_close(v, parts[:, 1].sum(), rel=EXACT_REL, floor=EXACT_FLOOR)


def test_moments_by_exact_enumeration_of_all_assignments():
    """Under the worst-case u of each set, enumerate all J^n assignments of the treated units: the
    exact mean and variance of T equal the separable bound's (the sets are independent)."""
    rng = np.random.default_rng(7)
    y = rng.normal(size=(5, 3))
    q = huber_scores(y)
    g = 2.5
    probs = []
    for row in q:  # the u maximising the expectation, then the variance
        cands = []
        for u in itertools.product([0, 1], repeat=3):
            w = g ** np.asarray(u, dtype=float)
            p = w / w.sum()
            cands.append((round(float(p @ row), 12), float(p @ row**2 - (p @ row) ** 2), p))
        top = max(c[0] for c in cands)
        probs.append(max((c for c in cands if c[0] == top), key=lambda c: c[1])[2])
    t, pr = np.zeros(1), np.ones(1)
    for row, p in zip(q, probs, strict=True):
        t = (t[:, None] + row[None, :]).ravel()
        pr = (pr[:, None] * p[None, :]).ravel()
    assert len(t) == 3**5
    mean, var = pr @ t, pr @ (t - pr @ t) ** 2
    e, v = separable_bound(q, g)
    assert_close(e, mean, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(v, var, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_huber_scores_by_a_loop():
    y = np.random.default_rng(3).normal(size=(6, 4))
    pairs = [abs(r[i] - r[j]) for r in y for i in range(4) for j in range(i + 1, 4)]
    sigma = np.quantile(pairs, 0.5)
    want = np.array(
        [
            [
                sum(np.clip((r[j] - r[i]) / sigma, -2.5, 2.5) for i in range(4) if i != j) / 3
                for j in range(4)
            ]
            for r in y
        ]
    )
    assert_close(huber_scores(y, trim=2.5), want, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_pairs_with_wilcoxon_scores_are_the_pairs_bounds():
    """k = 1 and Wilcoxon's scores (rank of |d| to the unit that is higher): the separable bound is
    the signed-rank bound of rosenbaum_bounds on the lead pairs."""
    d = pd.read_csv(REFERENCE / "rosenbaum" / "lead_pairs.csv")
    diff = (d.exposed - d.control).to_numpy(dtype=float)
    diff = diff[diff != 0]
    r = stats.rankdata(np.abs(diff))
    q = np.column_stack([np.where(diff > 0, r, 0.0), np.where(diff < 0, r, 0.0)])
    T = float(q[:, 0].sum())
    pairs = rosenbaum_bounds(diff, gammas=[1.0, 2.0, 4.0]).bounds
    for row in pairs.itertuples():
        for col, upper in (("p_upper", True), ("p_lower", False)):
            e, v = separable_bound(q, row.gamma, upper=upper)
            assert_close(stats.norm.sf((T - e) / np.sqrt(v)), getattr(row, col), rel=EXACT_REL)


def _excess(y, tau, gamma, upper):
    r = y.copy()
    r[:, 0] -= tau
    q = huber_scores(r)
    return q[:, 0].sum() - separable_bound(q, gamma, upper=upper)[0]


def test_m_estimate_bounds_solve_the_estimating_equation_and_shift():
    rng = np.random.default_rng(11)
    y = rng.normal(size=(120, 3))
    y[:, 0] += 0.4
    r = rosenbaum_sets(y, gammas=[1.0, 1.5, 2.5])
    b = r.bounds
    span = float(np.ptp(y[:, :1] - y[:, 1:]))
    eps = 1e-6 * span
    for row in b.itertuples():  # the sign of T - E changes across each bound
        assert _excess(y, row.hl_lower - eps, row.gamma, True) > 0
        assert _excess(y, row.hl_lower + eps, row.gamma, True) <= 0
        assert _excess(y, row.hl_upper - eps, row.gamma, False) >= 0
        assert _excess(y, row.hl_upper + eps, row.gamma, False) < 0
    assert_close(b.hl_lower.iloc[0], r.params["M"], abs=ROOT_FIND_ABS * span)
    assert np.all(np.diff(b.hl_lower) < 0) and np.all(np.diff(b.hl_upper) > 0)
    assert np.all(np.diff(b.p_upper) > 0) and np.all(np.diff(b.p_lower) < 0)
    # an additive shift of the treated outcomes shifts every estimate bound and leaves the p-values
    y2 = y.copy()
    y2[:, 0] += 1.25
    b2 = rosenbaum_sets(y2, gammas=[1.0, 1.5, 2.5]).bounds
    for c in ("hl_lower", "hl_upper"):
        assert_close(b2[c] - 1.25, b[c], abs=ROOT_FIND_ABS * span)
    crit = r.critical_gamma
    at = rosenbaum_sets(y, gammas=[crit]).bounds.p_upper.iloc[0]
    assert_close(at, r.alpha, abs=ROOT_FIND_ABS)


@pytest.fixture(scope="module")
def nsw_sets():
    nsw = pd.read_csv(REFERENCE / "nsw" / "nsw_dw.csv")
    sub = nsw[(nsw.treat == 0) | (nsw.index % 3 == 0)]  # 62 treated, 260 controls: 2 each
    kw = dict(treatment="treat", covariates=["age", "educ", "re74", "re75"], outcome="re78")
    return sub, match(sub, method="nearest", neighbors=2, replace=False, **kw), kw


def test_from_a_one_to_two_match(nsw_sets):
    sub, m, _ = nsw_sets
    before = sub.copy()
    Y = matched_set_outcomes(m, sub, "re78")
    pairs = m.pairs[m.pairs.focal_treated]
    assert Y.shape == (62, 3) and list(Y.columns) == ["treated", "control_1", "control_2"]
    for f, row in Y.iterrows():
        ctrl = pairs.loc[pairs.focal == f, "match"].tolist()
        assert row.tolist() == [sub.re78[f], sub.re78[ctrl[0]], sub.re78[ctrl[1]]]
    r = rosenbaum_from_match(m, sub, "re78", gammas=[1.0, 1.2])
    assert r.method == "rosenbaum:m" and r.n_pairs == 62 and r.n_controls == 2
    pd.testing.assert_frame_equal(r.bounds, rosenbaum_sets(Y, gammas=[1.0, 1.2]).bounds)
    pd.testing.assert_frame_equal(sub, before)
    js = r.to_dict()["rosenbaum"]
    assert js["n_controls"] == 2 and js["statistic_name"] == "huber_m" and len(js["bounds"]) == 2
    assert "62 sets of 1 treated + 2 controls" in r.summary()


def test_bad_matchings_and_inputs_are_refused(nsw_sets):
    sub, _, kw = nsw_sets
    nsw = pd.read_csv(REFERENCE / "nsw" / "nsw_dw.csv")
    short = match(nsw, method="nearest", neighbors=2, replace=False, **kw)  # 185 x 2 > 260 controls
    with pytest.raises(SpecError, match=r"same number of controls.*\{1: 110, 2: 75\}"):
        matched_set_outcomes(short, nsw, "re78")
    reuse = match(sub, method="nearest", neighbors=2, replace=True, **kw)
    with pytest.raises(SpecError, match="disjoint matched sets"):
        rosenbaum_from_match(reuse, sub, "re78")
    m = match(sub, method="nearest", neighbors=2, replace=False, **kw)
    with pytest.raises(DataError, match="not in the data"):
        matched_set_outcomes(m, sub, "nope")
    y = np.random.default_rng(0).normal(size=(12, 3))
    y[4, 2] = np.nan
    with pytest.raises(DataError, match=r"non-finite in sets \[5\]"):
        rosenbaum_sets(y)
    with pytest.raises(DataError, match="shape"):
        rosenbaum_sets(np.ones((5, 1)))
    with pytest.raises(SpecError, match="gammas"):
        rosenbaum_sets(np.ones((5, 3)) + np.arange(3), gammas=[0.5])
    with pytest.raises(DataError, match="no scale"):
        rosenbaum_sets(np.ones((5, 3)))
