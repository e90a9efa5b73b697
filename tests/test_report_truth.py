"""The report's truth lookups: by estimand name, minding the study's window and bins, and the matched
DiD's target on the members the matching kept (hand-made inputs; the full table is checked against a
brute force in test_report_default.py)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pandas as pd

from _asserts import assert_close
from clusterimpact.report._duration_steps import _duration_truth
from clusterimpact.report._study import Study
from clusterimpact.report._truth_step import _matched_truth, _Truths
from clusterimpact.spec import EstimationSpec, StudySpec
from tolerances import EXACT_REL

TRUTH = {
    "estimand_window": [-5, 5],
    "estimand_bins": ["1", "2", "3", "4", "5+"],
    "estimands": {
        "cs:simple": {"att": 0.03, "att_lp": 0.02, "n": 10},
        "sa:simple": {"att": 0.025, "att_lp": 0.018, "n": 9},
        **{
            f"duration:member_years::{b}": {"att": 0.01 * i, "att_lp": 0.0, "n": 3}
            for i, b in enumerate(["1", "2", "3", "4", "5+"], start=1)
        },
    },
    "member_window_effects": {
        "A": {"att": 0.01, "att_lp": 0.1, "n": 2},
        "B": {"att": 0.03, "att_lp": 0.3, "n": 1},
        "C": {"att": 0.05, "att_lp": 0.5, "n": 3},
        "D": {"att": 0.07, "att_lp": 0.7, "n": 1},
    },
}


def _study(window=(-5, 5), bins=(1, 2, 3, 4, 5), results=None) -> Study:
    base = StudySpec.default()
    est = replace(EstimationSpec(), event_window=window, duration_bins=bins)
    s = Study(spec=replace(base, estimation=est), truth=TRUTH)
    s.results.update(results or {})
    return s


def test_lookup_by_name_and_outcome():
    tr = _Truths(_study(), lp=False)
    assert tr.get("cs:simple") == 0.03 and tr.get("cs:simple", "att_lp") == 0.02
    assert _Truths(_study(), lp=True).get("cs:simple") == 0.02
    assert tr.get("cs:dynamic:99") is None and not tr.missing


def test_window_dependent_estimands_need_the_studys_window():
    tr = _Truths(_study(window=(-4, 4)), lp=False)
    assert tr.get("sa:simple") is None and tr.get("matched_did:ATT") is None
    assert tr.get("cs:simple") == 0.03  # no window in its definition
    assert tr.missing == {"window"}


def test_duration_estimands_need_the_studys_bins():
    tr = _Truths(_study(bins=(1, 2, 3)), lp=False)
    assert tr.get("duration:member_years::1") is None and tr.missing == {"bins"}
    assert _duration_truth(_study(bins=(1, 2, 3)), [1, 2, "3+"]) is None
    got = _duration_truth(_study(), [1, 2, 3, 4, "5+"])
    assert got is not None and len(got) == 5
    assert_close(got["5+"]["att"], 0.05, rel=EXACT_REL)


def test_matched_did_truth_is_over_the_members_it_used():
    # stack 2017: A (weight 1) and B (weight 2) treated, a control; C treated without a g-1 row;
    # stack 2018: D treated, but its only control has no post row, so the stack gets no weight
    rows = []

    def unit(stack, firm, treated, weight, rels):
        for r in rels:
            rows.append(
                {
                    "stack": stack,
                    "stack_unit": f"{stack}:{firm}",
                    "firm_id": firm,
                    "rel_year": r,
                    "treated": treated,
                    "weight": weight,
                    "y": 1.0,
                }
            )

    unit(2017, "A", 1, 1.0, [-2, -1, 0, 1])
    unit(2017, "B", 1, 2.0, [-1, 0, 6])
    unit(2017, "X", 0, 3.0, [-1, 0])
    unit(2017, "C", 1, 1.0, [0, 1, 2])
    unit(2018, "D", 1, 1.0, [-1, 0])
    unit(2018, "Y", 0, 1.0, [-1])
    long = pd.DataFrame(rows)
    study = _study(results={"matching": SimpleNamespace(matched_panel=long)})
    firms = TRUTH["member_window_effects"]
    assert_close(_matched_truth(study, "y", "att", firms), (0.01 + 2 * 0.03) / 3, rel=EXACT_REL)
    assert_close(_matched_truth(study, "y", "att_lp", firms), (0.1 + 2 * 0.3) / 3, rel=EXACT_REL)
    # a member missing from the truth's per-firm effects leaves the row without a truth
    assert _matched_truth(study, "y", "att", {"A": firms["A"]}) is None
