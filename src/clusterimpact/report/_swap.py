"""Build the report in a folder beside its target and swap it in only when complete.

Semantics (DESIGN.md, "Outputs"):

- A report is written into a staging folder ``.<name>.ci-tmp-XXXXXXXX`` beside the output folder
  ``<name>`` (same file system), which holds a marker file with the writing process's id.
- When every file is written, the previous report folder is renamed to ``.<name>.ci-old-XXXXXXXX``, the
  staging folder is renamed to ``<name>``, the entries of the old folder that the old report did not
  write are moved into the new one, and then the old report's own files are deleted. "Its own files"
  are those its ``manifest.json`` lists under ``outputs`` (and only while their bytes still match the
  listed SHA-256: a file edited since is the user's) plus ``manifest.json``, ``timings.json`` and
  ``report.log``; without a clusterimpact manifest nothing in the folder counts as ours. A listed
  path counts only if it is a report file's name (``report.html``, ``figures/<name>``,
  ``tables/<name>``: never absolute, never ``..``) and a regular file inside the folder, not a symlink
  nor under a symlinked folder; every deletion checks this again. So a user's
  notes, an extra figure in ``figures/`` or a sub-folder survive every run, and nothing the report did
  not write is ever deleted.
- Before building, and again before swapping, a file the new report would write that exists in the
  folder but is not ours (``report.html`` in a folder without a manifest, say) stops the run with an
  :class:`~clusterimpact.errors.OutputError`: move it or choose another folder.
- A failing run (an exception) deletes its staging folder and leaves the previous report untouched. A
  killed run leaves at most its staging folder (and, if killed between the two renames, the previous
  report under its ``ci-old`` name); the next run into the same folder restores or removes these first.
  Two simultaneous runs into the same folder are not supported.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterable
from pathlib import Path

from clusterimpact._outputs import FOLDER_MODE, check_output, output_error
from clusterimpact.errors import OutputError

__all__ = [
    "KILL_ENV",
    "checkpoint",
    "discard",
    "foreign_entries",
    "owned_files",
    "prepare",
    "recover",
    "swap_in",
]

log = logging.getLogger("clusterimpact.report")

KILL_ENV = "CLUSTERIMPACT_TEST_KILL_AT"
"""Test hook: when this environment variable equals a checkpoint name (``step:<name>``, ``write:<n>``,
``swap:old-moved``, ``swap:new-moved``), the report process kills itself with SIGKILL there."""

STAGING_MARK = ".clusterimpact-staging"
OWN_DIRS = ("figures", "tables")
REPORT_FILES = ("report.html", "manifest.json", "timings.json", "report.log")
FIXED_FILES = (*REPORT_FILES, STAGING_MARK)


def checkpoint(point: str) -> None:
    """Kill this process (SIGKILL) at ``point`` when the test hook :data:`KILL_ENV` asks for it."""
    if os.environ.get(KILL_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def owned_files(folder: Path) -> set[str]:
    """Relative paths (``figures/x.png``) that the report in ``folder`` wrote, from its manifest.

    A file the manifest lists counts only while its bytes still have the listed SHA-256 (a file the
    user changed since is the user's); ``manifest.json``, ``timings.json`` and ``report.log`` count by
    name. Empty when the folder holds no clusterimpact ``manifest.json``: then nothing there is ours.
    """
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    package = data.get("package") if isinstance(data, dict) else None
    outputs = data.get("outputs") if isinstance(data, dict) else None
    if not (isinstance(package, dict) and package.get("name") == "clusterimpact"):
        return set()
    if not isinstance(outputs, dict):
        return set()
    listed = {k for k in outputs if isinstance(k, str) and _report_path(k) and _inside(folder, k)}
    return set(FIXED_FILES) | {k for k in listed if _sha256(folder / k) == outputs[k]}


def _report_path(rel: str) -> bool:
    """``rel`` has the shape of a file the report writes: a fixed name (``report.html``) or a plain
    name directly in ``figures/`` or ``tables/``. Absolute paths, ``..``, ``.``, backslashes, empty
    parts and deeper folders are refused: a manifest is data, and its keys name files to delete."""
    parts = rel.split("/")
    if "\\" in rel or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        return False
    if len(parts) == 1:
        return parts[0] in FIXED_FILES
    return len(parts) == 2 and parts[0] in OWN_DIRS


def _inside(folder: Path, rel: str) -> bool:
    """``folder / rel`` is a regular file (no symlink, nor under a symlinked folder) inside ``folder``."""
    path = folder / rel
    if path.is_symlink() or path.parent.is_symlink() or not path.is_file():
        return False
    return path.resolve().is_relative_to(folder.resolve())


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _ours(entry: Path, rel: str, owned: set[str]) -> bool:
    return rel in owned and entry.is_file() and not entry.is_symlink()


def foreign_entries(folder: Path, owned: set[str]) -> list[str]:
    """Entries of ``folder`` (relative paths) that are not files of ``owned``; folders whole, except
    ``figures/`` and ``tables/`` which are looked into."""
    out: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name in OWN_DIRS and entry.is_dir() and not entry.is_symlink():
            for sub in sorted(entry.iterdir()):
                rel = f"{entry.name}/{sub.name}"
                if not _ours(sub, rel, owned):
                    out.append(rel)
        elif not _ours(entry, entry.name, owned):
            out.append(entry.name)
    return out


def _clashes(foreign: Iterable[str], new: Iterable[str]) -> list[str]:
    """Foreign entries at the path of a new file, or above one (a file named ``figures``)."""
    new = set(new)
    return sorted(e for e in foreign if e in new or any(n.startswith(e + "/") for n in new))


def _clash_error(target: Path, clash: list[str]) -> OutputError:
    shown = ", ".join(clash[:5]) + (f", ... ({len(clash)} in all)" if len(clash) > 5 else "")
    return OutputError(
        f"the folder holds {shown}, which this report would overwrite but did not write (no "
        "clusterimpact manifest.json there lists them); move them away or choose another output "
        "folder",
        path=str(target),
    )


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _settle(old: Path, target: Path, owned: set[str]) -> None:
    """Move the user's entries of the old report folder into ``target``; delete the old report's own
    files and, once empty, the old folder. Anything that cannot be moved stays in ``old``."""
    for rel in foreign_entries(old, owned):
        src, dst = old / rel, target / rel
        if dst.exists() or dst.is_symlink():
            continue  # excluded by the clash check; never overwrite, keep it in the old folder
        dst.parent.mkdir(exist_ok=True)
        os.rename(src, dst)
    for rel in sorted(owned):
        if _report_path(rel) and _inside(old, rel):  # never a path out of the old report folder
            (old / rel).unlink()
    for d in OWN_DIRS:
        with contextlib.suppress(OSError):
            (old / d).rmdir()
    try:
        old.rmdir()
    except OSError:
        log.warning(
            "kept %s: it still holds files that could not be moved back into %s", old, target
        )


def recover(target: Path) -> None:
    """Finish or undo what a killed run into ``target`` left beside it (see the module docstring)."""
    parent = target.parent
    if not parent.is_dir():
        return
    stem = glob.escape(target.name)
    for old in sorted(parent.glob(f".{stem}.ci-old-*")):
        if not old.is_dir() or old.is_symlink():
            continue
        if not target.exists() and not target.is_symlink():
            os.rename(old, target)
            log.warning(
                "restored the previous report in %s (an earlier run was interrupted)", target
            )
        else:
            _settle(old, target, owned_files(old))
    stray = target / STAGING_MARK  # a run killed just after renaming its staging folder into place
    if stray.is_file() and not stray.is_symlink():
        stray.unlink()
    for tmp in parent.glob(f".{stem}.ci-tmp-*"):
        mark = tmp / STAGING_MARK
        if not tmp.is_dir() or tmp.is_symlink() or not mark.is_file():
            continue
        try:
            pid = int(mark.read_text(encoding="ascii").strip() or 0)
        except (OSError, ValueError):
            pid = 0
        if pid != os.getpid() and _alive(pid):
            continue  # another run is writing it
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("removed %s, left by an interrupted run", tmp)


def prepare(target: Path, inputs: Iterable[Path | None] = ()) -> Path:
    """Check ``target``, clean up after interrupted runs, and create the staging folder beside it.

    Raises
    ------
    OutputError
        ``target`` is a file, is or holds an input, cannot be written, or holds a file of the fixed
        report names (``report.html``, ``manifest.json``, ...) that is not ours.
    """
    check_output(target, kind="swap", inputs=inputs, label="the report folder")
    real = target.resolve()
    if Path.cwd().resolve().is_relative_to(real):
        raise OutputError(
            "is or contains the working folder, which the report cannot swap out from under "
            "itself; choose a folder below it",
            path=str(target),
        )
    try:
        recover(real)
    except OSError as exc:
        raise output_error(exc, target) from exc
    if real.is_dir():
        foreign = foreign_entries(real, owned_files(real))
        # figure and table names are known only at the end; the fixed names now
        clash = [e for e in foreign if e in REPORT_FILES or e in OWN_DIRS]
        if clash:
            raise _clash_error(target, clash)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.ci-tmp-", dir=real.parent))
        (staging / STAGING_MARK).write_text(str(os.getpid()), encoding="ascii")
    except OSError as exc:
        raise output_error(exc, target) from exc
    return staging


def discard(staging: Path) -> None:
    """Delete a staging folder made by :func:`prepare` (only if it still carries its marker)."""
    if (staging / STAGING_MARK).is_file():
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, target: Path) -> None:
    """Put the complete report in ``staging`` at ``target`` (see the module docstring)."""
    real = target.resolve()
    new = [p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()]
    new = [n for n in new if n != STAGING_MARK]
    os.chmod(staging, FOLDER_MODE)
    if not real.exists() and not real.is_symlink():
        os.rename(staging, real)
        (real / STAGING_MARK).unlink()
        return
    owned = owned_files(real)
    clash = _clashes(foreign_entries(real, owned), new)
    if clash:
        raise _clash_error(target, clash)
    old = real.parent / f".{real.name}.ci-old-{secrets.token_hex(4)}"
    os.rename(real, old)
    checkpoint("swap:old-moved")
    os.rename(staging, real)
    checkpoint("swap:new-moved")
    (real / STAGING_MARK).unlink()
    _settle(old, real, owned)
