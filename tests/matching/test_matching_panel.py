"""Cohort-wise matching on the synthetic panel: truth, balance, the stacked panel's structure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationWarning, SpecError
from clusterimpact.matching import match_panel
from clusterimpact.synthetic import simulate
from tolerances import EXACT_FLOOR, EXACT_REL, MATCHED_U_GAP_ABS, SMD_BALANCED, TRUTH_SE_MULTIPLE

SPEC = {
    "covariates": ["ln_emp", "age", "ln_kl"],
    "trends": ["ln_lp"],
    "pre_means": ["ln_lp", "ln_emp", "ln_kl"],
}


@pytest.fixture(scope="module")
def sim():
    return simulate("ecoom", seed=1, n_firms=3000)


@pytest.fixture(scope="module")
def panel(sim) -> pd.DataFrame:
    return sim.panel().data


def _fit(panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return match_panel(panel, **{**SPEC, **kw})


def _truth(sim, res) -> float:
    """The matched DiD's estimand on its own sample: mean over matched members of the mean true effect
    on ln_lp over event times 0..5."""
    lat = sim.latent[["firm_id", "year", "ln_lp", "ln_lp0"]].rename(columns={"ln_lp": "lp1"})
    mp = res.matched_panel
    t = mp[(mp.treated == 1) & (mp.rel_year >= 0)].merge(lat, on=["firm_id", "year"])
    return float((t.lp1 - t.ln_lp0).groupby(t.stack_unit).mean().mean())


@pytest.mark.parametrize("kw", [{"method": "nearest"}, {"method": "nnmatch"}], ids=["ps", "ai"])
def test_matched_did_recovers_truth_raw_gap_does_not(sim, panel, kw):
    r = _fit(panel, outcome="ln_lp", **kw)
    truth = _truth(sim, r)
    assert abs(r.params["ATT"] - truth) <= TRUTH_SE_MULTIPLE * r.std_errors["ATT"]
    # raw member / never-member gap in ln_lp after joining, firm-clustered SE
    post = panel[(panel.member == 1)].groupby("firm_id")["ln_lp"].mean()
    never = panel[panel.treat_year.isna()].groupby("firm_id")["ln_lp"].mean()
    raw = post.mean() - never.mean()
    raw_se = np.sqrt(post.var() / len(post) + never.var() / len(never))
    assert abs(raw - truth) > TRUTH_SE_MULTIPLE * max(raw_se, r.std_errors["ATT"])


def test_pooled_balance_after_matching(panel):
    r = _fit(panel, method="nnmatch")
    pooled = r.balance[r.balance["stack"].isna()]
    before = pooled[pooled.stage == "before"]["smd"].abs().max()
    after = pooled[pooled.stage == "after"]["smd"].abs().max()
    assert before > 0.3
    assert after < SMD_BALANCED
    assert set(r.balance_after["covariate"]) == {
        "ln_emp",
        "age",
        "ln_kl",
        "ln_lp_growth",
        "ln_lp_pre_mean",
        "ln_emp_pre_mean",
        "ln_kl_pre_mean",
    }


def test_stacked_panel_structure(panel):
    r = _fit(panel, method="nearest", exact="sector", control="notyet", horizon=1)
    mp = r.matched_panel
    for col in (
        "stack",
        "stack_unit",
        "firm_id",
        "year",
        "rel_year",
        "treated",
        "stack_cohort",
        "weight",
        "rel_year_own",
        "ln_lp",
    ):
        assert col in mp.columns
    assert (mp.rel_year == mp.year - mp["stack"]).all()
    assert mp.rel_year.between(-5, 5).all()
    ty = mp.treat_year.astype("Float64").fillna(np.inf).to_numpy(float)
    c = mp.treated.to_numpy() == 0
    # controls of stack g are not members by g + horizon and never appear from their own joining on
    assert (ty[c] > mp["stack"].to_numpy()[c] + 1).all()
    assert (mp.year.to_numpy()[c] < ty[c]).all()
    # treated: their cohort is the stack; stack_cohort 0 marks controls
    t = ~c
    assert (ty[t] == mp["stack"].to_numpy()[t]).all()
    assert (mp.stack_cohort[c] == 0).all() and (mp.stack_cohort[t] == mp["stack"][t]).all()
    # sector matched exactly in g-1
    pairs = r.pairs
    m = r.matched.set_index(["stack", "firm_id"])["sector"]
    fs = m.loc[list(zip(pairs["stack"], pairs.focal, strict=True))].to_numpy()
    ms = m.loc[list(zip(pairs["stack"], pairs.match, strict=True))].to_numpy()
    assert (fs == ms).all()
    # control weights sum to the stack's matched treated count
    w = r.matched.groupby(["stack", "treated"])["weight"].sum().unstack()
    assert_close(w[0], w[1], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert r.propensity is not None and {"stack", "score", "treated", "matched"} <= set(
        r.propensity.columns
    )


def test_unmatched_members_are_reported(panel):
    r = _fit(panel, method="nearest")
    members = panel.loc[panel.treat_year.notna(), ["firm_id", "treat_year"]].drop_duplicates(
        "firm_id"
    )
    n_matched = int(r.counts.loc[r.counts.group == "treated", "n_matched"].iloc[0])
    assert n_matched + len(r.unmatched) == len(members)
    assert set(r.unmatched.reason) <= {"no_pre_year_observation", "missing_covariates"}
    assert sum(r.exclusions.values()) >= len(r.unmatched)


def test_panel_bad_input(panel):
    with pytest.raises(DataError, match="column 'nope'"):
        match_panel(panel, ["nope"])
    with pytest.raises(DataError, match="duplicate"):
        match_panel(pd.concat([panel, panel.iloc[:3]]), ["ln_emp"])
    with pytest.raises(SpecError, match="control='later' is not valid"):
        match_panel(panel, ["ln_emp"], control="later")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="no firms"):
        match_panel(panel, ["ln_emp"], cohorts=[1990])


def test_stacked_panel_feeds_callaway_santanna(panel):
    from clusterimpact.estimation.staggered import att_gt

    r = _fit(panel, method="nnmatch", outcome="ln_lp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = att_gt(
            r.matched_panel,
            outcome="ln_lp",
            cohort="stack_cohort",
            unit="firm_id",
            stack="stack",
            weights="weight",
            cluster="firm_id",
            allow_unbalanced=True,
        )
    # every ATT(g,t) is the weighted 2x2 DiD of stack g's matched members and controls between t and
    # the base period, over the units observed in both (unbalanced panel: pairwise cells)
    mp = r.matched_panel
    hand = []
    for term in res.params.index:
        g, t, b = (int(x[term]) for x in (res.cohort, res.period, res.base))
        s = mp[mp["stack"] == g]
        wide = s.pivot_table(index="stack_unit", columns="year", values="ln_lp")
        unit = s.groupby("stack_unit")[["weight", "treated"]].first().loc[wide.index]
        if t not in wide or b not in wide:  # outside the stack's window: no units, a NaN cell
            hand.append(np.nan)
            continue
        ok = (wide[t].notna() & wide[b].notna()).to_numpy()
        d = (wide[t] - wide[b]).to_numpy()[ok]
        w, tr = unit["weight"].to_numpy()[ok], unit["treated"].to_numpy()[ok] == 1
        hand.append(np.average(d[tr], weights=w[tr]) - np.average(d[~tr], weights=w[~tr]))
    assert_close(res.params, hand, rel=EXACT_REL, floor=EXACT_FLOOR)


# -- designs: matching on trends vs levels under selection on fixed effects -----------------------
@pytest.fixture(scope="module")
def sim_large():
    from conftest import slow_scale

    return simulate("ecoom", seed=1, n_firms=max(3000, int(15000 * slow_scale())))


def _design_fit(sim, design):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return match_panel(
            sim.panel().data, design=design, exact="sector", caliper=0.2, outcome="ln_lp", seed=1
        )


def _latent_gap_at_g_minus_1(sim, res) -> dict[str, float]:
    """Members minus their (weighted) matched controls in g-1: permanent alpha, transitory u."""
    mp = res.matched_panel
    m1 = mp[mp.rel_year == -1].merge(sim.latent[["firm_id", "year", "alpha", "u"]])
    t, c = m1[m1.treated == 1], m1[m1.treated == 0]
    return {k: t[k].mean() - np.average(c[k], weights=c.weight) for k in ("alpha", "u")}


@pytest.mark.slow
def test_trends_design_recovers_truth_with_att_gt(sim_large):
    """design='trends': matched DiD (and CS on the stacked matched panel) within 3 SE of the truth."""
    from clusterimpact.estimation.staggered import aggte, att_gt

    r = _design_fit(sim_large, "trends")
    truth = _truth(sim_large, r)
    assert abs(r.params["ATT"] - truth) <= TRUTH_SE_MULTIPLE * r.std_errors["ATT"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = att_gt(
            r.matched_panel,
            outcome="ln_lp",
            cohort="stack_cohort",
            unit="firm_id",
            stack="stack",
            weights="weight",
            cluster="firm_id",
            allow_unbalanced=True,
        )
        simple = aggte(cs, "simple").tidy().set_index("term").loc["simple"]
    assert abs(simple["estimate"] - truth) <= TRUTH_SE_MULTIPLE * simple["std_error"]
    # the transitory component is balanced in g-1 (the permanent one need not be: DiD removes it)
    gap = _latent_gap_at_g_minus_1(sim_large, r)
    assert abs(gap["u"]) < MATCHED_U_GAP_ABS


@pytest.mark.slow
def test_levels_design_bias_has_predicted_sign(sim_large):
    """Selection on fixed effects + matching on the outcome level in g-1: the controls are picked for
    a transitory high that fades (regression to the mean), so the matched DiD is biased upward."""
    r = _design_fit(sim_large, "levels")
    gap = _latent_gap_at_g_minus_1(sim_large, r)
    # members: higher permanent productivity, lower transitory productivity than their controls
    assert gap["alpha"] > 0.02 and gap["u"] < -0.02
    truth = _truth(sim_large, r)
    assert r.params["ATT"] - truth > 0
    trends = _design_fit(sim_large, "trends")
    assert r.params["ATT"] > trends.params["ATT"]


def test_design_option_errors(panel):
    with pytest.raises(SpecError, match="design='rows' is not valid"):
        match_panel(panel, design="rows")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="leave out covariates"):
        match_panel(panel, ["ln_emp"], design="trends")
    with pytest.raises(SpecError, match="or a design"):
        match_panel(panel)
    r = _fit_design_small(panel)
    assert set(r.balance_after["covariate"]) == {
        "age",
        "ln_lp_growth",
        "ln_emp_pre_mean",
        "ln_kl_pre_mean",
    }
    assert r.options["trend_window"] == 3 and r.options["design"] == "trends"


def _fit_design_small(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return match_panel(panel, design="trends")
