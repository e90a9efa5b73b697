"""Tables for papers and reports: regression tables, balance tables, estimator comparisons.

Every table is a :class:`Table` (header, body rows split into sections, notes; defined in
:mod:`clusterimpact._table`) rendered by small, deterministic renderers to Markdown (GitHub pipe
tables), LaTeX (``booktabs`` tabular) and HTML (an escaped ``<table>``). No templating library is used,
so identical inputs always give identical bytes.

Functions with a ``fmt`` argument return the rendered string when ``fmt`` is given and the
:class:`Table` otherwise (which the report renders in all three formats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._table import (
    FORMATS,
    Fmt,
    Table,
    _cells_frame,
    finish,
    format_cell,
    latex_escape,
)
from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.labels import label, matching_window, term_label
from clusterimpact.results import EstimateResult
from clusterimpact.units import PERCENT_NOTE, log_to_percent, percent_se

if TYPE_CHECKING:
    from clusterimpact.estimation.compare import ComparisonResult

__all__ = [
    "FORMATS",
    "Table",
    "format_cell",
    "latex_escape",
    "balance_table",
    "comparison_table",
    "frame_table",
    "regression_table",
    "render",
    "to_html",
    "to_latex",
    "to_markdown",
]

# -- generic frames ------------------------------------------------------------------------------------


def frame_table(
    df: pd.DataFrame,
    *,
    digits: int = 3,
    index: bool = False,
    caption: str = "",
    notes: Sequence[str] = (),
) -> Table:
    """A :class:`Table` from a DataFrame: numeric columns right-aligned, others left-aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.tables import frame_table
    >>> table = frame_table(pd.DataFrame({"x": [1.5], "name": ["a"]}))
    >>> table.rows, table.align
    ((('1.500', 'a'),), ('r', 'l'))
    """
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
    """Render a DataFrame as a Markdown pipe table (see :func:`frame_table` for the cell format).

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.tables import to_markdown
    >>> print(to_markdown(pd.DataFrame({"term": ["a"], "estimate": [0.12345]}), digits=2))
    | term | estimate |
    |:---|---:|
    | a | 0.12 |
    """
    return frame_table(df, digits=digits, index=index).to_markdown()


def to_latex(df: pd.DataFrame, *, digits: int = 3, index: bool = False, caption: str = "") -> str:
    """Render a DataFrame as a LaTeX ``booktabs`` tabular.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.tables import to_latex
    >>> print(to_latex(pd.DataFrame({"x": [1.5]})))
    \\begin{tabular}{r}
    \\toprule
    x \\\\
    \\midrule
    1.500 \\\\
    \\bottomrule
    \\end{tabular}
    """
    return frame_table(df, digits=digits, index=index, caption=caption).to_latex()


def to_html(df: pd.DataFrame, *, digits: int = 3, index: bool = False, caption: str = "") -> str:
    """Render a DataFrame as an escaped HTML table.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.tables import to_html
    >>> "&lt;b&gt;" in to_html(pd.DataFrame({"x": ["<b>"]}))  # cells are escaped
    True
    """
    return frame_table(df, digits=digits, index=index, caption=caption).to_html()


def render(table: Table | pd.DataFrame, fmt: Fmt, *, digits: int = 3) -> str:
    """Render a :class:`Table` or DataFrame in ``fmt``.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.tables import render
    >>> print(render(pd.DataFrame({"term": ["a"], "estimate": [0.12345]}), "markdown"))
    | term | estimate |
    |:---|---:|
    | a | 0.123 |
    """
    if isinstance(table, pd.DataFrame):
        table = frame_table(table, digits=digits)
    return table.render(fmt)


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
    percent: bool = False,
    labels: bool = False,
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
    percent
        Show every coefficient as an effect on a log outcome in percent, ``100·(exp(b) − 1)``
        (:func:`clusterimpact.units.log_to_percent`; CI limits converted one by one, SEs by the
        delta method ``100·exp(b)·se``), with a note that says so. For tables of effects on
        ``ln_*`` outcomes only (not of elasticities or other covariates).
    labels
        Name outcomes and terms for readers (:func:`clusterimpact.labels.label`,
        :func:`~clusterimpact.labels.term_label`: ``ln_tfp_acf`` → ``ln TFP (ACF)``, ``dynamic:-2``
        → ``Event time −2``); names those functions do not know, and ``depvars`` / ``terms``
        mappings, are shown as given. ``False`` (the default) shows the column and term names.

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

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> twfe = ci.static_premium(df, "ln_lp")
    >>> controls = ci.feols("ln_lp ~ member + ln_kl | firm_id + year", df, vcov="cluster", cluster="firm_id")
    >>> table = ci.regression_table({"TWFE": twfe, "With ln K/L": controls})
    >>> table.frame.index[:3].tolist()  # the cells as a DataFrame
    ['Dependent variable', 'member', '']
    >>> print(table.to_markdown().splitlines()[2])
    | Dependent variable | ln_lp | ln_lp |
    """
    check_choice("stat", stat, ("se", "ci"))
    named = _named_results(results)
    tidies = {k: r.tidy(level).set_index("term") for k, r in named.items()}
    order, names = _term_order(named, terms, labels)
    missing = [t for t in order if not any(t in td.index for td in tidies.values())]
    if missing:
        raise SpecError(f"term(s) not in any model: {', '.join(missing)}")
    body: list[tuple[str, ...]] = []
    dvs = [_depvar(r) for r in named.values()]
    if any(dvs):
        shown = dict(depvars or {})
        body.append(
            (
                "Dependent variable",
                *[shown.get(d, label(d) if labels else d) if d else "" for d in dvs],
            )
        )
    head_end = len(body)
    cell = _CellFormat(digits=digits, stat=stat, stars=stars, percent=percent)
    for t in order:
        coef, second = [names.get(t, t)], [""]
        for td in tidies.values():
            c, s2 = cell.pair(td.loc[t].to_dict()) if t in td.index else ("", "")
            coef.append(c)
            second.append(s2)
        body += [tuple(coef), tuple(second)]
    footer_start = len(body)
    body += _footer_rows(list(named.values()), digits)
    note_lines = cell.notes(level) + ([notes] if isinstance(notes, str) else list(notes))
    sections = tuple(sorted({i for i in (head_end, footer_start) if 0 < i < len(body)}))
    table = Table(
        ("", *named),
        tuple(body),
        ("l",) + ("c",) * len(named),
        sections,
        tuple(note_lines),
        caption,
    )
    table = replace(table, frame=_cells_frame(table))
    if fmt == "frame":
        return table.to_frame()
    return finish(table, fmt)


def _term_order(
    named: Mapping[str, EstimateResult],
    terms: Sequence[str] | Mapping[str, str] | None,
    labels: bool,
) -> tuple[list[str], dict[str, str]]:
    """Terms in display order and their row labels (a ``terms`` mapping wins over term_label)."""
    if isinstance(terms, Mapping):
        return list(terms), {str(k): str(v) for k, v in terms.items()}
    if terms is not None:
        order = [str(t) for t in terms]
    else:
        order = list(dict.fromkeys(str(t) for r in named.values() for t in r.params.index))
    return order, ({t: term_label(t) for t in order} if labels else {})


@dataclass(frozen=True)
class _CellFormat:
    """How a coefficient and its second line are printed (log scale or percent)."""

    digits: int
    stat: str
    stars: bool
    percent: bool

    def pair(self, row: Mapping[Any, Any]) -> tuple[str, str]:
        b = float(row["estimate"])
        se, lo, hi = float(row["std_error"]), float(row["conf_low"]), float(row["conf_high"])
        if self.percent:
            b, se = log_to_percent(b), percent_se(b, se)
            lo, hi = log_to_percent(lo), log_to_percent(hi)
        d = self.digits
        coef = format_cell(b, d) + (_stars(float(row["p_value"])) if self.stars else "")
        if self.stat == "se":
            return coef, f"({format_cell(se, d)})"
        return coef, f"[{format_cell(lo, d)}, {format_cell(hi, d)}]"

    def notes(self, level: float) -> list[str]:
        out = [
            "Standard errors in parentheses."
            if self.stat == "se"
            else f"{100 * level:g}% confidence intervals in brackets."
        ]
        if self.percent:
            out.append(
                PERCENT_NOTE
                + (
                    " Standard errors by the delta method, 100·exp(b)·se."
                    if self.stat == "se"
                    else ""
                )
            )
        if self.stars:
            out.append("* p < 0.1, ** p < 0.05, *** p < 0.01.")
        return out


def _footer_rows(rs: list[EstimateResult], digits: int) -> list[tuple[str, ...]]:
    """Observations, fixed effects, SE type, clusters, R² and within R² (rows some model has)."""
    rows: list[tuple[str, ...]] = []

    def add(label_: str, values: list[str | None]) -> None:
        if any(v is not None for v in values):
            rows.append((label_, *[v if v is not None else "" for v in values]))

    add("Observations", [f"{int(r.nobs):,}" for r in rs])
    add("Fixed effects", [_fe_text(r) for r in rs])
    add("Std. errors", [_se_text(r) for r in rs])
    add(
        "Clusters",
        [f"{int(n):,}" if (n := getattr(r, "n_clusters", None)) is not None else None for r in rs],
    )
    for attr, name in (("r2", "R²"), ("r2_within", "Within R²")):
        vals = []
        for r in rs:
            v = getattr(r, attr, None)
            x = float(v) if v is not None else float("nan")
            vals.append(format_cell(x, digits) if np.isfinite(x) else None)
        add(name, vals)
    return rows


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
    labels: bool = False,
) -> Table | str:
    """Covariate balance before and after matching.

    ``balance`` is a MatchResult (its long ``balance`` with ``stage`` before/after is made wide: cohort,
    covariate, mean treated, mean control before/after, SMD before/after, variance ratio after), or a
    frame: long like that, or wide with a covariate column and any of the columns in the known set
    (means, SMDs, variance ratios, counts; unknown columns are kept with their own names). When a ``cohort`` column is present, a new section starts at each cohort. With
    ``threshold``, a note states how many covariates exceed it after matching. With ``labels=True``,
    covariates are named for readers (:func:`clusterimpact.labels.label`: ``ln_emp_pre_mean`` →
    ``Size (ln FTE), mean over g-4..g-1``, the window read from a MatchResult's ``trend_window``);
    names it does not know are shown as given.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> from clusterimpact.tables import balance_table
    >>> matched = ci.match_panel(df, design="trends", control="notyet", replace=True, outcome="ln_lp", seed=1)
    >>> table = balance_table(matched)
    >>> "SMD after" in " ".join(table.columns)
    True
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
    cov = next((c for c in ("covariate", "variable") if c in d.columns), None)
    if labels and cov is not None:
        window = matching_window(balance)
        d[cov] = [label(str(v), window=window) for v in d[cov]]
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
    return finish(table, fmt)


def comparison_table(
    tidy: pd.DataFrame | ComparisonResult,
    *,
    fmt: Fmt | None = None,
    digits: int = 3,
    level: float = 0.95,
    truth: float | Mapping[str, float] | None = None,
    caption: str = "",
    notes: Sequence[str] | str = (),
    percent: bool = False,
    labels: bool = False,
) -> Table | str:
    """Estimator comparison: one row per estimator (and outcome), estimate, SE, CI, N.

    ``tidy`` needs ``estimator`` (or ``method``) and ``estimate`` columns, plus ``std_error`` and/or
    ``conf_low``/``conf_high``; optional ``outcome``, ``p_value``, ``nobs``. Rows of one outcome form a
    section. ``truth`` (one number, or one per outcome as named in ``tidy``) adds a ``Truth`` column
    and the bias. A :class:`~clusterimpact.estimation.compare.ComparisonResult` stands for its
    overall estimates. ``percent`` adds ``Effect (%)`` and ``CI (%)``: the estimate and its limits as
    ``100·(exp(b) − 1)`` (:func:`clusterimpact.units.log_to_percent`, for effects on log outcomes),
    with a note that says so. ``labels=True`` names outcome columns for readers
    (:func:`clusterimpact.labels.label`; unknown names as given).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> from clusterimpact.tables import comparison_table
    >>> cmp = ci.compare_estimators(df, "ln_lp", estimators=["twfe", "cs"], bacon=False)
    >>> table = comparison_table(cmp, truth=0.02)
    >>> [row[0] for row in table.rows]
    ['TWFE', "Callaway-Sant'Anna"]
    """
    from clusterimpact.estimation.compare import ComparisonResult as _Comparison

    if isinstance(tidy, _Comparison):  # its overall estimates, labelled for display
        tidy = tidy.overall_rows()
    d = _comparison_frame(tidy, level)
    has = set(d.columns)
    has_out = "outcome" in has
    ci = f"{100 * level:g}% CI"
    cols = ["Outcome"] if has_out else []
    cols += ["Estimator", "Estimate"]
    cols += ["Std. error"] if "std_error" in has else []
    cols += [ci] if "conf_low" in has else []
    cols += ["Effect (%)", f"{ci} (%)"] if percent else []
    cols += ["p-value"] if "p_value" in has else []
    cols += ["Truth", "Bias"] if truth is not None else []
    cols += ["N"] if "nobs" in has else []
    rows = [_comparison_row(r, has, digits, truth, percent, labels) for r in d.to_dict("records")]
    sections: tuple[int, ...] = ()
    if has_out:
        outs = d["outcome"].astype(str).tolist()
        sections = tuple(i for i in range(1, len(outs)) if outs[i] != outs[i - 1])
    align = tuple("l" if c in ("Outcome", "Estimator") else "r" for c in cols)
    note_lines = ([PERCENT_NOTE] if percent else []) + (
        [notes] if isinstance(notes, str) else list(notes)
    )
    table = Table(tuple(cols), tuple(rows), align, sections, tuple(note_lines), caption, frame=tidy)
    return finish(table, fmt)


def _comparison_frame(tidy: pd.DataFrame, level: float) -> pd.DataFrame:
    """The comparison's input checked, with ``estimator`` and CI limits (from SEs when missing)."""
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
    return d


def _comparison_row(
    r: Mapping[Any, Any],
    has: set[Any],
    digits: int,
    truth: float | Mapping[str, float] | None,
    percent: bool,
    labels: bool,
) -> tuple[str, ...]:
    """One row of :func:`comparison_table` (cells in the order of its columns)."""

    def f(v: Any) -> str:
        return format_cell(float(v), digits)

    row = [(label(str(r["outcome"])) if labels else str(r["outcome"]))] if "outcome" in has else []
    row += [str(r["estimator"]), f(r["estimate"])]
    if "std_error" in has:
        row.append(f(r["std_error"]))
    if "conf_low" in has:
        row.append(f"[{f(r['conf_low'])}, {f(r['conf_high'])}]")
    if percent:
        row.append(format_cell(log_to_percent(float(r["estimate"])), 1))
        lo, hi = (log_to_percent(float(r[k])) for k in ("conf_low", "conf_high"))
        row.append(f"[{format_cell(lo, 1)}, {format_cell(hi, 1)}]")
    if "p_value" in has:
        row.append(f(r["p_value"]))
    if truth is not None:
        tv = truth.get(str(r.get("outcome", ""))) if isinstance(truth, Mapping) else truth
        row += ["", ""] if tv is None else [f(tv), f(float(r["estimate"]) - float(tv))]
    if "nobs" in has:
        row.append(f"{int(r['nobs']):,}" if pd.notna(r["nobs"]) else "")
    return tuple(row)
