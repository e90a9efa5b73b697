"""Olley-Pakes exit correction: a survival probit that separates or does not converge is a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _prod_dgp import make_production

from clusterimpact.errors import EstimationWarning
from clusterimpact.productivity import estimate_tfp


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_production(400, seed=3)


def _op(df):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = estimate_tfp(df, "op", exit_correction=True, n_starts=1)
    return res, [str(w.message) for w in caught if issubclass(w.category, EstimationWarning)]


def test_regular_exits_no_warning(panel):
    res, msgs = _op(panel)
    assert res.diagnostics["exits"] > 0
    assert not any("exit correction" in m for m in msgs)
    assert not any("exit correction" in w for w in res.warnings)


def test_exits_separated_by_capital_warn(panel):
    """Every firm leaves right after its first year with capital below the 20th percentile, and only
    then: exits are predicted exactly by lagged capital (complete separation)."""
    years = panel.groupby("firm_id")["year"].agg(["min", "max", "size"])
    full = years.index[(years["size"] == years["max"] - years["min"] + 1)]
    df = panel[panel["firm_id"].isin(full)].sort_values(["firm_id", "year"])
    last_year = df["year"].max()
    q = df["ln_capital"].quantile(0.2)
    low = (df["ln_capital"] < q) & (df["year"] < last_year)
    first_low = df[low].groupby("firm_id")["year"].min()
    stop = df["firm_id"].map(first_low).fillna(last_year)
    # firms whose window ends before the last year without a low-capital year leave too: drop them
    ends = df.groupby("firm_id")["year"].transform("max")
    keep_firm = (ends == last_year) | df["firm_id"].isin(first_low.index)
    df = df[(df["year"] <= stop) & keep_firm]
    res, msgs = _op(df)
    hit = [m for m in msgs if "exit correction" in m]
    assert hit and "separation" in hit[0], msgs
    assert any("exit correction" in w and "separation" in w for w in res.warnings)
    assert np.isfinite(res.params["ln_capital"])
