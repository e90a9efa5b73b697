"""``event_study(..., backend="dask")``: the event-study design over firm partitions (#16).

Event time is row-local (``year - cohort``), so every partition computes the sample rule and the
event-time dummies with the in-memory functions (:func:`~.event_study._sample_rows`,
:func:`~.event_study._event_rows`); the counts behind the global checks (never-members present, treated
firm-years per event time) are summed over partitions and judged by the same functions
(:func:`~.event_study._sample_checks`, :func:`~.event_study._present_events`); the regression is
:func:`~clusterimpact.estimation.fe._dask.fit_dask`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, require_columns

__all__ = ["EventDummies", "event_design"]


@dataclass(frozen=True)
class EventDummies:
    """The event-time dummies of a partition's rows (an ``extra`` of :func:`fit_dask`)."""

    names: tuple[str, ...]
    events: tuple[int, ...]
    rule: tuple[str, str, str, bool, int, int]  # cohort, time, control, bin_endpoints, lo, hi

    def __call__(self, sub: pd.DataFrame) -> dict[str, np.ndarray]:
        from clusterimpact.estimation.event_study import _event_rows, _sample_rows

        _, rel_b, _ = _sample_rows(sub, *self.rule)
        lo, hi = self.rule[4], self.rule[5]
        rows, which = _event_rows(rel_b, lo, hi, list(self.events))
        X = np.zeros((len(sub), len(self.events)))
        X[rows, which] = 1.0
        return {name: X[:, j] for j, name in enumerate(self.names)}


def _tally(part: pd.DataFrame, rule: tuple[Any, ...], events: list[int]) -> dict[str, Any]:
    from clusterimpact.estimation.event_study import _event_rows, _sample_rows

    keep, rel_b, tally = _sample_rows(part, *rule)
    _, which = _event_rows(rel_b[keep], rule[4], rule[5], events)
    return {"tally": tally, "n_by": np.bincount(which, minlength=len(events))}


def _keep_rows(part: pd.DataFrame, rule: tuple[Any, ...]) -> pd.DataFrame:
    from clusterimpact.estimation.event_study import _sample_rows

    keep = _sample_rows(part, *rule)[0]
    return part if keep.all() else part.loc[keep]


def event_design(
    data: Any,
    need: list[str],
    unit: str,
    rule: tuple[str, str, str, bool, int, int],
    refs: tuple[int, ...],
) -> tuple[Any, EventDummies, list[int], dict[str, int], list[str], dict[str, int], bool]:
    """Partitions of the event-study sample, its dummies, the event times estimated, their counts,
    notes, exclusions, and whether the partitions were built here (to persist for the fit)."""
    from clusterimpact.dask import FirmPartitions, as_partitions
    from clusterimpact.estimation.event_study import _present_events, _sample_checks

    owned = not isinstance(data, FirmPartitions)
    frame = data if not owned or type(data).__module__.startswith("dask.") else as_frame(data)
    fp = as_partitions(frame, unit, rule[1])
    meta = fp.frame._meta
    require_columns(meta, need, what="event study")
    lo, hi = rule[4], rule[5]
    events = [e for e in range(lo, hi + 1) if e not in refs]
    st = fp.map_reduce(_tally, rule, events)
    excl = _sample_checks(st["tally"], rule[0], rule[2])
    kept, counts, notes = _present_events(events, st["n_by"], stacklevel=4)
    sub = fp.map_partitions(_keep_rows, rule, meta=meta)
    ind = EventDummies(tuple(f"rel_year::{e}" for e in kept), tuple(kept), rule)
    return sub, ind, kept, counts, notes, excl, owned
