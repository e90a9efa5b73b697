"""Absurd values: va = 1e300, numbers that overflow float64, constant outcomes (standard error 0) give a
warning naming the column and rows, never a silent inf or 0 (API; the CLI cases are in
tests/cli/test_inputs_cli.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clusterimpact._validation import OVERFLOW_RISK, check_values
from clusterimpact.errors import DataWarning
from clusterimpact.panel import build_panel


def accounts(va, emp=None) -> pd.DataFrame:
    n = len(va)
    return pd.DataFrame(
        {
            "firm_id": [f"f{i}" for i in range(n)],
            "year": 2017,
            "va": va,
            "emp": emp if emp is not None else [2.0] * n,
        }
    )


def test_huge_value_added_warns_naming_column_and_rows_and_is_kept():
    acc = accounts([10.0, 1e300, 12.0])
    with pytest.warns(
        DataWarning,
        match=r"data frame, column 'va', rows 1: implausibly large values \(1e\+300; above 1e\+15\)",
    ):
        p = build_panel(acc)
    assert p.rows_in == len(p.data) + len(p.exclusions) == 3
    assert np.isfinite(p.data["ln_va"]).all()  # 1e300 has a finite log: kept, and announced


def test_overflow_on_reading_is_infinite_named_and_excluded(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("firm_id,year,va,emp\na,2017,10,2\nb,2017,1e400,2\nc,2017,5,inf\n")
    with pytest.warns(DataWarning) as rec:
        p = build_panel(path)
    msgs = [str(w.message) for w in rec]
    assert any("acc.csv, column 'va', rows 2: infinite values" in m for m in msgs), msgs
    assert any("acc.csv, column 'emp', rows 3: infinite values" in m for m in msgs), msgs
    assert p.rows_in == len(p.data) + len(p.exclusions) == 3
    assert p.exclusions[["row", "reason"]].values.tolist() == [
        [2, "missing_va"],
        [3, "missing_emp"],
    ]


def test_employment_above_ten_million_warns():
    with pytest.warns(
        DataWarning, match=r"column 'emp', rows 0: implausibly large values \(5e\+07"
    ):
        build_panel(accounts([10.0, 11.0], emp=[5e7, 3.0]))


def test_plausible_values_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        build_panel(accounts([1e9, 2.5e4, 3.0], emp=[2e5, 1.0, 0.5]))


def test_check_values_constant_and_overflow_rows():
    df = pd.DataFrame(
        {"y": [3.0, 3.0, np.nan, 3.0], "z": [1.0, 2e151, -3e200, 0.0]}, index=[7, 8, 9, 10]
    )
    with pytest.warns(DataWarning) as rec:
        msgs = check_values(df, ["z"], source="panel.csv", constant=["y"])
    assert [str(w.message) for w in rec] == msgs
    assert msgs[0].startswith(
        "panel.csv, column 'z', rows 8, 9: implausibly large values (2e+151, -3e+200"
    )
    assert f"above {OVERFLOW_RISK:.0e}" in msgs[0]
    assert msgs[1] == (
        "panel.csv, column 'y': constant (all 3 non-missing rows are 3); every effect on it is 0 "
        "with a standard error of 0, which means nothing"
    )


def _staggered(outcome) -> pd.DataFrame:
    firms = [f"f{i}" for i in range(8)]
    cohort = {f: (2018 if i < 3 else 2019 if i < 5 else np.nan) for i, f in enumerate(firms)}
    rows = [(f, y, cohort[f]) for f in firms for y in range(2015, 2021)]
    df = pd.DataFrame(rows, columns=["firm_id", "year", "treat_year"])
    df["y"] = outcome(df)
    return df


@pytest.mark.filterwarnings("ignore::clusterimpact.errors.EstimationWarning")
def test_constant_outcome_warns_in_the_api_estimators():
    from clusterimpact.estimation.staggered import att_gt
    from clusterimpact.matching import match

    df = _staggered(lambda d: 1.0)
    with pytest.warns(DataWarning, match=r"column 'y': constant \(all 48 non-missing rows are 1\)"):
        res = att_gt(df, outcome="y", cohort="treat_year", control="notyet")
    assert (res.tidy()["std_error"].dropna() == 0).all()  # the zeros the warning is about
    cross = pd.DataFrame({"d": [0, 1] * 10, "x": np.arange(20.0), "y": 5.0})
    with pytest.warns(DataWarning, match=r"column 'y': constant \(all 20"):
        match(cross, "d", ["x"], outcome="y")


@pytest.mark.filterwarnings("ignore::clusterimpact.errors.EstimationWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own overflow inside the estimator
def test_overflowing_outcome_warns_in_the_api_estimators():
    from clusterimpact.estimation.staggered import att_gt

    df = _staggered(lambda d: np.where(d.index == 3, 1e200, d["year"] * 0.01))
    with pytest.warns(DataWarning, match=r"column 'y', rows 3: implausibly large values \(1e\+200"):
        att_gt(df, outcome="y", cohort="treat_year", control="notyet")
