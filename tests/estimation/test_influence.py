"""Factored influence functions: analytic variances, multiplier bootstrap, clustering."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from _asserts import assert_close, assert_differ
from clusterimpact.errors import SpecError
from clusterimpact.estimation.influence import (
    GroupBlockBasis,
    InfluenceFunction,
    SparseBasis,
    draw_multipliers,
    multiplier_bootstrap,
)
from tolerances import (
    CS_BOOT_SE_REL,
    DISTINCT_REL,
    EXACT_FLOOR,
    EXACT_REL,
    MULTIPLIER_MOMENT_ABS,
)


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
    # factored vs dense: different summation paths, so a floor scaled to the largest entry
    assert_close(gb.vcov(), dense @ dense.T / n**2, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(gb.unit_matrix().toarray(), dense, rel=EXACT_REL, floor=EXACT_FLOOR)
    sb = InfluenceFunction(
        coef=np.eye(5),
        basis=SparseBasis(phi=sp.csr_matrix(dense.T), unit_phi=sp.csr_matrix(dense.T)),
        n=n,
    )
    assert_close(sb.vcov(), gb.vcov(), rel=EXACT_REL, floor=EXACT_FLOOR)
    xi = draw_multipliers(np.random.default_rng(1), (7, n))
    assert_close(gb.basis.project(xi) @ coef.T, xi @ dense.T, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(sb.basis.project(xi), xi @ dense.T, rel=EXACT_REL, floor=EXACT_FLOOR)


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
    assert_close(infl.vcov(), s @ s.T / n**2, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_multipliers_moments_and_reproducibility():
    for kind in ("mammen", "rademacher"):
        x = draw_multipliers(np.random.default_rng(5), (200, 5000), kind)
        assert_close([x.mean(), x.var()], [0.0, 1.0], abs=MULTIPLIER_MOMENT_ABS)
        if kind == "mammen":  # Mammen: third moment one
            assert_close((x**3).mean(), 1.0, abs=3 * MULTIPLIER_MOMENT_ABS)
        y = draw_multipliers(np.random.default_rng(5), (200, 5000), kind)
        assert np.array_equal(x, y)
        # a draw's multipliers do not depend on how many draws are taken at once, for any number of
        # clusters (601: neither 2 bytes x 601 nor ceil(601 / 8) bytes fill whole 64-bit words)
        rng = np.random.default_rng(6)
        rows = np.vstack([draw_multipliers(rng, (k, 601), kind) for k in (1, 3, 1, 2)])
        assert np.array_equal(rows, draw_multipliers(np.random.default_rng(6), (7, 601), kind))


def test_bootstrap_se_close_to_analytic_and_band_wider():
    n, q, groups, feats, starts, coef, dense = _example(4)
    infl = InfluenceFunction(
        coef=coef,
        basis=GroupBlockBasis(features=feats, starts=starts, atom_cluster=None, n_clusters=n),
        n=n,
    )
    br = multiplier_bootstrap(infl, n_boot=999, rng=np.random.default_rng(9))
    assert_close(br.std_errors, infl.std_errors(), rel=CS_BOOT_SE_REL)
    assert 1.96 < br.crit_value < 3.5
    # chunking does not change the draws: one chunk, single draws, uneven chunks (the projection's
    # summation order follows the chunk's shape, hence a floating-point tolerance)
    for kind in ("mammen", "rademacher"):
        a = infl.bootstrap_draws(50, np.random.default_rng(1), kind, chunk=50)
        for chunk in (1, 7, None):
            b = infl.bootstrap_draws(50, np.random.default_rng(1), kind, chunk=chunk)
            assert_close(b, a, rel=EXACT_REL, floor=EXACT_FLOOR, msg=(kind, chunk))
        c = infl.bootstrap_draws(50, np.random.default_rng(2), kind, chunk=50)
        assert_differ(c, a, rel=DISTINCT_REL)  # another seed, other draws
    with pytest.raises(SpecError, match="multiplier"):
        infl.bootstrap_draws(10, np.random.default_rng(1), multiplier="normal")  # type: ignore[arg-type]
