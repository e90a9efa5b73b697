"""Shared plumbing of every figure: the style context, captions, deterministic saving, input coercion."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clusterimpact.errors import SpecError
from clusterimpact.results import EstimateResult, ProfileResult

__all__ = [
    "PALETTE",
    "STYLE_PATH",
    "figure_caption",
    "new_axes",
    "save_figure",
    "set_caption",
    "style_context",
]

#: Okabe-Ito colour-blind safe palette, in the order of the style's colour cycle.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
#: Colour of the comparison group (sector, non-members, controls) in every figure.
GREY = "#7F7F7F"


def _style_path() -> Path:
    return Path(str(resources.files("clusterimpact") / "style" / "clusterimpact.mplstyle"))


STYLE_PATH = _style_path()

# Captions live beside the Axes that carry them (weakly, so closed figures are freed).
_CAPTIONS: weakref.WeakKeyDictionary[Axes, str] = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def style_context() -> Iterator[None]:
    """Apply the shared clusterimpact style inside a ``with`` block; rcParams are restored after.

    Every ``plot_*`` function draws inside this context, so users' global settings are never
    changed. Wrap your own additions to a figure in it to match the look.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from clusterimpact.plotting import style_context
    >>> before = plt.rcParams["axes.prop_cycle"]
    >>> with style_context():
    ...     fig, ax = plt.subplots()  # drawn in the package's style
    >>> plt.rcParams["axes.prop_cycle"] == before  # your settings are back
    True
    """
    state: dict[str, bool] = {}
    with mpl.rc_context(), plt.style.context(str(STYLE_PATH)):
        try:
            yield
        finally:
            state["interactive"] = mpl.is_interactive()
    # A backend loaded inside the block (Jupyter's inline backend, on the first figure of a session)
    # turns interactive mode on; restoring rcParams would turn it off again and no later figure
    # would be shown in the notebook.
    if state["interactive"] and not mpl.is_interactive():
        mpl.interactive(True)


def new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    """Return ``ax``, or the Axes of a new figure created with the shared style (call inside
    :func:`style_context`)."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise SpecError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return ax
    fig = plt.figure(figsize=figsize)
    return fig.add_subplot()


def set_caption(ax: Axes, caption: str) -> Axes:
    """Attach ``caption`` (estimand, sample, method) to ``ax``; :func:`figure_caption` reads it back.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from clusterimpact.plotting import figure_caption, set_caption
    >>> fig, ax = plt.subplots()
    >>> ax = set_caption(ax, "ATT on ln TFP; 95 % CI.")
    >>> figure_caption(ax)
    'ATT on ln TFP; 95 % CI.'
    """
    _CAPTIONS[ax] = str(caption)
    return ax


def figure_caption(obj: Axes | Figure) -> str:
    """The caption a ``plot_*`` function attached to its Axes.

    Parameters
    ----------
    obj
        The Axes returned by a ``plot_*`` function, or a Figure: then the captions of all its Axes
        that carry one are joined (in drawing order) with a blank-separated space.

    Returns
    -------
    str
        The caption ("" when none was attached). It states the estimand, the sample and the method,
        ready to print under the figure (the report uses it as the ``<figcaption>``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import figure_caption, plot_duration_premium
    >>> ax = plot_duration_premium(ci.duration_effects(example_panel(), outcome="ln_lp"))
    >>> len(figure_caption(ax)) > 0
    True
    """
    if isinstance(obj, Figure):
        parts = [_CAPTIONS[a] for a in obj.axes if a in _CAPTIONS]
        return " ".join(parts)
    if isinstance(obj, Axes):
        return _CAPTIONS.get(obj, "")
    raise SpecError(f"figure_caption expects an Axes or a Figure, got {type(obj).__name__}")


def save_figure(
    fig: Figure | Axes,
    path_stem: str | Path,
    *,
    formats: tuple[str, ...] = ("png", "pdf"),
    dpi: float | None = None,
    pdf_fonttype: int | None = None,
) -> list[Path]:
    """Write ``fig`` as PNG and PDF with fixed metadata, so identical inputs give identical bytes.

    Parameters
    ----------
    fig
        A Figure, or an Axes (its figure is saved).
    path_stem
        Output path without extension; ``.png`` / ``.pdf`` are appended (a given suffix is replaced).
    formats
        Any of ``"png"``, ``"pdf"``, ``"svg"``.
    dpi
        Raster resolution; defaults to the style's ``savefig.dpi`` (150).
    pdf_fonttype
        ``42`` embeds TrueType fonts in the PDF (some publishers reject the default Type 3 fonts);
        it is 3-4 times slower to write.

    Returns
    -------
    list of Path
        The files written, in ``formats`` order.

    Notes
    -----
    PNG: the ``Software`` entry is dropped. PDF: ``CreationDate`` and ``Producer`` are dropped (matplotlib
    then writes no date and the file is a function of the drawing only). SVG: no date, fixed hash salt.
    The directory is created when missing.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import matplotlib.pyplot as plt
    >>> from clusterimpact.plotting import save_figure
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = save_figure(fig, Path(folder) / "line")
    ...     print([p.name for p in paths])
    ['line.png', 'line.pdf']
    """
    if isinstance(fig, Axes):
        fig = fig.figure  # type: ignore[assignment]
    if not isinstance(fig, Figure):
        raise SpecError(f"save_figure expects a Figure or Axes, got {type(fig).__name__}")
    stem = Path(path_stem)
    if stem.suffix.lower() in {".png", ".pdf", ".svg"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, dict[str, Any]] = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
        "svg": {"Date": None, "Creator": None},
    }
    written: list[Path] = []
    if pdf_fonttype not in (None, 3, 42):
        raise SpecError(f"pdf_fonttype={pdf_fonttype!r} is not valid; choose 3 or 42")
    with style_context():
        if pdf_fonttype is not None:
            mpl.rcParams["pdf.fonttype"] = pdf_fonttype
        for ext in formats:
            if ext not in metadata:
                raise SpecError(f"format {ext!r} is not supported; choose from png, pdf, svg")
            path = stem.with_name(stem.name + "." + ext)
            fig.savefig(path, format=ext, metadata=metadata[ext], dpi=dpi)
            written.append(path)
    return written


# -- input coercion ---------------------------------------------------------------------------------

PROFILE_COLUMNS = [
    "x",
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "band_low",
    "band_high",
    "n",
]


def profile_frame(obj: Any, level: float = 0.95) -> pd.DataFrame:
    """A profile frame (x, term, estimate, std_error, conf_low, conf_high, band_low, band_high, n).

    Accepts a :class:`ProfileResult` (its :meth:`~ProfileResult.profile`), a plain
    :class:`EstimateResult` whose terms end in ``::<number>`` or ``:<number>``, or a DataFrame with at
    least ``x``, ``estimate`` and either ``conf_low``/``conf_high`` or ``std_error``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.plotting import profile_frame
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-2, 2))
    >>> frame = profile_frame(es)
    >>> frame["x"].tolist(), list(frame.columns[:3])
    ([-2.0, 0.0, 1.0, 2.0], ['x', 'term', 'estimate'])
    """
    if isinstance(obj, ProfileResult):
        return obj.profile(level)
    if isinstance(obj, EstimateResult):
        t = obj.tidy(level)
        t["x"] = [term_x(s) for s in t["term"]]
        t = t[t["x"].notna()].copy()
        frame = t
    elif isinstance(obj, pd.DataFrame):
        frame = obj.copy()
    else:
        raise SpecError(
            f"expected a ProfileResult, EstimateResult or DataFrame, got {type(obj).__name__}"
        )
    if "x" not in frame.columns:
        raise SpecError("profile frame needs an 'x' column (event time, years of membership, ...)")
    if "estimate" not in frame.columns:
        raise SpecError("profile frame needs an 'estimate' column")
    frame = _fill_ci(frame, level)
    if "term" not in frame.columns:
        frame["term"] = [f"{v:g}" for v in frame["x"].astype(float)]
    for c in ("band_low", "band_high", "n", "std_error"):
        if c not in frame.columns:
            frame[c] = np.nan
    frame["x"] = frame["x"].astype(float)
    frame = frame.sort_values("x", kind="mergesort").reset_index(drop=True)
    return frame[PROFILE_COLUMNS + [c for c in frame.columns if c not in PROFILE_COLUMNS]]


def tidy_input(obj: Any, level: float = 0.95) -> pd.DataFrame:
    """A tidy frame (term, estimate, conf_low, conf_high, ...) from a result or a DataFrame."""
    if isinstance(obj, EstimateResult):
        return obj.tidy(level)
    if isinstance(obj, pd.DataFrame):
        frame = obj.copy()
        if "estimate" not in frame.columns:
            raise SpecError("a tidy frame needs an 'estimate' column")
        return _fill_ci(frame, level)
    raise SpecError(f"expected an EstimateResult or a tidy DataFrame, got {type(obj).__name__}")


def _fill_ci(frame: pd.DataFrame, level: float) -> pd.DataFrame:
    if "conf_low" in frame.columns and "conf_high" in frame.columns:
        return frame
    if "std_error" not in frame.columns:
        raise SpecError("need 'conf_low'/'conf_high' or 'std_error' columns to draw intervals")
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    est = frame["estimate"].astype(float)
    se = frame["std_error"].astype(float)
    frame = frame.copy()
    frame["conf_low"] = est - z * se
    frame["conf_high"] = est + z * se
    return frame


def term_x(term: str) -> float:
    """Axis value encoded in a term name: ``rel_year::-3`` → -3, ``dynamic:2`` → 2,
    ``member_years::5+`` → 5; NaN when the term carries none."""
    s = str(term)
    for sep in ("::", ":"):
        if sep in s:
            tail = s.rsplit(sep, 1)[1].rstrip("+").strip()
            try:
                return float(tail)
            except ValueError:
                return float("nan")
    return float("nan")


def term_label(term: str) -> str:
    """Short label of a term: the part after the last ``::`` or ``:`` (``group:2017`` → ``2017``)."""
    s = str(term)
    for sep in ("::", ":"):
        if sep in s and not s.startswith("ATT("):
            return s.rsplit(sep, 1)[1]
    return s


def fmt_p(p: float | None) -> str:
    """p-value for captions: ``p = 0.031``, ``p < 0.001``."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def result_name(obj: Any, default: str) -> str:
    """Readable estimator name of a result (its ``method``) for legends."""
    method = getattr(obj, "method", None)
    return METHOD_NAMES.get(str(method), str(method)) if method else default


#: Display names of estimator method codes.
METHOD_NAMES: Mapping[str, str] = {
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
    "twfe": "TWFE",
    "matched_did": "Matched DiD",
    "event_study": "TWFE event study",
    "static_premium": "TWFE",
    "duration": "Duration profile",
    "duration_imputation": "Imputation (BJS)",
}


def pretrend_pvalue(result: Any) -> float | None:
    """The p-value of a result's pre-trend test (``result.pretrend``), if it has a finite one."""
    test = result.pretrend if isinstance(result, EstimateResult) else None
    if test is None:
        return None
    p = float(test.p_value)
    return p if np.isfinite(p) else None
