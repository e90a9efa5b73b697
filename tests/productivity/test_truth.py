"""Known truth: elasticities recovered on a simulated panel whose inputs respond to productivity.

Uses the ACF-style DGP in ``_prod_dgp.py`` (labour chosen after part of the productivity innovation is
known, capital a period ahead, materials an exact proxy). ACF and Wooldridge must be within
``TRUTH_SE_MULTIPLE`` standard errors of the truth; OLS must show the upward labour bias the theory
predicts and FE must understate capital.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from _prod_dgp import TRUTH, make_production

from _asserts import assert_close
from clusterimpact.productivity import estimate_tfp
from tolerances import EXACT_REL, TFP_OMEGA_CORR_MIN, TRUTH_SE_MULTIPLE

TERMS = list(TRUTH)


@pytest.fixture(scope="module")
def panel():
    return make_production(1500, seed=1)


def _within(res, terms=TERMS):
    for t in terms:
        est, se = res.params[t], res.std_errors[t]
        assert np.isfinite(se) and se > 0, (t, se)
        assert abs(est - TRUTH[t]) <= TRUTH_SE_MULTIPLE * se, (t, est, se, TRUTH[t])


def test_acf_recovers_truth_bootstrap_se(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multi-start disagreement is reported, not an error here
        res = estimate_tfp(panel, "acf", bootstrap=30, seed=5)
    _within(res)
    assert res.diagnostics["converged"]
    assert_close(res.returns_to_scale, res.elasticities.sum(), rel=EXACT_REL)


def test_wooldridge_recovers_truth_analytic_se():
    # Capital is weakly identified by Wooldridge's moments in this DGP: investment, hence next year's
    # capital, is a smooth function of this year's capital and productivity (= of lagged k and m), so
    # the lagged control-function polynomial nearly spans k_t. Its SE is 0.098 on the 1,500-firm panel
    # (a 3-SE window of [0.005, 0.595] around 0.3); 20,000 firms (0.4 s) bring it to 0.026.
    res = estimate_tfp(make_production(20_000, seed=1), "wooldridge")
    assert res.std_errors["ln_capital"] < 0.03
    _within(res)
    assert res.diagnostics["standard_errors"].startswith("analytic")


def test_lp_recovers_truth_when_proxy_does_not_depend_on_labour(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = estimate_tfp(panel, "lp", bootstrap=20, seed=2, n_starts=2)
    _within(res)


def test_ols_labour_biased_upward(panel):
    """Labour responds to productivity known when it is chosen: OLS overstates its elasticity."""
    ols = estimate_tfp(panel, "ols")
    gap = ols.params["ln_emp"] - TRUTH["ln_emp"]
    assert gap > TRUTH_SE_MULTIPLE * ols.std_errors["ln_emp"]
    assert gap > 0.1


def test_fe_understates_capital(panel):
    fe = estimate_tfp(panel, "fe")
    assert (
        TRUTH["ln_capital"] - fe.params["ln_capital"]
        > TRUTH_SE_MULTIPLE * fe.std_errors["ln_capital"]
    )


def test_tfp_series_tracks_true_productivity(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = estimate_tfp(panel, "acf", n_starts=3)
    joined = res.join(panel)
    corr = np.corrcoef(joined["ln_tfp"], joined["omega"])[0, 1]
    assert corr > TFP_OMEGA_CORR_MIN
    # the residual adds the noise: less correlated than omega-hat
    assert np.corrcoef(joined["ln_tfp_resid"], joined["omega"])[0, 1] < corr


@pytest.mark.sweep
@pytest.mark.parametrize("method", ["acf", "wooldridge"])
def test_seed_sweep_coverage(method):
    """Coverage of the 95 % interval over seeds (opt-in: CLUSTERIMPACT_SWEEP=1)."""
    n_seeds = int(os.environ.get("CLUSTERIMPACT_SWEEP_SEEDS", "20"))
    hits = {t: 0 for t in TERMS}
    for seed in range(1, n_seeds + 1):
        df = make_production(1000, seed=100 + seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = (
                estimate_tfp(
                    df, method, bootstrap=30 if method == "acf" else 0, seed=seed, n_starts=3
                )
                if method == "acf"
                else estimate_tfp(df, method)
            )
        ci = res.conf_int(0.95)
        for t in TERMS:
            hits[t] += int(ci.loc[t, "lower"] <= TRUTH[t] <= ci.loc[t, "upper"])
    coverage = {t: h / n_seeds for t, h in hits.items()}
    print(f"{method} 95% CI coverage over {n_seeds} seeds: {coverage}")
    assert all(c >= 0.75 for c in coverage.values()), coverage
