"""Units of effects: estimates on log outcomes shown as percent.

An effect ``b`` on a log outcome (``ln_lp``, ``ln_tfp_*``) is a difference in logs; readers want the
premium in percent, ``100·(exp(b) − 1)``. The map is monotone, so a confidence interval
``[lo, hi]`` in logs becomes ``[log_to_percent(lo), log_to_percent(hi)]`` exactly; a standard error
becomes ``100·exp(b)·se`` by the delta method. Tables, the key findings and the figures' axes all use
these helpers and state the conversion once, with :data:`PERCENT_NOTE`.
"""

from __future__ import annotations

from typing import TypeVar, overload

import numpy as np
import pandas as pd

__all__ = [
    "PERCENT_NOTE",
    "PERCENT_UNIT",
    "format_percent",
    "is_log_outcome",
    "log_to_percent",
    "percent_axis_label",
    "percent_se",
    "percent_to_log",
]

#: The sentence that states the conversion (once per caption or table note).
PERCENT_NOTE = (
    "Effects on log outcomes are shown in percent, 100·(exp(b) − 1), where b is the estimated "
    "difference in logs; confidence limits are converted the same way."
)
#: Unit suffix of a percent effect.
PERCENT_UNIT = "%"

_A = TypeVar("_A", np.ndarray, pd.Series, pd.DataFrame)


@overload
def log_to_percent(b: float) -> float: ...
@overload
def log_to_percent(b: _A) -> _A: ...
def log_to_percent(b: float | _A) -> float | _A:
    """Effect on a log outcome in percent: ``100·(exp(b) − 1)``.

    Parameters
    ----------
    b
        A difference in logs (a number, array, Series or DataFrame); NaN stays NaN.

    Returns
    -------
    float or the same container type
        The percent change, e.g. ``0.03 -> 3.045``; apply it to CI limits one by one (the map is
        monotone increasing, so the order of the limits is kept).

    Examples
    --------
    >>> round(log_to_percent(0.03), 3)
    3.045
    >>> log_to_percent(0.0)
    0.0
    """
    if isinstance(b, (pd.Series, pd.DataFrame)):
        return 100.0 * np.expm1(b.astype(float))  # type: ignore[return-value]
    if isinstance(b, np.ndarray):
        return 100.0 * np.expm1(b.astype(float))
    return float(100.0 * np.expm1(float(b)))


def percent_to_log(p: float) -> float:
    """Inverse of :func:`log_to_percent`: ``ln(1 + p/100)``.

    Examples
    --------
    >>> round(percent_to_log(log_to_percent(0.042)), 12)
    0.042
    """
    return float(np.log1p(float(p) / 100.0))


def percent_se(b: float, se: float) -> float:
    """Delta-method standard error of ``log_to_percent(b)``: ``100·exp(b)·se``.

    Examples
    --------
    >>> round(percent_se(0.0, 0.01), 6)
    1.0
    """
    return float(100.0 * np.exp(float(b)) * float(se))


def is_log_outcome(name: str) -> bool:
    """True for outcome columns in logs (``ln_*``): their effects are shown in percent.

    Examples
    --------
    >>> is_log_outcome("ln_tfp_acf"), is_log_outcome("emp")
    (True, False)
    """
    return str(name).startswith("ln_")


def format_percent(p: float, digits: int = 1, *, sign: bool = True) -> str:
    """A percent as text: ``+3.0%``, ``−1.2%`` (true minus sign), ``0.0%``; NaN as ``n/a``.

    Examples
    --------
    >>> format_percent(3.04), format_percent(-1.25, 2), format_percent(0.0)
    ('+3.0%', '−1.25%', '0.0%')
    """
    v = float(p)
    if not np.isfinite(v):
        return "n/a"
    s = f"{abs(v):.{digits}f}"
    if float(s) == 0:
        return f"{s}{PERCENT_UNIT}"
    if v < 0:
        return f"−{s}{PERCENT_UNIT}"
    return f"{'+' if sign else ''}{s}{PERCENT_UNIT}"


def percent_axis_label(what: str = "Effect") -> str:
    """Axis label of an effect in percent: ``"Effect (%, 100·(exp(b) − 1))"``.

    Examples
    --------
    >>> percent_axis_label("Premium in ln TFP (ACF)")
    'Premium in ln TFP (ACF) (%, 100·(exp(b) − 1))'
    """
    return f"{what} (%, 100·(exp(b) − 1))"
