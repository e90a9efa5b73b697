"""One cohort parser (``treat_year``: a whole period, 0 or missing = never) for every entry point.

A typo in the cohort column (``"2015x"``) used to become "never treated" in Sun-Abraham, the Bacon
decomposition, compare_estimators and ``clusterimpact did --method sa``; each entry point must now raise
a ``DataError`` naming the column, the bad value and the row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from clusterimpact._cohort import cohort_years, row_numbers
from clusterimpact.cli import main
from clusterimpact.errors import DataError, EstimationWarning
from clusterimpact.estimation.bacon import bacon_decomposition
from clusterimpact.estimation.compare import compare_estimators
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.event_study import event_study
from clusterimpact.estimation.imputation import imputation_did
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.estimation.sunab import sun_abraham
from clusterimpact.estimation.twfe import linear_duration, static_premium
from clusterimpact.matching import match_panel
from clusterimpact.plotting import selection_table


# -- the parser ------------------------------------------------------------------------------------
def test_valid_encodings_agree():
    """Numbers, nullable integers, numeric text, 0 and every kind of missing give the same cohorts."""
    expect = np.array([2007.0, 0.0, 0.0, 2009.0, 0.0])
    forms = [
        pd.Series([2007, 0, 0, 2009, 0]),
        pd.Series([2007.0, np.nan, 0.0, 2009.0, np.nan]),
        pd.Series([2007, pd.NA, 0, 2009, pd.NA], dtype="Int64"),
        pd.Series(["2007", "", None, " 2009 ", "0"], dtype=object),
        pd.Series(["2007", pd.NA, "0", "2009.0", "  "], dtype="string"),
    ]
    for s in forms:
        np.testing.assert_array_equal(cohort_years(s, column="g"), expect)
    got = cohort_years(forms[1], column="g", never=np.inf)
    np.testing.assert_array_equal(got, np.where(expect == 0, np.inf, expect))
    assert np.isnan(cohort_years(forms[1], column="g", never=np.nan)[1])


def test_input_not_modified():
    s = pd.Series([2007.0, np.nan, 0.0])
    before = s.copy()
    out = cohort_years(s, column="g", never=-1.0)
    pd.testing.assert_series_equal(s, before)
    assert out[1] == -1.0 and out[2] == -1.0


@pytest.mark.parametrize(
    ("values", "shown", "rows"),
    [
        (["2007", "2007x", None, "2007x", "x"], r"'2007x', 'x'", r"rows 2, 4, 5\b"),
        ([2007.0, 2007.5, 0.0], r"2007\.5", r"rows 2\b"),
        ([2007, -1, 2009], r"-1", r"rows 2\b"),
        ([2007.0, np.inf, 0.0], r"inf", r"rows 2\b"),
        ([True, False, True], r"True, False", r"rows 1, 2, 3\b"),
        (pd.Series([2007, True], dtype=object), r"True", r"rows 2\b"),
    ],
)
def test_bad_values_are_errors(values, shown, rows):
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    with pytest.raises(DataError, match=rf"f\.csv, column 'g', {rows}.*bad values: {shown}"):
        cohort_years(s, column="g", source="f.csv")


def test_rows_are_one_based_or_the_frames_labels():
    mask = np.array([False, True, False, True])
    assert row_numbers(pd.RangeIndex(4), mask) == [2, 4]
    # frames read by clusterimpact.io carry the file's 1-based data rows as labels
    assert row_numbers(pd.RangeIndex(1, 5, name="row"), mask) == [2, 4]
    assert row_numbers(pd.Index([10, 11, 12, 13]), mask) == [11, 13]
    s = pd.Series(["2007", "oops"], index=[7, 9])
    with pytest.raises(DataError, match=r"rows 9\b"):
        cohort_years(s, column="g")


def test_many_bad_values_are_summarised():
    s = pd.Series([f"{y}x" for y in range(2000, 2010)])
    with pytest.raises(DataError, match=r"\(10 distinct\)"):
        cohort_years(s, column="g")


# -- every entry point -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(n_firms=80, n_years=8, seed=3)


@pytest.fixture(scope="module")
def typo(panel) -> pd.DataFrame:
    """The panel with one firm's cohort typed as "2015x" in one row (row 6, 1-based)."""
    df = panel.copy()
    df["treat_year"] = df["treat_year"].astype(object)
    df.loc[5, "treat_year"] = "2015x"
    return df


TYPO = r"column 'treat_year', rows 6\b.*bad values: '2015x'"

ENTRY_POINTS = {
    "att_gt": lambda d: att_gt(d, "ln_lp"),
    "sun_abraham": lambda d: sun_abraham(d, "ln_lp"),
    "bacon_decomposition": lambda d: bacon_decomposition(d, "ln_lp"),
    "compare_estimators": lambda d: compare_estimators(d, "ln_lp"),
    "imputation_did": lambda d: imputation_did(d, "ln_lp"),
    "event_study": lambda d: event_study(d, "ln_lp", window=(-2, 2)),
    "duration_effects": lambda d: duration_effects(d, "ln_lp", bins=(1, "2+"), leads=1),
    "static_premium": lambda d: static_premium(d, "ln_lp", post_exit="drop"),
    "linear_duration": lambda d: linear_duration(d, "ln_lp", post_exit="drop"),
    "match_panel": lambda d: match_panel(d, covariates=["x"], trends=[]),
    "selection_table": lambda d: selection_table(d.assign(ever_member=True), variables={"x": "x"}),
}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_typo_is_an_error_everywhere(typo, name):
    with pytest.raises(DataError, match=TYPO):
        ENTRY_POINTS[name](typo)


@pytest.mark.filterwarnings("ignore::clusterimpact.errors.EstimationWarning")
def test_same_cohorts_same_answer(panel):
    """0 and missing are the same "never"; numeric text parses to the same years."""
    base = att_gt(panel, "ln_lp")
    for g in (
        panel["treat_year"].astype("Float64").fillna(0).astype(float),
        panel["treat_year"].astype("string"),
    ):
        res = att_gt(panel.assign(treat_year=g), "ln_lp")
        pd.testing.assert_series_equal(res.params, base.params)
    sa0 = sun_abraham(panel, "ln_lp")
    sa1 = sun_abraham(panel.assign(treat_year=panel["treat_year"].fillna(0)), "ln_lp")
    pd.testing.assert_series_equal(sa0.params, sa1.params)
    assert aggte(base, "simple").params.notna().all()


# -- the CLI ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["cs", "sa", "imputation", "twfe"])
def test_cli_did_typo_exit_2_names_file(typo, tmp_path, capsys, method):
    p = tmp_path / "typo.csv"
    typo.to_csv(p, index=False)
    out = tmp_path / "out.json"
    args = ["did", "--data", str(p), "--outcome", "ln_lp", "--method", method, "--json", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "typo.csv" in err and "'treat_year'" in err and "'2015x'" in err
    assert "rows 6" in err  # the file's 1-based data row
    assert not out.exists()


def test_cli_match_panel_typo_exit_2(typo, tmp_path, capsys):
    p = tmp_path / "typo.csv"
    typo.to_csv(p, index=False)
    args = ["match", "--panel", "--data", str(p), "--covariates", "x", "--outcome", "ln_lp"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        assert main(args) == 2
    err = capsys.readouterr().err
    assert "typo.csv" in err and "'2015x'" in err and "rows 6" in err
