"""Sun-Abraham interaction-weighted event study: CS equivalence, truth, 2x2, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _did_dgp import make_staggered, truth_aggregates

from _asserts import assert_close
from _reference import r_did_aggregate
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.estimation.sunab import sun_abraham
from conftest import REFERENCE
from tolerances import CS_POINT_ABS, DID_2X2_ABS, EXACT_FLOOR, EXACT_REL, TRUTH_SE_MULTIPLE

MP = dict(cohort="first.treat", unit="countyreal", time="year")


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")


def test_post_periods_equal_cs_with_never_treated(mpdta):
    # with never-treated controls and reference period -1, CATT(g, e>=0) is CS's long difference
    sa = sun_abraham(mpdta, "lemp", **MP)
    cs = aggte(att_gt(mpdta, "lemp", **MP), "dynamic")
    post = [f"dynamic:{e}" for e in range(4)]
    assert_close(sa.params[post], cs.params[post], rel=EXACT_REL, floor=EXACT_FLOOR)
    # ... so its simple aggregate (weights by cohort size x periods) is R did's simple ATT
    assert_close(
        sa.params["simple"], r_did_aggregate("never_nocov", "simple")["estimate"], abs=CS_POINT_ABS
    )
    assert sa.reference == -1.0 and "dynamic:-1" not in sa.params.index
    assert set(sa.catt.columns) == {"cohort", "e", "estimate", "std_error", "n"}
    prof = sa.profile()
    assert list(prof["x"]) == sorted(prof["x"])


def test_recovers_truth():
    df, truth = make_staggered(n_units=2500, seed=8)
    sa = sun_abraham(df, "y")
    ta = truth_aggregates(df, truth)
    for k in ("simple", "dynamic:0", "dynamic:2", "dynamic:4"):
        assert abs(sa.params[k] - ta[k]) <= TRUTH_SE_MULTIPLE * sa.std_errors[k], k
    # pre-periods: no effect
    for e in (-2, -3):
        k = f"dynamic:{e}"
        assert abs(sa.params[k]) <= TRUTH_SE_MULTIPLE * sa.std_errors[k]


def test_last_treated_control():
    df, truth = make_staggered(n_units=2500, seed=9, shares=(0.3, 0.3, 0.3))
    sa = sun_abraham(df, "y", control="last")
    assert sa.control_cohort == 2017
    assert sa.exclusions["periods from the last cohort's treatment on"] > 0
    tr = truth.set_index(["cohort", "period"])["att"]
    # only cohorts 2013/2015 are compared, in the periods before 2017: each post-period CATT(g, e) is
    # within TRUTH_SE_MULTIPLE of its own standard error (~0.014) of the true ATT(g, g + e)
    post = sa.catt[sa.catt["e"] >= 0]
    assert set(post["cohort"]) == {2013, 2015} and (post["cohort"] + post["e"]).max() == 2016
    for r in post.itertuples():
        assert (
            abs(r.estimate - tr[(r.cohort, r.cohort + r.e)]) <= TRUTH_SE_MULTIPLE * r.std_error
        ), r


def test_one_cohort_two_periods_is_2x2():
    rng = np.random.default_rng(1)
    n = 300
    g = np.where(rng.random(n) < 0.5, 2021, 0)
    y0 = rng.normal(size=n)
    y1 = y0 + 0.2 + 0.4 * (g > 0) + rng.normal(size=n)
    df = pd.DataFrame(
        {"firm_id": np.repeat(np.arange(n), 2), "year": np.tile([2020, 2021], n),
         "treat_year": np.repeat(g, 2), "y": np.column_stack([y0, y1]).ravel()}
    )  # fmt: skip
    d = y1 - y0
    hand = d[g > 0].mean() - d[g == 0].mean()
    sa = sun_abraham(df, "y")
    assert_close(sa.params[["simple", "dynamic:0"]], hand, abs=DID_2X2_ABS)


def test_bad_input(mpdta):
    with pytest.raises(EstimationError, match="no never-treated"):
        sun_abraham(mpdta[mpdta["first.treat"] > 0], "lemp", **MP)
    with pytest.raises(SpecError, match="'never', 'last'"):
        sun_abraham(mpdta, "lemp", **MP, control="notyet")
    with pytest.raises(EstimationError, match="no treated units"):
        sun_abraham(mpdta.assign(g=0), "lemp", cohort="g", unit="countyreal", time="year")
