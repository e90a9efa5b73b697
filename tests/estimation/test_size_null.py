"""Size of the premium, growth and pre-trend tests under the ``null`` scenario, in every `make test`.

Design. ``REPS`` independent replications of the synthetic ``null`` scenario (no membership effect;
members selected on size, age, capital intensity and permanent productivity): one simulation of
``REPS * FIRMS`` firms cut into ``REPS`` disjoint panels of ``FIRMS`` firms. Firms are simulated
independently of each other (no common shocks in the real outcomes), so the panels are independent
draws of a ``FIRMS``-firm economy. Membership is made denser than the default (``join_const=2``: about
115 members per panel instead of 40) and the window shorter (2012-2022) so that each replication is
cheap and still has members in every cohort.

Each test at the 5 % level must not reject in at least ``binomial_min_hits(REPS, 0.95, 0.001)`` of
the replications: a test of exact size 5 % passes with probability > 0.999, and one that rejects 15 %
of the time fails with probability > 0.99 (asserted next to each check with ``assert_binomial_power``).

Tests: the premium (``duration_effects(...).average``, H0: no effect over member firm-years), its growth
(the slope across years of membership) and the report's pre-trend test
(``aggte(att_gt(..., control="notyet"), "dynamic", min_e=-5, max_e=5).pretest``). Measured on 500
replications of this design: 3.8 %, 3.2 % and 6.8 % rejections (6.4 % with 1,000-firm panels; the
untreated trends of the synthetic data are parallel only up to entrants' catch-up and exits on
transitory productivity, see :mod:`clusterimpact.synthetic`). BJS's own pre-trend F test
(``duration_effects(..., leads=5).pretrend``) rejects 9.6 % there (4.8 % with 1,000-firm panels): it is
not checked here.
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from _stats import assert_binomial_power, binomial_min_hits
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.synthetic import simulate

# its module fixtures are built once: all its tests on one pytest worker
pytestmark = pytest.mark.xdist_group("size_null")

REPS = 250
FIRMS = 500
BATCHES = 5  # simulated in batches to keep memory small
DESIGN = {"join_const": 2.0, "start_year": 2012, "end_year": 2022}
COLUMNS = ["firm_id", "year", "treat_year", "member", "member_years", "ln_lp"]


@pytest.fixture(scope="module")
def null_rejections() -> pd.DataFrame:
    """One row per replication: did each 5 % test reject?"""
    per = REPS // BATCHES
    out = []
    for b in range(BATCHES):
        lat = simulate("null", seed=7100 + b, n_firms=per * FIRMS, **DESIGN).latent[COLUMNS]
        panel = pd.factorize(lat["firm_id"])[0] // FIRMS
        for _, df in lat.groupby(panel, sort=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # small cohorts: the package's own warnings
                dur = duration_effects(df, "ln_lp", leads=0)
                gt = att_gt(df, "ln_lp", control="notyet", allow_unbalanced=True)
                pre = aggte(gt, "dynamic", min_e=-5, max_e=5).pretest
            assert pre["df"] == 5
            out.append(
                {
                    "members": int((df.groupby("firm_id")["treat_year"].first() > 0).sum()),
                    "premium": dur.pvalues["average"] < 0.05,
                    "growth": dur.slope_test.p_value < 0.05,
                    "pretrend": pre["p_value"] < 0.05,
                }
            )
    res = pd.DataFrame(out)
    assert len(res) == REPS
    assert res["members"].min() >= 60  # every replication has a treated group to test
    return res


@pytest.mark.parametrize("test", ["premium", "growth", "pretrend"])
def test_size_under_the_null(null_rejections, test):
    need = binomial_min_hits(REPS, p_true=0.95, alpha=0.001)
    assert_binomial_power(REPS, p_bad=0.85, p_true=0.95, alpha=0.001, max_pass=0.01)
    kept = int((~null_rejections[test]).sum())
    assert kept >= need, (
        f"{test}: rejected {REPS - kept} of {REPS} true nulls (at most {REPS - need})"
    )
    # a test whose p-values are stuck at 1 never rejects: it fails this (a conservative 2 % test
    # rejects at least once in 250 replications with probability 0.994)
    assert null_rejections[test].sum() >= 1
