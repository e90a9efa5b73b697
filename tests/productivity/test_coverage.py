"""Coverage of the ACF and Wooldridge 95 % intervals of the elasticities, in every `make test`.

Design. ``REPS`` independent replications: one simulation of the synthetic ``null`` scenario with
``sd_alpha=0`` cut into ``REPS`` disjoint panels of ``FIRMS`` firms (firms are simulated independently,
so the panels are independent draws). ``sd_alpha=0`` drops the permanent firm effect from productivity:
productivity is then the first-order Markov process that ACF's and Wooldridge's moment conditions
assume. With the default ``sd_alpha`` it is not, and ACF's labour elasticity is biased (see
:mod:`clusterimpact.synthetic` and ``test_acf_bias_comes_from_the_firm_effect`` below).

Intervals. Wooldridge: analytic GMM standard errors, normal quantile, nominal 95 %. ACF: firm-block
bootstrap with ``ACF_BOOT`` replications and the normal quantile; with a bootstrap standard error from
``B`` draws the interval covers with probability ``P(|t_{B-1}| <= 1.96)`` (0.914 for B = 9), which is
the nominal rate used for ACF. Few draws keep the check cheap and lose no power: a bootstrap standard
error that is 20 % too small, or a bias of 0.6 standard errors, costs about 10 points of coverage.

Rule (``tests/_stats.py``, ``assert_coverage``): each elasticity's interval must cover the truth in a
number of replications inside the two-sided binomial range that a correct interval (rate
``p_nominal``) lands in with probability > 0.999; an interval with 10 points less coverage (85 % for
Wooldridge) passes with probability < 0.01 (Wooldridge) or < 0.05 (ACF), asserted next to the check;
an interval far too wide fails too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _stats import assert_binomial_power, assert_coverage
from clusterimpact.productivity import estimate_tfp
from clusterimpact.synthetic import simulate
from tolerances import ACF_FIRM_EFFECT_MIN_BIAS, ACF_MARKOV_ABS, WOOLDRIDGE_FIRM_EFFECT_ABS

REPS = 260
FIRMS = 300
BATCHES = 5
ACF_BOOT = 9
TERMS = ("ln_emp", "ln_capital")
COLUMNS = ["firm_id", "year", "ln_va", "ln_emp", "ln_capital", "ln_materials"]


def _panels(seed: int, **overrides) -> tuple[list[pd.DataFrame], dict[str, float]]:
    per = REPS // BATCHES
    panels, truth = [], {}
    for b in range(BATCHES):
        sim = simulate("null", seed=seed + b, n_firms=per * FIRMS, **overrides)
        truth = sim.truth["elasticities"]
        lat = sim.latent[COLUMNS]
        code = pd.factorize(lat["firm_id"])[0] // FIRMS
        panels += [df for _, df in lat.groupby(code, sort=True)]
    assert len(panels) == REPS
    return panels, truth


@pytest.fixture(scope="module")
def markov_panels():
    return _panels(8200, sd_alpha=0.0)


def _hits(panels, truth, fit) -> dict[str, int]:
    hits = dict.fromkeys(TERMS, 0)
    for df in panels:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multi-start messages on small panels
            ci = fit(df).conf_int(0.95)
        for t in TERMS:
            hits[t] += int(ci.loc[t, "lower"] <= truth[t] <= ci.loc[t, "upper"])
    return hits


def test_wooldridge_intervals_cover_at_the_nominal_rate(markov_panels):
    panels, truth = markov_panels
    assert_binomial_power(REPS, p_bad=0.85, p_true=0.95, alpha=0.001, max_pass=0.01)
    hits = _hits(panels, truth, lambda df: estimate_tfp(df, "wooldridge"))
    for t, h in hits.items():
        assert_coverage(h, REPS, f"Wooldridge {t}", p_true=0.95, alpha=0.001)


def test_acf_bootstrap_intervals_cover_at_the_nominal_rate(markov_panels):
    panels, truth = markov_panels
    p_nominal = 2 * stats.t.cdf(stats.norm.ppf(0.975), ACF_BOOT - 1) - 1  # 0.914
    assert_binomial_power(
        REPS, p_bad=p_nominal - 0.10, p_true=p_nominal, alpha=0.001, max_pass=0.05
    )
    seeds = iter(range(REPS))
    hits = _hits(
        panels,
        truth,
        lambda df: estimate_tfp(df, "acf", n_starts=1, n_boot=ACF_BOOT, seed=next(seeds)),
    )
    for t, h in hits.items():
        assert_coverage(h, REPS, f"ACF {t}", p_true=p_nominal, alpha=0.001)


def test_acf_bias_comes_from_the_firm_effect():
    """The same draws with and without the permanent firm effect in productivity: ACF overstates
    labour only with it (the firm effect's share (1 - rho) alpha sits in ACF's innovation and
    correlates with the lagged inputs); Wooldridge's labour elasticity, identified by its first
    equation, is almost unaffected."""
    out = {}
    for sd_alpha in (0.0, 0.12):
        lat = simulate("null", seed=8300, n_firms=15_000, sd_alpha=sd_alpha).latent[COLUMNS]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acf = estimate_tfp(lat, "acf", n_starts=1, seed=1).params
        wool = estimate_tfp(lat, "wooldridge").params
        out[sd_alpha] = (acf["ln_emp"], wool["ln_emp"])
    assert abs(out[0.0][0] - 0.65) < ACF_MARKOV_ABS, out
    assert out[0.12][0] - out[0.0][0] > ACF_FIRM_EFFECT_MIN_BIAS, out
    assert abs(out[0.12][1] - out[0.0][1]) < WOOLDRIDGE_FIRM_EFFECT_ABS, out
    assert np.isfinite(list(out.values())).all()
