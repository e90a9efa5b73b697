"""Small formatting constants shared by the estimate figures (marker cycle, confidence-level text)."""

from __future__ import annotations

__all__ = ["MARKERS", "pct"]

#: Marker cycle of the series drawn side by side (estimators, outcomes).
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")


def pct(level: float) -> str:
    """A confidence level as caption text: ``0.95`` -> ``"95 %"``."""
    return f"{100 * level:g} %"
