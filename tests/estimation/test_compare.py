"""compare_estimators: TWFE, CS, SA and imputation side by side; known truth on the synthetic panel."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from _reference import r_did_aggregate
from clusterimpact.errors import SpecError
from clusterimpact.estimation.compare import compare_estimators
from conftest import REFERENCE
from tolerances import CS_POINT_ABS, EXACT_REL, TRUTH_SE_MULTIPLE

MP = dict(cohort="first.treat", unit="countyreal", time="year")


@pytest.fixture(scope="module")
def mpdta_cmp():
    df = pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")
    return compare_estimators(df, "lemp", **MP)


def test_tidy_frame_and_table(mpdta_cmp):
    t = mpdta_cmp.tidy()
    assert list(t.columns) == [
        "estimator", "label", "term", "estimate", "std_error", "conf_low", "conf_high", "p_value", "nobs"
    ]  # fmt: skip
    ov = mpdta_cmp.overall().set_index("estimator")
    assert list(ov.index) == ["twfe", "cs", "sa", "imputation"]
    assert_close(ov.loc["cs", "estimate"], r_did_aggregate()["estimate"], abs=CS_POINT_ABS)
    assert_close(ov.loc["sa", "estimate"], ov.loc["cs", "estimate"], rel=EXACT_REL)
    assert_close(ov.loc["twfe", "estimate"], mpdta_cmp.bacon.twfe, rel=EXACT_REL)
    md = mpdta_cmp.table("markdown")
    for label in ("TWFE", "Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)"):
        assert label in md
    prof = mpdta_cmp.profile()
    assert {"twfe", "cs", "sa", "imputation"} == set(prof["estimator"])
    assert (prof.groupby("estimator")["x"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert not mpdta_cmp.failures


def test_subset_and_bad_options():
    df = pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")
    c = compare_estimators(df, "lemp", **MP, estimators=("cs", "sa"), terms="simple", bacon=False)
    assert set(c.tidy()["term"]) == {"simple"} and c.bacon is None
    with pytest.raises(SpecError, match="estimator="):
        compare_estimators(df, "lemp", **MP, estimators=("ols",))


def test_one_cohort_two_periods_all_equal_2x2():
    rng = np.random.default_rng(4)
    n = 400
    g = np.where(rng.random(n) < 0.5, 2021, 0)
    y0 = rng.normal(size=n)
    y1 = y0 + 0.1 + 0.3 * (g > 0) + rng.normal(size=n)
    df = pd.DataFrame(
        {"firm_id": np.repeat(np.arange(n), 2), "year": np.tile([2020, 2021], n),
         "treat_year": np.repeat(g, 2), "y": np.column_stack([y0, y1]).ravel()}
    )  # fmt: skip
    d = y1 - y0
    hand = d[g > 0].mean() - d[g == 0].mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compare_estimators(df, "y", terms="simple")
    ov = c.overall().set_index("estimator")["estimate"]
    assert set(ov.index) == {"twfe", "cs", "sa", "imputation"}
    assert_close(ov.to_numpy(), hand, rel=EXACT_REL)
    assert_close(c.bacon.twfe, hand, rel=EXACT_REL)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["heterogeneous", "ecoom"])
def test_synthetic_truth_and_twfe_bias_sign(scenario):
    from clusterimpact.synthetic import simulate
    from conftest import slow_scale

    sim = simulate(scenario, seed=1, n_firms=max(1500, int(4000 * slow_scale())))
    data = sim.panel().data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = compare_estimators(data, "ln_lp", terms="dynamic")
    ov = c.overall().set_index("estimator")
    # truth: CS weights post cells by cohort size; SA and imputation average over treated firm-years
    cells = pd.DataFrame(sim.truth["att_gt"])
    cells = cells[cells["year"] >= cells["cohort"]]
    shares = c.results["cs"].cohort_shares
    cells = cells[cells["cohort"].isin(shares.index)]
    w = cells["cohort"].map(shares)
    truth_cs = float((cells["att_lp"] * w).sum() / w.sum())
    truth_obs = float(sim.truth["att_overall_lp"])
    for est, truth in (("cs", truth_cs), ("sa", truth_obs), ("imputation", truth_obs)):
        r = ov.loc[est]
        assert abs(r["estimate"] - truth) <= TRUTH_SE_MULTIPLE * r["std_error"], (
            est,
            r["estimate"],
            truth,
        )
    # event-time effects: truth event_time (firm-year weighted over cohorts at e)
    et = sim.truth["event_time"]
    prof = c.tidy()
    for est in ("cs", "sa", "imputation"):
        for e in range(4):
            row = prof[(prof["estimator"] == est) & (prof["term"] == f"dynamic:{e}")].iloc[0]
            truth = float(et[str(e)]["att_lp"])
            assert abs(row["estimate"] - truth) <= TRUTH_SE_MULTIPLE * row["std_error"], (est, e)
    if scenario != "heterogeneous":
        return
    # effects differ by cohort and grow with time: TWFE is biased, in the direction the Bacon
    # decomposition predicts (forbidden late-vs-early comparisons pull it down)
    sign = c.bacon.predicted_bias_sign()
    assert sign != 0
    assert np.sign(ov.loc["twfe", "estimate"] - truth_obs) == sign
