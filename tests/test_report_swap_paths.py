"""The swap deletes only the old report's own files inside the report folder, whatever its
manifest.json says: ``outputs`` keys are data, and a key with ``..``, an absolute path, a symlink or a
path under a symlinked folder must never delete a file elsewhere (referee repro: a manifest listing
``../precious/data.csv`` with its SHA-256 made prepare + swap_in delete that file)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from clusterimpact.errors import OutputError
from clusterimpact.report import _swap

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and rename semantics")

PRECIOUS = b"years of field work\n"


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def old_report(tmp_path: Path, outputs: dict[str, str]) -> Path:
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "old.png").write_bytes(b"old figure")  # a real file of the old report
    outputs = {"figures/old.png": sha(b"old figure"), **outputs}
    manifest = {"package": {"name": "clusterimpact"}, "outputs": outputs}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def swap(out: Path) -> None:
    staging = _swap.prepare(out)
    (staging / "report.html").write_text("<html>new</html>", encoding="utf-8")
    _swap.swap_in(staging, out)


def precious_file(tmp_path: Path) -> Path:
    p = tmp_path / "precious" / "data.csv"
    p.parent.mkdir()
    p.write_bytes(PRECIOUS)
    return p


def test_dotdot_and_absolute_keys_delete_nothing_outside(tmp_path):
    precious = precious_file(tmp_path)
    out = old_report(
        tmp_path, {"../precious/data.csv": sha(PRECIOUS), str(precious): sha(PRECIOUS)}
    )
    assert _swap.owned_files(out) == {*_swap.FIXED_FILES, "figures/old.png"}
    swap(out)
    assert precious.read_bytes() == PRECIOUS
    # the old report's own file was deleted, so the swap did run its deletions
    assert not (out / "figures" / "old.png").exists()
    assert (out / "report.html").read_text(encoding="utf-8") == "<html>new</html>"
    assert not list(tmp_path.glob(".out.ci-*"))


@pytest.mark.parametrize(
    "key", ["figures/../../precious/data.csv", "./report.html", "figures//x", "a/b/c", "x.csv"]
)
def test_keys_that_are_not_report_file_names_are_refused(key):
    assert not _swap._report_path(key)


def test_a_symlinked_file_or_folder_is_not_ours(tmp_path):
    precious = precious_file(tmp_path)
    out = old_report(
        tmp_path, {"figures/link.csv": sha(PRECIOUS), "tables/data.csv": sha(PRECIOUS)}
    )
    os.symlink(precious, out / "figures" / "link.csv")
    os.symlink(precious.parent, out / "tables")
    assert _swap.owned_files(out) == {*_swap.FIXED_FILES, "figures/old.png"}
    # the deletion step checks again, even if handed such paths as owned: entries already in the
    # new folder keep the links in the old one (as after a clash), so the old code unlinked through them
    new = tmp_path / "new"
    (new / "figures").mkdir(parents=True)
    (new / "figures" / "link.csv").write_bytes(b"new")
    (new / "tables").mkdir()
    owned = {"figures/link.csv", "tables/data.csv", "../precious/data.csv", str(precious)}
    _swap._settle(out, new, owned | {"figures/old.png"})
    assert precious.read_bytes() == PRECIOUS
    assert not (out / "figures" / "old.png").exists()  # its own file is deleted
    assert (out / "tables").is_symlink() and (out / "figures" / "link.csv").is_symlink()


def test_a_symlinked_report_folder_stops_the_run_and_keeps_its_target(tmp_path):
    precious = precious_file(tmp_path)
    out = old_report(tmp_path, {"tables/data.csv": sha(PRECIOUS)})
    os.symlink(precious.parent, out / "tables")
    with pytest.raises(OutputError, match="the folder holds tables, which this report would"):
        swap(out)
    assert precious.read_bytes() == PRECIOUS
    assert (out / "tables").is_symlink() and not list(tmp_path.glob(".out.ci-*"))
