"""#15: warnings raised during a report step appear in that step's section of report.html (each once,
with its count), and the step shows as ``warnings (n)``, not ``ok``, in the step table, the log and
the manifest."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace

import pytest

import clusterimpact.report as rep
from _report_run import small_spec
from clusterimpact.errors import EstimationWarning
from clusterimpact.report._data_steps import step_load, step_panel
from clusterimpact.report._study import Study, run_step
from clusterimpact.spec import DataSpec, EstimationSpec, OutcomeSpec


def _warns(study):
    for _ in range(3):
        warnings.warn("cohort 2017: thin support", EstimationWarning, stacklevel=1)
    warnings.warn("a second kind", UserWarning, stacklevel=1)
    return "warned"


def _quiet(study):
    return "no warning"


def test_run_step_counts_distinct_warnings():
    study = Study(spec=small_spec())
    rec = run_step(study, "twfe", _warns)
    assert rec.status == "warnings (2)" and rec.ran and rec.detail == "warned"
    assert rec.warnings == [
        ("EstimationWarning: cohort 2017: thin support", 3),
        ("UserWarning: a second kind", 1),
    ]
    d = rec.to_dict(timings=False)
    assert d["status"] == "warnings (2)"
    assert d["warnings"][0] == {
        "warning": "EstimationWarning: cohort 2017: thin support",
        "count": 3,
    }
    quiet = run_step(study, "duration", _quiet)
    assert quiet.status == "ok" and quiet.warnings == [] and quiet.to_dict()["warnings"] == []
    assert study.notes["premium"] == []  # a step that ran is no "Step ... failed" note


def test_a_failing_step_keeps_its_warnings():
    def boom(study):
        warnings.warn("before the error", EstimationWarning, stacklevel=1)
        raise ValueError("bad")

    rec = run_step(Study(spec=small_spec()), "twfe", boom)
    assert rec.status == "failed" and not rec.ran
    assert rec.warnings == [("EstimationWarning: before the error", 1)]


@pytest.fixture(scope="module")
def warned_report(tmp_path_factory):
    """A tiny report whose 'twfe' step is replaced by one that warns."""
    spec = replace(
        small_spec(),
        data=DataSpec(source="simulate", scenario="ecoom", synthetic_seed=2, n_firms=300),
        outcomes=OutcomeSpec(tfp_methods=(), headline="ln_lp"),
        estimation=EstimationSpec(estimators=("twfe",)),
    )
    steps = (("load", step_load), ("panel", step_panel), ("twfe", _warns), ("duration", _quiet))
    mp = pytest.MonkeyPatch()
    mp.setattr(rep, "STEPS", steps)
    try:
        out = tmp_path_factory.mktemp("warned") / "r"
        res = rep.report(spec, out=out, progress=False)
    finally:
        mp.undo()
    return res


def _section(page: str, key: str) -> str:
    m = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert m, key
    return m.group(1)


def test_warnings_appear_in_the_steps_section_with_counts(warned_report):
    page = warned_report.html.read_text(encoding="utf-8")
    premium = _section(page, "premium")  # the twfe step writes into the premium section
    block = re.search(r'<div class="warnings" id="warnings-twfe">(.*?)</div>', premium, re.S)
    assert block, premium[:500]
    assert "<li>EstimationWarning: cohort 2017: thin support <i>(3 times)</i></li>" in block[1]
    assert "<li>UserWarning: a second kind</li>" in block[1]
    assert block[1].count("<li>") == 2
    for other in ("data", "provenance"):
        assert "warnings-twfe" not in _section(page, other).split("<h3>Steps of this run")[0]


def test_step_table_log_and_manifest_say_warnings(warned_report):
    page = warned_report.html.read_text(encoding="utf-8")
    row = re.search(r"<tr><td>twfe</td>(.*?)</tr>", page)[1]
    assert '<td class="status-warnings"><a href="#warnings-twfe">warnings (2)</a></td>' in row
    assert '<tr><td>duration</td><td class="status-ok">ok</td>' in page
    m = json.loads((warned_report.out / "manifest.json").read_text())
    twfe = next(s for s in m["steps"] if s["name"] == "twfe")
    assert twfe["status"] == "warnings (2)"
    assert twfe["warnings"] == [
        {"warning": "EstimationWarning: cohort 2017: thin support", "count": 3},
        {"warning": "UserWarning: a second kind", "count": 1},
    ]
    log = (warned_report.out / "report.log").read_text()
    assert "[twfe] warnings (2) in" in log
    assert "[twfe] warning (x3): EstimationWarning: cohort 2017: thin support" in log
    assert "twfe" in warned_report.summary() and "warnings (2)" in warned_report.summary()
    assert not warned_report.failed


def test_a_figure_that_cannot_be_drawn_is_a_warning_of_its_step():
    from clusterimpact.report._common import plot

    def bad_plot():
        raise ValueError("no rows to draw")

    def step(study):
        plot(study, "premium", "event_study", "Event study", bad_plot)
        return "drawn"

    study = Study(spec=small_spec())
    rec = run_step(study, "event_study", step)
    assert rec.status == "warnings (1)"
    assert rec.warnings == [("UserWarning: figure 'event_study' not drawn: no rows to draw", 1)]
    assert study.notes["premium"] == ["Figure 'Event study' not available: no rows to draw"]
    assert study.figures == []
