"""Factored influence functions: analytic variances, multiplier bootstrap, clustering."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from clusterimpact.errors import SpecError
from clusterimpact.estimation.influence import (
    GroupBlockBasis,
    InfluenceFunction,
    SparseBasis,
    draw_multipliers,
    multiplier_bootstrap,
)
from tolerances import CS_BOOT_SE_REL


def _example(seed: int = 0):
    rng = np.random.default_rng(seed)
    n, q = 600, 4
    groups = np.repeat([0, 1, 2], [200, 150, 250])
    feats = rng.normal(size=(n, q))
    starts = np.array([0, 200, 350, 600])
    coef = rng.normal(size=(5, 3 * q))
    # explicit dense unit-level IF for checking
    dense = np.zeros((5, n))
    for g in range(3):
        s, e = starts[g], starts[g + 1]
        dense[:, s:e] = coef[:, g * q : (g + 1) * q] @ feats[s:e].T
    return n, q, groups, feats, starts, coef, dense


def test_group_block_matches_dense_and_sparse():
    n, q, groups, feats, starts, coef, dense = _example()
    gb = InfluenceFunction(
        coef=coef,
        basis=GroupBlockBasis(features=feats, starts=starts, atom_cluster=None, n_clusters=n),
        n=n,
    )
    np.testing.assert_allclose(gb.vcov(), dense @ dense.T / n**2, rtol=1e-12)
    np.testing.assert_allclose(gb.unit_matrix().toarray(), dense, atol=1e-12)
    sb = InfluenceFunction(
        coef=np.eye(5),
        basis=SparseBasis(phi=sp.csr_matrix(dense.T), unit_phi=sp.csr_matrix(dense.T)),
        n=n,
    )
    np.testing.assert_allclose(sb.vcov(), gb.vcov(), rtol=1e-12)
    xi = draw_multipliers(np.random.default_rng(1), (7, n))
    np.testing.assert_allclose(gb.basis.project(xi) @ coef.T, xi @ dense.T, rtol=1e-10)
    np.testing.assert_allclose(sb.basis.project(xi), xi @ dense.T, rtol=1e-10)


def test_clustered_group_block_equals_cluster_sums():
    n, q, groups, feats, starts, coef, dense = _example(2)
    rng = np.random.default_rng(3)
    cl = rng.integers(0, 40, size=n)
    # atoms = (group, cluster) sums
    key = groups * 41 + cl
    uk, inv = np.unique(key, return_inverse=True)
    agg = np.zeros((uk.size, q))
    np.add.at(agg, inv, feats)
    ag = uk // 41
    basis = GroupBlockBasis(
        features=agg, starts=np.searchsorted(ag, np.arange(4)), atom_cluster=uk % 41, n_clusters=40
    )
    infl = InfluenceFunction(coef=coef, basis=basis, n=n)
    h = np.zeros((n, 40))
    h[np.arange(n), cl] = 1
    s = dense @ h
    np.testing.assert_allclose(infl.vcov(), s @ s.T / n**2, rtol=1e-10)


def test_multipliers_moments_and_reproducibility():
    for kind in ("mammen", "rademacher"):
        x = draw_multipliers(np.random.default_rng(5), (200, 5000), kind)
        assert abs(x.mean()) < 0.01 and abs(x.var() - 1) < 0.01
        if kind == "mammen":
            assert abs((x**3).mean() - 1) < 0.05  # Mammen: third moment one
        y = draw_multipliers(np.random.default_rng(5), (200, 5000), kind)
        assert np.array_equal(x, y)


def test_bootstrap_se_close_to_analytic_and_band_wider():
    n, q, groups, feats, starts, coef, dense = _example(4)
    infl = InfluenceFunction(
        coef=coef,
        basis=GroupBlockBasis(features=feats, starts=starts, atom_cluster=None, n_clusters=n),
        n=n,
    )
    br = multiplier_bootstrap(infl, n_boot=999, rng=np.random.default_rng(9))
    np.testing.assert_allclose(br.std_errors, infl.std_errors(), rtol=CS_BOOT_SE_REL)
    assert 1.96 < br.crit_value < 3.5
    # chunking does not change the draws
    a = infl.bootstrap_draws(50, np.random.default_rng(1), chunk=50)
    b = infl.bootstrap_draws(50, np.random.default_rng(1), chunk=50)
    assert np.array_equal(a, b)
    with pytest.raises(SpecError, match="multiplier"):
        infl.bootstrap_draws(10, np.random.default_rng(1), multiplier="normal")  # type: ignore[arg-type]
