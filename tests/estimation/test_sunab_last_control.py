"""sun_abraham(control="last") keeps the never-treated units as controls, as its docstring says."""

from __future__ import annotations

from _did_dgp import make_staggered

from _asserts import assert_close, assert_differ
from clusterimpact.estimation.sunab import sun_abraham
from tolerances import DISTINCT_REL, EXACT_FLOOR, EXACT_REL


def test_last_control_pools_never_treated_units():
    df, _ = make_staggered(n_units=600, seed=4)
    last = int(df["treat_year"].max())
    res = sun_abraham(df, "y", control="last")
    assert res.control_cohort == last
    # never-treated units relabelled as members of the last cohort: the same regression (their
    # periods from `last` on are dropped either way, and before it both are untreated controls)
    relabel = df.assign(treat_year=df["treat_year"].fillna(last))
    same = sun_abraham(relabel, "y", control="last")
    assert same.nobs == res.nobs
    assert_close(same.params, res.params, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(same.std_errors, res.std_errors, rel=EXACT_REL, floor=EXACT_FLOOR)
    # dropping them gives a different control group and different numbers
    alone = sun_abraham(df[df["treat_year"].notna()], "y", control="last")
    assert alone.nobs < res.nobs
    assert_differ(alone.params, res.params.reindex(alone.params.index), rel=DISTINCT_REL)
