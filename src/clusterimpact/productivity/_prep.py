"""Turn a firm-year frame into the arrays every production-function estimator works on.

Validation (columns, numeric types, duplicate firm-years), logging of level inputs, exclusions counted by
reason, sorting by (unit, time), integer firm codes and the index of each firm-year's previous year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import require_columns, require_numeric
from clusterimpact.errors import DataError, PanelError

__all__ = ["Arrays", "lag_index", "no_usable_rows", "prepare"]


@dataclass
class Arrays:
    """Estimation arrays, rows sorted by (firm, year).

    ``F`` free inputs, ``K`` state inputs, ``P`` proxy (or ``None``), ``C`` controls; ``unit`` integer
    firm codes (0..n_firms-1, in sorted order); ``time`` integer years; ``cur``/``lag`` row positions of
    the firm-years that have the previous calendar year and of that previous year.
    """

    y: np.ndarray
    F: np.ndarray
    K: np.ndarray
    P: np.ndarray | None
    C: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    cur: np.ndarray = field(init=False)
    lag: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cur, self.lag = lag_index(self.unit, self.time)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_units(self) -> int:
        return int(np.unique(self.unit).size) if self.n else 0

    def take(self, rows: np.ndarray, unit: np.ndarray) -> Arrays:
        """A resampled copy (rows in the given order, firm codes replaced by ``unit``)."""
        return Arrays(
            y=self.y[rows],
            F=self.F[rows],
            K=self.K[rows],
            P=None if self.P is None else self.P[rows],
            C=self.C[rows],
            unit=unit,
            time=self.time[rows],
        )


def lag_index(unit: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose firm is also observed in the previous calendar year, and that year's row.

    Rows must be sorted by (unit, time) with unique firm-years.
    """
    if unit.size < 2:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    ok = (unit[1:] == unit[:-1]) & (time[1:] - time[:-1] == 1)
    cur = np.flatnonzero(ok) + 1
    return cur, cur - 1


@dataclass
class Prepared:
    """Arrays plus the keys needed to put results back on the panel."""

    arrays: Arrays
    keys: pd.DataFrame  # unit, time columns in the arrays' row order (original labels)
    exclusions: dict[str, int]
    source_index: pd.Index  # index labels of the input rows kept, in the arrays' order
    positions: np.ndarray  # their positions in the input frame


def prepare(
    frame: pd.DataFrame,
    *,
    output: str,
    free: list[str],
    state: list[str],
    proxy: str | None,
    controls: list[str],
    unit: str,
    time: str,
    logged: bool,
    source: str = "data",
    allow_empty: bool = False,
) -> Prepared:
    """Validate and convert ``frame``; every dropped row is counted by reason.

    With ``logged=False`` the output, inputs and proxy are levels: rows where one of them is not
    positive are excluded (``nonpositive_<col>``) and the rest are logged. Missing or non-finite
    values are excluded as ``missing_<col>``. Duplicate firm-years raise :class:`PanelError`.
    """
    logvars = [output, *free, *state] + ([proxy] if proxy else [])
    allvars = [*logvars, *controls]
    seen: set[str] = set()
    dup_role = [c for c in allvars if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
    if dup_role:
        raise DataError(
            f"column(s) {', '.join(dup_role)} given in more than one role (output/free/state/proxy/"
            "controls); each input must appear once",
            source=source,
            column=dup_role[0],
        )
    require_columns(frame, [unit, time, *allvars], source=source, what="production function")
    require_numeric(frame, [time, *allvars], source=source)

    df = frame[[unit, time, *allvars]].copy()
    ucodes, tvals, full_order = _sorted_keys(df, unit, time, source)
    values, keep, exclusions = _values(df, allvars, logvars, logged)

    if not keep.any() and not allow_empty:
        raise no_usable_rows(
            {"output": output, "free": free, "state": state, "proxy": proxy, "controls": controls}
            | {"logged": logged},
            exclusions,
            source,
        )

    order = full_order[keep[full_order]]
    codes, _ = pd.factorize(ucodes[order], sort=False)

    def mat(cols: list[str]) -> np.ndarray:
        if not cols:
            return np.zeros((order.size, 0))
        return np.column_stack([values[c][order] for c in cols])

    arrays = Arrays(
        y=values[output][order],
        F=mat(free),
        K=mat(state),
        P=values[proxy][order] if proxy else None,
        C=mat(controls),
        unit=np.asarray(codes, dtype=np.int64),
        time=tvals[order].astype(np.int64),
    )
    keys = pd.DataFrame(
        {unit: df[unit].to_numpy()[order], time: frame[time].to_numpy()[order]},
    )
    return Prepared(
        arrays=arrays,
        keys=keys,
        exclusions=exclusions,
        source_index=df.index[order],
        positions=order,
    )


def no_usable_rows(options: dict[str, Any], exclusions: dict[str, int], source: str) -> DataError:
    """The error for a sample in which no firm-year is usable (``options``: prepare's keywords)."""
    proxy = options.get("proxy")
    allvars = [
        options["output"],
        *options["free"],
        *options["state"],
        *([proxy] if proxy else []),
        *options["controls"],
    ]
    return DataError(
        "no firm-year has every production-function variable present"
        + (" and positive" if not options["logged"] else "")
        + f" ({', '.join(allvars)}); excluded: {exclusions}",
        source=source,
    )


def _sorted_keys(
    df: pd.DataFrame, unit: str, time: str, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firm codes, years and the (firm, year) order; missing ids, fractional years and duplicate
    firm-years are a PanelError naming the rows."""
    if df[unit].isna().any():
        rows = list(df.index[df[unit].isna().to_numpy()])
        raise PanelError("missing firm identifier", source=source, column=unit, rows=rows)
    tnum = pd.to_numeric(df[time], errors="coerce").astype(float)
    bad_t = ~np.isfinite(tnum.to_numpy()) | (tnum.to_numpy() != np.round(tnum.to_numpy()))
    if bad_t.any():
        raise PanelError(
            "time must be whole years without gaps in the values",
            source=source,
            column=time,
            rows=list(df.index[bad_t]),
        )
    # sort by (firm, year) once: firm codes ordered by the id values, then a stable lexsort
    try:
        ucodes, _ = pd.factorize(df[unit], sort=True)
    except TypeError:  # ids of mixed types: order by their text
        ucodes, _ = pd.factorize(df[unit].astype(str), sort=True)
    tvals = tnum.to_numpy()
    full_order = np.lexsort((tvals, ucodes))
    su, st = ucodes[full_order], tvals[full_order]
    same = np.zeros(len(df), dtype=bool)
    adj = (su[1:] == su[:-1]) & (st[1:] == st[:-1])
    same[1:] |= adj
    same[:-1] |= adj
    dup = np.zeros(len(df), dtype=bool)
    dup[full_order[same]] = True
    if dup.any():
        raise PanelError(
            f"duplicate firm-years ({unit}, {time}); keep one row per firm and year",
            source=source,
            column=unit,
            rows=list(df.index[dup]),
        )
    return ucodes, tvals, full_order


def _values(
    df: pd.DataFrame, allvars: list[str], logvars: list[str], logged: bool
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """Each variable as floats (logged when given in levels), the rows kept and the exclusions."""
    exclusions: dict[str, int] = {}
    keep = np.ones(len(df), dtype=bool)
    values: dict[str, np.ndarray] = {}
    for c in allvars:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        miss = ~np.isfinite(v)
        n_miss = int((miss & keep).sum())
        if n_miss:
            exclusions[f"missing_{c}"] = exclusions.get(f"missing_{c}", 0) + n_miss
        keep &= ~miss
        if not logged and c in logvars:
            nonpos = np.isfinite(v) & (v <= 0)
            n_np = int((nonpos & keep).sum())
            if n_np:
                exclusions[f"nonpositive_{c}"] = n_np
            keep &= ~nonpos
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log(np.where(v > 0, v, np.nan))
        values[c] = v
    return values, keep, exclusions
