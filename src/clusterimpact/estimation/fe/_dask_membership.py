"""The membership models (:mod:`~clusterimpact.estimation.fe.membership`) on Dask (#16).

Their design columns are row-local (the membership dummy, years of membership, the duration-bin
dummies, the post-exit rule), so every partition builds them with the same code as in memory and the
fit is :func:`~clusterimpact.estimation.fe._dask.fit_dask`.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import require_columns
from clusterimpact.estimation.fe._dask import fit_dask
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.vcov import _normalise_vcov
from clusterimpact.formula.design import _Formula, build_design

__all__ = ["bin_dummies", "fit_membership", "membership_partitions", "post_exit_rows"]

# partitions built by membership_partitions from a frame (persisted for the fit; the caller's own
# FirmPartitions are used as they are)
_OWNED: weakref.WeakSet[Any] = weakref.WeakSet()


def post_exit_rows(df: pd.DataFrame, time: str, cohort: str) -> np.ndarray:
    """Rows after a firm left its cluster (joined, then ``member == 0``): dropped by
    ``post_exit="drop"`` (the rule of the in-memory path, row by row)."""
    from clusterimpact._cohort import cohort_years

    g = cohort_years(df[cohort], column=cohort, never=np.nan)
    t = df[time].to_numpy(dtype=float)
    return np.asarray(np.isfinite(g) & (t >= g) & (df["member"].to_numpy() == 0))


def _drop_post_exit(part: pd.DataFrame, time: str, cohort: str) -> pd.DataFrame:
    return part.loc[~post_exit_rows(part, time, cohort)]


def _count_post_exit(part: pd.DataFrame, time: str, cohort: str) -> int:
    return int(post_exit_rows(part, time, cohort).sum())


def membership_partitions(
    data: Any, unit: str, need: list[str], post_exit: str, time: str, cohort: str
) -> tuple[Any, dict[str, int]]:
    """The data as :class:`FirmPartitions` by ``unit``, with the post-exit rows dropped (counted)."""
    from clusterimpact.dask import as_partitions

    fp = as_partitions(data, unit, time)
    owned = fp is not data
    require_columns(fp.frame._meta, list(dict.fromkeys(need)), what="membership model")
    excl: dict[str, int] = {}
    if post_exit == "drop":
        n = int(fp.map_reduce(_count_post_exit, time, cohort))
        if n:
            excl["post_exit"] = n
            fp = fp.map_partitions(_drop_post_exit, time, cohort, meta=fp.frame._meta)
    if owned:  # built here from a frame: held in the workers' memory for the passes of the fit
        _OWNED.add(fp)
    return fp, excl


def bin_dummies(
    df: pd.DataFrame, duration: str, treatment: str, parsed: Sequence[tuple[str, int, float]]
) -> dict[str, np.ndarray]:
    """The duration-bin dummies of :func:`binned_duration` (row-local)."""
    m = pd.to_numeric(df[duration], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    mem = pd.to_numeric(df[treatment], errors="coerce").to_numpy(dtype=float, na_value=np.nan) == 1
    return {
        f"{duration}::{label}": ((mem & (m >= lo) & (m <= hi)).astype(float))
        for label, lo, hi in parsed
    }


def fit_membership(
    fp: Any,
    f: _Formula | str,
    vcov: str,
    cluster: str | None,
    weights: str | None,
    method: str,
    options: dict[str, Any],
    *,
    bins: tuple[str, str, Sequence[tuple[str, int, float]]] | None = None,
) -> FixedEffectsResult:
    """:func:`fit_dask` for a membership model (``bins``: duration, treatment, parsed bins)."""
    from clusterimpact.dask import compute_context

    if isinstance(f, str):
        f, _ = build_design(f, fp.frame._meta)
    vtype, ccols = _normalise_vcov(vcov, cluster if vcov in ("cluster", "twoway") else None)
    extra = None
    if bins is not None:
        extra = functools.partial(bin_dummies, duration=bins[0], treatment=bins[1], parsed=bins[2])
    with compute_context():
        return fit_dask(
            f,
            fp,
            vtype,
            ccols,
            weights,
            True,
            method=method,
            extra=extra,
            options=options,
            persist=fp in _OWNED,
            extra_cols=bins[:2] if bins is not None else (),
        )
