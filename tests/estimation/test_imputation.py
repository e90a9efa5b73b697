"""BJS imputation estimator: brute-force algebra, did2s, synthetic truth (heterogeneous effects), tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _bjs_brute import bjs_brute as _brute
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationError, SpecError
from clusterimpact.estimation.imputation import ImputationResult, imputation_did
from clusterimpact.estimation.twfe import static_premium
from clusterimpact.results import ProfileResult
from tolerances import DID2S_REL, FE_EXACT_FLOOR, FE_EXACT_REL, TRUTH_SE_MULTIPLE


@pytest.fixture(scope="module")
def small():
    return make_panel(n_firms=120, n_years=8, seed=21)


@pytest.mark.parametrize("leave_out", [True, False])
def test_dynamic_equals_brute_force(small, leave_out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = imputation_did(small, aggregation="dynamic", leave_out=leave_out, leads=0)
    ref = _brute(small, lambda d, rel: rel.astype(int), leave_out=leave_out)
    terms, want = [f"dynamic:{e}" for e in ref], np.array(list(ref.values()))
    assert_close(res.params[terms], want[:, 0], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(res.std_errors[terms], want[:, 1], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    simple = _brute(small, lambda d, rel: np.zeros(len(d), int), leave_out=leave_out)
    # 'simple' averages tau~ within cohort x event time: check the estimate exactly
    assert_close(res.params["simple"], simple[0][0], rel=FE_EXACT_REL)


def test_weighted_by_cohort_equals_brute_force(small):
    res = imputation_did(small, aggregation="group", weights="w", leads=0)
    ref = _brute(small, lambda d, rel: d["treat_year"].astype(int).to_numpy(), weights="w")
    terms, want = [f"group:{g}" for g in ref], np.array(list(ref.values()))
    assert_close(res.params[terms], want[:, 0], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)
    assert_close(res.std_errors[terms], want[:, 1], rel=FE_EXACT_REL, floor=FE_EXACT_FLOOR)


def test_simple_equals_pyfixest_did2s():
    import pyfixest as pf

    df = make_panel(n_firms=300, seed=8)
    g = df["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    d = df.assign(treat=((df["year"].to_numpy() - g) >= 0).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.did2s(d, "ln_lp", "~ 0 | firm_id + year", "~ treat", "treat", "firm_id")
    res = imputation_did(df, aggregation="simple", leads=0)
    assert_close(res.params["simple"], float(m.coef()["treat"]), rel=DID2S_REL)


def test_aggregates_are_consistent():
    df = make_panel(n_firms=300, seed=9)
    res = imputation_did(df, aggregation="dynamic")
    dyn = [t for t in res.params.index if t.startswith("dynamic:")]
    n = res.counts[dyn]
    assert_close(
        res.params["simple"], float((res.params[dyn] * n).sum() / n.sum()), rel=FE_EXACT_REL
    )
    assert isinstance(res, ImputationResult) and isinstance(res, ProfileResult)
    assert list(res.profile()["x"]) == sorted(int(t.split(":")[1]) for t in dyn)
    cal = imputation_did(df, aggregation="calendar", leads=0)
    assert_close(cal.params["simple"], res.params["simple"], rel=FE_EXACT_REL)
    by = imputation_did(df, by="member_years", leads=0)
    assert "member_years::1" in by.params.index
    hz = imputation_did(df, horizons=[0, 2], leads=0)
    assert [t for t in hz.params.index if t != "simple"] == ["dynamic:0", "dynamic:2"]
    # the tau frame holds the identified effects
    assert len(res.tau) == res.n_treated_obs
    assert_close(res.tau["tau"].mean(), res.params["simple"], rel=FE_EXACT_REL)


def test_known_truth_and_pretrend_small_dgp():
    df = make_panel(n_firms=800, seed=10)
    res = imputation_did(df)
    truth = df.loc[df["member"] == 1].groupby(df["year"] - df["treat_year"])["eff"].mean()
    for e, v in truth.items():
        term = f"dynamic:{int(e)}"
        assert abs(res.params[term] - v) <= TRUTH_SE_MULTIPLE * res.std_errors[term]
    assert res.pretrend is not None and res.pretrend.p_value > 0.01
    assert list(res.pretrend_estimates["term"]) == [f"rel_year::{e}" for e in range(-5, 0)]
    # anticipation is detected
    g = df["treat_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    rel = df["year"].to_numpy() - g
    bad = df.assign(ln_lp=df["ln_lp"] + np.where((rel >= -2) & (rel < 0), 0.2, 0.0))
    assert imputation_did(bad).pretrend.p_value < 0.001


def test_heterogeneous_scenario_twfe_misses_imputation_recovers():
    """Cohort-heterogeneous dynamic effects (synthetic 'heterogeneous'): the static TWFE coefficient is
    pulled away from the ATT (negative weights on late periods of early cohorts) while imputation hits it.
    Truth: the mean true effect on ln_lp (ln_lp - ln_lp0 in the latent data) over exactly the
    firm-years the imputation estimator averages."""
    from clusterimpact.synthetic import simulate

    sim = simulate("heterogeneous", seed=1, n_firms=12_000)
    panel = sim.panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imp = imputation_did(panel, "ln_lp", aggregation="simple", leads=0)
        twfe = static_premium(panel, "ln_lp")
    lat = sim.latent.assign(te=sim.latent["ln_lp"] - sim.latent["ln_lp0"])
    tau = imp.tau.merge(
        lat[["firm_id", "year", "te"]].rename(columns={"firm_id": "unit", "year": "time"}),
        on=["unit", "time"],
        how="left",
    )
    assert tau["te"].notna().all()
    truth = float(tau["te"].mean())
    assert abs(imp.params["simple"] - truth) <= TRUTH_SE_MULTIPLE * imp.std_errors["simple"]
    # the TWFE coefficient lies outside its own 95 % interval around the truth
    assert abs(twfe.params["member"] - truth) > 1.96 * twfe.std_errors["member"]
    assert twfe.params["member"] < truth


def test_exclusions_counted():
    df = make_panel(n_firms=150, seed=11)
    # a firm treated in every sample year has no untreated year: its effects are not identified
    always = df["firm_id"] == df.loc[df["treat_year"] == 2013, "firm_id"].iloc[0]
    df.loc[always, "treat_year"] = 2005
    res = imputation_did(df, leads=0)
    assert res.exclusions["no_untreated_year_for_firm"] == int(always.sum())
    miss = df.assign(ln_lp=np.where(np.arange(len(df)) % 50 == 0, np.nan, df["ln_lp"]))
    assert imputation_did(miss, leads=0).exclusions["missing_values"] == int(
        np.isnan(miss["ln_lp"]).sum()
    )


def test_bad_input(small):
    with pytest.raises(SpecError, match="choose one of"):
        imputation_did(small, aggregation="weird")
    with pytest.raises(DataError, match="nope"):
        imputation_did(small, outcome="nope")
    with pytest.raises(EstimationError, match="no treated"):
        imputation_did(small.assign(treat_year=pd.array([pd.NA] * len(small), dtype="Int64")))
    with pytest.raises(SpecError, match="horizons"):
        imputation_did(small, horizons=[-1, 0])
