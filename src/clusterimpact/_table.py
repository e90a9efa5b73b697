"""The table object behind :mod:`clusterimpact.tables`: a :class:`Table` of cells that are already
strings, with deterministic renderers to Markdown (GitHub pipe tables), LaTeX (``booktabs``) and HTML
(an escaped ``<table>``), Word-friendly HTML and ``.xlsx``; and the one cell formatter. No templating
library is used, so identical inputs always give identical bytes. Public names are re-exported by
:mod:`clusterimpact.tables`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError

__all__ = ["FORMATS", "Align", "Fmt", "Table", "finish", "format_cell", "latex_escape"]

Fmt = Literal["markdown", "latex", "html"]
FORMATS: tuple[str, ...] = ("markdown", "latex", "html")
Align = Literal["l", "r", "c"]


# -- the table object and its renderers ---------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A rendered-ready table: every cell is already a string.

    Attributes
    ----------
    columns
        Header cells.
    rows
        Body rows (each as long as ``columns``).
    align
        ``"l"``, ``"r"`` or ``"c"`` per column.
    sections
        Indices of body rows that start a new section (a rule is drawn above them).
    notes
        Lines printed under the table.
    caption
        Optional caption (LaTeX/HTML only; Markdown shows it as a bold first line).

    Examples
    --------
    >>> from clusterimpact.tables import Table
    >>> table = Table(columns=("term", "estimate"), rows=(("member", "0.031"),), align=("l", "r"))
    >>> print(table.to_markdown())
    | term | estimate |
    |:---|---:|
    | member | 0.031 |
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()
    sections: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    caption: str = ""
    frame: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        k = len(self.columns)
        for i, r in enumerate(self.rows):
            if len(r) != k:
                raise SpecError(f"table row {i} has {len(r)} cells, the header has {k}")
        if self.align and len(self.align) != k:
            raise SpecError(f"align has {len(self.align)} entries for {k} columns")
        for a in self.align:
            check_choice("align", a, ("l", "r", "c"))

    @property
    def _align(self) -> tuple[str, ...]:
        return self.align or ("l",) + ("r",) * (len(self.columns) - 1)

    def to_markdown(self) -> str:
        """GitHub-flavoured pipe table. Markdown has no inner rules, so sections are consecutive rows;
        notes follow after a blank line. ``|`` and ``\\`` in cells are escaped."""

        def esc(s: str) -> str:
            return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

        rule = {"l": ":---", "r": "---:", "c": ":---:"}
        out = []
        if self.caption:
            out += [f"**{esc(self.caption)}**", ""]
        out.append("| " + " | ".join(esc(c) for c in self.columns) + " |")
        out.append("|" + "|".join(rule[a] for a in self._align) + "|")
        for r in self.rows:
            out.append("| " + " | ".join(esc(c) for c in r) + " |")
        if self.notes:
            out.append("")
            out += [esc(n) for n in self.notes]
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        """A ``booktabs`` tabular (wrapped in a ``table`` float when there is a caption); notes as
        ``\\multicolumn`` rows at the bottom. Special characters are escaped."""
        k = len(self.columns)
        lines = []
        if self.caption:
            lines += [
                "\\begin{table}[htbp]",
                "\\centering",
                f"\\caption{{{latex_escape(self.caption)}}}",
            ]
        lines.append("\\begin{tabular}{" + "".join(self._align) + "}")
        lines.append("\\toprule")
        lines.append(" & ".join(latex_escape(c) for c in self.columns) + " \\\\")
        lines.append("\\midrule")
        starts = set(self.sections)
        for i, r in enumerate(self.rows):
            if i in starts and i > 0:
                lines.append("\\midrule")
            lines.append(" & ".join(latex_escape(c) for c in r) + " \\\\")
        lines.append("\\bottomrule")
        for n in self.notes:
            lines.append(f"\\multicolumn{{{k}}}{{l}}{{\\footnotesize {latex_escape(n)}}} \\\\")
        lines.append("\\end{tabular}")
        if self.caption:
            lines.append("\\end{table}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """An escaped ``<table class="clusterimpact-table">``; sections start with
        ``<tbody class="section">``; notes in ``<tfoot>``."""
        css = {"l": "left", "r": "right", "c": "center"}
        al = self._align
        e = html.escape
        out = ['<table class="clusterimpact-table">']
        if self.caption:
            out.append(f"<caption>{e(self.caption)}</caption>")
        out.append("<thead>")
        out.append(
            "<tr>"
            + "".join(
                f'<th style="text-align: {css[a]}">{e(c)}</th>'
                for c, a in zip(self.columns, al, strict=True)
            )
            + "</tr>"
        )
        out.append("</thead>")
        bounds = sorted({0, *[s for s in self.sections if 0 < s < len(self.rows)]})
        bounds.append(len(self.rows))
        for j in range(len(bounds) - 1):
            out.append("<tbody>" if j == 0 else '<tbody class="section">')
            for r in self.rows[bounds[j] : bounds[j + 1]]:
                out.append(
                    "<tr>"
                    + "".join(
                        f'<td style="text-align: {css[a]}">{e(c)}</td>'
                        for c, a in zip(r, al, strict=True)
                    )
                    + "</tr>"
                )
            out.append("</tbody>")
        if self.notes:
            out.append("<tfoot>")
            for n in self.notes:
                out.append(f'<tr><td colspan="{len(self.columns)}">{e(n)}</td></tr>')
            out.append("</tfoot>")
        out.append("</table>")
        return "\n".join(out) + "\n"

    def render(self, fmt: Fmt) -> str:
        """Render in ``fmt`` (``"markdown"``, ``"latex"`` or ``"html"``)."""
        check_choice("fmt", fmt, FORMATS)
        return {"markdown": self.to_markdown, "latex": self.to_latex, "html": self.to_html}[fmt]()

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame: the frame it was built from when there is one, otherwise the
        displayed cells (strings) with the first column as the index."""
        if self.frame is not None:
            return self.frame.copy()
        return _cells_frame(self)

    def to_docx_html(self) -> str:
        """A standalone HTML document that Word (and LibreOffice) open or paste as a real table:
        inline styles only (no classes, no scripts), horizontal rules as cell borders, notes under it."""
        e = html.escape
        css = {"l": "left", "r": "right", "c": "center"}
        rule, cell = "border-bottom: 1px solid black;", "padding: 2pt 6pt;"
        out = [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8"><title>table</title></head>',
            "<body style=\"font-family: 'Times New Roman', serif; font-size: 11pt\">",
        ]
        if self.caption:
            out.append(f"<p><b>{e(self.caption)}</b></p>")
        out.append(
            '<table style="border-collapse: collapse; border-top: 1.5px solid black;'
            ' border-bottom: 1.5px solid black">'
        )
        out.append(
            "<tr>"
            + "".join(
                f'<th style="{cell}{rule}text-align: {css[a]}">{e(c)}</th>'
                for c, a in zip(self.columns, self._align, strict=True)
            )
            + "</tr>"
        )
        ruled = {s - 1 for s in self.sections if s > 0}
        for i, r in enumerate(self.rows):
            extra = rule if i in ruled else ""
            out.append(
                "<tr>"
                + "".join(
                    f'<td style="{cell}{extra}text-align: {css[a]}">{e(c)}</td>'
                    for c, a in zip(r, self._align, strict=True)
                )
                + "</tr>"
            )
        out.append("</table>")
        out += [f'<p style="font-size: 9pt">{e(n)}</p>' for n in self.notes]
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def to_excel(self, path: str | Path, *, sheet_name: str = "Table") -> Path:
        """Write the displayed cells to an ``.xlsx`` sheet (openpyxl): the caption (if any) in the
        first row, then the header, the body and the notes; returns the path written."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        path = Path(path)
        if path.suffix.lower() != ".xlsx":
            raise SpecError(f"{path}: to_excel writes .xlsx files")
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = sheet_name
        if self.caption:
            ws.append([self.caption])
            ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append(list(self.columns))
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
        for r in self.rows:
            ws.append(list(r))
        for n in self.notes:
            ws.append([n])
        ws.column_dimensions["A"].width = max(12, *(len(r[0]) + 2 for r in self.rows or [("",)]))
        wb.save(path)
        return path

    def save(self, path: str | Path) -> Path:
        """Write the table in the format its suffix names: ``.xlsx``, ``.html``/``.htm`` (the
        Word-friendly document of :meth:`to_docx_html`), ``.md`` or ``.tex``; returns the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            return self.to_excel(path)
        writers = {
            ".html": self.to_docx_html,
            ".htm": self.to_docx_html,
            ".md": self.to_markdown,
            ".tex": self.to_latex,
        }
        if suffix not in writers:
            raise SpecError(
                f"{path}: cannot tell the format from {suffix!r}; use one of "
                ".xlsx, .html, .htm, .md, .tex"
            )
        path.write_text(writers[suffix](), encoding="utf-8")
        return path


def _cells_frame(table: Table) -> pd.DataFrame:
    """Displayed cells as a DataFrame, first column as the index (named by the first header)."""
    frame = pd.DataFrame(
        [r[1:] for r in table.rows],
        index=pd.Index([r[0] for r in table.rows], name=table.columns[0] or None),
        columns=list(table.columns[1:]),
    )
    return frame


_LATEX_SPECIAL = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "<": "\\textless{}",
    ">": "\\textgreater{}",
    "|": "\\textbar{}",
    "²": "$^2$",
    "−": "$-$",
    "±": "$\\pm$",
}


def latex_escape(s: str) -> str:
    """Escape LaTeX's special characters in plain text.

    Examples
    --------
    >>> from clusterimpact._table import latex_escape
    >>> print(latex_escape("R&D 50% of_total"))
    R\\&D 50\\% of\\_total
    """
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(s))


def format_cell(value: Any, digits: int = 3) -> str:
    """Deterministic cell text: floats with ``digits`` decimals and thousands separators (``-0.000``
    shown as ``0.000``), integers as they are (years and cohorts must not get separators; format
    counts yourself), missing values as an empty cell, everything else ``str``.

    Examples
    --------
    >>> from clusterimpact._table import format_cell
    >>> format_cell(1234.56789), format_cell(-0.0001), format_cell(2017), format_cell(float("nan"))
    ('1,234.568', '0.000', '2017', '')
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            return "" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        s = f"{v:,.{digits}f}"
        return s[1:] if s.startswith("-") and float(s.replace(",", "")) == 0 else s
    return str(value)


@overload
def finish(table: Table, fmt: None) -> Table: ...
@overload
def finish(table: Table, fmt: str) -> str: ...
def finish(table: Table, fmt: str | None) -> Table | str:
    if fmt is None:
        return table
    check_choice("fmt", fmt, FORMATS)
    return table.render(fmt)  # type: ignore[arg-type]
