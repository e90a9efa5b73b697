"""Tables for papers and reports: regression tables, balance tables, estimator comparisons.

Every table is a :class:`Table` (header, body rows split into sections, notes) rendered by small,
deterministic renderers to Markdown (GitHub pipe tables), LaTeX (``booktabs`` tabular) and HTML (an
escaped ``<table>``). No templating library is used, so identical inputs always give identical bytes.

Functions with a ``fmt`` argument return the rendered string when ``fmt`` is given and the
:class:`Table` otherwise (which the report renders in all three formats).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.results import EstimateResult

if TYPE_CHECKING:
    from clusterimpact.estimation.compare import ComparisonResult

__all__ = [
    "FORMATS",
    "Table",
    "balance_table",
    "comparison_table",
    "frame_table",
    "regression_table",
    "render",
    "to_html",
    "to_latex",
    "to_markdown",
]

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
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(s))


# -- generic frames ------------------------------------------------------------------------------------


def format_cell(value: Any, digits: int = 3) -> str:
    """Deterministic cell text: floats with ``digits`` decimals and thousands separators (``-0.000``
    shown as ``0.000``), integers as they are (years and cohorts must not get separators; format
    counts yourself), missing values as an empty cell, everything else ``str``."""
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


def frame_table(
    df: pd.DataFrame,
    *,
    digits: int = 3,
    index: bool = False,
    caption: str = "",
    notes: Sequence[str] = (),
) -> Table:
    """A :class:`Table` from a DataFrame: numeric columns right-aligned, others left-aligned."""
    if not isinstance(df, pd.DataFrame):
        raise SpecError(f"expected a DataFrame, got {type(df).__name__}")
    d = df.reset_index() if index else df
    cols = tuple(str(c) for c in d.columns)
    align = tuple(
        "r" if pd.api.types.is_numeric_dtype(d[c]) and not pd.api.types.is_bool_dtype(d[c]) else "l"
        for c in d.columns
    )
    rows = tuple(
        tuple(format_cell(v, digits) for v in rec) for rec in d.itertuples(index=False, name=None)
    )
    return Table(cols, rows, align, (), tuple(notes), caption, frame=df)


def to_markdown(df: pd.DataFrame, *, digits: int = 3, index: bool = False) -> str:
    """Render a DataFrame as a Markdown pipe table (see :func:`frame_table` for the cell format)."""
    return frame_table(df, digits=digits, index=index).to_markdown()


def to_latex(df: pd.DataFrame, *, digits: int = 3, index: bool = False, caption: str = "") -> str:
    """Render a DataFrame as a LaTeX ``booktabs`` tabular."""
    return frame_table(df, digits=digits, index=index, caption=caption).to_latex()


def to_html(df: pd.DataFrame, *, digits: int = 3, index: bool = False, caption: str = "") -> str:
    """Render a DataFrame as an escaped HTML table."""
    return frame_table(df, digits=digits, index=index, caption=caption).to_html()


def render(table: Table | pd.DataFrame, fmt: Fmt, *, digits: int = 3) -> str:
    """Render a :class:`Table` or DataFrame in ``fmt``."""
    if isinstance(table, pd.DataFrame):
        table = frame_table(table, digits=digits)
    return table.render(fmt)


@overload
def _finish(table: Table, fmt: None) -> Table: ...
@overload
def _finish(table: Table, fmt: str) -> str: ...
def _finish(table: Table, fmt: str | None) -> Table | str:
    if fmt is None:
        return table
    check_choice("fmt", fmt, FORMATS)
    return table.render(fmt)  # type: ignore[arg-type]


# -- regression tables -----------------------------------------------------------------------------------

_STARS = ((0.01, "***"), (0.05, "**"), (0.1, "*"))
_VCOV_NAMES = {
    "iid": "IID",
    "hetero": "Heteroskedasticity-robust",
    "hc1": "Heteroskedasticity-robust",
    "cluster": "Clustered",
    "twoway": "Two-way clustered",
    "driscoll_kraay": "Driscoll-Kraay",
}


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    for cut, s in _STARS:
        if p < cut:
            return s
    return ""


def _named_results(
    results: Mapping[str, EstimateResult] | Sequence[EstimateResult],
) -> dict[str, EstimateResult]:
    if isinstance(results, EstimateResult):
        results = [results]
    if isinstance(results, Mapping):
        named = {str(k): v for k, v in results.items()}
    elif isinstance(results, Sequence) and not isinstance(results, str):
        named = {f"({i + 1})": r for i, r in enumerate(results)}
    else:
        raise SpecError(f"results must be a dict or list of results, got {type(results).__name__}")
    if not named:
        raise SpecError("regression_table needs at least one result")
    for k, r in named.items():
        if not isinstance(r, EstimateResult):
            raise SpecError(f"model {k!r} is a {type(r).__name__}, not an EstimateResult")
    return named


def _fe_text(r: EstimateResult) -> str | None:
    fe = getattr(r, "fixed_effects", None)
    if fe is None:
        return None
    if isinstance(fe, str):
        return fe or "none"
    fe = [str(f) for f in fe]
    return ", ".join(fe) if fe else "none"


def _se_text(r: EstimateResult) -> str | None:
    vt = getattr(r, "vcov_type", None)
    if vt is None:
        return None
    name = _VCOV_NAMES.get(str(vt), str(vt))
    cl = getattr(r, "cluster", None)
    return f"{name} ({cl})" if cl else name


def _depvar(r: EstimateResult) -> str | None:
    """The outcome a result was estimated on: ``depvar``, else the recorded ``outcome`` option, else
    the left-hand side of the recorded formula; None when unknown."""
    dv = getattr(r, "depvar", None)
    if dv:
        return str(dv)
    opts = r.provenance.options
    if opts.get("outcome"):
        return str(opts["outcome"])
    formula = opts.get("formula")
    if isinstance(formula, str) and "~" in formula:
        return formula.split("~", 1)[0].strip() or None
    return None


def regression_table(
    results: Mapping[str, EstimateResult] | Sequence[EstimateResult],
    terms: Sequence[str] | Mapping[str, str] | None = None,
    *,
    stat: Literal["se", "ci"] = "se",
    stars: bool = False,
    fmt: Fmt | Literal["frame"] | None = None,
    digits: int = 3,
    level: float = 0.95,
    notes: Sequence[str] | str = (),
    caption: str = "",
    depvars: Mapping[str, str] | None = None,
) -> Table | str | pd.DataFrame:
    """Several models side by side: the dependent variable, coefficients with SEs or CIs, then N,
    fixed effects, clustering, R².

    Parameters
    ----------
    results
        ``{column name: result}`` or a list (columns named ``(1)``, ``(2)``, ...).
    terms
        Terms to show, in order; a mapping ``{term: display label}`` also relabels. Default: every term
        of every model in first-appearance order.
    stat
        Second line under each coefficient: ``"se"`` → ``(0.012)``; ``"ci"`` → ``[0.010, 0.050]`` at
        ``level``.
    stars
        Append ``*``/``**``/``***`` for p < 0.1 / 0.05 / 0.01 (explained in the notes).
    fmt
        ``"markdown"``, ``"latex"`` or ``"html"`` to return the rendered string; ``"frame"`` returns
        the DataFrame (``Table.frame``); ``None`` returns the :class:`Table`.
    digits
        Decimals of coefficients, SEs, CIs and R².
    notes
        Extra note lines.
    depvars
        Display names of outcomes (``{"ln_lp": "ln VA per FTE"}``) for the ``Dependent variable`` row.

    Returns
    -------
    Table, str or DataFrame
        The :class:`Table` carries the same cells as a DataFrame in ``.frame`` (one row per table row,
        the row label as the index, one column per model); save it with ``Table.save("t.xlsx")`` or
        ``Table.save("t.html")`` (a Word-friendly document).

    Notes
    -----
    The first row, ``Dependent variable``, names each model's outcome (``depvar``, else the recorded
    ``outcome`` option or the formula's left-hand side) and is left out when none is known.
    Footer rows appear only when at least one model carries the attribute: ``Observations`` (``nobs``),
    ``Fixed effects`` (``fixed_effects``), ``Std. errors`` (``vcov_type`` with ``cluster``),
    ``Clusters`` (``n_clusters``), ``R²`` (``r2``), ``Within R²`` (``r2_within``). Models without a term
    leave its cells empty.
    """
    check_choice("stat", stat, ("se", "ci"))
    named = _named_results(results)
    if isinstance(terms, Mapping):
        order, labels = list(terms), {str(k): str(v) for k, v in terms.items()}
    elif terms is not None:
        order, labels = [str(t) for t in terms], {}
    else:
        order = list(dict.fromkeys(str(t) for r in named.values() for t in r.params.index))
        labels = {}
    tidies = {k: r.tidy(level).set_index("term") for k, r in named.items()}
    missing = [t for t in order if not any(t in td.index for td in tidies.values())]
    if missing:
        raise SpecError(f"term(s) not in any model: {', '.join(missing)}")
    columns = ("", *named)
    body: list[tuple[str, ...]] = []
    dvs = [_depvar(r) for r in named.values()]
    if any(dvs):
        shown = dict(depvars or {})
        body.append(("Dependent variable", *[shown.get(d, d) if d else "" for d in dvs]))
    head_end = len(body)
    for t in order:
        coef, second = [labels.get(t, t)], [""]
        for td in tidies.values():
            if t not in td.index:
                coef.append("")
                second.append("")
                continue
            row = td.loc[t].to_dict()
            c = format_cell(float(row["estimate"]), digits)
            coef.append(c + (_stars(float(row["p_value"])) if stars else ""))
            if stat == "se":
                second.append(f"({format_cell(float(row['std_error']), digits)})")
            else:
                second.append(
                    f"[{format_cell(float(row['conf_low']), digits)}, {format_cell(float(row['conf_high']), digits)}]"
                )
        body.append(tuple(coef))
        body.append(tuple(second))
    footer_start = len(body)
    rs = list(named.values())

    def add(label: str, values: list[str | None]) -> None:
        if any(v is not None for v in values):
            body.append((label, *[v if v is not None else "" for v in values]))

    add("Observations", [f"{int(r.nobs):,}" for r in rs])
    add("Fixed effects", [_fe_text(r) for r in rs])
    add("Std. errors", [_se_text(r) for r in rs])
    add(
        "Clusters",
        [f"{int(n):,}" if (n := getattr(r, "n_clusters", None)) is not None else None for r in rs],
    )
    for attr, label in (("r2", "R²"), ("r2_within", "Within R²")):
        vals = []
        for r in rs:
            v = getattr(r, attr, None)
            vals.append(
                None if v is None or not np.isfinite(float(v)) else format_cell(float(v), digits)
            )
        add(label, vals)
    note_lines = []
    note_lines.append(
        "Standard errors in parentheses."
        if stat == "se"
        else f"{100 * level:g}% confidence intervals in brackets."
    )
    if stars:
        note_lines.append("* p < 0.1, ** p < 0.05, *** p < 0.01.")
    note_lines += [notes] if isinstance(notes, str) else list(notes)
    sections = tuple(sorted({i for i in (head_end, footer_start) if 0 < i < len(body)}))
    table = Table(
        columns, tuple(body), ("l",) + ("c",) * len(named), sections, tuple(note_lines), caption
    )
    table = Table(
        table.columns,
        table.rows,
        table.align,
        table.sections,
        table.notes,
        table.caption,
        frame=_cells_frame(table),
    )
    if fmt == "frame":
        return table.to_frame()
    return _finish(table, fmt)


# -- balance and comparison ----------------------------------------------------------------------------

_BALANCE_LABELS = {
    "covariate": "Covariate",
    "variable": "Covariate",
    "cohort": "Cohort",
    "mean_treated": "Mean treated",
    "mean_control": "Mean control",
    "mean_control_before": "Mean control (before)",
    "mean_control_after": "Mean control (after)",
    "smd_before": "SMD before",
    "smd_after": "SMD after",
    "smd_unmatched": "SMD before",
    "smd_matched": "SMD after",
    "var_ratio_before": "Var. ratio before",
    "var_ratio_after": "Var. ratio after",
    "var_ratio": "Var. ratio",
    "n_treated": "N treated",
    "n_control": "N control",
}


def _balance_wide(long: pd.DataFrame) -> pd.DataFrame:
    """A MatchResult's long balance (``stage`` before/after, cohort in ``stack``) made wide:
    cohort, covariate, mean_treated (matched), mean_control before/after, smd before/after,
    var_ratio after. Pooled rows (missing cohort) are labelled ``all``."""
    d = long.copy()
    ccol = next((c for c in ("cohort", "stack") if c in d.columns), None)
    keys = (["cohort"] if ccol else []) + ["covariate"]
    if ccol:
        coh = d[ccol].astype("object")
        d["cohort"] = coh.where(coh.notna(), "all").astype(str)
    order = d[keys].drop_duplicates()
    before = d[d["stage"] == "before"].set_index(keys)
    after = d[d["stage"] == "after"].set_index(keys)
    out = order.set_index(keys)
    for col, src, name in (
        ("mean_treated", after, "mean_treated"),
        ("mean_control", before, "mean_control_before"),
        ("mean_control", after, "mean_control_after"),
        ("smd", before, "smd_before"),
        ("smd", after, "smd_after"),
        ("var_ratio", after, "var_ratio_after"),
    ):
        if col in src.columns:
            out[name] = src[col].reindex(out.index).astype(float)
    return out.reset_index()


def balance_table(
    balance: Any,
    *,
    fmt: Fmt | None = None,
    digits: int = 3,
    threshold: float | None = 0.1,
    caption: str = "",
    notes: Sequence[str] | str = (),
) -> Table | str:
    """Covariate balance before and after matching.

    ``balance`` is a MatchResult (its long ``balance`` with ``stage`` before/after is made wide: cohort,
    covariate, mean treated, mean control before/after, SMD before/after, variance ratio after), or a
    frame: long like that, or wide with a covariate column and any of the columns in the known set
    (means, SMDs, variance ratios, counts; unknown columns are kept with their own names). When a ``cohort`` column is present, a new section starts at each cohort. With
    ``threshold``, a note states how many covariates exceed it after matching.
    """
    frame = balance
    if not isinstance(frame, pd.DataFrame):
        frame = getattr(balance, "balance", None)
        if callable(frame):
            frame = frame()
        if not isinstance(frame, pd.DataFrame):
            raise SpecError(
                f"expected a balance DataFrame or MatchResult, got {type(balance).__name__}"
            )
    d = frame.copy()
    if d.index.name in ("covariate", "variable"):
        d = d.reset_index()
    if "stage" in d.columns and "smd" in d.columns:
        d = _balance_wide(d)
    if "cohort" in d.columns:
        cols = ["cohort"] + [c for c in d.columns if c != "cohort"]
        d = d[cols]
    t = frame_table(d.rename(columns=lambda c: _BALANCE_LABELS.get(str(c), str(c))), digits=digits)
    sections: tuple[int, ...] = ()
    if "cohort" in d.columns:
        coh = d["cohort"].astype(str).tolist()
        sections = tuple(i for i in range(1, len(coh)) if coh[i] != coh[i - 1])
    note_lines = [
        "SMD: standardized mean difference (treated − control mean over an unweighted SD)."
    ]
    after = next((c for c in ("smd_after", "smd_matched") if c in d.columns), None)
    if threshold is not None and after is not None:
        n_over = int((d[after].astype(float).abs() > threshold).sum())
        note_lines.append(f"Rows with |SMD| after matching > {threshold:g}: {n_over} of {len(d)}.")
    note_lines += [notes] if isinstance(notes, str) else list(notes)
    table = Table(t.columns, t.rows, t.align, sections, tuple(note_lines), caption, frame=frame)
    return _finish(table, fmt)


def comparison_table(
    tidy: pd.DataFrame | ComparisonResult,
    *,
    fmt: Fmt | None = None,
    digits: int = 3,
    level: float = 0.95,
    truth: float | Mapping[str, float] | None = None,
    caption: str = "",
    notes: Sequence[str] | str = (),
) -> Table | str:
    """Estimator comparison: one row per estimator (and outcome), estimate, SE, CI, N.

    ``tidy`` needs ``estimator`` (or ``method``) and ``estimate`` columns, plus ``std_error`` and/or
    ``conf_low``/``conf_high``; optional ``outcome``, ``p_value``, ``nobs``. Rows of one outcome form a
    section. ``truth`` (one number, or one per outcome) adds a ``Truth`` column and the bias. A
    :class:`~clusterimpact.estimation.compare.ComparisonResult` stands for its overall estimates.
    """
    from clusterimpact.estimation.compare import ComparisonResult as _Comparison

    if isinstance(tidy, _Comparison):  # its overall estimates, labelled for display
        tidy = tidy.overall_rows()
    if not isinstance(tidy, pd.DataFrame):
        raise SpecError(f"comparison_table expects a tidy DataFrame, got {type(tidy).__name__}")
    d = tidy.copy()
    if "estimator" not in d.columns:
        if "method" not in d.columns:
            raise SpecError("comparison table needs an 'estimator' (or 'method') column")
        d = d.rename(columns={"method": "estimator"})
    if "estimate" not in d.columns:
        raise SpecError("comparison table needs an 'estimate' column")
    if ("conf_low" not in d.columns or "conf_high" not in d.columns) and "std_error" in d.columns:
        from scipy import stats

        z = float(stats.norm.ppf(0.5 + level / 2))
        d["conf_low"] = d["estimate"].astype(float) - z * d["std_error"].astype(float)
        d["conf_high"] = d["estimate"].astype(float) + z * d["std_error"].astype(float)
    has_out = "outcome" in d.columns
    cols = ["Outcome"] if has_out else []
    cols += ["Estimator", "Estimate"]
    if "std_error" in d.columns:
        cols.append("Std. error")
    if "conf_low" in d.columns:
        cols.append(f"{100 * level:g}% CI")
    if "p_value" in d.columns:
        cols.append("p-value")
    if truth is not None:
        cols += ["Truth", "Bias"]
    if "nobs" in d.columns:
        cols.append("N")
    rows = []
    for r in d.to_dict("records"):
        row = [str(r["outcome"])] if has_out else []
        row += [str(r["estimator"]), format_cell(float(r["estimate"]), digits)]
        if "std_error" in d.columns:
            row.append(format_cell(float(r["std_error"]), digits))
        if "conf_low" in d.columns:
            row.append(
                f"[{format_cell(float(r['conf_low']), digits)}, {format_cell(float(r['conf_high']), digits)}]"
            )
        if "p_value" in d.columns:
            row.append(format_cell(float(r["p_value"]), digits))
        if truth is not None:
            tv = truth.get(str(r.get("outcome", ""))) if isinstance(truth, Mapping) else truth
            if tv is None:
                row += ["", ""]
            else:
                row += [
                    format_cell(float(tv), digits),
                    format_cell(float(r["estimate"]) - float(tv), digits),
                ]
        if "nobs" in d.columns:
            row.append(f"{int(r['nobs']):,}" if pd.notna(r["nobs"]) else "")
        rows.append(tuple(row))
    sections: tuple[int, ...] = ()
    if has_out:
        outs = d["outcome"].astype(str).tolist()
        sections = tuple(i for i in range(1, len(outs)) if outs[i] != outs[i - 1])
    align = tuple("l" if c in ("Outcome", "Estimator") else "r" for c in cols)
    note_lines = [notes] if isinstance(notes, str) else list(notes)
    table = Table(tuple(cols), tuple(rows), align, sections, tuple(note_lines), caption, frame=tidy)
    return _finish(table, fmt)
