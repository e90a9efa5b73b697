"""Parquet folders written by the Dask build: staged beside their target, swapped in when complete.

Two ways in:

* :func:`write_folder` writes a Dask DataFrame (:meth:`~clusterimpact.panel_dask.DaskFirmPanel.write`);
* :func:`write_part` is the task that builds one partition of the panel and writes it at once (the
  streamed build, ``build_panel_dask(..., out=...)``): a worker holds one partition at a time, never its
  share of the panel.

A target folder is replaced only if this package wrote it (it holds :data:`WRITTEN_MARK`); the old
folder is moved aside before the new one is renamed in and removed only after, so a failure at any
point leaves either the old or the new folder in place, and a user's own folder is never deleted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from clusterimpact._panel_dask_parts import build_part
from clusterimpact.errors import OutputError, SpecError

__all__ = ["WRITTEN_MARK", "local_folder", "staged_folders", "write_folder", "write_part"]

#: the file that marks a Parquet folder as written by this package (only such a folder is replaced)
WRITTEN_MARK = "_clusterimpact_written"


def local_folder(path: Any, what: str) -> Path:
    """``path`` as a local (or shared-filesystem) folder; fsspec URLs are refused with a clear error."""
    text = str(path)
    if "://" in text and not text.startswith("file://"):
        raise SpecError(
            f"{what} must be a local or shared-filesystem folder that every worker can write "
            f"(got the URL {text!r})"
        )
    return Path(text.removeprefix("file://"))


def _check_target(target: Path) -> None:
    if target.exists() and not (target.is_dir() and (target / WRITTEN_MARK).is_file()):
        raise OutputError(
            "exists and is not a Parquet folder this package wrote; choose a new folder",
            path=str(target),
        )


@contextmanager
def staged_folders(*targets: Path) -> Iterator[list[Path]]:
    """Empty staging folders, one per target; on success each is marked and swapped in.

    Every target is checked before any work. On an exception nothing is swapped and the staging folders
    are removed (they are ours); the targets are untouched.
    """
    for t in targets:
        _check_target(t)
    tmps: list[Path] = []
    try:
        for t in targets:
            t.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(Path(tempfile.mkdtemp(prefix=f".{t.name}.ci-tmp-", dir=t.parent)))
        staged = [tmp / "data" for tmp in tmps]
        for s in staged:
            s.mkdir()
        yield staged
        for s, t in zip(staged, targets, strict=True):
            (s / WRITTEN_MARK).write_text("written by clusterimpact\n", encoding="utf-8")
            _swap(s, t)
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)


def _swap(staged: Path, target: Path) -> None:
    """Rename ``staged`` to ``target``, the old target moved aside first (and back on failure)."""
    old = staged.parent / "old"
    if target.exists():
        target.rename(old)
    try:
        staged.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)
        raise


def write_folder(frame: Any, target: Path) -> None:
    """Write the Dask DataFrame ``frame`` as a Parquet folder at ``target`` (staged, then swapped in)."""
    with staged_folders(target) as (staged,):
        frame.to_parquet(str(staged), write_index=False, write_metadata_file=False)


def arrow_schemas(data: pd.DataFrame, excl: pd.DataFrame) -> tuple[Any, Any]:
    """The Parquet schemas of the panel and its exclusion log, from empty frames of their columns."""
    import pyarrow as pa

    return (
        pa.Schema.from_pandas(data.iloc[:0], preserve_index=False),
        pa.Schema.from_pandas(excl.iloc[:0], preserve_index=False),
    )


def write_part(
    part: pd.DataFrame,
    index: int,
    folders: tuple[str, str],
    schemas: tuple[Any, Any],
    defl: pd.DataFrame | None,
    spec: Any,
    linked: Any,
    extra: Sequence[str],
    sources: Sequence[str],
    src: str,
) -> dict[str, Any]:
    """Build one partition (:func:`~clusterimpact._panel_dask_parts.build_part`) and write it.

    The kept rows go to ``folders[0]/part.<index>.parquet`` and the excluded ones to ``folders[1]``,
    each with the build's schema (so every file of a folder reads back with the same columns and
    types). Returns the partition's statistics only.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    data, excl, stats = build_part(part, defl, spec, linked, extra, sources, src)
    name = f"part.{index}.parquet"  # as Dask names them (read back in natural order)
    for frame, folder, schema in zip((data, excl), folders, schemas, strict=True):
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        pq.write_table(table, str(Path(folder) / name))
    return stats
