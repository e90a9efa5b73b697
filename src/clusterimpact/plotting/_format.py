"""Small formatting helpers shared by the estimate figures: marker cycle, confidence-level text, and
effects on log outcomes drawn in percent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError
from clusterimpact.units import PERCENT_NOTE, log_to_percent

__all__ = [
    "MARKERS",
    "PERCENT_CAPTION",
    "axis_outcome",
    "check_axis_label",
    "effect_axis_label",
    "pct",
    "to_percent",
    "to_percent_frame",
]

#: Marker cycle of the series drawn side by side (estimators, outcomes).
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")

#: The caption sentence that states the conversion of a percent axis (once per figure): the same
#: words as the tables' note.
PERCENT_CAPTION = PERCENT_NOTE


def pct(level: float) -> str:
    """A confidence level as caption text: ``0.95`` -> ``"95 %"``."""
    return f"{100 * level:g} %"


def to_percent(b: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """An effect on a log outcome in percent, ``100·(exp(b) − 1)`` (NaN stays NaN), as an array:
    :func:`clusterimpact.units.log_to_percent` on anything array-like.

    The map is increasing, so an interval ``[lo, hi]`` converts limit by limit and 0 stays 0.
    """
    return log_to_percent(np.asarray(b, dtype=float))


def to_percent_frame(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of ``frame`` with the listed effect columns (those present) in percent."""
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = to_percent(out[c].to_numpy(dtype=float))
    return out


def effect_axis_label(what: str, percent: bool) -> str:
    """``"<what> (%)"`` on a percent axis, ``"<what> (log points)"`` otherwise."""
    return f"{what} ({'%' if percent else 'log points'})"


def axis_outcome(outcome_label: str, percent: bool) -> str:
    """The outcome as named on an effect axis: a percent effect on ``ln X`` is a percent effect on
    ``X``, so a leading ``"ln "`` is dropped on a percent axis (``"ln TFP"`` -> ``"TFP"``)."""
    return outcome_label[3:] if percent and outcome_label.startswith("ln ") else outcome_label


def check_axis_label(label: str | None, percent: bool, *, argument: str) -> None:
    """Refuse an axis label that names log points on an axis drawn in percent (a wrong figure)."""
    if percent and label is not None and "log point" in label.lower():
        raise SpecError(
            f"{argument}={label!r} names log points, but the axis is drawn in percent "
            "(100·(exp(b) − 1)); pass percent=False to draw log points, or a percent label"
        )
