"""Parquet folders written by the Dask build: staged beside their target, swapped in when complete.

Two ways in:

* :func:`write_folder` writes a Dask DataFrame (:meth:`~clusterimpact.panel_dask.DaskFirmPanel.write`);
* the streamed build (``build_panel_dask(..., out=...)``) shuffles through files, not through worker
  memory: :func:`split_file` reads one accounts file and writes its rows into one bucket file (Arrow
  IPC) per partition (a hash of the firm id), and :func:`build_bucket` reads one partition's bucket files,
  builds it and writes it at once. A task holds one input file or one partition, so a worker's memory
  is bounded by the larger of the two, whatever the panel's size.

A target folder is replaced only if this package wrote it (it holds :data:`WRITTEN_MARK`); the old
folder is moved aside before the new one is renamed in and removed only after, so a failure at any
point leaves either the old or the new folder in place, and a user's own folder is never deleted.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from clusterimpact._panel_dask_parts import FID, FileRead, ReadArgs, build_part, read_part
from clusterimpact._panel_members import LinkedRegistry
from clusterimpact.errors import DataError, OutputError, SpecError

__all__ = [
    "BUCKET_SUFFIX",
    "WRITTEN_MARK",
    "build_bucket",
    "local_folder",
    "merged_types",
    "registry_slices",
    "split_file",
    "staged_folders",
    "write_folder",
    "write_part",
]

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


def _staging_dir(target: Path) -> Path:
    """A new, empty folder beside ``target`` with the permissions of the user's umask (not
    ``mkdtemp``'s 0700: on a shared file system the workers may run as another user of the group)."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.ci-tmp-{secrets.token_hex(6)}"
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        return tmp
    raise OutputError("could not make a staging folder beside it", path=str(target))


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
            tmps.append(_staging_dir(t))
        staged = [tmp / "data" for tmp in tmps]
        for s in staged:
            s.mkdir()
        yield staged
        for s in staged:
            (s / WRITTEN_MARK).write_text("written by clusterimpact\n", encoding="utf-8")
        _swap_all(staged, list(targets))
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_all(staged: list[Path], targets: list[Path]) -> None:
    """Rename every ``staged`` folder to its target as one step: all old targets are moved aside
    first, then the new folders renamed in; on any failure the new ones are moved back out and the
    old ones restored, so the targets hold either all old or all new folders."""
    olds = [s.parent / "old" for s in staged]
    moved: list[int] = []
    placed: list[int] = []
    try:
        for i, t in enumerate(targets):
            if t.exists():
                t.rename(olds[i])
                moved.append(i)
        for i, (s, t) in enumerate(zip(staged, targets, strict=True)):
            s.rename(t)
            placed.append(i)
    except OSError:
        for i in reversed(placed):
            targets[i].rename(staged[i])
        for i in reversed(moved):
            olds[i].rename(targets[i])
        raise


def write_folder(frame: Any, target: Path) -> None:
    """Write the Dask DataFrame ``frame`` as a Parquet folder at ``target`` (staged, then swapped in)."""
    with staged_folders(target) as (staged,):
        frame.to_parquet(str(staged), write_index=False, write_metadata_file=False)


def arrow_schemas(
    data: pd.DataFrame, excl: pd.DataFrame, objects: Mapping[str, Any] | None = None
) -> tuple[Any, Any]:
    """The Parquet schemas of the panel and its exclusion log, from empty frames of their columns.

    A column of Python objects has no type in an empty frame: ``objects`` gives the Arrow type its
    values were found to have (:func:`merged_types`).
    """
    import pyarrow as pa

    schema = pa.Schema.from_pandas(data.iloc[:0], preserve_index=False)
    for name, typ in (objects or {}).items():
        at = schema.get_field_index(name)
        if at >= 0 and pa.types.is_null(schema.field(at).type):
            schema = schema.set(at, pa.field(name, typ))
    return schema, pa.Schema.from_pandas(excl.iloc[:0], preserve_index=False)


def merged_types(stats: Sequence[FileRead]) -> dict[str, Any]:
    """One Arrow type per column of Python objects over all files (:attr:`FileRead.objects`), widened
    where Arrow can (decimals of different precision); a DataError naming the column and two files
    whose types cannot be merged (decimals in one, bytes in another)."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for s in stats:
        for name, typ in s.objects.items():
            if pa.types.is_null(typ):
                continue
            if name not in out:
                out[name], seen[name] = typ, s.source
                continue
            try:
                both = pa.unify_schemas(
                    [pa.schema([pa.field(name, out[name])]), pa.schema([pa.field(name, typ)])],
                    promote_options="permissive",
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataError(
                    f"the accounts files disagree on the column's type: {out[name]} in "
                    f"{seen[name]}, {typ} in {s.source} ({exc}); give every file the same types "
                    "(or build in memory)",
                    source=s.source,
                    column=name,
                ) from None
            out[name] = both.field(name).type
    return out


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


def bucket_of(fid: pd.Series, n: int) -> Any:
    """The partition (0 .. n-1) of every row: a hash of its firm id (the same in every process)."""
    import numpy as np

    hashed = pd.util.hash_pandas_object(fid, index=False).to_numpy()
    return (hashed % np.uint64(n)).astype(np.int64)


def registry_slices(linked: LinkedRegistry, n: int) -> list[LinkedRegistry]:
    """The linked registry cut by :func:`bucket_of` its (accounts) firm id: partition ``b`` gets the
    spells of its own firms only, so a worker holds a slice of the registry, not all of it.

    The ids are hashed as the accounts' ``_fid`` column is (the same values and dtype), so a member's
    spells land in the partition that holds its rows. ``memberships`` (the client's table) is not sent.
    """
    import numpy as np

    fid = pd.Series(linked.frame["firm_id"].astype("str").to_numpy(), dtype="str")
    where = bucket_of(fid, n)
    order = np.argsort(where, kind="stable")  # one pass; the registry's order kept within a slice
    cuts = np.searchsorted(where[order], np.arange(n + 1))
    none = linked.memberships.iloc[:0]
    out = []
    for b in range(n):
        take = order[cuts[b] : cuts[b + 1]]
        out.append(
            LinkedRegistry(
                linked.frame.iloc[take].reset_index(drop=True),
                linked.join_years[take],
                linked.exit_years[take],
                none,
            )
        )
    return out


#: the bucket files' format: Arrow IPC with LZ4 (the file converted to Arrow once, each bucket a
#: slice of it: splitting 500,000 firm-years into 80 buckets and reading them back costs a quarter of
#: the CPU of one Parquet file per bucket; benchmarks/bench_bucket_files.py)
BUCKET_SUFFIX = ".arrow"


def split_file(
    index: int, path: Any, remote: bool, args: ReadArgs, buckets: str, n: int
) -> tuple[FileRead, Any]:
    """Read one accounts file (:func:`~clusterimpact._panel_dask_parts.read_part`) and write its rows
    into ``buckets/<partition>/<index>.arrow``; its statistics and the rows sent to each partition.

    The file is converted to Arrow once, ordered by partition (stably: input order within one), and
    each partition's rows are a slice of it, written as an Arrow IPC file. The bucket folders are made
    by the client beforehand: a task never recreates a staging folder that was removed (a failed build
    leaves nothing behind). Each file is written under a temporary name and renamed when complete, so
    a partition never reads half a file.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    frame, stats = read_part(index, path, remote, args)
    counts = np.zeros(n, dtype=np.int64)
    if frame is None or frame.empty:
        return stats, counts
    where = bucket_of(frame[FID], n)
    order = np.argsort(where, kind="stable")
    counts = np.bincount(where, minlength=n).astype(np.int64)
    table = pa.Table.from_pandas(frame, preserve_index=False).take(order)
    del frame
    starts = np.concatenate([[0], np.cumsum(counts)])
    options = ipc.IpcWriteOptions(compression="lz4")
    for b in np.flatnonzero(counts):
        rows = table.slice(int(starts[b]), int(counts[b]))
        target = Path(buckets) / str(b) / f"{index}{BUCKET_SUFFIX}"
        part = target.with_name(f".{index}{BUCKET_SUFFIX}.part")
        with (
            pa.OSFile(str(part), "wb") as sink,
            ipc.new_file(sink, rows.schema, options=options) as w,
        ):
            w.write_table(rows)
        os.replace(part, target)
    return stats, counts


def _read_buckets(files: Sequence[Path]) -> Any:
    """The bucket files' rows as one Arrow table (types widened where files differ: a column of
    objects with no value in one file)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    tables = []
    for f in files:
        with pa.OSFile(str(f), "rb") as source:
            tables.append(ipc.open_file(source).read_all())
    return pa.concat_tables(tables, promote_options="permissive")


def build_bucket(
    b: int,
    expected: int,
    buckets: str,
    meta: pd.DataFrame,
    folders: tuple[str, str],
    schemas: tuple[Any, Any],
    defl: pd.DataFrame | None,
    spec: Any,
    linked: Any,
    extra: Sequence[str],
    sources: Sequence[str],
    src: str,
) -> dict[str, Any]:
    """Partition ``b``: its bucket files read (in input-file order), built and written; its statistics.

    ``expected`` is the number of rows the files sent to it: a partition that finds another number (a
    bucket file this worker cannot see, e.g. ``out`` on a disk that is not shared by the workers)
    raises instead of building a partial panel. A partition that got no rows is written empty (every
    partition has its file). The bucket files are left in place (removed with the staging folder), so
    a task the scheduler runs again finds them.
    """
    folder = Path(buckets) / str(b)
    files = sorted(folder.glob(f"*{BUCKET_SUFFIX}"), key=lambda f: int(f.stem))
    if files:
        part = _read_buckets(files).to_pandas()
        part = part.astype(meta.dtypes.to_dict())  # as read, before the round trip through Arrow
    else:
        part = meta
    if len(part) != expected:
        raise OutputError(
            f"partition {b} found {len(part):,} of the {expected:,} rows the input files sent it: "
            "out must be a folder that every worker reads and writes (a shared file system)",
            path=str(folder),
        )
    return write_part(part, b, folders, schemas, defl, spec, linked, extra, sources, src)
