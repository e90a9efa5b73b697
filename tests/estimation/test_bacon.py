"""Goodman-Bacon decomposition: weights sum to one, weighted 2x2s reproduce TWFE, the bias sign."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _did_dgp import make_staggered, truth_aggregates

from _asserts import assert_close
from clusterimpact.errors import EstimationError, PanelError
from clusterimpact.estimation.bacon import bacon_decomposition
from clusterimpact.estimation.twfe import feols
from conftest import REFERENCE
from tolerances import BACON_SUM_ABS, DID_2X2_ABS

MP = dict(cohort="first.treat", unit="countyreal", time="year")


def _twfe(df, y, g, unit, time):
    gg = pd.to_numeric(df[g], errors="coerce").fillna(0)
    d = df.assign(_D=((gg > 0) & (df[time] >= gg)).astype(float))
    return float(feols(f"{y} ~ _D | {unit} + {time}", d).params["_D"])


def test_mpdta_reproduces_twfe():
    df = pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")
    b = bacon_decomposition(df, "lemp", **MP)
    assert_close(b.comparisons["weight"].sum(), 1.0, abs=BACON_SUM_ABS)
    twfe = _twfe(df, "lemp", "first.treat", "countyreal", "year")
    assert_close(b.twfe, twfe, abs=BACON_SUM_ABS)
    assert_close(
        (b.comparisons["weight"] * b.comparisons["estimate"]).sum(), twfe, abs=BACON_SUM_ABS
    )
    # 3 cohorts + never: 3 treated-vs-never, 3 early-vs-late, 3 late-vs-early
    assert b.comparisons["type"].value_counts().to_dict() == {
        "early_vs_late": 3, "late_vs_early": 3, "treated_vs_never": 3
    }  # fmt: skip
    # a treated-vs-never 2x2 by hand: cohort 2004 vs never over the whole panel
    row = b.comparisons.query("type == 'treated_vs_never' and treated == '2004'").iloc[0]
    m = df.assign(post=df["year"] >= 2004).groupby(["first.treat", "post"])["lemp"].mean()
    hand = (m[(2004, True)] - m[(2004, False)]) - (m[(0, True)] - m[(0, False)])
    assert_close(row["estimate"], hand, abs=DID_2X2_ABS)


def test_always_treated_and_sign_of_twfe_bias():
    # effects grow with time since treatment: late-vs-early comparisons are biased down
    df, truth = make_staggered(n_units=3000, seed=4, slope=0.05)
    df.loc[df["firm_id"].isin([str(i) for i in range(30)]), "treat_year"] = 2008
    b = bacon_decomposition(df, "y")
    twfe = _twfe(df, "y", "treat_year", "firm_id", "year")
    assert_close(b.twfe, twfe, abs=BACON_SUM_ABS)
    assert "treated_vs_always" in set(b.comparisons["type"])
    assert_close(b.comparisons["weight"].sum(), 1.0, abs=BACON_SUM_ABS)
    truth_simple = truth_aggregates(df, truth)["simple"]
    assert b.predicted_bias_sign() == -1
    assert np.sign(b.twfe - truth_simple) == b.predicted_bias_sign()


def test_constant_effect_every_comparison_unbiased():
    df, truth = make_staggered(n_units=3000, seed=6, base=(0.1, 0.1, 0.1), slope=0.0, noise=0.0)
    b = bacon_decomposition(df, "y")
    # noise-free outcome: every 2x2 is the constant effect up to floating point
    assert_close(b.comparisons["estimate"], 0.1, abs=DID_2X2_ABS)
    assert_close(b.twfe, 0.1, abs=DID_2X2_ABS)


def test_bad_input():
    df, _ = make_staggered(n_units=200, seed=1)
    with pytest.raises(EstimationError, match="two timing groups"):
        bacon_decomposition(df.assign(treat_year=pd.NA), "y")
    bad = df.copy()
    bad.loc[bad.index[0], "treat_year"] = 2015
    with pytest.raises(PanelError, match="changes over time"):
        bacon_decomposition(bad, "y")
    short = df[~((df["firm_id"] == "0") & (df["year"] == 2012))]
    b = bacon_decomposition(short, "y")
    assert b.exclusions["unbalanced panel (units)"] == 1
