"""Inference layer: two-way clustering, Driscoll-Kraay, Wald tests and the wild cluster bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from _asserts import assert_close
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.estimation import inference as inf
from tolerances import FE_EXACT_FLOOR, FE_EXACT_REL, WILD_BOOT_P_ABS


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(11)
    n, G = 600, 40
    c1 = rng.integers(0, G, n)
    c2 = rng.integers(0, 12, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = X @ np.array([1.0, 0.5, 0.0]) + rng.normal(size=n) + 0.5 * rng.normal(size=G)[c1]
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    return X, y, y - X @ b, c1, c2


def _crv(X, u, codes):
    B = np.linalg.inv(X.T @ X)
    S = np.zeros((codes.max() + 1, X.shape[1]))
    np.add.at(S, codes, X * u[:, None])
    return B @ S.T @ S @ B, codes.max() + 1


def test_twoway_cluster_is_cgm_sum(design):
    X, _, u, c1, c2 = design
    n, k = X.shape
    inter = np.unique(c1 * 100 + c2, return_inverse=True)[1]
    V1, G1 = _crv(X, u, c1)
    V2, G2 = _crv(X, u, c2)
    V12, G12 = _crv(X, u, inter)
    kfac = (n - 1) / (n - k)
    g = min(G1, G2)
    want_min = kfac * g / (g - 1) * (V1 + V2 - V12)
    got, Gs = inf.vcov_cluster(X, u, None, [c1, c2], df_k=k)
    assert_close(got, want_min, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert Gs == [G1, G2]
    want_conv = kfac * (G1 / (G1 - 1) * V1 + G2 / (G2 - 1) * V2 - G12 / (G12 - 1) * V12)
    got_c, _ = inf.vcov_cluster(X, u, None, [c1, c2], df_k=k, G_df="conventional")
    assert_close(got_c, want_conv, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)


def test_driscoll_kraay_hand(design):
    X, _, u, _, c2 = design
    n, k = X.shape
    T = c2.max() + 1
    h = np.zeros((T, k))
    np.add.at(h, c2, X * u[:, None])
    lag = 2
    S = h.T @ h
    for ell in (1, 2):
        g = sum(np.outer(h[t], h[t - ell]) for t in range(ell, T))
        S += (1 - ell / (lag + 1)) * (g + g.T)
    B = np.linalg.inv(X.T @ X)
    want = T / (T - 1) * (n - 1) / (n - k) * B @ S @ B
    got, T_, lag_ = inf.vcov_driscoll_kraay(X, u, None, c2, df_k=k, lag=lag)
    assert_close(got, want, rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert (T_, lag_) == (T, 2)


def test_wald_test_forms():
    b = np.array([0.2, -0.1])
    V = np.array([[0.01, 0.002], [0.002, 0.02]])
    w = inf.wald_test(b, V)
    stat = b @ np.linalg.inv(V) @ b
    assert_close(w.statistic, stat, rel=FE_EXACT_REL)
    assert w.df_num == 2
    assert_close(w.p_value, stats.chi2.sf(stat, 2), rel=FE_EXACT_REL)
    f = inf.wald_test(b, V, df_denom=50)
    assert_close(f.statistic, stat / 2, rel=FE_EXACT_REL)
    assert f.df_denom == 50
    assert_close(f.p_value, stats.f.sf(stat / 2, 2, 50), rel=FE_EXACT_REL)


def _brute_wild(X, y, codes, j, B, seed, restricted, null=0.0):
    """Re-estimate every bootstrap sample explicitly (slow reference)."""
    n, k = X.shape
    G = codes.max() + 1
    rng = np.random.default_rng(seed)
    V = rng.choice(np.array([-1.0, 1.0]), size=(G, B))
    ssc = G / (G - 1) * (n - 1) / (n - k)

    def fit(yy):
        b = np.linalg.solve(X.T @ X, X.T @ yy)
        u = yy - X @ b
        Vc, _ = _crv(X, u, codes)
        return b, np.sqrt(ssc * Vc[j, j])

    bh, se = fit(y)
    t_obs = (bh[j] - null) / se
    if restricted:
        Xo = np.delete(X, j, axis=1)
        yr = y - null * X[:, j]
        bo = np.linalg.lstsq(Xo, yr, rcond=None)[0]
        fitted = Xo @ bo + null * X[:, j]
        ut = yr - Xo @ bo
        centre = null
    else:
        fitted, ut, centre = X @ bh, y - X @ bh, bh[j]
    ts = np.empty(B)
    for b in range(B):
        bb, sb = fit(fitted + ut * V[codes, b])
        ts[b] = (bb[j] - centre) / sb
    return float(np.mean(np.abs(ts) >= abs(t_obs))), se


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize("param", [1, 2])
def test_wild_bootstrap_equals_brute_force(design, restricted, param):
    X, y, _, c1, _ = design
    res = inf.wild_cluster_bootstrap(X, y, c1, param, n_boot=199, seed=5, restricted=restricted)
    p, se = _brute_wild(X, y, c1, param, 199, 5, restricted)
    assert_close(res.p_value, p, abs=WILD_BOOT_P_ABS)
    assert_close(res.std_error, se, rel=FE_EXACT_REL)
    assert res.bootstrap_interval[0] < res.estimate < res.bootstrap_interval[1]


def test_wild_bootstrap_seeded_and_ci_inverts_test(design):
    X, y, _, c1, _ = design
    a = inf.wild_cluster_bootstrap(X, y, c1, 1, n_boot=299, seed=3, weights="webb")
    b = inf.wild_cluster_bootstrap(X, y, c1, 1, n_boot=299, seed=3, weights="webb")
    assert a.to_dict() == b.to_dict()
    lo, hi = a.bootstrap_interval
    # the restricted CI's ends are where the bootstrap p-value crosses 5 %
    p_lo = inf.wild_cluster_bootstrap(
        X, y, c1, 1, n_boot=299, seed=3, weights="webb", null=lo - 1e-3
    )
    p_in = inf.wild_cluster_bootstrap(
        X, y, c1, 1, n_boot=299, seed=3, weights="webb", null=lo + 1e-3
    )
    assert p_lo.p_value <= 0.05 < p_in.p_value  # multiples of 1/299: 0.05 is never one
    assert hi > lo


def test_cluster_count_rules():
    assert inf.cluster_count_check(50, "c") is None
    assert "fewer than 30" in inf.cluster_count_check(10, "c")
    with pytest.raises(EstimationError, match="at least 2 clusters"):
        inf.cluster_count_check(1, "c")
    with pytest.raises(SpecError, match="choose one of"):
        inf.vcov_cluster(np.ones((3, 1)), np.ones(3), None, [np.zeros(3, int)], df_k=1, G_df="x")
