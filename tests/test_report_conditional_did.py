"""The report's conditional DiD figure (#15) rests on the study's own matched DiD and
Callaway-Sant'Anna results: pooled rows for every outcome, cohort rows for the headline."""

from __future__ import annotations

import warnings

import pytest

from _asserts import assert_close
from _report_run import small_report_runs, small_spec
from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimation.matched import matched_did
from clusterimpact.report._conditional import conditional_did_rows
from tolerances import EXACT_FLOOR, EXACT_REL

pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def run():
    return small_report_runs()[0]


def test_conditional_did_rows_are_the_studys_estimates(run):
    spec = small_spec()
    res = run.results
    outs = [k.split(":", 1)[1] for k in res if k.startswith("matched_did:")]
    head = spec.outcomes.headline
    assert head in outs and len(outs) >= 2
    window = spec.estimation.event_window
    rows = conditional_did_rows(res, outs, head, window)
    sample = res["matching"].matched_panel
    members = sample[sample["treated"] == 1]
    for y in outs:
        pooled = rows[(rows.outcome == y) & (rows.cohort == "all") & (rows["sample"] == "matched")]
        want = res[f"matched_did:{y}"].tidy().iloc[0]
        assert_close(pooled[["estimate", "conf_low", "conf_high"]].to_numpy()[0],
                     want[["estimate", "conf_low", "conf_high"]].to_numpy(float),
                     rel=EXACT_REL, floor=EXACT_FLOOR)  # fmt: skip
        assert int(pooled["n"].iloc[0]) == members["firm_id"].nunique()
        assert (rows[rows.outcome == y].cohort != "all").any() == (y == head)
    by = rows[(rows.outcome == head) & (rows.cohort != "all") & (rows["sample"] == "matched")]
    assert len(by) >= 5
    for _, r in by.iterrows():
        stack = sample[sample["stack"] == r["cohort"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            want = matched_did(stack, head, window=window).tidy().iloc[0]
        assert_close(r["estimate"], float(want["estimate"]), rel=EXACT_REL, floor=EXACT_FLOOR)
        firms = stack.loc[stack["treated"] == 1, "firm_id"].nunique()
        assert r["n"] == firms
    cohorts_skipped = set(members["stack"]) - set(by["cohort"])
    for g in cohorts_skipped:  # only cohorts the estimator cannot estimate are left out
        with pytest.raises(EstimationError), warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            matched_did(sample[sample["stack"] == g], head, window=window)
    cs = res[f"cs_group:{head}"].tidy()
    unmatched = rows[
        (rows.outcome == head) & (rows["sample"] == "unmatched") & (rows.cohort != "all")
    ]
    groups = cs[cs["term"].str.startswith("group:")]
    assert list(unmatched["cohort"]) == [t.split(":", 1)[1] for t in groups["term"]]
    assert_close(unmatched["estimate"], groups["estimate"], rel=EXACT_REL, floor=EXACT_FLOOR)


def test_the_figure_and_its_caption_are_in_the_report(run):
    assert "conditional_did" in run.figures
    html = run.html.read_text()
    assert "Conditional DiD: matched against unmatched estimates" in html
    assert "conditional difference-in-differences on members and their matched controls" in html
    assert "100·(exp(b) − 1)" in html  # the percent axes state their conversion
