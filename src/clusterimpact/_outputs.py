"""Writing outputs safely: checks before any work, atomic files, no output over an input.

Every file the package writes (CLI results, panels, JSON summaries, the report) goes through here or
through :mod:`clusterimpact.report._swap` (the report folder). The rules:

- An output is checked before the work starts (:func:`check_output`): a file where a folder is needed
  (or the reverse), a place that cannot be written (read-only, ``/proc``, a path through a file) and an
  output equal to, inside or containing an input are :class:`~clusterimpact.errors.OutputError`, naming
  the path and the fix. Missing parent folders are created when the output is written.
- A file is written under a temporary name in its own folder and renamed over the target only when it is
  complete (:func:`atomic_path`), so a failure or a kill never leaves half a file or a damaged previous
  version; the temporary file is removed after an exception. Files get the permissions a plain ``open``
  would give them (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from clusterimpact.errors import OutputError

__all__ = [
    "FILE_MODE",
    "FOLDER_MODE",
    "OutputKind",
    "atomic_path",
    "check_output",
    "output_error",
    "path_relation",
    "write_bytes",
    "write_text",
]

PathLike = str | os.PathLike[str]
OutputKind = Literal["file", "folder", "swap"]
"""``file``: written in its parent folder; ``folder``: files written inside it; ``swap``: a folder built
beside the target and renamed into place (the report)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()
FILE_MODE = 0o666 & ~_UMASK
"""Permissions of a written file: what ``open(path, "w")`` gives under the process umask."""
FOLDER_MODE = 0o777 & ~_UMASK
"""Permissions of a written folder: what ``mkdir`` gives under the process umask."""


def output_error(exc: OSError, path: PathLike) -> OutputError:
    """An :class:`OutputError` naming ``path`` for an operating-system error met while writing it
    (``FileExistsError`` comes from creating a folder where a file is)."""
    code = exc.errno
    if isinstance(exc, (NotADirectoryError, FileExistsError)) or code == errno.ENOTDIR:
        why = "a part of this path is a file, not a folder"
    elif isinstance(exc, IsADirectoryError) or code == errno.EISDIR:
        why = "is a folder; give a file name"
    elif code == errno.EROFS:
        why = "the file system is read-only"
    elif isinstance(exc, PermissionError):
        why = "permission denied (a read-only folder?)"
    elif isinstance(exc, FileNotFoundError):
        why = "the folder does not exist and cannot be created here"
    elif code == errno.ENOSPC:
        why = "no space left on the device"
    else:
        why = exc.strerror or str(exc)
    return OutputError(f"cannot write here: {why}; choose another output path", path=str(path))


def path_relation(a: Path, b: Path) -> str | None:
    """How resolved path ``a`` relates to ``b``: ``"is"``, ``"inside"``, ``"contains"`` or None."""
    if a == b:
        return "is"
    if a.is_relative_to(b):
        return "inside"
    if b.is_relative_to(a):
        return "contains"
    return None


def _writable_folder(folder: Path, shown: PathLike) -> None:
    """Raise :class:`OutputError` unless files can be created in ``folder`` or the folders it needs."""
    probe = folder
    while not probe.exists():
        if probe.is_symlink():  # a dangling link
            raise OutputError(f"{probe} is a broken symbolic link", path=str(shown))
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputError(f"{probe} is a file, not a folder; choose another path", path=str(shown))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".clusterimpact-probe-", dir=probe)
    except OSError as exc:
        raise output_error(exc, shown) from exc
    os.close(fd)
    os.unlink(tmp)


def check_output(
    path: PathLike,
    *,
    kind: OutputKind = "file",
    inputs: Iterable[PathLike | None] = (),
    label: str = "output",
) -> Path:
    """Check before any work that ``path`` can be written as ``kind`` and overwrites no input.

    Parameters
    ----------
    path
        The output file or folder.
    kind
        ``"file"``, ``"folder"`` (files are written inside) or ``"swap"`` (a folder built beside it and
        renamed into place: its parent must be writable).
    inputs
        Input files or folders the output must not equal, contain or lie inside (None entries skipped).
    label
        How messages name the output (a flag such as ``--json``).

    Returns
    -------
    pathlib.Path
        ``path`` as a Path (not resolved).

    Raises
    ------
    OutputError
        The path is empty, of the wrong kind, cannot be written, or clashes with an input.
    """
    p = Path(path)
    if not str(path).strip():
        raise OutputError(f"{label}: an empty path; give a file or folder name")
    resolved = p.resolve()
    for inp in inputs:
        if inp is None:
            continue
        rel = path_relation(resolved, Path(inp).resolve())
        if rel is not None:
            how = {
                "is": "is the input",
                "inside": "is inside the input",
                "contains": "contains the input",
            }
            raise OutputError(
                f"{label} {how[rel]} {inp}; writing it would destroy the input. "
                "Choose an output path outside the inputs",
                path=str(path),
            )
    if kind == "file":
        if p.is_dir():
            raise OutputError(f"{label} is a folder; give a file name", path=str(path))
        _writable_folder(resolved.parent, path)
    else:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{label} is a file; give a folder", path=str(path))
        _writable_folder(resolved.parent if kind == "swap" else resolved, path)
    return p


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds.

    The temporary name keeps the target's extensions (``.csv.gz`` stays compressed when the writer
    infers the format from the name). After an exception the temporary file is removed and ``path`` is
    left as it was; operating-system errors become :class:`OutputError` naming ``path``.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError("is a folder; give a file name", path=str(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp" + "".join(target.suffixes), dir=target.parent
        )
        os.close(fd)
    except OSError as exc:
        raise output_error(exc, path) from exc
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    return write_bytes(path, text.encode("utf-8"))
