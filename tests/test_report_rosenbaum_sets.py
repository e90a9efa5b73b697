"""The report's Rosenbaum step for 1:k matching: disjoint matched sets of DiD outcomes, cohort by cohort."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from clusterimpact.errors import EstimationWarning
from clusterimpact.matching import match_panel
from clusterimpact.report._robustness_steps import pair_changes, rosenbaum_set_frame
from clusterimpact.synthetic import simulate


@pytest.fixture(scope="module")
def matched():
    panel = simulate("ecoom", seed=2, n_firms=1500).panel().data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return match_panel(
            panel, ["ln_emp", "age"], outcome="ln_lp", neighbors=2, replace=False, window=(-3, 3)
        )


def test_sets_are_disjoint_complete_and_hold_the_did_outcomes(matched):
    sets, left = rosenbaum_set_frame(matched, "ln_lp", (-3, 3))
    changes = pair_changes(matched.matched_panel, "ln_lp", (-3, 3))
    p = matched.pairs[matched.pairs.focal_treated]
    n_sets = p.groupby(["stack", "focal"]).ngroups
    assert len(sets) + left == n_sets and len(sets) > 50
    assert list(sets.columns) == ["treated", "control_1", "control_2"]
    checked = 0
    for (g, f), ps in p.groupby(["stack", "focal"], sort=False):
        if f not in sets.index or checked == 20:
            continue
        ch = changes[changes["stack"] == g].set_index("firm_id")["change"]
        want = [ch[f], *ch.reindex(ps["match"]).tolist()]
        np.testing.assert_array_equal(sets.loc[f].to_numpy(), np.asarray(want))
        checked += 1
    assert checked == 20 and np.isfinite(sets.to_numpy()).all()
    # no firm in two kept sets, across cohorts too (each treated firm is treated in one stack only)
    kept = p[p["focal"].isin(sets.index)]
    assert kept.groupby("focal")["stack"].nunique().max() == 1
    every = [*sets.index, *kept["match"]]
    assert len(every) == 3 * len(sets) and len(set(every)) == len(every)


def test_report_step_uses_matched_sets_when_matching_is_one_to_two(tmp_path):
    """With [matching] neighbors = 2 the report's Rosenbaum table is rosenbaum_sets on the disjoint
    matched sets of the study's matching redone without replacement (no longer "needs 1:1")."""
    from dataclasses import replace

    from _report_run import small_spec
    from clusterimpact.matching.rosenbaum_sets import rosenbaum_sets
    from clusterimpact.report import report
    from clusterimpact.spec import EstimationSpec, OutcomeSpec, RobustnessSpec

    base = small_spec()
    spec = replace(
        base,
        outcomes=OutcomeSpec(tfp_methods=(), headline="ln_lp"),
        matching=replace(base.matching, neighbors=2),
        estimation=replace(EstimationSpec(), estimators=("matched_did",)),
        robustness=RobustnessSpec(checks=("rosenbaum",), rosenbaum_gammas=(1.0, 1.5)),
    )
    res = report(spec, out=tmp_path / "r", progress=False)
    step = {s.name: s for s in res.steps}["rosenbaum"]
    assert step.status == "ok" and "matched sets" in step.detail, step.detail
    match = res.results["rosenbaum_matching"]
    sets, _ = rosenbaum_set_frame(match, "ln_lp", tuple(spec.estimation.event_window))
    want = rosenbaum_sets(sets, gammas=[1.0, 1.5])
    got = res.results["rosenbaum"]
    assert got.n_controls == 2 and got.n_pairs == len(sets)
    np.testing.assert_array_equal(got.bounds.to_numpy(), want.bounds.to_numpy())
    assert "rosenbaum" in res.tables
