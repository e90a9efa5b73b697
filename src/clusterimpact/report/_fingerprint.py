"""What a figure shows, independent of how it is rasterised: a fingerprint for the report's golden test.

PNG and PDF bytes depend on the matplotlib and FreeType builds, so two machines that draw the same
figure can write different files. :func:`figure_content` lists what was drawn instead: for every Axes
its titles, labels, limits, scales, ticks and legend, and for every artist its data (line and marker
coordinates, bar rectangles, scatter offsets, error-bar segments, filled areas, texts and their
positions) and colours, numbers rounded to :data:`SIGNIFICANT` significant digits (below what a
figure can show). :func:`figure_fingerprint` is the SHA-256 of that list as canonical JSON.
Call them after the figure was drawn once (tick labels exist only then).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import Collection, LineCollection, PathCollection
from matplotlib.colors import to_hex, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.spines import Spine
from matplotlib.text import Text

__all__ = ["SIGNIFICANT", "figure_content", "figure_fingerprint"]

#: Significant digits kept of every number drawn.
SIGNIFICANT = 6


def _num(v: Any) -> Any:
    f = float(v)
    if not math.isfinite(f):
        return str(f)
    return float(f"{f:.{SIGNIFICANT}g}")


def _arr(a: Any) -> Any:
    x = np.asarray(a, dtype=float)
    if x.ndim == 0:
        return _num(x)
    return [_arr(v) for v in x]


def _colour(c: Any) -> Any:
    x = to_rgba_array(c)
    if len(x) == 0:
        return None
    if len(x) == 1:
        return to_hex(x[0], keep_alpha=True)
    return [to_hex(row, keep_alpha=True) for row in x]


def _text(t: Text) -> dict[str, Any] | None:
    s = t.get_text()
    if not s or not t.get_visible():
        return None
    return {"text": s, "xy": _arr(t.get_position()), "colour": _colour(t.get_color())}


def _artist(a: Artist) -> dict[str, Any] | None:
    """What one artist shows (None for invisible ones and for the Axes' frame)."""
    if not a.get_visible() or isinstance(a, Spine):
        return None
    kind = type(a).__name__
    if isinstance(a, Line2D):
        return {
            "kind": kind,
            "xy": _arr(a.get_xydata()),
            "colour": _colour(a.get_color()),
            "style": [str(a.get_linestyle()), str(a.get_marker())],
        }
    if isinstance(a, Rectangle):
        return {
            "kind": kind,
            "xywh": _arr([*a.get_xy(), a.get_width(), a.get_height()]),
            "colour": _colour(a.get_facecolor()),
        }
    if isinstance(a, Patch):
        return {
            "kind": kind,
            "xy": _arr(a.get_path().vertices),
            "colour": _colour(a.get_facecolor()),
        }
    if isinstance(a, LineCollection):
        return {
            "kind": kind,
            "segments": [_arr(s) for s in a.get_segments()],
            "colour": _colour(a.get_edgecolor()),
        }
    if isinstance(a, PathCollection):
        return {
            "kind": kind,
            "offsets": _arr(a.get_offsets()),
            "sizes": _arr(a.get_sizes()),
            "colour": _colour(a.get_facecolor()),
        }
    if isinstance(a, Collection):
        return {
            "kind": kind,
            "paths": [_arr(p.vertices) for p in a.get_paths()],
            "colour": _colour(a.get_facecolor()),
        }
    if isinstance(a, Text):
        t = _text(a)
        return None if t is None else {"kind": kind, **t}
    if isinstance(a, AxesImage):
        return {"kind": kind, "data": _arr(np.asarray(a.get_array()))}
    return {"kind": kind}


def _ticks(labels: list[Text], lim: tuple[float, float], axis: int) -> list[Any]:
    """The tick labels inside the view limits (matplotlib also keeps some outside, undrawn)."""
    lo, hi = min(lim), max(lim)
    eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
    return [_text(t) for t in labels if lo - eps <= float(t.get_position()[axis]) <= hi + eps]


def _axes(ax: Axes) -> dict[str, Any]:
    legend = ax.get_legend()
    return {
        "titles": [ax.get_title(loc) for loc in ("left", "center", "right")],
        "labels": [ax.get_xlabel(), ax.get_ylabel()],
        "limits": _arr([*ax.get_xlim(), *ax.get_ylim()]),
        "scales": [ax.get_xscale(), ax.get_yscale()],
        "xticks": _ticks(ax.get_xticklabels(), ax.get_xlim(), 0),
        "yticks": _ticks(ax.get_yticklabels(), ax.get_ylim(), 1),
        "legend": [t.get_text() for t in legend.get_texts()] if legend is not None else None,
        "artists": [
            d for d in (_artist(a) for a in ax.get_children() if a is not legend) if d is not None
        ],
    }


def figure_content(fig: Figure) -> dict[str, Any]:
    """Everything ``fig`` shows, as plain JSON-ready data (see the module docstring)."""
    legends = [[t.get_text() for t in leg.get_texts()] for leg in fig.legends]
    texts = [d for d in (_text(t) for t in fig.texts) if d is not None]
    return {"axes": [_axes(ax) for ax in fig.axes], "texts": texts, "legends": legends}


def figure_fingerprint(fig: Figure) -> str:
    """SHA-256 of :func:`figure_content` as canonical JSON."""
    blob = json.dumps(figure_content(fig), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
