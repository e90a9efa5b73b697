"""The panel build on Dask: :func:`build_panel_dask` -> :class:`DaskFirmPanel` (issue #16).

The same build as :func:`~clusterimpact.panel.build_panel`, for accounts too large for one machine,
and the same rules, run by the same code:

1. every accounts file is read by :func:`~clusterimpact.io.read_accounts` on a worker (a folder or glob
   of Parquet or CSV files, or Parquet at any fsspec URL with ``storage_options``); errors name the file,
   column and rows, every file's problems at once;
2. the small inputs are read once on the client: the membership registry (linked to the accounts ids by
   :mod:`clusterimpact.ids`, from the accounts ids each file holds that could link: the registry links
   exactly as in memory) and the deflator table; both are broadcast to the workers;
3. the rows are shuffled by a hash of the firm id (:meth:`~clusterimpact.dask.FirmPartitions.from_dask`),
   so each firm lives in one partition; each partition, put back in input order, goes through the
   in-memory row rules (ids, duplicates, required values, deflation, ``min_years``, the exclusion log)
   and membership timing (:func:`~clusterimpact._panel_rows.build_rows`,
   :func:`~clusterimpact._panel_members.apply_registry`);
4. the partitions' flags and counts are merged on the client into what the in-memory build records.

Rows are named by their file and 1-based row there (the exclusion log's ``source`` and ``row``; with
several files, messages write ``file:row``). Where the input has several problems, the Dask build may
report a different one first (the registry is linked before the duplicates are seen).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._panel_dask_parts import (
    FID,
    FileRead,
    ReadArgs,
    build_part,
    exclusion_counts,
    merge_flags,
    read_part,
    string_hashes,
)
from clusterimpact._panel_dask_write import (
    arrow_schemas,
    build_bucket,
    local_folder,
    merged_types,
    registry_slices,
    split_file,
    staged_folders,
    write_folder,
)
from clusterimpact._panel_facts import PanelFacts, panel_dict, panel_summary
from clusterimpact._panel_members import LinkedRegistry, link_registry
from clusterimpact.dask import FirmPartitions, require_dask
from clusterimpact.errors import DataError, OutputError, SpecError
from clusterimpact.ids import id_key
from clusterimpact.io import ColumnsArg
from clusterimpact.kbo import validate_kbo
from clusterimpact.panel import FirmPanel, PanelSpec, _read_small_inputs
from clusterimpact.presets import NBBPreset

__all__ = ["DaskFirmPanel", "build_panel_dask", "list_inputs"]

_READABLE = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")


@dataclass(frozen=True, eq=False)
class DaskFirmPanel:
    """A firm-year panel built on Dask: :class:`~clusterimpact.panel.FirmPanel`'s contract, partitioned.

    Attributes
    ----------
    data
        The panel as :class:`~clusterimpact.dask.FirmPartitions` (each firm in one partition, rows sorted
        by firm and year; the columns of ``FirmPanel.data``), persisted on the cluster. Estimators take
        it as their data (their Dask path).
    exclusions
        Every excluded input row (a Dask DataFrame with ``FirmPanel.exclusions``' columns; ``source`` is
        the row's file). :meth:`write` writes it beside the panel.
    memberships, spec, flags, rows_in, sources
        As in :class:`~clusterimpact.panel.FirmPanel`.
    facts
        Sizes, members, cohorts and exclusion counts (computed with the build).

    Examples
    --------
    >>> from clusterimpact.datasets import example_data
    >>> from clusterimpact.panel_dask import build_panel_dask
    >>> sim = example_data()
    >>> panel = build_panel_dask(sim.accounts, sim.registry, deflators=sim.deflators, npartitions=2)
    >>> panel.data.npartitions, panel.n_obs + sum(panel.exclusion_counts().values()) == panel.rows_in
    (2, True)
    """

    data: FirmPartitions
    exclusions: Any
    memberships: pd.DataFrame
    spec: PanelSpec
    flags: dict[str, Any]
    rows_in: int
    sources: dict[str, str]
    facts: PanelFacts = field(repr=False)

    def __len__(self) -> int:
        return self.facts.nobs

    @property
    def n_obs(self) -> int:
        """Number of firm-years kept."""
        return self.facts.nobs

    @property
    def n_firms(self) -> int:
        """Number of firms kept."""
        return self.facts.n_firms

    @property
    def years(self) -> tuple[int, int] | None:
        """(first, last) year in the panel, None when empty."""
        return self.facts.years

    def exclusion_counts(self) -> dict[str, int]:
        """Number of excluded rows by reason, in the order of ``REASONS`` (reasons with 0 omitted)."""
        return dict(self.facts.exclusions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary, as :meth:`FirmPanel.to_dict <clusterimpact.panel.FirmPanel.to_dict>`."""
        out = panel_dict(self.facts, self.flags, self.spec, self.sources)
        out["npartitions"] = self.data.npartitions
        return out

    def summary(self) -> str:
        """A short plain-text description, as :meth:`FirmPanel.summary`, with the partitions."""
        title = f"FirmPanel on Dask ({self.data.npartitions} partitions by firm)"
        return panel_summary(title, self.facts, self.flags)

    def to_memory(self) -> FirmPanel:
        """The whole panel on the client as a :class:`~clusterimpact.panel.FirmPanel` (small panels)."""
        data = self.data.frame.compute()
        data = data.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True)
        exclusions = self.exclusions.compute().reset_index(drop=True)
        return FirmPanel(
            data=data,
            exclusions=exclusions,
            memberships=self.memberships,
            spec=self.spec,
            flags=dict(self.flags),
            rows_in=self.rows_in,
            sources=dict(self.sources),
        )

    def write(
        self, path: str | os.PathLike[str], *, exclusions: str | os.PathLike[str] | None = None
    ) -> None:
        """Write the panel and the exclusion log as Parquet folders (one file per partition).

        Each folder is written beside its target under a temporary name and renamed when complete.
        """
        write_folder(self.data.frame, Path(path))
        if exclusions is not None:
            write_folder(self.exclusions, Path(exclusions))

    def __repr__(self) -> str:
        return (
            f"DaskFirmPanel({self.n_obs:,} firm-years, {self.n_firms:,} firms, "
            f"{sum(self.facts.exclusions.values()):,} rows excluded, "
            f"{self.data.npartitions} partitions)"
        )


def list_inputs(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> tuple[list[str], bool]:
    """The files of a folder, glob or single file (local or fsspec URL), sorted; whether remote.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from clusterimpact.panel_dask import list_inputs
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for i in range(2):
    ...         pd.DataFrame({"x": [i]}).to_parquet(Path(folder) / f"part-{i}.parquet")
    ...     files, remote = list_inputs(folder)
    >>> [Path(f).name for f in files], remote
    (['part-0.parquet', 'part-1.parquet'], False)
    """
    import fsspec

    text = os.fspath(path)
    fs, _, paths = fsspec.core.get_fs_token_paths(text, storage_options=dict(storage_options or {}))
    remote = "file" not in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    if len(paths) == 1 and fs.isdir(paths[0]):
        paths = [p for p in fs.find(paths[0]) if p.lower().endswith(_READABLE)]
    paths = sorted(p for p in paths if not Path(p).name.startswith((".", "_")))
    if not paths or not all(fs.exists(p) for p in paths):
        raise DataError("no accounts file found (a folder, glob or file is expected)", source=text)
    if remote:
        paths = [fs.unstrip_protocol(p) for p in paths]
    return paths, remote


def _registry_link_keys(reg: pd.DataFrame | None, spec: PanelSpec) -> tuple[np.ndarray, np.ndarray]:
    """The sorted hashes of the registry ids as :func:`~clusterimpact._panel_members.link_registry`
    compares them, and of their keys (what every read task gets, :class:`ReadArgs`)."""
    if reg is None or reg.empty:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64)
    ids = validate_kbo(reg["firm_id"])[0] if spec.id_type == "kbo" else reg["firm_id"]
    ids = pd.Series(pd.unique(ids.astype("str").dropna()), dtype="str")
    return (
        np.unique(string_hashes(ids.to_numpy())),
        np.unique(string_hashes(id_key(ids).dropna().to_numpy())),
    )


def _inputs(accounts: Any, storage_options: Any) -> tuple[list[Any], bool, str]:
    """The input files (or the one frame), whether they are remote, and their label in messages."""
    if isinstance(accounts, pd.DataFrame):
        return [accounts], False, str(accounts.attrs.get("source") or "data frame")
    items, remote = list_inputs(accounts, storage_options)
    return items, remote, os.fspath(accounts)


def _report_reads(stats: Sequence[FileRead], label: str) -> str:
    """Re-issue the files' warnings on the client, raise their errors (all files at once); the label."""
    for s in stats:
        for category, message in s.warnings:
            warnings.warn(message, category, stacklevel=5)
    errors = [s.error for s in stats if s.error is not None]
    if errors:
        raise DataError.combine(errors)
    return stats[0].source if len(stats) == 1 else label


def _read_all(
    accounts: Any, args: ReadArgs, storage_options: Any
) -> tuple[list[Any], list[FileRead], str]:
    """Read every accounts file on the workers (kept there); their statistics on the client."""
    import dask

    items, remote, label = _inputs(accounts, storage_options)
    # the read options hold the registry's ids: sent to each worker once, not with every task
    shared = dask.delayed(args, pure=True)
    tasks = [dask.delayed(read_part)(i, p, remote, shared) for i, p in enumerate(items)]
    tasks = list(dask.persist(*tasks))
    stats = list(dask.compute(*[dask.delayed(itemgetter(1))(t) for t in tasks]))
    return tasks, stats, _report_reads(stats, label)


def _linked(
    reg: pd.DataFrame | None,
    stats: Sequence[FileRead],
    spec: PanelSpec,
    flags: dict[str, Any],
    label: str,
) -> LinkedRegistry | None:
    """The registry linked on the client, from the accounts ids that can link and the 3 smallest."""
    if reg is None or reg.empty:
        return None
    ids = {i for s in stats for i in s.linkable}
    ids |= set(sorted({i for s in stats for i in s.smallest})[:3])
    funiq = pd.Index(sorted(ids), dtype="str")
    return link_registry(reg, funiq, spec, flags, label)


def build_panel_dask(
    accounts: str | os.PathLike[str] | pd.DataFrame,
    registry: str | os.PathLike[str] | pd.DataFrame | None = None,
    spec: PanelSpec | None = None,
    deflators: str | os.PathLike[str] | pd.DataFrame | None = None,
    *,
    columns: ColumnsArg = None,
    registry_columns: ColumnsArg = None,
    deflator_columns: ColumnsArg = None,
    preset: str | NBBPreset | None = None,
    extra: Sequence[str] = (),
    npartitions: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    registry_source: str | None = None,
    deflators_source: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    out: str | os.PathLike[str] | None = None,
    exclusions_out: str | os.PathLike[str] | None = None,
) -> DaskFirmPanel:
    """Build a validated firm-year panel on Dask: :func:`~clusterimpact.panel.build_panel`'s rules.

    Parameters
    ----------
    accounts
        A folder, glob or file of accounts (Parquet, or CSV/TSV [gz] when local), a Parquet data set
        at an fsspec URL (``s3://bucket/accounts/``, with ``storage_options``), or a DataFrame. Read
        lazily, one task per file.
    registry, spec, deflators, columns, registry_columns, deflator_columns, preset, extra
        As in :func:`~clusterimpact.panel.build_panel` (the registry and deflators are small: read on
        the client, from local files or frames).
    npartitions
        Partitions of the panel (firms hashed on their id); default: one per input file.
    storage_options
        fsspec options of a remote ``accounts`` (credentials come from the environment or fsspec's
        configuration, never from a study spec).
    registry_source, deflators_source
        Labels of the registry and deflators in messages (default: file names).
    decimal, encoding
        Reading options of text files.
    out
        A Parquet folder to write the panel to, one file per partition, as the build goes: each
        partition is built and written by the worker that shuffled it, so a worker holds a few
        partitions at a time, whatever the panel's size (the way to build a panel larger than the
        workers' memory). A local or shared-filesystem folder every worker can write; staged beside its
        target and swapped in when complete, replacing only a folder this package wrote. Without
        ``out`` the panel is persisted in the workers' memory (each holds its share of the panel).
    exclusions_out
        With ``out``: the Parquet folder of the exclusion log (default: ``<out stem>.exclusions.parquet``
        beside ``out``).

    Returns
    -------
    DaskFirmPanel
        The panel as firm partitions (persisted, or read lazily from ``out``, one partition per file),
        its exclusion log (lazy), counts and flags equal to the in-memory build's.

    Raises
    ------
    DataError, PanelError
        As :func:`~clusterimpact.panel.build_panel`, naming file, column and rows.

    Examples
    --------
    >>> from clusterimpact.datasets import example_data
    >>> from clusterimpact.panel import build_panel
    >>> from clusterimpact.panel_dask import build_panel_dask
    >>> sim = example_data()
    >>> on_dask = build_panel_dask(sim.accounts, sim.registry, deflators=sim.deflators, npartitions=3)
    >>> in_memory = build_panel(sim.accounts, sim.registry, deflators=sim.deflators)
    >>> on_dask.exclusion_counts() == in_memory.exclusion_counts(), on_dask.n_obs == in_memory.n_obs
    (True, True)
    """
    require_dask()
    import dask.dataframe as dd

    import dask

    spec = spec if spec is not None else PanelSpec()
    if not isinstance(spec, PanelSpec):
        raise SpecError(f"spec must be a PanelSpec, got {type(spec).__name__}")
    if npartitions is not None and (isinstance(npartitions, bool) or int(npartitions) < 1):
        raise SpecError(f"npartitions must be an integer >= 1, got {npartitions!r}")
    opts: dict[str, Any] = {"decimal": decimal, "encoding": encoding}
    reg, defl = _read_small_inputs(
        registry, deflators, spec, registry_columns, deflator_columns, registry_source,
        deflators_source, opts,
    )  # fmt: skip
    reg_ids, reg_keys = _registry_link_keys(reg, spec)
    args = ReadArgs(
        columns, preset, tuple(str(c) for c in extra), decimal, encoding, spec.id_type,
        reg_ids, reg_keys, storage_options,
    )  # fmt: skip
    folders = _out_folders(out, exclusions_out)
    if folders is not None:
        return _build_streamed(
            accounts, args, storage_options, reg, defl, spec, npartitions, folders
        )
    tasks, stats, src = _read_all(accounts, args, storage_options)
    flags: dict[str, Any] = {}
    linked = _linked(reg, stats, spec, flags, src)
    merged_types(
        stats
    )  # files whose columns of objects cannot be one type: refused before the shuffle
    meta = next(s.empty for s in stats if s.empty is not None)
    with dask.config.set({"dataframe.convert-string": False}):  # the dtypes read, as in memory
        frame = dd.from_delayed([dask.delayed(itemgetter(0))(t) for t in tasks], meta=meta)
        shuffled = FirmPartitions.from_dask(frame, FID, None, npartitions=npartitions or len(tasks))
    sources = [s.source for s in stats]
    bcast = [dask.delayed(x, pure=True) for x in (defl, linked, sources)]
    built = [
        dask.delayed(build_part)(p, bcast[0], spec, bcast[1], args.extra, bcast[2], src)
        for p in shuffled.frame.to_delayed()
    ]
    built = list(dask.persist(*built))
    parts = list(dask.compute(*[dask.delayed(itemgetter(2))(b) for b in built]))
    return _assemble(_persisted(built), parts, stats, spec, flags, linked, reg, defl, src)


def _build_streamed(
    accounts: Any,
    args: ReadArgs,
    storage_options: Any,
    reg: pd.DataFrame | None,
    defl: pd.DataFrame | None,
    spec: PanelSpec,
    npartitions: int | None,
    folders: tuple[Path, Path],
) -> DaskFirmPanel:
    """The build shuffled through bucket files and written partition by partition (``out=``).

    Each input file is read once by a task that writes its rows into one bucket file per partition
    (:func:`~clusterimpact._panel_dask_write.split_file`); each partition's task reads its buckets,
    builds and writes it (:func:`~clusterimpact._panel_dask_write.build_bucket`). Buckets live in the
    staging folder beside ``out`` (removed with it): no task holds more than one input file or one
    partition, and nothing is persisted.
    """
    import dask

    items, remote, label = _inputs(accounts, storage_options)
    n = int(npartitions or len(items))
    flags: dict[str, Any] = {}
    with staged_folders(*folders) as staged:
        buckets = staged[0].parent / "buckets"
        for b in range(n):  # made here, so that a task never recreates a removed staging folder
            (buckets / str(b)).mkdir(parents=True)
        # the read options hold the registry's ids: sent to each worker once, not with every task
        shared = dask.delayed(args, pure=True)
        reads = [
            dask.delayed(split_file)(i, p, remote, shared, str(buckets), n)
            for i, p in enumerate(items)
        ]
        split = list(dask.compute(*reads))
        stats = [s for s, _ in split]
        src = _report_reads(stats, label)
        expected = np.sum([c for _, c in split], axis=0)
        linked = _linked(reg, stats, spec, flags, src)
        meta = _same_columns(stats)
        sources = [s.source for s in stats]
        # the schemas from the build of no rows: every file gets them, whatever its partition holds
        empty = build_part(meta, defl, spec, linked, args.extra, sources, src)
        schemas = arrow_schemas(empty[0], empty[1], merged_types(stats))
        where = (str(staged[0]), str(staged[1]))
        bc = [dask.delayed(x, pure=True) for x in (meta, defl, sources)]
        # each partition gets the registry spells of its own firms only (none: no registry)
        slices = registry_slices(linked, n) if linked is not None else [None] * n
        tasks = [
            dask.delayed(build_bucket)(
                b, int(expected[b]), str(buckets), bc[0], where, schemas, bc[1], spec, slices[b],
                args.extra, bc[2], src,
            )
            for b in range(n)
        ]  # fmt: skip
        parts = list(dask.compute(*tasks))
        # the checks of the whole build before the folders are swapped in: every input row kept or
        # excluded exactly once; conflicting duplicates under duplicates="error"
        kept = sum(p["nobs"] for p in parts) + sum(sum(p["exclusions"].values()) for p in parts)
        if kept != sum(s.rows for s in stats):
            raise OutputError(
                f"the partitions account for {kept:,} of {sum(s.rows for s in stats):,} input rows",
                path=str(folders[0]),
            )
        merge_flags(parts, spec, None, src, registry_ids=())
    built = _read_back(folders, (empty[0], empty[1]))
    return _assemble(built, parts, stats, spec, flags, linked, reg, defl, src)


def _out_folders(out: Any, exclusions_out: Any) -> tuple[Path, Path] | None:
    """The panel and exclusion-log folders of a streamed build (``None``: persist instead)."""
    if out is None:
        if exclusions_out is not None:
            raise SpecError("exclusions_out is written with out= (the streamed build) only")
        return None
    target = local_folder(out, "out")
    if exclusions_out is None:
        stem = target.name.removesuffix(".parquet")
        return target, target.with_name(stem + ".exclusions.parquet")
    excl = local_folder(exclusions_out, "exclusions_out")
    a, b = target.resolve(), excl.resolve()
    if a == b or a in b.parents or b in a.parents:
        raise SpecError(
            f"out ({target}) and exclusions_out ({excl}) must be two separate folders, neither "
            "inside the other"
        )
    return target, excl


def _same_columns(stats: Sequence[FileRead]) -> pd.DataFrame:
    """The columns and types every input file was read with (the first file's), checked to agree:
    a column read as numbers in one file and as text in another would be cast without a word."""
    metas = [(s.source, s.empty) for s in stats if s.empty is not None]
    first_src, first = metas[0]
    for source, other in metas[1:]:
        diff = [c for c in first.columns if c in other.columns and first[c].dtype != other[c].dtype]
        if diff or list(other.columns) != list(first.columns):
            c = diff[0] if diff else "(the set of columns)"
            detail = (
                f"{first[c].dtype} in {first_src}, {other[c].dtype} in {source}"
                if diff
                else f"{list(first.columns)} in {first_src}, {list(other.columns)} in {source}"
            )
            raise DataError(
                f"the accounts files disagree on column {c!r}: {detail}; give every file the same "
                "columns and types (or read them in memory)",
                source=source,
            )
    return first


def _read_back(
    folders: tuple[Path, Path], empty: tuple[pd.DataFrame, pd.DataFrame]
) -> tuple[FirmPartitions, Any]:
    """The written panel and exclusion log read lazily (one partition per file), with the in-memory
    build's column types (Parquet reads strings back as another pandas string type)."""
    import dask.dataframe as dd

    def typed(folder: Path, like: pd.DataFrame) -> Any:
        frame = dd.read_parquet(str(folder), split_row_groups=False)
        return frame.map_partitions(_as_types, like, meta=like)

    data = FirmPartitions(typed(folders[0], empty[0]), "firm_id", "year", whole_firms=True)
    return data, typed(folders[1], empty[1])


def _as_types(part: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``part`` with the column types of ``like`` (values unchanged)."""
    return part.astype(like.dtypes.to_dict()).reset_index(drop=True)


def _persisted(built: list[Any]) -> tuple[FirmPartitions, Any]:
    """The panel and the exclusion log from the persisted (data, exclusions, statistics) partitions."""
    import dask.dataframe as dd

    import dask

    metas = dask.compute(dask.delayed(lambda b: (b[0].iloc[:0], b[1].iloc[:0]))(built[0]))[0]
    # the partitions' own dtypes: Dask would otherwise turn a column of Python objects (a Parquet
    # decimal, bytes) into text, and the in-memory build keeps them
    with dask.config.set({"dataframe.convert-string": False}):
        data = dd.from_delayed([dask.delayed(itemgetter(0))(b) for b in built], meta=metas[0])
        excl = dd.from_delayed([dask.delayed(itemgetter(1))(b) for b in built], meta=metas[1])
    return FirmPartitions(data, "firm_id", "year", whole_firms=True), excl


def _assemble(
    built: tuple[FirmPartitions, Any],
    parts: list[dict[str, Any]],
    stats: list[FileRead],
    spec: PanelSpec,
    flags: dict[str, Any],
    linked: LinkedRegistry | None,
    reg: pd.DataFrame | None,
    defl: pd.DataFrame | None,
    src: str,
) -> DaskFirmPanel:
    """The panel from its partitions and their statistics (flags merged, warnings re-issued)."""
    seen: set[str] = set()
    for p in parts:
        for category, message in p["warnings"]:
            if message not in seen:
                seen.add(message)
                warnings.warn(message, category, stacklevel=3)
    years_seen = [p["years"] for p in parts if p["years"]]
    years = (min(y[0] for y in years_seen), max(y[1] for y in years_seen)) if years_seen else None
    ids = linked.frame["firm_id"].tolist() if linked is not None else None
    flags.update(merge_flags(parts, spec, years, src, ids))
    if stats[0].preset_notes:
        flags["preset"] = dict(stats[0].preset_notes)
    cohorts: Counter[int] = Counter()
    for p in parts:
        cohorts.update(p["cohorts"])
    facts = PanelFacts(
        rows_in=sum(s.rows for s in stats),
        nobs=sum(p["nobs"] for p in parts),
        n_firms=sum(p["n_firms"] for p in parts),
        n_members=sum(p["n_members"] for p in parts),
        n_pre=sum(p["n_pre"] for p in parts),
        years=years,
        cohorts=dict(sorted(cohorts.items())),
        exclusions=exclusion_counts(parts),
    )
    data, excl = built
    sources = {"accounts": src}
    if reg is not None:
        sources["registry"] = str(reg.attrs.get("source", "registry"))
    if defl is not None:
        sources["deflators"] = str(defl.attrs.get("source", "deflators"))
    return DaskFirmPanel(
        data=data,
        exclusions=excl,
        memberships=linked.memberships if linked is not None else _empty_memberships(),
        spec=spec,
        flags=flags,
        rows_in=facts.rows_in,
        sources=sources,
        facts=facts,
    )


def _empty_memberships() -> pd.DataFrame:
    from clusterimpact._panel_members import no_registry

    return no_registry(pd.DataFrame({"year": pd.Series([], dtype="int64")}), {})
