"""Small validation helpers shared by estimators (option sets, column checks, data coercion)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError, SpecError

__all__ = ["as_frame", "check_choice", "require_columns", "require_numeric", "resolve_rng"]


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


def require_numeric(df: pd.DataFrame, columns: Sequence[str], *, source: str = "data") -> None:
    """Raise :class:`DataError` naming every column that is not numeric, with its rows."""
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


def resolve_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed or generator; never the global state."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
