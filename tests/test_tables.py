"""tables.py: exact rendered strings in Markdown, LaTeX and HTML for small cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from clusterimpact import tables as T
from clusterimpact.errors import SpecError
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult


@dataclass(frozen=True, kw_only=True)
class _FE(EstimateResult):
    """The metadata fields the fixed-effects results carry (estimation/fe/result.py)."""

    fixed_effects: tuple[str, ...] = ()
    vcov_type: str = "iid"
    cluster: str | None = None
    n_clusters: int | None = None
    r2: float = float("nan")
    r2_within: float = float("nan")


def _res(terms, est, se, nobs=100, cls=EstimateResult, **kw):
    return cls(
        params=pd.Series(est, index=terms, dtype=float),
        std_errors=pd.Series(se, index=terms, dtype=float),
        nobs=nobs,
        method="twfe",
        provenance=make_provenance("twfe"),
        **kw,
    )


@pytest.fixture
def models():
    a = _res(
        ["member", "ln_kl"],
        [0.0312, -0.1],
        [0.01, 0.2],
        nobs=12345,
        cls=_FE,
        fixed_effects=("firm_id", "year"),
        vcov_type="cluster",
        cluster="firm_id",
        n_clusters=1500,
        r2=0.91234,
        r2_within=0.05,
    )
    b = _res(["member"], [0.025], [0.02], nobs=999, cls=_FE, vcov_type="hetero")
    return {"FE": a, "OLS": b}


def test_regression_table_markdown(models):
    out = T.regression_table(models, stars=True, fmt="markdown")
    assert out == (
        "|  | FE | OLS |\n"
        "|:---|:---:|:---:|\n"
        "| member | 0.031*** | 0.025 |\n"
        "|  | (0.010) | (0.020) |\n"
        "| ln_kl | -0.100 |  |\n"
        "|  | (0.200) |  |\n"
        "| Observations | 12,345 | 999 |\n"
        "| Fixed effects | firm_id, year | none |\n"
        "| Std. errors | Clustered (firm_id) | Heteroskedasticity-robust |\n"
        "| Clusters | 1,500 |  |\n"
        "| R² | 0.912 |  |\n"
        "| Within R² | 0.050 |  |\n"
        "\n"
        "Standard errors in parentheses.\n"
        "* p < 0.1, ** p < 0.05, *** p < 0.01.\n"
    )


def test_regression_table_latex(models):
    out = T.regression_table(models, terms={"member": "Member"}, fmt="latex", digits=2)
    assert out == (
        "\\begin{tabular}{lcc}\n"
        "\\toprule\n"
        " & FE & OLS \\\\\n"
        "\\midrule\n"
        "Member & 0.03 & 0.03 \\\\\n"
        " & (0.01) & (0.02) \\\\\n"
        "\\midrule\n"
        "Observations & 12,345 & 999 \\\\\n"
        "Fixed effects & firm\\_id, year & none \\\\\n"
        "Std. errors & Clustered (firm\\_id) & Heteroskedasticity-robust \\\\\n"
        "Clusters & 1,500 &  \\\\\n"
        "R$^2$ & 0.91 &  \\\\\n"
        "Within R$^2$ & 0.05 &  \\\\\n"
        "\\bottomrule\n"
        "\\multicolumn{3}{l}{\\footnotesize Standard errors in parentheses.} \\\\\n"
        "\\end{tabular}\n"
    )


def test_regression_table_html_ci_list_input():
    a = _res(["x<y"], [1.0], [0.5], nobs=10)
    out = T.regression_table([a], stat="ci", fmt="html", notes="Note & more")
    lo, hi = 1 - 1.959963984540054 * 0.5, 1 + 1.959963984540054 * 0.5
    assert out == (
        '<table class="clusterimpact-table">\n'
        "<thead>\n"
        '<tr><th style="text-align: left"></th><th style="text-align: center">(1)</th></tr>\n'
        "</thead>\n"
        "<tbody>\n"
        '<tr><td style="text-align: left">x&lt;y</td><td style="text-align: center">1.000</td></tr>\n'
        f'<tr><td style="text-align: left"></td><td style="text-align: center">[{lo:.3f}, {hi:.3f}]</td></tr>\n'
        "</tbody>\n"
        '<tbody class="section">\n'
        '<tr><td style="text-align: left">Observations</td><td style="text-align: center">10</td></tr>\n'
        "</tbody>\n"
        "<tfoot>\n"
        '<tr><td colspan="2">95% confidence intervals in brackets.</td></tr>\n'
        '<tr><td colspan="2">Note &amp; more</td></tr>\n'
        "</tfoot>\n"
        "</table>\n"
    )


def test_regression_table_object_and_errors(models):
    tab = T.regression_table(models)
    assert isinstance(tab, T.Table)
    assert str(tab) == tab.to_markdown() == tab.render("markdown")
    assert T.regression_table(models, fmt="latex") == tab.to_latex()
    with pytest.raises(SpecError, match="term\\(s\\) not in any model: nope"):
        T.regression_table(models, terms=["nope"])
    with pytest.raises(SpecError, match="stat='t' is not valid"):
        T.regression_table(models, stat="t")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="fmt='pdf' is not valid"):
        T.regression_table(models, fmt="pdf")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="not an EstimateResult"):
        T.regression_table({"a": pd.DataFrame()})  # type: ignore[dict-item]
    with pytest.raises(SpecError, match="at least one"):
        T.regression_table({})


def test_stars_thresholds():
    r = _res(
        ["a", "b", "c", "d"], [1.0, 1.0, 1.0, 1.0], [0.3, 0.45, 0.55, 1.0]
    )  # p .0009,.026,.069,.32
    md = T.regression_table([r], stars=True, fmt="markdown")
    for term, stars in (("a", "***"), ("b", "**"), ("c", "*"), ("d", "")):
        assert f"| {term} | 1.000{stars} |" in md


def test_balance_table_sections_and_note():
    bal = pd.DataFrame(
        {
            "cohort": [2017, 2017, 2018],
            "covariate": ["ln_emp", "age", "ln_emp"],
            "smd_before": [0.5, 0.2, 0.4],
            "smd_after": [0.02, -0.15, -0.0001],
        }
    )
    assert T.balance_table(bal, fmt="latex") == (
        "\\begin{tabular}{rlrr}\n"
        "\\toprule\n"
        "Cohort & Covariate & SMD before & SMD after \\\\\n"
        "\\midrule\n"
        "2017 & ln\\_emp & 0.500 & 0.020 \\\\\n"
        "2017 & age & 0.200 & -0.150 \\\\\n"
        "\\midrule\n"
        "2018 & ln\\_emp & 0.400 & 0.000 \\\\\n"
        "\\bottomrule\n"
        "\\multicolumn{4}{l}{\\footnotesize SMD: standardized mean difference (treated $-$ control mean over an unweighted SD).} \\\\\n"
        "\\multicolumn{4}{l}{\\footnotesize Rows with \\textbar{}SMD\\textbar{} after matching \\textgreater{} 0.1: 1 of 3.} \\\\\n"
        "\\end{tabular}\n"
    )
    md = T.balance_table(bal, fmt="markdown", threshold=None)
    assert md.splitlines()[0] == "| Cohort | Covariate | SMD before | SMD after |"
    assert md.splitlines()[1] == "|---:|:---|---:|---:|"
    assert "Rows with" not in md

    class _Match:
        balance = bal.drop(columns="cohort").set_index("covariate")

    html = T.balance_table(_Match(), fmt="html")
    assert html.count("<tbody") == 1 and '<td style="text-align: left">ln_emp</td>' in html


def test_comparison_table_markdown_truth():
    comp = pd.DataFrame(
        {
            "outcome": ["ln_lp", "ln_lp", "tfp"],
            "estimator": ["TWFE", "CS", "CS"],
            "estimate": [0.01, 0.03, 0.02],
            "std_error": [0.01, 0.01, 0.01],
            "nobs": [5000, 5000, 4800],
        }
    )
    out = T.comparison_table(comp, fmt="markdown", truth={"ln_lp": 0.03}, digits=2)
    assert out == (
        "| Outcome | Estimator | Estimate | Std. error | 95% CI | Truth | Bias | N |\n"
        "|:---|:---|---:|---:|---:|---:|---:|---:|\n"
        "| ln_lp | TWFE | 0.01 | 0.01 | [-0.01, 0.03] | 0.03 | -0.02 | 5,000 |\n"
        "| ln_lp | CS | 0.03 | 0.01 | [0.01, 0.05] | 0.03 | 0.00 | 5,000 |\n"
        "| tfp | CS | 0.02 | 0.01 | [0.00, 0.04] |  |  | 4,800 |\n"
    )
    html = T.comparison_table(comp.rename(columns={"estimator": "method"}), fmt="html")
    assert html.count('<tbody class="section">') == 1
    with pytest.raises(SpecError, match="'estimator'"):
        T.comparison_table(comp.drop(columns="estimator"))


def test_generic_renderers_escape_and_format():
    df = pd.DataFrame(
        {"a|b": ["x<y", "50% & $"], "n": [1000, 2], "v": [np.nan, -0.0004], "ok": [True, False]}
    )
    assert T.to_markdown(df) == (
        "| a\\|b | n | v | ok |\n"
        "|:---|---:|---:|:---|\n"
        "| x<y | 1000 |  | True |\n"
        "| 50% & $ | 2 | 0.000 | False |\n"
    )
    assert T.to_latex(df, digits=1, caption="A_b") == (
        "\\begin{table}[htbp]\n"
        "\\centering\n"
        "\\caption{A\\_b}\n"
        "\\begin{tabular}{lrrl}\n"
        "\\toprule\n"
        "a\\textbar{}b & n & v & ok \\\\\n"
        "\\midrule\n"
        "x\\textless{}y & 1000 &  & True \\\\\n"
        "50\\% \\& \\$ & 2 & 0.0 & False \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n"
    )
    html = T.to_html(df, caption="<b>")
    assert "<caption>&lt;b&gt;</caption>" in html
    assert '<td style="text-align: left">50% &amp; $</td>' in html
    assert '<th style="text-align: left">a|b</th>' in html
    assert T.render(df, "html") == html.replace("<caption>&lt;b&gt;</caption>\n", "")
    assert T.to_markdown(df.set_index("n"), index=True).startswith("| n | a\\|b |")
    # byte-identical on re-render
    assert T.to_latex(df) == T.to_latex(df.copy())


def test_table_validation():
    with pytest.raises(SpecError, match="row 0 has 1 cells, the header has 2"):
        T.Table(("a", "b"), (("x",),))
    with pytest.raises(SpecError, match="align='j' is not valid"):
        T.Table(("a",), (("x",),), ("j",))
    with pytest.raises(SpecError, match="expected a DataFrame"):
        T.to_markdown([1, 2])  # type: ignore[arg-type]


def test_format_cell():
    assert T.format_cell(1234567.891, 2) == "1,234,567.89"
    assert T.format_cell(-0.0001, 3) == "0.000"
    assert (
        T.format_cell(np.inf) == "inf" and T.format_cell(None) == "" and T.format_cell(pd.NA) == ""
    )
    assert T.format_cell(np.int64(2017)) == "2017"
