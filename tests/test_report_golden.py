"""#13: the report's tables, figures and HTML stay byte-identical through refactoring.

The small test report (tests/_report_run.py) is compared with the golden record committed in
tests/reference/report_golden/ (made by ``make golden``; see the README there). Figure bytes depend
on the matplotlib/FreeType build, so on another build the figures are compared by what they show
(report._fingerprint) and the tables and page still byte for byte; nothing is skipped.
"""

from __future__ import annotations

import copy

import pytest

import _report_golden as golden
from _report_run import small_report_runs

pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def record():
    run = small_report_runs()[0]
    return golden.record(run.out, dict(run.fingerprints))


def test_report_matches_the_golden_record(record):
    then = golden.load()
    diffs, checks = golden.compare(record, then)
    assert not diffs, (
        "the report changed (checked: " + ", ".join(checks) + "):\n  " + "\n  ".join(diffs) + "\n"
        "If the change is intended, run `make golden` and commit golden.json on its own, saying why."
    )
    assert {"tables", "figure fingerprints"} <= set(checks)
    assert len(then["tables"]) >= 60 and len(then["fingerprints"]) >= 10  # a real record


def test_every_figure_and_table_is_in_the_record(record):
    run = small_report_runs()[0]
    assert set(record["fingerprints"]) == set(run.figures)
    assert {n.rsplit(".", 1)[0] for n in record["tables"]} | {"versions"} == set(run.tables)
    assert all(len(v) == 64 for v in record["fingerprints"].values())


def _changed(rec, key, name):
    out = copy.deepcopy(rec)
    out[key][name] = "0" * 64
    return out


def test_compare_finds_a_changed_table_figure_or_page(record):
    name = next(iter(record["tables"]))
    fig = next(iter(record["fingerprints"]))
    assert golden.compare(record, record)[0] == []
    assert golden.compare(_changed(record, "tables", name), record)[0] == [f"table {name}: differs"]
    diffs = golden.compare(_changed(record, "fingerprints", fig), record)[0]
    assert diffs == [f"figure content {fig}: differs"]
    page = dict(record, html_normalised="0" * 64)
    assert golden.compare(page, record)[0] == [
        "report.html differs beyond its images and the versions"
    ]
    fewer = copy.deepcopy(record)
    del fewer["tables"][name]
    assert golden.compare(fewer, record)[0] == [f"table {name}: missing"]


def test_another_matplotlib_compares_content_not_bytes(record):
    """On another matplotlib build the PNG/PDF bytes may differ: the figures are then compared by
    content, and tables, fingerprints and the page still byte for byte."""
    other = copy.deepcopy(record)
    other["environment"]["matplotlib"] = "0.0.0"
    other["environment"]["versions"]["matplotlib"] = "0.0.0"
    png = next(iter(other["figure_bytes"]))
    other["figure_bytes"][png] = "0" * 64
    other["exact"]["report.html"] = "0" * 64
    diffs, checks = golden.compare(other, record)
    assert diffs == [] and "figure bytes" not in checks and "tables" in checks
    name = next(iter(other["tables"]))
    other["tables"][name] = "0" * 64
    assert golden.compare(other, record)[0] == [f"table {name}: differs"]
    # on the same build the bytes are compared
    same = _changed(record, "figure_bytes", png)
    assert golden.compare(same, record)[0] == [f"figure file {png}: differs"]
