"""The report end to end on a small synthetic study: files, manifest, determinism, sections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from _report_run import small_report_runs, small_spec
from clusterimpact.report._artifacts import SECTIONS
from clusterimpact.report._study import STEP_SECTIONS

pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def runs():
    return small_report_runs()


@pytest.fixture(scope="module")
def run(runs):
    return runs[0]


def _files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_no_step_failed(run):
    failed = [(s.name, s.detail) for s in run.steps if s.status == "failed"]
    assert not failed, failed
    # every module the report uses is part of the package now: every step must run (with or
    # without warnings)
    not_ok = {s.name: (s.status, s.detail) for s in run.steps if not s.ran}
    assert not not_ok, not_ok


def test_every_file_exists(run):
    out = run.out
    for name in ("report.html", "manifest.json", "timings.json", "report.log"):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert run.figures, "no figure was drawn"
    for f in run.figures:
        for ext in ("png", "pdf"):
            p = out / "figures" / f"{f}.{ext}"
            assert p.is_file() and p.stat().st_size > 1000, p
    assert run.tables
    for t in run.tables:
        for ext in ("md", "tex", "html"):
            p = out / "tables" / f"{t}.{ext}"
            assert p.is_file() and p.stat().st_size > 0, p
    for t in (
        "data_summary",
        "exclusions",
        "members_vs_sector",
        "selection",
        "production_functions",
        "balance",
        "matched_did",
        "event_study",
        "twfe",
        "twfe_duration",
        "duration",
        "by_cohort",
        "by_cluster",
        "comparison",
        "truth",
        "versions",
    ):
        assert t in run.tables, t
    for f in (
        "members_vs_sector",
        "selection",
        "love_plot",
        "overlap",
        "trajectories",
        "event_study",
        "duration_premium",
        "by_cohort",
        "by_cluster",
        "comparison",
        "truth_vs_estimate",
    ):
        assert f in run.figures, f
    # no temporary folder left behind
    assert not [p for p in out.iterdir() if p.name.startswith(".report-")]


def test_manifest_keys(run):
    m = json.loads((run.out / "manifest.json").read_text())
    for key in (
        "schema",
        "package",
        "dependencies",
        "spec",
        "inputs",
        "seeds",
        "exclusions",
        "steps",
        "outputs",
        "volatile",
    ):
        assert key in m, key
    assert m["package"]["name"] == "clusterimpact"
    for dep in ("python", "numpy", "pandas", "scipy", "matplotlib"):
        assert dep in m["dependencies"]
    assert m["spec"] == small_spec().to_dict()
    assert m["seeds"]["study"] == 1 and m["seeds"]["synthetic"] == 1
    assert m["inputs"]["simulated"]["n_firms"] == 2000
    assert len(m["inputs"]["simulated"]["accounts_hash"]) == 16
    assert "panel" in m["exclusions"]
    assert [s["name"] for s in m["steps"]] == [s.name for s in run.steps]
    assert all("seconds" not in s for s in m["steps"])  # timings only in the volatile block
    vol = m["volatile"]
    assert set(vol["timings"]) == {s.name for s in run.steps}
    assert vol["slowest_step"] in vol["timings"]
    assert "report.html" in m["outputs"]
    timings = json.loads((run.out / "timings.json").read_text())
    assert timings["slowest_step"] == vol["slowest_step"]


def test_file_hashes_in_the_manifest(run):
    import hashlib

    m = json.loads((run.out / "manifest.json").read_text())
    for rel, sha in m["outputs"].items():
        assert hashlib.sha256((run.out / rel).read_bytes()).hexdigest() == sha, rel


def test_rerun_is_byte_identical(runs):
    a, b = (_files(r.out) for r in runs)
    assert set(a) == set(b)
    for rel in a:
        if rel in ("manifest.json", "timings.json", "report.log"):
            continue
        assert a[rel] == b[rel], f"{rel} differs between two runs"
    ma, mb = (json.loads(x["manifest.json"]) for x in (a, b))
    ma.pop("volatile")
    mb.pop("volatile")
    assert ma == mb


def _sections(html: str) -> dict[str, str]:
    parts = re.findall(r'<section id="([a-z_]+)">(.*?)</section>', html, flags=re.S)
    return dict(parts)


def test_every_section_present_and_non_empty(run):
    html = (run.out / "report.html").read_text()
    secs = _sections(html)
    assert list(secs) == list(SECTIONS)  # synthetic data: the truth section is there too
    unavailable = {
        STEP_SECTIONS[s.name] for s in run.steps if s.status in ("not available", "skipped")
    }
    for key, body in secs.items():
        has_content = "<figure" in body or "<table" in body
        if key in unavailable and not has_content:
            continue  # during development only: a missing module leaves a notice instead
        assert has_content, f"section {key!r} has no figure and no table"
    caps = re.findall(r"<figcaption>(.*?)</figcaption>", html, flags=re.S)
    assert len(caps) == len(run.figures)
    for c in caps:  # a caption states estimand, sample and method, not just a title
        assert len(re.sub(r"<[^>]+>", "", c)) > 60, c
    assert "data:image/png;base64," in html
    assert '<img src="http' not in html  # self-contained


def test_progress_callback_and_summary(run):
    assert "report written to" in run.summary()
    assert run.seconds > 0
    assert run.panel is not None


def test_callback_receives_every_step(tmp_path):
    from dataclasses import replace

    from clusterimpact.report import report
    from clusterimpact.spec import EstimationSpec, OutcomeSpec

    spec = replace(
        small_spec(),
        outcomes=OutcomeSpec(tfp_methods=(), headline="ln_lp"),
        estimation=EstimationSpec(estimators=("twfe",)),
    )
    seen = []
    res = report(spec, out=tmp_path / "r", progress=seen.append)
    assert [s.name for s in seen] == [s.name for s in res.steps]
    log = (tmp_path / "r" / "report.log").read_text()
    assert "[panel]" in log


def test_report_is_one_module_and_its_function():
    """``clusterimpact.report`` is the report package, before and after it is imported; the function
    is ``clusterimpact.report.report`` (no module whose class was swapped to make it callable)."""
    import types

    import clusterimpact
    import clusterimpact.report as rep
    from clusterimpact.report import report

    assert type(rep) is types.ModuleType
    assert clusterimpact.report is rep
    assert rep.report is report and callable(report)


def test_bad_spec_path_is_a_spec_error(tmp_path):
    from clusterimpact.errors import SpecError
    from clusterimpact.report import report

    with pytest.raises(SpecError, match="does not exist"):
        report(tmp_path / "missing.toml", out=tmp_path / "x")


def test_cli_report_bad_spec_exits_2(tmp_path, capsys):
    from clusterimpact.cli import main

    bad = tmp_path / "s.toml"
    bad.write_text('[matching]\nmethod = "closest"\n')
    assert main(["report", "--spec", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "choose one of 'nearest'" in err


def test_cli_report_runs_a_spec_and_writes_json(tmp_path, capsys):
    from clusterimpact.cli import main

    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'title = "tiny"\n[data]\nsource = "simulate"\nn_firms = 800\n'
        '[outcomes]\ntfp_methods = []\n[estimation]\nestimators = ["twfe", "duration"]\n'
        "[bootstrap]\ndid_draws = 0\n"
    )
    out = tmp_path / "rep"
    status = main(
        ["report", "--spec", str(spec), "--out", str(out), "--json", str(tmp_path / "r.json")]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "[panel] ok" in captured.err  # progress, step by step, on the terminal
    assert "firms" in captured.err
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["command"] == "report"
    assert [s["name"] for s in summary["steps"]][:2] == ["load", "panel"]
    assert summary["slowest_step"] in {s["name"] for s in summary["steps"]}
    assert (out / "report.html").is_file()
    m = json.loads((out / "manifest.json").read_text())
    assert m["spec"]["title"] == "tiny"


def test_report_on_user_files_with_a_column_map(tmp_path):
    """The route of studies/example_real_accounts.toml: user files, their own column names."""
    from clusterimpact.report import report
    from clusterimpact.spec import StudySpec
    from clusterimpact.synthetic import simulate

    sd = simulate(scenario="ecoom", seed=3, n_firms=600)
    ren = {"firm_id": "ondernemingsnummer", "year": "boekjaar", "emp": "vte"}
    sd.accounts.rename(columns=ren).to_csv(tmp_path / "accounts.csv", index=False)
    sd.registry.rename(columns={"firm_id": "ondernemingsnummer", "join_date": "toetreding"}).to_csv(
        tmp_path / "registry.csv", index=False
    )
    (tmp_path / "study.toml").write_text(
        'title = "files"\n[data]\nsource = "files"\naccounts = "accounts.csv"\n'
        'registry = "registry.csv"\n[data.columns]\nfirm_id = "ondernemingsnummer"\n'
        'year = "boekjaar"\nemp = "vte"\njoin_date = "toetreding"\n'
        '[outcomes]\ntfp_methods = []\n[estimation]\nestimators = ["twfe"]\n'
    )
    spec = StudySpec.from_toml(tmp_path / "study.toml")
    res = report(spec, out=tmp_path / "out", progress=False)
    ran = {s.name: s.ran for s in res.steps}
    assert ran["load"] and ran["panel"] and ran["twfe"], res.summary()
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(m["inputs"]["accounts"]["sha256"]) == 64
    assert m["inputs"]["registry"]["path"].endswith("registry.csv")
    assert "truth" not in _sections((tmp_path / "out" / "report.html").read_text())
