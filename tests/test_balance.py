"""Balance statistics: SMD conventions, weighted moments, eCDF statistics, common support."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from _asserts import assert_close
from clusterimpact.balance import balance_table, common_support, effective_sample_size
from tolerances import EXACT_FLOOR, EXACT_REL


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 400
    d = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame(
        {
            "d": d,
            "x": rng.normal(size=n) + 0.5 * d,
            "b": (rng.random(n) < 0.4 + 0.2 * d).astype(float),
            "w": rng.random(n) * 2,
            "grp": rng.integers(0, 3, n),
        }
    )


@pytest.mark.parametrize("estimand", ["att", "atc", "ate"])
def test_smd_denominator_follows_cobalt_conventions(frame, estimand):
    t = frame.loc[frame.d == 1, "x"]
    c = frame.loc[frame.d == 0, "x"]
    sd = {
        "att": t.std(),
        "atc": c.std(),
        "ate": np.sqrt((t.var() + c.var()) / 2),
    }[estimand]
    row = balance_table(frame, "d", ["x"], estimand=estimand).iloc[0]
    assert_close(row["smd"], (t.mean() - c.mean()) / sd, rel=EXACT_REL)
    assert_close(row["var_ratio"], t.var() / c.var(), rel=EXACT_REL)


def test_weighted_statistics_and_fixed_denominator(frame):
    w = frame["w"].to_numpy()
    row = balance_table(frame, "d", ["x"], weights=w, sd_data=frame).iloc[0]
    t, c = frame.d == 1, frame.d == 0
    mt = np.average(frame.x[t], weights=w[t])
    mc = np.average(frame.x[c], weights=w[c])
    assert_close(row["mean_treated"], mt, rel=EXACT_REL)
    assert_close(row["mean_control"], mc, rel=EXACT_REL)
    assert_close(row["smd"], (mt - mc) / frame.x[t].std(), rel=EXACT_REL)
    assert_close(row["ess_control"], w[c].sum() ** 2 / (w[c] ** 2).sum(), rel=EXACT_REL)
    assert_close(effective_sample_size(np.ones(10)), 10, rel=EXACT_REL)


def test_ecdf_max_is_the_ks_statistic(frame):
    row = balance_table(frame, "d", ["x"]).iloc[0]
    ks = stats.ks_2samp(frame.x[frame.d == 1], frame.x[frame.d == 0]).statistic
    assert_close(row["ecdf_max"], ks, rel=EXACT_REL)
    assert 0 < row["ecdf_mean"] < row["ecdf_max"]


def test_by_group_blocks(frame):
    tab = balance_table(frame, "d", ["x", "b"], by="grp")
    assert list(tab.columns[:2]) == ["grp", "covariate"]
    assert len(tab) == 6
    g0 = frame[frame.grp == 0]
    one = balance_table(g0, "d", ["x", "b"])
    assert_close(tab[tab.grp == 0]["smd"], one["smd"], rel=EXACT_REL, floor=EXACT_FLOOR)


def test_common_support_counts_units_outside_the_other_range():
    score = np.array([0.1, 0.2, 0.9, 0.3, 0.4, 0.05])
    d = np.array([1, 1, 1, 0, 0, 0])
    cs = common_support(score, d).set_index("group")
    assert cs.loc["treated", "n_outside"] == 1  # 0.9 > max control 0.4
    assert cs.loc["control", "n_outside"] == 1  # 0.05 < min treated 0.1
