"""Run a study end to end and write the report: ``report(spec) -> ReportResult``.

Steps, in order: load the inputs (or the synthetic default) → build the firm-year panel (exclusion log)
→ describe it (members vs their sector) → selection (who joins) → TFP by each production-function method
→ cohort-wise matching → estimators (static TWFE; event studies by Callaway-Sant'Anna, Sun-Abraham and
imputation; the premium by years of membership; premia by cluster and cohort; the estimator comparison on
every outcome; matched DiD) → truth vs estimate on synthetic data → robustness (``[robustness]``:
Rambachan-Roth sensitivity, Rosenbaum bounds, subgroups with Holm / Romano-Wolf, chain bootstrap) → figures (PNG+PDF), tables
(Markdown, LaTeX, HTML), ``report.html`` (one self-contained page) and ``manifest.json``.

Progress is reported through the ``clusterimpact.report`` logger (one INFO line per step: its name,
status, wall time and the firms kept, and one line per warning it raised) and an optional callback; the
CLI prints it. Inside long steps (bootstraps, matching over cohorts) lines with counts and ETA go to a
terminal's stderr (:mod:`clusterimpact._progress`). A step's warnings are also listed in its section of
the page, and its status reads ``warnings (n)``. A log file
``report.log`` is written into the report folder. Rerunning with the same inputs gives the same numbers and
byte-identical tables, figures and HTML; ``manifest.json`` differs only inside its ``volatile`` block.

``clusterimpact.report`` is this package (a module, also as the attribute of ``clusterimpact``); the
function is ``clusterimpact.report.report`` (``from clusterimpact.report import report``). Each step
family lives in its own module: ``_data_steps`` (load, panel, describe, selection), ``_tfp_steps``,
``_matching_steps`` (matching, matched DiD), ``_did_steps`` (event studies, TWFE, heterogeneity),
``_duration_steps``, ``_comparison_steps``, ``_truth_step`` and ``_robustness_steps``; ``_study`` holds
the state and the step runner, ``_artifacts`` the in-memory figures and tables, ``_fingerprint`` what
a figure shows (for the golden test of tests/reference/report_golden/), and only ``_write`` and
``_swap`` write files (``_data_steps`` reads and hashes the inputs).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterimpact._outputs import output_error
from clusterimpact._progress import progress_enabled
from clusterimpact.errors import DataError, SpecError
from clusterimpact.report import _swap
from clusterimpact.report._artifacts import SECTIONS, StepRecord
from clusterimpact.report._comparison_steps import step_compare
from clusterimpact.report._data_steps import (
    step_describe,
    step_load,
    step_panel,
    step_selection,
)
from clusterimpact.report._did_steps import step_event_study, step_heterogeneity, step_twfe
from clusterimpact.report._duration_steps import step_duration
from clusterimpact.report._matching_steps import step_matched_did, step_matching
from clusterimpact.report._robustness_steps import (
    step_chain,
    step_honest,
    step_rosenbaum,
    step_subgroups,
)
from clusterimpact.report._study import Study, run_step
from clusterimpact.report._tfp_steps import step_tfp
from clusterimpact.report._truth_step import step_truth
from clusterimpact.report._write import add_provenance_tables, write_report
from clusterimpact.spec import StudySpec, load_spec

__all__ = ["SECTIONS", "ReportResult", "StepRecord", "report"]

log = logging.getLogger("clusterimpact.report")


@dataclass(frozen=True)
class ReportResult:
    """What :func:`report` produced.

    Attributes
    ----------
    out
        The output folder.
    html
        Path of ``report.html``.
    manifest
        The manifest (as written to ``manifest.json``).
    steps
        One :class:`StepRecord` per step (status, seconds, firms kept, detail).
    results
        The estimation results by name (``"twfe:ln_lp"``, ``"duration"``, ...), for notebooks.
    figures, tables
        Names of the figures and tables written.
    fingerprints
        Figure name -> SHA-256 of what the figure shows (its data, texts and colours, numbers to
        six significant digits), the same on every machine even where the PNG/PDF bytes differ
        with the matplotlib or FreeType build.
    panel
        The :class:`~clusterimpact.panel.FirmPanel` the study ran on (None if it could not be built).

    Examples
    --------
    >>> import tempfile
    >>> from clusterimpact.report import report
    >>> from clusterimpact.spec import StudySpec
    >>> spec = StudySpec.from_dict({  # a quick study: 300 simulated firms, labour productivity only
    ...     "data": {"source": "simulate", "n_firms": 300},
    ...     "outcomes": {"tfp_methods": [], "headline": "ln_lp"},
    ...     "estimation": {"estimators": ["duration"]},
    ...     "bootstrap": {"did_draws": 0, "tfp_reps": 0},
    ...     "robustness": {"checks": []}})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = report(spec, out=folder, progress=False)
    ...     written = sorted(p.name for p in result.out.iterdir())
    >>> type(result).__name__, "duration" in result.results
    ('ReportResult', True)
    >>> len(result.figures) > 0
    True
    """

    out: Path
    html: Path
    manifest: Mapping[str, Any]
    steps: tuple[StepRecord, ...]
    results: Mapping[str, Any] = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    panel: Any = None
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Total wall time of the steps."""
        return float(sum(s.seconds for s in self.steps))

    @property
    def failed(self) -> tuple[StepRecord, ...]:
        """Steps whose status is ``failed``."""
        return tuple(s for s in self.steps if s.status == "failed")

    def summary(self) -> str:
        """One line per step: status, seconds, firms, detail."""
        lines = [f"report written to {self.html}"]
        for s in self.steps:
            firms = f"{s.firms:,}" if s.firms is not None else "-"
            lines.append(
                f"  {s.name:<14} {s.status:<14} {s.seconds:7.1f} s  {firms:>8} firms  {s.detail}"
            )
        return "\n".join(lines)


#: The report's steps, in the order they run: (name, step function).
STEPS: tuple[tuple[str, Callable[[Study], str | None]], ...] = (
    ("load", step_load),
    ("panel", step_panel),
    ("describe", step_describe),
    ("selection", step_selection),
    ("tfp", step_tfp),
    ("matching", step_matching),
    ("matched_did", step_matched_did),
    ("event_study", step_event_study),
    ("twfe", step_twfe),
    ("duration", step_duration),
    ("heterogeneity", step_heterogeneity),
    ("compare", step_compare),
    ("truth", step_truth),
    ("honest", step_honest),
    ("rosenbaum", step_rosenbaum),
    ("subgroups", step_subgroups),
    ("chain", step_chain),
)


def report(
    spec: StudySpec | str | Path | None = None,
    out: str | Path | None = "reports",
    progress: bool | Callable[[StepRecord], None] = True,
    *,
    strict: bool = False,
) -> ReportResult:
    """Run the study ``spec`` end to end and write the report to ``out``.

    Parameters
    ----------
    spec
        A :class:`~clusterimpact.spec.StudySpec`, the path of a TOML spec, or None for the default
        study (the synthetic ``ecoom`` data in ``data/synthetic/``).
    out
        Output folder; None uses the spec's ``[output] folder``.
    progress
        True: log one INFO line per step on the ``clusterimpact.report`` logger, and print progress
        lines with counts and ETA inside long steps (bootstraps, matching over cohorts) when stderr
        is a terminal; a callable: the same, and called with each finished :class:`StepRecord`;
        False: quiet (the log file is still written).
    strict
        Re-raise the first error of a step instead of recording the step as ``failed``.

    Returns
    -------
    ReportResult
        Paths, manifest, step records and the estimation results.

    Notes
    -----
    Warnings raised during a step are shown in that step's section of the page, once each with
    their count, and make its status ``warnings (n)`` (in the step table, the log and the
    manifest). A step with nothing to show is recorded as ``not available`` and one whose inputs an earlier
    step did not produce as ``skipped``; the report says so in its section. Any other error marks
    the step ``failed`` (see
    :attr:`ReportResult.failed`) unless ``strict``. Unusable input data (a :class:`DataError` or
    :class:`SpecError` while loading the data or building the panel) stop the run with that error.

    The report is built in a folder beside ``out`` and swapped in only when complete (see
    :mod:`clusterimpact.report._swap`): a failing or killed run leaves the previous report as it was,
    files in ``out`` that the report did not write survive, and an ``out`` that is, holds or lies
    inside an input is refused.

    Raises
    ------
    SpecError, DataError
        A bad spec, or input data that cannot be read or built into a panel.
    OutputError
        ``out`` cannot be written, clashes with an input, or holds files of the report's names that
        it did not write.

    Examples
    --------
    >>> import tempfile
    >>> from clusterimpact.report import report
    >>> from clusterimpact.spec import StudySpec
    >>> spec = StudySpec.from_dict({  # a quick study: 300 simulated firms, labour productivity only
    ...     "data": {"source": "simulate", "n_firms": 300},
    ...     "outcomes": {"tfp_methods": [], "headline": "ln_lp"},
    ...     "estimation": {"estimators": ["duration"]},
    ...     "bootstrap": {"did_draws": 0, "tfp_reps": 0},
    ...     "robustness": {"checks": []}})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = report(spec, out=folder, progress=False)
    ...     written = sorted(p.name for p in result.out.iterdir())
    >>> result.html.name, "manifest.json" in written
    ('report.html', True)
    >>> [step.status for step in result.steps][:3]
    ['ok', 'ok', 'ok']
    """
    if spec is None or isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    if not isinstance(spec, StudySpec):
        raise SpecError(f"spec must be a StudySpec, a TOML path or None, got {type(spec).__name__}")
    out_dir = Path(out) if out is not None else spec.out
    staging = _swap.prepare(out_dir, inputs=input_paths(spec))
    try:
        study, manifest = _run_in(staging, spec, out_dir, progress, strict)
        try:
            _swap.swap_in(staging, out_dir)
        except OSError as exc:
            raise output_error(exc, out_dir) from exc
    except BaseException:
        _swap.discard(staging)
        raise
    return ReportResult(
        out=out_dir,
        html=out_dir / "report.html",
        manifest=manifest,
        steps=tuple(study.steps),
        results=dict(study.results),
        figures=tuple(f.name for f in study.figures),
        tables=tuple(t.name for t in study.tables),
        panel=study.panel,
        fingerprints={f.name: f.fingerprint for f in study.figures},
    )


def input_paths(spec: StudySpec) -> list[Path | None]:
    """Files and folders the study reads (the report may not be written over or around them)."""
    d = spec.data
    paths: list[Path | None] = [spec.source_file, d.accounts, d.registry, d.deflators, d.truth]
    if d.source == "synthetic":
        paths.append(d.synthetic_dir)
    return paths


def _run_in(
    staging: Path,
    spec: StudySpec,
    out_dir: Path,
    progress: bool | Callable[[StepRecord], None],
    strict: bool,
) -> tuple[Study, dict[str, Any]]:
    """Run every step and write the report into ``staging``; ``report.log`` is written there too."""
    callback = progress if callable(progress) else None
    study = Study(spec=spec, progress=callback, strict=strict)
    handler = logging.FileHandler(staging / "report.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if not progress:
        log.propagate = False
    t0 = time.perf_counter()
    try:
        log.info("report: %s -> %s", spec.title, out_dir)
        # progress lines of long loops: automatic (a terminal) unless the report is quiet
        with (
            progress_enabled(None if progress else False),
            warnings.catch_warnings(record=True) as caught,
            spec.compute.session(),  # [compute] engine = "dask": the cluster of the whole run
        ):
            warnings.simplefilter("always")
            for name, func in STEPS:
                fatal = _INPUT_ERRORS if name in _DATA_STEPS else ()
                run_step(study, name, func, fatal=fatal)
                _swap.checkpoint(f"step:{name}")
        _log_warnings(caught)
        add_provenance_tables(study)
        try:
            manifest = write_report(study, staging, time.perf_counter() - t0)
        except OSError as exc:
            raise output_error(exc, out_dir) from exc
        log.info(
            "report written to %s in %.1f s (slowest step: %s)",
            out_dir / "report.html",
            time.perf_counter() - t0,
            manifest["volatile"]["slowest_step"],
        )
    finally:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(old_level)
        log.propagate = True
    return study, manifest


# Errors in these steps mean the input data (or the spec's data section) are unusable: the report stops
# with the error (the CLI exits with status 2) instead of writing a report of failed steps.
_DATA_STEPS = ("load", "panel")
_INPUT_ERRORS: tuple[type[Exception], ...] = (DataError, SpecError)


def _log_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        msg = f"{w.category.__name__}: {w.message}"
        if msg not in seen:
            seen.add(msg)
            log.info("warning during the report: %s", msg)
