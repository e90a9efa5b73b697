"""Known truth on the package's synthetic panel (clusterimpact.synthetic.simulate).

Inputs respond to productivity there (labour chosen after part of the innovation is known, capital a
period ahead, materials as the proxy), so ACF and Wooldridge must recover ``truth["elasticities"]``
within ``TRUTH_SE_MULTIPLE`` standard errors, OLS must overstate labour and FE understate capital.
"""

from __future__ import annotations

import os
import warnings

import pytest

from clusterimpact.productivity import estimate_tfp
from clusterimpact.synthetic import simulate
from tolerances import TFP_OMEGA_CORR_MIN, TRUTH_SE_MULTIPLE


@pytest.fixture(scope="module")
def sim():
    s = simulate("ecoom", seed=1, n_firms=3000)
    return s, s.panel()


def _check_truth(res, truth):
    for term, beta in truth.items():
        est, se = res.params[term], res.std_errors[term]
        assert se > 0, (term, se)
        assert abs(est - beta) <= TRUTH_SE_MULTIPLE * se, (term, est, se, beta)


def test_acf_recovers_synthetic_elasticities(sim):
    s, panel = sim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = estimate_tfp(panel, "acf", bootstrap=20, seed=3, n_starts=2)
    _check_truth(res, s.truth["elasticities"])


def test_wooldridge_recovers_synthetic_elasticities(sim):
    s, panel = sim
    res = estimate_tfp(panel, "wooldridge")
    _check_truth(res, s.truth["elasticities"])


def test_ols_overstates_labour_fe_understates_capital(sim):
    s, panel = sim
    truth = s.truth["elasticities"]
    ols = estimate_tfp(panel, "ols")
    assert ols.params["ln_emp"] - truth["ln_emp"] > TRUTH_SE_MULTIPLE * ols.std_errors["ln_emp"]
    fe = estimate_tfp(panel, "fe")
    assert (
        truth["ln_capital"] - fe.params["ln_capital"]
        > TRUTH_SE_MULTIPLE * fe.std_errors["ln_capital"]
    )


def test_tfp_joins_back_to_the_firm_panel(sim):
    s, panel = sim
    res = estimate_tfp(panel, "wooldridge")
    out = res.join(panel)
    assert len(out) == len(panel.data)
    assert out["ln_tfp"].notna().sum() == res.tfp["ln_tfp"].notna().sum()
    lat = s.latent.merge(out[["firm_id", "year", "ln_tfp"]], on=["firm_id", "year"])
    assert lat["omega"].corr(lat["ln_tfp"]) > TFP_OMEGA_CORR_MIN


@pytest.mark.sweep
@pytest.mark.parametrize("method", ["acf", "wooldridge"])
def test_synthetic_seed_sweep_coverage(method):
    """95 % CI coverage of the true elasticities over seeds (CLUSTERIMPACT_SWEEP=1)."""
    n_seeds = int(os.environ.get("CLUSTERIMPACT_SWEEP_SEEDS", "20"))
    hits: dict[str, int] = {}
    truth: dict[str, float] = {}
    for seed in range(1, n_seeds + 1):
        s = simulate("ecoom", seed=seed, n_firms=2000)
        truth = s.truth["elasticities"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = {"bootstrap": 30, "seed": seed, "n_starts": 2} if method == "acf" else {}
            res = estimate_tfp(s.panel(), method, **kw)
        ci = res.conf_int(0.95)
        for t, b in truth.items():
            hits[t] = hits.get(t, 0) + int(ci.loc[t, "lower"] <= b <= ci.loc[t, "upper"])
    coverage = {t: h / n_seeds for t, h in hits.items()}
    print(f"synthetic {method}: 95% CI coverage over {n_seeds} seeds: {coverage}")
    assert all(c >= 0.75 for c in coverage.values()), coverage
