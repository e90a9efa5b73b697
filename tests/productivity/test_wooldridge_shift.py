"""Wooldridge (2009): identification is checked on a well-conditioned system, so inputs shifted by a
constant (logs of other units, raw logs of euro amounts) give the same elasticities, not "not identified".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _prod_dgp import make_production

from _asserts import assert_close
from clusterimpact.errors import EstimationError
from clusterimpact.productivity import estimate_tfp
from clusterimpact.productivity._poly import poly_exponents, poly_matrix, poly_shift
from clusterimpact.productivity.wooldridge import _full_column_rank
from tolerances import EXACT_REL

LOGS = ("ln_va", "ln_emp", "ln_capital", "ln_materials")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_production(400, seed=3)


@pytest.fixture(scope="module")
def base(panel):
    return estimate_tfp(panel, "wooldridge")


@pytest.mark.parametrize("shift", [10.0, 30.0, 100.0])
def test_shifted_logs_same_elasticities(panel, base, shift):
    """Before: +10 moved the estimates by 5e-8 and +15 and beyond raised "not identified"."""
    df = panel.copy()
    for c in LOGS:
        df[c] += shift
    res = estimate_tfp(df, "wooldridge")
    scale = float(np.abs(base.params).max())
    assert_close(res.params, base.params, abs=EXACT_REL * scale)
    se_scale = float(base.std_errors.max())
    assert_close(res.std_errors, base.std_errors, abs=EXACT_REL * se_scale)
    # ln TFP moves by the same constant for every firm-year: shift * (1 - sum of elasticities)
    d = res.tfp["ln_tfp"].to_numpy() - base.tfp["ln_tfp"].to_numpy()
    expect = shift * (1.0 - float(base.params.sum()))
    assert_close(d, expect, abs=EXACT_REL * max(1.0, abs(expect)) * 10)


def test_shift_per_input(panel, base):
    """Each input shifted by its own constant (euro amounts in logs are ~10-15)."""
    df = panel.copy()
    for c, s in zip(LOGS, (13.0, 2.5, 12.0, 11.0), strict=True):
        df[c] += s
    res = estimate_tfp(df, "wooldridge", weighting="two-step")
    ref = estimate_tfp(panel, "wooldridge", weighting="two-step")
    scale = float(np.abs(ref.params).max())
    assert_close(res.params, ref.params, abs=EXACT_REL * scale)


def test_collinear_proxy_still_not_identified(panel):
    df = panel.assign(ln_materials=panel["ln_capital"] + 10.0)
    with pytest.raises(EstimationError, match="not identified"):
        estimate_tfp(df, "wooldridge")


def test_rank_criterion_is_scale_free():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 5))
    assert _full_column_rank(A * np.array([1e-8, 1.0, 1e6, 1e9, 3.0]))
    assert _full_column_rank(A * rng.uniform(1e-6, 1e6, size=(12, 1)))  # row scales
    B = A.copy()
    B[:, 4] = 2.0 * B[:, 1] - B[:, 0] * 1e6
    assert not _full_column_rank(B)


def test_poly_shift_expands_monomials():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(30, 2))
    exps = poly_exponents(2, 3, min_degree=0)
    shift = np.array([20.0, -7.0])
    lhs = poly_matrix(u + shift, exps)
    rhs = poly_matrix(u, exps) @ poly_shift(exps, shift)
    assert_close(rhs, lhs, abs=EXACT_REL * np.abs(lhs).max())
