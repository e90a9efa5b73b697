"""Small validation helpers shared by estimators (option sets, column checks, data coercion)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, DataWarning, SpecError, describe_rows

__all__ = [
    "PanelKeys",
    "OVERFLOW_RISK",
    "as_frame",
    "check_choice",
    "check_values",
    "require_columns",
    "require_numeric",
    "resolve_rng",
]


class PanelKeys(TypedDict):
    """The panel's column keywords every staggered estimator takes (``**keys`` in a call)."""

    cohort: str
    unit: str
    time: str


OVERFLOW_RISK = 1e150
"""Magnitudes above this overflow float64 when squared (~1.8e308), as in every variance and regression."""


def as_frame(data: Any) -> pd.DataFrame:
    """Accept a :class:`~clusterimpact.panel.FirmPanel` (its ``.data``) or a DataFrame.

    The returned frame is the caller's object; estimators must not modify it in place (copy first).
    """
    frame = getattr(data, "data", data)
    if not isinstance(frame, pd.DataFrame):
        raise SpecError(f"expected a FirmPanel or a pandas DataFrame, got {type(data).__name__}")
    return frame


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Validate ``value`` against a Literal option set; the error lists the valid choices."""
    allowed = tuple(allowed)
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise SpecError(f"{name}={value!r} is not valid; choose one of {choices}")
    return value


def require_columns(
    df: pd.DataFrame, columns: Sequence[str], *, source: str = "data", what: str = ""
) -> None:
    """Raise :class:`DataError` naming every required column missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:30]))
        label = f" ({what})" if what else ""
        raise DataError(
            f"missing required column(s){label}: {', '.join(missing)}; available: {have}",
            source=source,
            column=missing[0],
        )


def require_numeric(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    source: str = "data",
    constant: Sequence[str] = (),
) -> None:
    """Raise :class:`DataError` naming every column that is not numeric, with its rows.

    Numeric columns are then checked by :func:`check_values`: infinite values and magnitudes that
    overflow when squared give a :class:`~clusterimpact.errors.DataWarning` naming the column and rows;
    so does a column of ``constant`` (an outcome) whose values are all equal.
    """
    problems = []
    for c in columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        coerced = pd.to_numeric(s, errors="coerce")
        bad = coerced.isna() & s.notna()
        rows = list(df.index[bad.to_numpy()])
        problems.append(
            DataError(
                f"non-numeric values (e.g. {s[bad].iloc[0]!r})"
                if rows
                else "column is not numeric",
                source=source,
                column=c,
                rows=rows,
            )
        )
    if problems:
        raise DataError.combine(problems)
    check_values(df, list(columns), source=source, constant=constant)


def check_values(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    source: str = "data",
    limits: Mapping[str, float] | None = None,
    constant: Sequence[str] = (),
) -> list[str]:
    """Warn about values no estimate survives; return the messages.

    Parameters
    ----------
    df
        The data (not modified).
    columns
        Numeric columns to check for infinite values (an overflow on reading or computing, or 'inf'
        in the file) and for magnitudes above ``limits[column]`` (default :data:`OVERFLOW_RISK`).
    source
        The file or frame label for the messages.
    limits
        Largest plausible absolute value per column (e.g. 1e15 for money in euros).
    constant
        Columns (outcomes) that must vary: all non-missing values equal gives a warning, since every
        effect on such a column is 0 with a standard error of 0.

    Returns
    -------
    list of str
        The warning messages (each also issued as a :class:`~clusterimpact.errors.DataWarning`).
    """
    messages: list[str] = []
    limits = dict(limits or {})
    for c in dict.fromkeys([*columns, *constant]):
        if c not in df.columns:
            continue
        s = df[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        v = s.to_numpy(dtype=float, na_value=np.nan)
        where = f"{source}, column '{c}'"
        inf = np.isinf(v)
        if inf.any():
            messages.append(
                f"{where}, rows {describe_rows(list(df.index[inf]))}: infinite values (a number "
                "too large for float64, an overflow, or 'inf' in the data); estimates on them are "
                "inf or NaN: fix or blank those cells"
            )
        limit = float(limits.get(c, OVERFLOW_RISK))
        huge = np.isfinite(v) & (np.abs(v) > limit)
        if huge.any():
            shown = ", ".join(f"{x:.3g}" for x in v[huge][:3])
            messages.append(
                f"{where}, rows {describe_rows(list(df.index[huge]))}: implausibly large values "
                f"({shown}; above {limit:.0e}); check the unit (thousands? cents?) or the cells"
            )
        if c in constant:
            fin = v[np.isfinite(v)]
            if fin.size >= 2 and fin.min() == fin.max():
                messages.append(
                    f"{where}: constant (all {fin.size:,} non-missing rows are {fin[0]:g}); every "
                    "effect on it is 0 with a standard error of 0, which means nothing"
                )
    for m in messages:
        warnings.warn(m, DataWarning, stacklevel=3)
    return messages


def resolve_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed or generator; never the global state."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
