"""Report steps that read the data, build the panel and describe it (data, exclusions, selection)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Literal, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._readers import split_sheet
from clusterimpact.errors import DataError
from clusterimpact.panel import DuplicatePolicy, FirmPanel, IdType, PanelSpec, build_panel
from clusterimpact.plotting import (
    plot_members_vs_sector,
    plot_selection,
    selection_table,
    style_context,
)
from clusterimpact.provenance import data_hash
from clusterimpact.report._story import MEMBER_STATUS_DEFINITION, THIN_FIRMS, members_status_table
from clusterimpact.report._study import Skipped, Study
from clusterimpact.synthetic import simulate

__all__ = ["step_describe", "step_load", "step_panel", "step_selection"]

log = logging.getLogger("clusterimpact.report")

_PATTERNS = {
    "accounts": ("*accounts*.parquet", "*accounts*.csv", "*accounts*.csv.gz"),
    "registry": ("*registry*.parquet", "*registry*.csv", "*registry*.csv.gz"),
    "deflators": ("*deflator*.parquet", "*deflator*.csv", "*deflator*.csv.gz"),
    "truth": ("*truth.json",),
}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _find(folder: Path, kind: str) -> Path | None:
    for pattern in _PATTERNS[kind]:
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def _record_file(study: Study, kind: str, path: Path) -> None:
    study.inputs[kind] = {"path": path.as_posix(), "sha256": file_sha256(path)}


# -- load ------------------------------------------------------------------------------------------
def step_load(study: Study) -> str:
    """Read the accounts, registry, deflators and truth named by the spec (or simulate them)."""
    d = study.spec.data
    source = d.source
    if source == "synthetic":
        folder = d.synthetic_dir
        if folder is None or _find(folder, "accounts") is None:
            where = folder.as_posix() if folder is not None else "(none)"
            study.note(
                "data",
                f"The synthetic folder {where} holds no accounts file, so the data were generated "
                f"in memory (scenario {d.scenario!r}, seed {d.synthetic_seed}, {d.n_firms:,} firms); "
                "run `make synth` to write them.",
            )
            log.warning("no synthetic data in %s: simulating in memory", where)
            source = "simulate"
    if source == "simulate":
        return _simulate(study)
    if source == "synthetic":
        assert d.synthetic_dir is not None
        paths = {k: _find(d.synthetic_dir, k) for k in _PATTERNS}
        if paths["registry"] is None:
            raise DataError(
                "no registry file (*registry*.csv or .parquet) beside the accounts; "
                "regenerate the folder with `make synth`",
                source=d.synthetic_dir.as_posix(),
            )
    else:
        paths = {
            "accounts": d.accounts,
            "registry": d.registry,
            "deflators": d.deflators,
            "truth": d.truth,
        }
    return _read_files(study, paths)


def _simulate(study: Study) -> str:
    d = study.spec.data
    kw: dict[str, Any] = {"scenario": d.scenario, "seed": d.synthetic_seed, "n_firms": d.n_firms}
    if d.start_year is not None:
        kw["start_year"] = d.start_year
    if d.end_year is not None:
        kw["end_year"] = d.end_year
    sd = simulate(**kw)
    study.simulated = sd
    study.accounts = sd.accounts
    study.registry = sd.registry
    study.deflators = getattr(sd, "deflators", None)
    study.truth = dict(sd.truth)
    study.inputs["simulated"] = {
        "scenario": d.scenario,
        "seed": d.synthetic_seed,
        "n_firms": d.n_firms,
        "accounts_hash": data_hash(sd.accounts),
        "registry_hash": data_hash(sd.registry),
    }
    return (
        f"simulated {d.scenario!r} (seed {d.synthetic_seed}): "
        f"{len(sd.accounts):,} account rows, {len(sd.registry):,} registry rows"
    )


def _read_files(study: Study, paths: dict[str, Path | None]) -> str:
    """Check and hash the input files; the panel builder reads them (so its exclusion log names the
    files and their row numbers)."""
    for kind, p in paths.items():  # book.xlsx#Sheet names a sheet of a workbook
        if p is not None and not split_sheet(p)[0].is_file():
            raise DataError(f"the {kind} file does not exist", source=Path(p).as_posix())
    acc_path, reg_path = paths["accounts"], paths["registry"]
    assert acc_path is not None and reg_path is not None
    for kind, p in paths.items():
        if p is not None:
            _record_file(study, kind, split_sheet(p)[0])
    study.accounts = Path(acc_path)
    study.registry = Path(reg_path)
    defl = paths.get("deflators")
    study.deflators = Path(defl) if defl is not None else None
    truth = paths.get("truth")
    if truth is not None:
        study.truth = json.loads(Path(truth).read_text(encoding="utf-8"))
    sizes = ", ".join(
        f"{k} {Path(p).name} ({split_sheet(p)[0].stat().st_size / 1e6:.1f} MB)"
        for k, p in paths.items()
        if p is not None
    )
    return f"inputs: {sizes}"


# -- panel -----------------------------------------------------------------------------------------
def step_panel(study: Study) -> str:
    """Build the firm-year panel and its exclusion log."""
    if study.accounts is None or study.registry is None:
        raise Skipped("needs the input data, which were not loaded")
    d = study.spec.data
    pspec = PanelSpec(  # checks id_type and duplicates against its choices
        start=d.start_year,
        end=d.end_year,
        id_type=cast(IdType, d.id_type),
        exclude_bad_ids=d.exclude_bad_ids,
        duplicates=cast(DuplicatePolicy, d.duplicates),
    )
    kw: dict[str, Any] = {"decimal": d.decimal, "encoding": d.encoding, "sheet": d.sheet}
    # one syntax everywhere: role -> file column; [data.columns] also names the registry's roles
    # (firm_id for both files) unless [data.registry_columns] gives the registry's own
    acc = {k: v for k, v in d.columns.items() if k not in _REGISTRY_ONLY}
    reg = {k: v for k, v in d.columns.items() if k in _REGISTRY_ROLES}
    reg.update(d.registry_columns)
    kw["columns"] = acc or None
    kw["registry_columns"] = reg or None
    kw["deflator_columns"] = dict(d.deflator_columns) or None
    if d.preset:
        kw["preset"] = d.preset
    if study.spec.compute.engine == "dask":  # built on the cluster; later steps read it in memory
        from clusterimpact.panel_dask import build_panel_dask

        del kw["sheet"]
        on_dask = build_panel_dask(
            study.accounts, study.registry, pspec, study.deflators,
            npartitions=study.spec.compute.npartitions, **kw,
        )  # fmt: skip
        where = f"build_panel_dask ({on_dask.data.npartitions} partitions)"
        study.engines["panel"] = {"dask": [where], "memory": []}
        panel = on_dask.to_memory()
    else:
        panel = build_panel(study.accounts, study.registry, pspec, study.deflators, **kw)
    study.panel = panel
    study.frame = panel.data
    counts = _exclusion_counts(panel)
    study.exclusions["panel"] = counts
    n_excl = sum(counts.values())
    match = panel.flags.get("id_match") or {}
    found = (
        f"; registry firms found in the accounts: {match['found']:,} of "
        f"{match['registry_firms']:,} ({100 * match['match_rate']:.1f} %)"
        if match.get("registry_firms")
        else ""
    )
    return f"{len(panel.data):,} firm-years kept, {n_excl:,} rows excluded{found}"


_REGISTRY_ONLY = ("cluster", "join_date", "exit_date")
_REGISTRY_ROLES = ("firm_id", "cluster", "join_date", "exit_date")


def _exclusion_counts(panel: FirmPanel) -> dict[str, int]:
    """Rows excluded from the panel by reason, sorted by reason."""
    return dict(sorted(panel.exclusion_counts().items()))


# -- describe --------------------------------------------------------------------------------------
def step_describe(study: Study) -> str:
    """Data summary, exclusion log, and members vs their sector over time."""
    if study.frame is None:
        raise Skipped("needs the panel, which was not built")
    df = study.frame
    g = _cohorts(df)
    member_firms = df.loc[np.isfinite(g), "firm_id"].nunique()
    cohorts = len(np.unique(g[np.isfinite(g)]))
    clusters = df["cluster"].dropna().nunique() if "cluster" in df else 0
    summary = pd.DataFrame(
        {
            "quantity": [
                "firm-years",
                "firms",
                "years",
                "member firms (ever)",
                "member firm-years (in membership)",
                "joining cohorts",
                "clusters",
                "members without a pre-joining year",
            ],
            "value": [
                f"{len(df):,}",
                f"{df['firm_id'].nunique():,}",
                f"{int(df['year'].min())}-{int(df['year'].max())}",
                f"{member_firms:,}",
                f"{int(df['member'].sum()):,}",
                f"{cohorts}",
                f"{clusters}",
                f"{_no_pre(df):,}",
            ],
        }
    )
    study.add_table(
        "data_summary",
        "data",
        "The firm-year panel",
        "Size of the estimation panel after validation and exclusions.",
        summary,
    )
    counts = study.exclusions.get("panel", {})
    excl = pd.DataFrame(
        {"reason": list(counts) or ["(none)"], "firm-years excluded": list(counts.values()) or [0]}
    )
    excl["firm-years excluded"] = excl["firm-years excluded"].astype("int64")
    study.add_table(
        "exclusions",
        "data",
        "Exclusion log",
        "Every input row left out of the panel, counted by reason (nothing is dropped silently).",
        excl,
    )
    by_year = members_status_table(df)
    study.results["members_vs_sector"] = by_year
    study.add_table(
        "members_vs_sector",
        "data",
        "Members and their sectors, year by year",
        "The data of the figure's first panel: median value added per FTE (real, deflated) of each "
        "group and the number of firms behind it. "
        + MEMBER_STATUS_DEFINITION
        + " Sector: never-members in the 2-digit NACE sectors where members are observed that year. "
        f"The last column names the groups resting on fewer than {THIN_FIRMS} firms (hollow "
        "markers in the figure).",
        by_year,
    )
    _describe_figures(study)
    return f"{len(df):,} firm-years, {member_firms:,} member firms, {cohorts} cohorts"


def _no_pre(df: pd.DataFrame) -> int:
    if "has_pre_year" not in df:
        return 0
    m = df[np.isfinite(_cohorts(df))].groupby("firm_id")["has_pre_year"].first()
    return int((~m.astype(bool)).sum())


def _describe_figures(study: Study) -> None:
    """Members vs their sector: value added per FTE, employment and value added, one figure."""
    with style_context():
        fig, axes = plt.subplots(1, 3, figsize=(13.0, 4.2))
    panels: tuple[Literal["va_per_fte", "emp", "va"], ...] = ("va_per_fte", "emp", "va")
    for ax, var in zip(axes, panels, strict=True):
        # the firms behind each new and leaving point are written above it on the left panel
        shown = ("new", "leaving") if var == "va_per_fte" else False
        plot_members_vs_sector(study.frame, var, ax=ax, thin=THIN_FIRMS, show_n=shown)
    study.add_figure(
        "members_vs_sector",
        "data",
        "Members vs their sector over time (value added per FTE, employment, value added)",
        fig,
        caption="Median value added per FTE (left), FTE employment (middle) and value added "
        "(right) of member firms against never-members in the same 2-digit NACE sectors (dashed). "
        + MEMBER_STATUS_DEFINITION
        + f" Hollow markers: fewer than {THIN_FIRMS} firms behind the point; the numbers above "
        "the new and leaving points (left) are their firms, and the table below gives the firms "
        "behind every point. Real (deflated) values. Descriptive, as in the Flemish cluster "
        "monitoring; not a causal estimate.",
    )


# -- selection -------------------------------------------------------------------------------------
def _cohorts(df: pd.DataFrame) -> np.ndarray:
    """Every row's cohort through the package's one parser (NaN = never a member)."""
    return cohort_years(df["treat_year"], column="treat_year", never=np.nan)


def step_selection(study: Study) -> str:
    """Who joins: pre-joining characteristics of members vs non-members (table and figure)."""
    if study.frame is None:
        raise Skipped("needs the panel, which was not built")
    raw = selection_table(study.frame)
    table = pd.DataFrame(
        {
            "characteristic": raw["label"].astype(str),
            "members (g-1)": raw["mean_members"].astype(float),
            "non-members": raw["mean_nonmembers"].astype(float),
            "SMD": raw["smd"].astype(float),
            "n members": raw["n_members"].astype("int64"),
            "n non-members": raw["n_nonmembers"].astype("int64"),
        }
    )
    study.results["selection"] = table
    study.add_table(
        "selection",
        "selection",
        "Pre-joining characteristics of members and non-members",
        "Members in the year before they join (g-1) against never-members in the same calendar "
        "years, each year weighted by its cohort of joiners; SMD = standardised mean difference. "
        "Positive values: members larger, older, more capital-intensive or more productive "
        "before joining.",
        table,
    )
    ax = plot_selection(study.frame, table=raw)
    study.add_figure("selection", "selection", "Who joins", ax)
    big = table.loc[table["SMD"].abs() > 0.1, "characteristic"].tolist()
    n_mem = int(table["n members"].max()) if len(table) else 0
    return f"{n_mem:,} members at g-1; |SMD| > 0.1 on: {', '.join(big) or 'none'}"
