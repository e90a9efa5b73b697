"""Helpers shared by the report's step modules: the study's frame and outcomes, reader-facing labels,
and the one way a step adds a tidy table, a side-by-side regression table or a figure."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

import pandas as pd

from clusterimpact import labels
from clusterimpact.errors import SpecError
from clusterimpact.report._artifacts import TableArtifact
from clusterimpact.report._story import percent_tidy
from clusterimpact.report._study import Skipped, Study
from clusterimpact.results import EstimateResult
from clusterimpact.tables import Table, regression_table

__all__ = [
    "EST_NAMES",
    "Control",
    "add_rendered",
    "control",
    "duration_bins",
    "frame",
    "headline",
    "label",
    "on_engine",
    "outcomes",
    "plot",
    "regression_table_artifact",
    "tidy_table",
]

log = logging.getLogger("clusterimpact.report")

#: Reader-facing names of the estimators, by their spec key.
EST_NAMES = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
    "matched_did": "Matched DiD",
}


def label(outcome: str) -> str:
    """Reader-facing name of an outcome column (:func:`clusterimpact.labels.label`)."""
    return labels.label(outcome)


def frame(study: Study) -> pd.DataFrame:
    """The panel data with the outcome columns (:class:`Skipped` when the panel was not built)."""
    if study.frame is None:
        raise Skipped("needs the panel, which was not built")
    return study.frame


def on_engine(
    study: Study,
    key: str,
    fn: Callable[..., Any],
    data: pd.DataFrame | None = None,
    *,
    dask_path: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """The data for estimator ``fn`` and the keywords that put it on the study's engine.

    In memory: ``data`` (default: the study's frame) and no keywords. On the Dask engine
    (``[compute] engine = "dask"``) and where ``fn`` has a Dask path (a ``backend`` option): the frame as
    firm partitions (``[compute] npartitions``; cached per frame) and ``{"backend": "dask"}``. Either
    way the running step records ``key`` under where it ran (the report lists it). ``dask_path=False``:
    this use of ``fn`` has no Dask path (e.g. one method of several), it runs in memory.
    """
    import inspect

    df = frame(study) if data is None else data
    compute = study.spec.compute
    if compute.engine != "dask":
        return df, {}
    where = study.engines.setdefault(study.current_step, {"dask": [], "memory": []})
    if not dask_path or "backend" not in inspect.signature(fn).parameters:
        where["memory"].append(key)
        return df, {}
    from clusterimpact.dask import as_partitions, hold

    cache = (id(df), tuple(map(str, df.columns)))
    held = study.partitions.get(cache)
    if held is None or held[0] is not df:
        study.partitions.clear()  # one frame's partitions at a time: the cluster's memory is bounded
        fp = hold(as_partitions(df, "firm_id", "year", npartitions=compute.npartitions))
        held = study.partitions[cache] = (df, fp)
    where["dask"].append(key)
    return held[1], {"backend": "dask"}


def outcomes(study: Study) -> list[str]:
    """Outcomes that exist as columns (TFP columns only after the tfp step succeeded)."""
    df = frame(study)
    return [o for o in study.spec.outcome_names if o in df.columns]


def headline(study: Study) -> str:
    """The headline outcome, or the first available one (with a note) when it was not built."""
    outs = outcomes(study)
    h = study.spec.outcomes.headline
    if h in outs:
        return h
    if outs:
        study.note(
            "premium",
            f"The headline outcome {h} is not available in this run; the figures use {outs[0]}.",
        )
        return outs[0]
    raise SpecError("no outcome column is available")


Control = Literal["never", "notyet"]


def control(study: Study) -> Control:
    """The study's control group, typed (the spec checked it against ``never`` / ``notyet``)."""
    c = study.spec.estimation.control
    assert c in ("never", "notyet"), c
    return cast(Control, c)


def duration_bins(study: Study) -> list[int | str]:
    """The spec's duration bins with the last one open (``[1, 2, "3+"]``)."""
    bins = study.spec.estimation.duration_bins
    return [*bins[:-1], f"{bins[-1]}+"]


def tidy_table(
    study: Study,
    name: str,
    section: str,
    title: str,
    caption: str,
    res: EstimateResult,
    *,
    outcome: str | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Add the tidy estimates of ``res`` (term, estimate, SE, CI, p-value) as a table; with the
    ``outcome`` of a log outcome, the effect and its CI in percent beside them (and the note)."""
    if outcome is None:
        t = res.tidy()[["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]]
        extra: list[str] = []
    else:
        t, extra = percent_tidy(res, outcome)
    text = " ".join([caption, *extra, *notes]).strip()
    study.add_table(name, section, title, text, t, digits=4)


def regression_table_artifact(
    study: Study,
    name: str,
    section: str,
    title: str,
    caption: str,
    models: Mapping[str, EstimateResult],
    *,
    percent: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """Add several models side by side (:func:`clusterimpact.tables.regression_table`, outcomes and
    terms named for readers); ``percent`` shows effects on log outcomes in percent."""
    tab = regression_table(models, caption="", percent=percent, labels=True, notes=notes)
    assert isinstance(tab, Table)  # fmt=None returns the Table object
    add_rendered(study, name, section, title, caption, tab)


def add_rendered(
    study: Study, name: str, section: str, title: str, caption: str, tab: Table
) -> None:
    """Add a :class:`~clusterimpact.tables.Table` in its own Markdown, LaTeX and HTML renderings."""
    study.add_table_artifact(
        TableArtifact(
            name, section, title, caption, tab.to_markdown(), tab.to_latex(), tab.to_html()
        )
    )


def plot(
    study: Study,
    section: str,
    name: str,
    fig_title: str,
    plot_fn: Callable[..., Any],
    *args: Any,
    **kw: Any,
) -> None:
    """Draw one figure with ``plot_fn``; a failure becomes a note in ``section`` and a warning of the
    step (re-raised in strict mode), never a failed step."""
    try:
        ax = plot_fn(*args, **kw)
    except Exception as exc:
        if study.strict:
            raise
        study.note(section, f"Figure '{fig_title}' not available: {exc}")
        log.warning("figure %s not drawn: %s", name, exc)
        # the step shows 'warnings (n)', not a plain ok, when one of its figures is missing
        warnings.warn(f"figure '{name}' not drawn: {exc}", UserWarning, stacklevel=2)
        return
    study.add_figure(name, section, fig_title, ax)
