"""The one parser of cohort (first-treatment period) columns such as ``treat_year``.

Every estimator that takes a cohort (``att_gt``, ``sun_abraham``, ``bacon_decomposition``,
``compare_estimators``, ``imputation_did``, ``event_study``, ``duration_effects``, ``match_panel``,
the membership models of ``twfe``), the CLI and the report read the column through
:func:`cohort_years`, so that they all agree on what a cohort is (DESIGN.md, command-line contract):

- a whole-number period (a year), the first period in which the unit is treated;
- ``0`` or missing (NaN, ``None``, ``pd.NA``, an empty string): never treated.

Anything else -- ``"2007x"``, ``2007.5``, ``-1``, ``inf``, ``True`` -- is a
:class:`~clusterimpact.errors.DataError` naming the column, the bad values and the rows; it is never
read as "never treated". It lives at the top of the package (beside ``_validation``) so that every
layer (matching, estimation, cli, report, plotting) can import it without importing upwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clusterimpact.errors import DataError

__all__ = ["cohort_years", "row_numbers"]

#: How many distinct bad values an error message quotes.
_SHOW_VALUES = 5


def row_numbers(index: pd.Index, mask: np.ndarray) -> list[object]:
    """Rows of ``index`` where ``mask`` holds, as the user counts them.

    A default 0-based ``RangeIndex`` (a frame built in Python) gives 1-based positions; any other
    index gives its labels (frames read by :mod:`clusterimpact.io` carry the file's 1-based data rows
    as labels, and a filtered frame keeps them).
    """
    pos = np.flatnonzero(mask)
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return [int(p) + 1 for p in pos]
    return list(index[pos])


def cohort_years(
    values: pd.Series,
    *,
    column: str,
    source: str | None = None,
    never: float = 0.0,
) -> np.ndarray:
    """Parse a cohort column: whole-number periods, with 0 or missing meaning never treated.

    Parameters
    ----------
    values
        The cohort column (numeric, nullable integer, or text holding numbers).
    column
        Its name (for the error message).
    source
        The file or frame label the data came from (for the error message).
    never
        The value returned for never-treated units (``0.0``, ``np.nan`` and ``np.inf`` are the
        conventions callers use).

    Returns
    -------
    numpy.ndarray
        Float array (a new array, aligned with ``values``): the cohort of every row, ``never`` where
        the row's unit is never treated.

    Raises
    ------
    DataError
        Some value is not a whole non-negative number (a typo such as ``"2007x"``, a fraction, a
        negative number, infinity, a boolean). The message names the column, up to five distinct bad
        values and the rows (1-based, see :func:`row_numbers`).
    """
    s = values
    if pd.api.types.is_bool_dtype(s):
        present = s.notna().to_numpy()
        _raise(s, present, column, source, "booleans are not periods")
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(v)
        unparsed = np.zeros(v.size, dtype=bool)
    else:
        text = s.astype("string").str.strip()
        missing = (s.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
        num = pd.to_numeric(text.where(~missing), errors="coerce")
        v = num.to_numpy(dtype=float, na_value=np.nan)
        unparsed = ~missing & np.isnan(v)  # "2007x", and "True" (a boolean is not a period)
    with np.errstate(invalid="ignore"):
        wrong = ~missing & ~unparsed & (~np.isfinite(v) | (v < 0) | (v != np.round(v)))
    bad = unparsed | wrong
    if bad.any():
        _raise(s, bad, column, source, "")
    out = np.array(v, dtype=float, copy=True)
    out[missing | (out == 0)] = never
    return out


def _raise(s: pd.Series, bad: np.ndarray, column: str, source: str | None, why: str) -> None:
    shown = list(dict.fromkeys(repr(x) for x in s.to_numpy(dtype=object)[bad]))
    more = f" ... ({len(shown)} distinct)" if len(shown) > _SHOW_VALUES else ""
    raise DataError(
        "the cohort (first-treatment period) must be a whole number -- a year, or 0 or missing for "
        f"never treated{'; ' + why if why else ''}; bad values: "
        f"{', '.join(shown[:_SHOW_VALUES])}{more}. Fix these values (a typo is never read as "
        "'never treated')",
        source=source,
        column=column,
        rows=row_numbers(s.index, bad),
    )
