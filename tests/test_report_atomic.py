"""The report never loses work (issue #12): killed at several points by its own process id, or failing
with an exception, it leaves the previous report byte-identical and the user's own files in place; the
only leftover of a kill is a staging folder (or, between the two renames, the previous report under its
``ci-old`` name) that the next run removes or restores.

The kills use the test hook ``CLUSTERIMPACT_TEST_KILL_AT`` (the report process sends itself SIGKILL at
a named checkpoint) and, once, a SIGKILL sent from here to the process id after its progress output
shows a given step. The study is tiny (100 simulated firms, no estimator, PNG only) so that each run
costs about two seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clusterimpact.errors import DataError, OutputError
from clusterimpact.report import _swap
from clusterimpact.report import report as run_report

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and rename semantics")

SPEC = """title = "atomicity test"
[data]
source = "simulate"
n_firms = 100
[outcomes]
tfp_methods = []
[estimation]
estimators = []
[bootstrap]
did_draws = 0
[output]
figure_formats = ["png"]
"""
USER_FILES = {
    "notes.txt": b"my notes on this report\n",
    "figures/my_own_figure.png": b"not a figure the report drew",
    "drafts/paper/section.tex": b"\\section{Results}\n",
}


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def beside(folder: Path) -> list[str]:
    """Entries of the parent folder other than ``folder`` itself and the spec."""
    return sorted(p.name for p in folder.parent.iterdir() if p.name not in (folder.name, "s.toml"))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A finished report with the user's files added, and its snapshot."""
    root = tmp_path_factory.mktemp("atomic")
    (root / "s.toml").write_text(SPEC)
    out = root / "rep"
    run_report(root / "s.toml", out=out, progress=False)
    for rel, data in USER_FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return out, snapshot(out)


@pytest.fixture
def previous(baseline, tmp_path) -> tuple[Path, dict[str, bytes]]:
    """A private copy of the baseline report (with its spec beside it)."""
    out, snap = baseline
    shutil.copy(out.parent / "s.toml", tmp_path / "s.toml")
    shutil.copytree(out, tmp_path / "rep")
    return tmp_path / "rep", snap


def run_cli_report(out: Path, kill_at: str | None = None, **popen: object) -> subprocess.Popen:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "MPLBACKEND": "Agg",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop(_swap.KILL_ENV, None)
    if kill_at is not None:
        env[_swap.KILL_ENV] = kill_at
    argv = [sys.executable, "-m", "clusterimpact", "report", "--spec", str(out.parent / "s.toml")]
    return subprocess.Popen([*argv, "--out", str(out)], env=env, **popen)  # type: ignore[call-overload]


def assert_complete(out: Path) -> None:
    """Every file the manifest lists exists with its SHA-256, and the user's files are there."""
    manifest = json.loads((out / "manifest.json").read_text())
    for rel, sha in manifest["outputs"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha, rel
    for rel, data in USER_FILES.items():
        assert (out / rel).read_bytes() == data, rel


@pytest.mark.parametrize("point", ["step:load", "step:panel", "write:3"])
def test_killed_while_building_leaves_the_previous_report(previous, point):
    out, snap = previous
    proc = run_cli_report(out, point, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert snapshot(out) == snap  # byte-identical, the user's files included
    left = beside(out)
    assert len(left) == 1 and left[0].startswith(".rep.ci-tmp-"), left  # its staging folder only
    _swap.recover(out)
    assert beside(out) == [] and snapshot(out) == snap


def test_killed_between_the_two_renames_restores_the_previous_report(previous):
    out, snap = previous
    proc = run_cli_report(
        out, "swap:old-moved", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL
    left = beside(out)
    assert not out.exists() and len(left) == 2, left
    old = out.parent / next(n for n in left if ".ci-old-" in n)
    assert snapshot(old) == snap  # the previous report, intact under its ci-old name
    _swap.recover(out)
    assert beside(out) == [] and snapshot(out) == snap


def test_killed_after_the_swap_keeps_the_new_report_and_the_users_files(previous):
    out, snap = previous
    proc = run_cli_report(
        out, "swap:new-moved", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert not (out / "notes.txt").exists()  # still in the old folder, which is left beside
    _swap.recover(out)
    assert beside(out) == []
    assert_complete(out)
    assert not (out / _swap.STAGING_MARK).exists()


def test_killed_by_pid_mid_run_and_the_next_run_cleans_up(previous):
    out, snap = previous
    proc = run_cli_report(out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[describe] started"):
            proc.send_signal(signal.SIGKILL)  # Popen.send_signal: os.kill(proc.pid, ...)
            break
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert snapshot(out) == snap
    assert [n for n in beside(out) if not n.startswith(".rep.ci-tmp-")] == []
    res = run_report(out.parent / "s.toml", out=out, progress=False)  # the next run
    assert beside(out) == []
    assert_complete(out)
    assert res.html == out / "report.html"
    # the report's own files were replaced: no figure or table the new report did not write
    ours = set(json.loads((out / "manifest.json").read_text())["outputs"])
    extra = set(snapshot(out)) - ours - set(USER_FILES) - set(_swap.REPORT_FILES)
    assert extra == set()


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_an_exception_leaves_no_staging_folder(previous, monkeypatch, exc):
    out, snap = previous

    def boom(point: str) -> None:
        if point == "step:panel":
            raise exc("stop here")

    monkeypatch.setattr(_swap, "checkpoint", boom)
    with pytest.raises(exc, match="stop here"):
        run_report(out.parent / "s.toml", out=out, progress=False)
    assert beside(out) == [] and snapshot(out) == snap


def test_bad_data_stop_before_anything_is_written(previous):
    out, snap = previous
    accounts = out.parent / "accounts.csv"
    accounts.write_text("firm_id,year,va,emp\nA,2015,x,1\n")
    registry = out.parent / "registry.csv"
    registry.write_text("firm_id,cluster,join_date\nA,C,2016\n")
    spec = out.parent / "s.toml"
    spec.write_text(
        SPEC.replace('source = "simulate"', 'source = "files"\naccounts = "accounts.csv"\n'
                     'registry = "registry.csv"')
    )  # fmt: skip
    with pytest.raises(DataError, match=r"accounts.csv, column 'va', rows 1"):
        run_report(spec, out=out, progress=False)
    assert [n for n in beside(out) if n not in ("accounts.csv", "registry.csv")] == []
    assert snapshot(out) == snap


def test_a_foreign_report_file_is_never_overwritten(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.html").write_text("somebody else's page")
    (tmp_path / "s.toml").write_text(SPEC)
    with pytest.raises(OutputError, match="report.html"):
        run_report(tmp_path / "s.toml", out=out, progress=False)
    assert (out / "report.html").read_text() == "somebody else's page"
    assert beside(out) == []


def test_a_foreign_figure_of_the_same_name_stops_the_swap(previous, monkeypatch):
    """A file the new report would write, in a folder whose manifest does not list it."""
    out, snap = previous
    manifest = json.loads((out / "manifest.json").read_text())
    figure = next(k for k in manifest["outputs"] if k.startswith("figures/"))
    del manifest["outputs"][figure]  # as if the user had put that file there
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = snapshot(out)
    with pytest.raises(OutputError, match=figure):
        run_report(out.parent / "s.toml", out=out, progress=False)
    assert snapshot(out) == before and beside(out) == []


def test_a_report_file_the_user_edited_is_kept(previous):
    """A file the manifest lists but whose bytes changed since is the user's: never overwritten."""
    out, snap = previous
    manifest = json.loads((out / "manifest.json").read_text())
    table = next(k for k in manifest["outputs"] if k.startswith("tables/"))
    (out / table).write_text("| my edited table |\n")
    before = snapshot(out)
    with pytest.raises(OutputError, match=table):
        run_report(out.parent / "s.toml", out=out, progress=False)
    assert snapshot(out) == before and beside(out) == []


def test_the_working_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "s.toml").write_text(SPEC)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(OutputError, match="working folder"):
        run_report(tmp_path / "s.toml", out=tmp_path / "work", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "work"]
