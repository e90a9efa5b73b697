"""tables.py with units and labels: effects in percent (percent=True) and reader-facing names."""

from __future__ import annotations

import math

import pandas as pd

from _asserts import assert_close
from clusterimpact import tables as T
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult
from clusterimpact.units import PERCENT_NOTE
from tolerances import STORY_FINDING_PCT_ABS, STORY_TABLE_2DP_ABS


def _res(terms, est, se, outcome="ln_tfp_acf"):
    return EstimateResult(
        params=pd.Series(est, index=terms, dtype=float),
        std_errors=pd.Series(se, index=terms, dtype=float),
        nobs=500,
        method="cs",
        provenance=make_provenance("cs", None, 0, outcome=outcome),
    )


def _num(cell: str) -> float:
    return float(cell.strip("()[]").replace(",", ""))


def test_regression_table_percent_converts_coefficients_limits_and_ses():
    r = _res(["dynamic:-2", "dynamic:0", "dynamic:3"], [-0.01, 0.03, 0.25], [0.005, 0.01, 0.02])
    frame = T.regression_table(
        {"CS": r}, percent=True, stat="se", digits=2, fmt="frame", labels=True
    )
    assert frame.index[0] == "Dependent variable" and frame.iloc[0, 0] == "ln TFP (ACF)"
    rows = list(frame.index)
    for term, b, se in (("Event time −2", -0.01, 0.005), ("Event time 0", 0.03, 0.01)):
        i = rows.index(term)
        # 100*(exp(b)-1) and the delta-method SE 100*exp(b)*se, printed with 2 decimals
        assert_close(_num(frame.iloc[i, 0]), 100 * (math.exp(b) - 1), abs=STORY_TABLE_2DP_ABS)
        assert_close(_num(frame.iloc[i + 1, 0]), 100 * math.exp(b) * se, abs=STORY_TABLE_2DP_ABS)
    i = rows.index("Event time 3")
    assert frame.iloc[i, 0] == "28.40"  # 100*(exp(0.25)-1) = 28.403; 100*0.25 would be 25.00
    tab = T.regression_table({"CS": r}, percent=True, stat="ci", digits=1, labels=True)
    assert PERCENT_NOTE in tab.notes
    lo, hi = tab.rows[rows.index("Event time 0") + 1][1].strip("[]").split(", ")
    z = 1.959963984540054
    assert_close(float(lo), 100 * (math.exp(0.03 - z * 0.01) - 1), abs=STORY_FINDING_PCT_ABS)
    assert_close(float(hi), 100 * (math.exp(0.03 + z * 0.01) - 1), abs=STORY_FINDING_PCT_ABS)
    plain = T.regression_table({"CS": r}, digits=3, labels=True)
    assert PERCENT_NOTE not in plain.notes and plain.rows[rows.index("Event time 0")][1] == "0.030"


def test_regression_table_labels_can_be_switched_off_and_mappings_win():
    r = _res(["dynamic:-2", "member_years::2", "x1"], [0.1, 0.2, 0.3], [0.1, 0.1, 0.1])
    labelled = [row[0] for row in T.regression_table([r], labels=True).rows]
    assert labelled[:2] == ["Dependent variable", "Event time −2"]
    assert "Year 2 of membership" in labelled and "x1" in labelled  # unknown term as given
    raw = [row[0] for row in T.regression_table([r]).rows]  # default: names as given
    assert raw[1] == "dynamic:-2" and T.regression_table([r]).rows[0][1] == "ln_tfp_acf"
    mapped = T.regression_table(
        [r], {"dynamic:-2": "lead 2"}, depvars={"ln_tfp_acf": "TFP"}, labels=True
    )
    assert mapped.rows[0][1] == "TFP" and mapped.rows[1][0] == "lead 2"


def test_comparison_table_percent_columns_follow_the_estimates():
    comp = pd.DataFrame(
        {
            "outcome": ["ln_tfp_acf", "ln_tfp_acf"],
            "estimator": ["TWFE", "Callaway-Sant'Anna"],
            "estimate": [0.0153, -0.2],
            "std_error": [0.013, 0.05],
            "conf_low": [-0.0102, -0.298],
            "conf_high": [0.0408, -0.102],
        }
    )
    tab = T.comparison_table(comp, percent=True, digits=4, truth={"ln_tfp_acf": 0.03}, labels=True)
    cols = list(tab.columns)
    assert cols[:6] == ["Outcome", "Estimator", "Estimate", "Std. error", "95% CI", "Effect (%)"]
    assert cols[6] == "95% CI (%)" and PERCENT_NOTE in tab.notes
    for row, r in zip(tab.rows, comp.itertuples(), strict=True):
        assert row[0] == "ln TFP (ACF)"
        assert_close(_num(row[5]), 100 * (math.exp(r.estimate) - 1), abs=STORY_FINDING_PCT_ABS)
        lo, hi = row[6].strip("[]").split(", ")
        assert_close(float(lo), 100 * (math.exp(r.conf_low) - 1), abs=STORY_FINDING_PCT_ABS)
        assert_close(float(hi), 100 * (math.exp(r.conf_high) - 1), abs=STORY_FINDING_PCT_ABS)
        assert row[cols.index("Truth")] == "0.0300"  # truth looked up by the outcome's column name
    assert "Effect (%)" not in T.comparison_table(comp).columns


def test_balance_table_labels_use_the_matching_window():
    class _Match:
        options = {"trend_window": 2}
        balance = pd.DataFrame(
            {
                "covariate": ["ln_emp_pre_mean", "ln_lp_growth", "age", "mine"],
                "smd_after": [0.0] * 4,
            }
        )

    assert T.balance_table(_Match()).rows[0][0] == "ln_emp_pre_mean"  # default: as given
    cells = [r[0] for r in T.balance_table(_Match(), labels=True).rows]
    assert cells == [
        "Size (ln FTE), mean over g-3..g-1",
        "Productivity growth (Δ ln VA per FTE), g-3 to g-1",
        "Age (years)",
        "mine",
    ]
