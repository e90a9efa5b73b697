"""The synthetic truth carries each estimator's own estimand, equal to a brute-force recomputation.

``tests/_truth_brute.py`` recomputes every estimand with plain loops over the simulated firm-year
effects, from the estimators' definitions (which firm-years, which weights); here the truth dict must
match it name by name, including the sample sizes, on scenarios with growing, cohort-heterogeneous and
no effects. The estimands differ from each other by more than rounding, so a truth row compared with
another estimator's estimand would be caught.
"""

from __future__ import annotations

import json

import pytest

from _asserts import assert_close, assert_differ
from _truth_brute import brute_estimands
from clusterimpact.synthetic import simulate
from tolerances import DISTINCT_REL, SYNTH_TRUTH_ABS_SCALE, SYNTH_TRUTH_REL

SCENARIOS = ("ecoom", "heterogeneous", "null")


@pytest.fixture(scope="module")
def sims():
    return {s: simulate(s, seed=7, n_firms=2500) for s in SCENARIOS}


def _check(actual: dict, expected: tuple, scale: float, what: str) -> None:
    atol = SYNTH_TRUTH_ABS_SCALE * scale
    assert_close(actual["att"], expected[0], rel=SYNTH_TRUTH_REL, abs=atol, msg=what)
    assert_close(actual["att_lp"], expected[1], rel=SYNTH_TRUTH_REL, abs=atol, msg=what)
    assert actual["n"] == expected[2], what


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_estimand_equals_the_brute_force(sims, scenario):
    sim = sims[scenario]
    brute, per_firm = brute_estimands(sim.latent)
    est = sim.truth["estimands"]
    assert set(est) == set(brute)
    scale = max(abs(v) for t in brute.values() for v in t[:2])
    for name, exp in brute.items():
        _check(est[name], exp, scale, name)
    firms = sim.truth["member_window_effects"]
    assert set(firms) == set(per_firm)
    for f, exp in per_firm.items():
        _check(firms[f], exp, scale, f)
    assert sim.truth["estimand_window"] == [-5, 5]
    assert sim.truth["estimand_bins"] == ["1", "2", "3", "4", "5+"]


def test_no_effect_means_every_estimand_is_zero(sims):
    est = sims["null"].truth["estimands"]
    assert all(v["att"] == 0 and v["att_lp"] == 0 for v in est.values())


def test_estimands_differ_by_more_than_rounding(sims):
    """Weighting matters: on cohort-heterogeneous effects the overall estimands are far apart."""
    est = sims["heterogeneous"].truth["estimands"]
    overall = ["cs:simple", "sa:simple", "imputation:simple", "twfe:member", "matched_did:ATT"]
    vals = sorted(est[k]["att"] for k in overall)
    gaps = [b - a for a, b in zip(vals, vals[1:], strict=False)]
    assert min(gaps) > 1e-4, dict(zip(overall, vals, strict=True))
    # CS event-time and the imputation's per-observation event-time averages differ too
    assert_differ(est["cs:dynamic:3"]["att"], est["imputation:dynamic:3"]["att"], rel=DISTINCT_REL)


def test_estimands_survive_the_json_file(tmp_path, sims):
    paths = sims["ecoom"].write(tmp_path, "s")
    back = json.loads(paths["truth"].read_text())
    assert back["estimands"] == sims["ecoom"].truth["estimands"]
    assert back["member_window_effects"] == sims["ecoom"].truth["member_window_effects"]
