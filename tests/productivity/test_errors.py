"""Bad input: each a clear error naming the column/rows, or a counted exclusion."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _prod_dgp import make_production

from clusterimpact.errors import DataError, PanelError, SpecError
from clusterimpact.productivity import estimate_tfp


@pytest.fixture(scope="module")
def panel():
    return make_production(200, seed=7)


def test_nonpositive_levels_are_counted_exclusions(panel):
    df = panel.copy()
    df.loc[[3, 10], "va"] = -5.0
    df.loc[[20], "capital"] = 0.0
    df.loc[[30], "emp"] = np.nan
    res = estimate_tfp(df, "ols", output="va", free=["emp"], state=["capital"], logged=False)
    assert res.exclusions["nonpositive_va"] == 2
    assert res.exclusions["nonpositive_capital"] == 1
    assert res.exclusions["missing_emp"] == 1
    assert res.nobs == len(df) - 4
    joined = res.join(df)
    assert joined.loc[[3, 10, 20, 30], "ln_tfp"].isna().all()


def test_all_nonpositive_is_an_error(panel):
    df = panel.assign(va=-1.0)
    with pytest.raises(DataError, match="positive"):
        estimate_tfp(df, "ols", output="va", free=["emp"], state=["capital"], logged=False)


def test_too_few_periods_for_lags(panel):
    one_year = panel.drop_duplicates("firm_id")
    with pytest.raises(PanelError, match="too few periods per firm"):
        estimate_tfp(one_year, "acf")
    # non-consecutive years give no lags either
    gaps = panel[panel["year"] % 2 == 0]
    with pytest.raises(PanelError, match="previous year"):
        estimate_tfp(gaps, "wooldridge")


def test_proxy_without_variation(panel):
    with pytest.raises(DataError, match="proxy does not vary"):
        estimate_tfp(panel.assign(ln_materials=1.0), "lp")


def test_collinear_inputs(panel):
    df = panel.assign(ln_emp2=2.0 * panel["ln_emp"] + 1.0)
    with pytest.raises(DataError, match="collinear inputs: 'ln_emp2'"):
        estimate_tfp(df, "ols", free=["ln_emp", "ln_emp2"])


def test_constant_input(panel):
    with pytest.raises(DataError, match="does not vary"):
        estimate_tfp(panel.assign(ln_capital=3.0), "ols")


def test_duplicate_firm_years(panel):
    df = panel.iloc[[0, 0, 1, 2]]
    with pytest.raises(PanelError, match="duplicate firm-years"):
        estimate_tfp(df, "ols")


def test_missing_column_named(panel):
    with pytest.raises(DataError, match="ln_wages"):
        estimate_tfp(panel, "ols", free=["ln_wages"])


def test_same_column_in_two_roles(panel):
    with pytest.raises(DataError, match="more than one role"):
        estimate_tfp(panel, "lp", proxy="ln_capital")


def test_bad_options(panel):
    with pytest.raises(SpecError, match="method='tfp' is not valid; choose one of"):
        estimate_tfp(panel, "tfp")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="do not apply to method='ols'"):
        estimate_tfp(panel, "ols", exit_correction=True)
    with pytest.raises(SpecError, match="function='cubic' is not valid"):
        estimate_tfp(panel, "acf", function="cubic")
    with pytest.raises(SpecError, match="start has 1 values"):
        estimate_tfp(panel, "acf", start=[0.5])
    with pytest.raises(SpecError, match="optimizer="):
        estimate_tfp(panel, "op", optimizer="magic")
    with pytest.raises(SpecError, match="compat="):
        estimate_tfp(panel, "op", compat="stata")


def test_exit_correction_needs_exits():
    df = make_production(100, seed=1, gaps=False)
    # a balanced panel: nobody leaves before the last year
    full = df.groupby("firm_id")["year"].transform("size") == df["year"].nunique()
    with pytest.raises(Exception, match="no firm leaves"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate_tfp(df[full], "op", exit_correction=True)
