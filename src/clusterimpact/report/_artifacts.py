"""What a report is made of: figures, tables, notes, and the record of each step.

Everything here lives in memory; :mod:`clusterimpact.report._write` puts it on disk. Tables are
rendered deterministically (fixed float formats), so the same numbers give byte-identical files.
"""

from __future__ import annotations

import html
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SECTIONS",
    "FigureArtifact",
    "StepRecord",
    "TableArtifact",
    "count_warnings",
    "frame_to_html",
    "frame_to_latex",
    "frame_to_markdown",
    "render_figure",
]

#: Report sections, in page order: key -> heading.
SECTIONS: dict[str, str] = {
    "data": "Data and exclusions",
    "selection": "Who joins: selection into membership",
    "productivity": "Productivity: production functions and TFP",
    "matching": "Matching quality",
    "premium": "The premium and its growth with duration",
    "heterogeneity": "Premium by cluster and by cohort",
    "robustness": "Robustness: estimators and outcomes compared",
    "sensitivity": "Robustness: parallel trends and hidden selection",
    "subgroups": "Robustness: heterogeneity without cherry-picking",
    "chain": "Robustness: the whole chain's uncertainty",
    "truth": "Truth vs estimate (synthetic data)",
    "provenance": "Reproducibility",
}


@dataclass(frozen=True)
class FigureArtifact:
    """A rendered figure: its file stem, section, caption, image bytes (PNG, and PDF/SVG) and the
    fingerprint of what it shows (:func:`~clusterimpact.report._fingerprint.figure_fingerprint`,
    independent of the rasterisation)."""

    name: str
    section: str
    title: str
    caption: str
    images: dict[str, bytes]
    fingerprint: str = ""


@dataclass(frozen=True)
class TableArtifact:
    """A table in Markdown, LaTeX and HTML, with its section and caption."""

    name: str
    section: str
    title: str
    caption: str
    markdown: str
    latex: str
    html: str


@dataclass
class StepRecord:
    """What one report step did: status (``ok``; ``warnings (n)``: it ran and raised n distinct
    warnings; ``not available``, ``failed``, ``skipped``), wall time in seconds, firms in the
    sample after it, a one-line detail, and the warnings it raised (``"Category: message"`` with
    how often, in order of first appearance).

    Examples
    --------
    >>> from clusterimpact.report import StepRecord
    >>> step = StepRecord("panel", seconds=0.4, firms=300, detail="2,963 firm-years")
    >>> step.status, step.firms
    ('ok', 300)
    """

    name: str
    status: str = "ok"
    seconds: float = 0.0
    firms: int | None = None
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        """The step ran to its end (status ``ok`` or ``warnings (n)``)."""
        return self.status == "ok" or self.status.startswith("warnings")

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "status": self.status, "firms": self.firms}
        out["detail"] = self.detail
        out["warnings"] = [{"warning": w, "count": n} for w, n in self.warnings]
        if timings:
            out["seconds"] = round(self.seconds, 3)
        return out


def count_warnings(caught: list[warnings.WarningMessage]) -> list[tuple[str, int]]:
    """Distinct warnings (``"Category: message"``) with how often each was raised, in order."""
    counts: dict[str, int] = {}
    for w in caught:
        key = f"{w.category.__name__}: {w.message}"
        counts[key] = counts.get(key, 0) + 1
    return list(counts.items())


def render_figure(fig: Any, formats: tuple[str, ...] = ("png", "pdf")) -> dict[str, bytes]:
    """Render a matplotlib Figure to bytes in each format with fixed metadata (reproducible bytes)."""
    out: dict[str, bytes] = {}
    fmts = tuple(dict.fromkeys(("png", *formats)))
    for i, fmt in enumerate(fmts):
        buf = io.BytesIO()
        meta: dict[str, Any]
        if fmt == "png":
            meta = {"Software": None}
        elif fmt == "pdf":
            meta = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}
        else:
            meta = {"Date": None, "Creator": None}
        fig.savefig(buf, format=fmt, dpi=110 if fmt == "png" else None, metadata=meta)
        out[fmt] = buf.getvalue()
        if i == 0:
            # the layout was solved on the first draw; keep it for the other formats (the constrained
            # layout solve is about half of the drawing time)
            fig.set_layout_engine("none")
    return out


# -- deterministic table rendering ---------------------------------------------------------------
#: Integer columns printed without a thousands separator.
PLAIN_INT_COLUMNS = frozenset(
    {"year", "cohort", "treat_year", "x", "e", "rel_year", "member_years"}
)


def _fmt(v: Any, digits: int, plain: bool = False) -> str:
    if v is None or v is pd.NA:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v)) if plain else f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return ""
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f == int(f) and abs(f) >= 1000:
            return f"{int(f):,}"
        return f"{f:.{digits}f}"
    return str(v)


def _cells(df: pd.DataFrame, digits: int) -> list[list[str]]:
    plain = [str(c) in PLAIN_INT_COLUMNS for c in df.columns]
    return [
        [_fmt(v, digits, p) for v, p in zip(row, plain, strict=True)]
        for row in df.itertuples(index=False, name=None)
    ]


def frame_to_markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    cols = [str(c) for c in df.columns]
    rows = _cells(df, digits)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |"]
    lines.append("|" + "|".join("---:" if n else ":---" for n in numeric) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    for a, b in (
        ("\\", "\\textbackslash{}"),
        ("&", "\\&"),
        ("%", "\\%"),
        ("_", "\\_"),
        ("#", "\\#"),
    ):
        s = s.replace(a, b)
    return s


def frame_to_latex(df: pd.DataFrame, digits: int = 3, caption: str = "") -> str:
    """A booktabs LaTeX tabular (inside a table environment when a caption is given)."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines.append(" & ".join(_tex(str(c)) for c in df.columns) + " \\\\")
    lines.append("\\midrule")
    lines += [" & ".join(_tex(c) for c in r) + " \\\\" for r in _cells(df, digits)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    if caption:
        lines = [
            "\\begin{table}[htbp]",
            "\\centering",
            f"\\caption{{{_tex(caption)}}}",
            *lines,
            "\\end{table}",
        ]
    return "\n".join(lines) + "\n"


def frame_to_html(df: pd.DataFrame, digits: int = 3) -> str:
    """A plain HTML table (class ``ci-table``; numbers right-aligned)."""
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for r in _cells(df, digits):
        tds = "".join(
            f'<td class="num">{html.escape(v)}</td>' if n else f"<td>{html.escape(v)}</td>"
            for v, n in zip(r, numeric, strict=True)
        )
        body.append(f"<tr>{tds}</tr>")
    return (
        '<table class="ci-table">\n<thead><tr>'
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n"
    )


def make_table(
    name: str,
    section: str,
    title: str,
    caption: str,
    df: pd.DataFrame,
    digits: int = 3,
) -> TableArtifact:
    """Render ``df`` in all three formats."""
    return TableArtifact(
        name=name,
        section=section,
        title=title,
        caption=caption,
        markdown=frame_to_markdown(df, digits),
        latex=frame_to_latex(df, digits, caption=title),
        html=frame_to_html(df, digits),
    )
