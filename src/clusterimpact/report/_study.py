"""The study state that report steps read and extend, and the step runner.

A step is a function ``step(study) -> str`` (a one-line detail) that may add results, figures, tables and
notes to the :class:`Study`. The runner times it, counts the firms kept, records :class:`Unavailable`
(nothing to show) as status ``not available`` and :class:`Skipped` (an earlier step it needs did not
succeed) as ``skipped``, and turns any other error into ``failed`` (or re-raises it in strict mode), so
one broken estimator never hides the rest of the report.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from clusterimpact.plotting import figure_caption
from clusterimpact.report._artifacts import (
    SECTIONS,
    FigureArtifact,
    StepRecord,
    TableArtifact,
    count_warnings,
    make_table,
    render_figure,
)
from clusterimpact.report._fingerprint import figure_fingerprint
from clusterimpact.spec import StudySpec

__all__ = ["Skipped", "Study", "Unavailable", "run_step"]

log = logging.getLogger("clusterimpact.report")


class Unavailable(Exception):
    """A step has nothing to show: none of the results it reads exists in this study."""


class Skipped(Exception):
    """A step cannot run because an earlier step it depends on did not succeed."""


@dataclass
class Study:
    """Mutable state of one report run (internal)."""

    spec: StudySpec
    progress: Callable[[StepRecord], None] | None = None
    strict: bool = False
    # data
    accounts: pd.DataFrame | Path | None = None
    registry: pd.DataFrame | Path | None = None
    deflators: pd.DataFrame | Path | None = None
    simulated: Any = None  # SyntheticData when generated in memory
    truth: dict[str, Any] | None = None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    panel: Any = None  # FirmPanel
    frame: pd.DataFrame | None = None  # panel data with the outcome columns added
    # outputs
    results: dict[str, Any] = field(default_factory=dict)
    figures: list[FigureArtifact] = field(default_factory=list)
    tables: list[TableArtifact] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in SECTIONS})
    steps: list[StepRecord] = field(default_factory=list)
    exclusions: dict[str, Any] = field(default_factory=dict)
    # the Dask engine ([compute] engine = "dask"): what each step computed there, the panel's partitions
    current_step: str = ""
    engines: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    partitions: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict)

    # -- helpers used by steps -------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.spec.seed

    def n_firms(self) -> int | None:
        if self.frame is None or "firm_id" not in self.frame:
            return None
        return int(self.frame["firm_id"].nunique())

    def note(self, section: str, text: str) -> None:
        notes = self.notes.setdefault(section, [])
        if text not in notes:
            notes.append(text)

    def add_table(
        self,
        name: str,
        section: str,
        title: str,
        caption: str,
        df: pd.DataFrame,
        digits: int = 3,
    ) -> None:
        self.tables.append(make_table(name, section, title, caption, df, digits))

    def add_table_artifact(self, table: TableArtifact) -> None:
        self.tables.append(table)

    def add_figure(
        self, name: str, section: str, title: str, fig: Any, caption: str | None = None
    ) -> None:
        """Render and keep a matplotlib Figure (or the Figure of an Axes); closes it."""
        figure = getattr(fig, "figure", fig)
        if caption is None:
            caption = figure_caption(figure)
        try:
            images = render_figure(figure, self.spec.figure_formats)
            fingerprint = figure_fingerprint(figure)  # after drawing: tick labels exist
        finally:
            plt.close(figure)
        self.figures.append(
            FigureArtifact(name, section, title, caption or title, images, fingerprint)
        )


#: The report section each step writes into (where its "not available" notice goes).
STEP_SECTIONS: dict[str, str] = {
    "load": "data",
    "panel": "data",
    "describe": "data",
    "selection": "selection",
    "tfp": "productivity",
    "matching": "matching",
    "matched_did": "matching",
    "event_study": "premium",
    "twfe": "premium",
    "duration": "premium",
    "heterogeneity": "heterogeneity",
    "compare": "robustness",
    "honest": "sensitivity",
    "rosenbaum": "sensitivity",
    "subgroups": "subgroups",
    "chain": "chain",
    "truth": "truth",
}


def run_step(
    study: Study,
    name: str,
    func: Callable[[Study], str | None],
    *,
    fatal: tuple[type[Exception], ...] = (),
) -> StepRecord:
    """Run one step: time it, log it, record its status and the warnings it raised; see the module
    docstring. Errors of the ``fatal`` types (bad input data) are re-raised: no report is written
    on such data."""
    rec = StepRecord(name=name)
    study.current_step = name
    log.info("[%s] started", name)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _call(study, rec, func, fatal)
    rec.seconds = time.perf_counter() - t0
    rec.firms = study.n_firms()
    rec.warnings = count_warnings(caught)
    if rec.status == "ok" and rec.warnings:
        rec.status = f"warnings ({len(rec.warnings)})"
    study.steps.append(rec)
    _log_step(rec)
    if not rec.ran:
        study.note(
            STEP_SECTIONS.get(name, "provenance"), f"Step '{name}' {rec.status}: {rec.detail}"
        )
    if study.progress is not None:
        study.progress(rec)
    return rec


def _call(
    study: Study,
    rec: StepRecord,
    func: Callable[[Study], str | None],
    fatal: tuple[type[Exception], ...],
) -> None:
    try:
        rec.detail = func(study) or ""
    except Unavailable as exc:
        rec.status = "not available"
        rec.detail = str(exc)
    except Skipped as exc:
        rec.status = "skipped"
        rec.detail = str(exc)
    except Exception as exc:
        if study.strict or isinstance(exc, fatal):
            raise
        rec.status = "failed"
        rec.detail = f"{type(exc).__name__}: {exc}"
        log.info("[%s] traceback", rec.name, exc_info=True)


def _log_step(rec: StepRecord) -> None:
    firms = f"{rec.firms:,} firms" if rec.firms is not None else "no data yet"
    msg = f"[{rec.name}] {rec.status} in {rec.seconds:.1f} s; {firms}"
    if rec.detail:
        msg += f"; {rec.detail}"
    (log.warning if rec.status == "failed" else log.info)(msg)
    for w, n in rec.warnings:
        log.info("[%s] warning%s: %s", rec.name, f" (x{n})" if n > 1 else "", w)
