"""Subgroup effects (issue #14): exact equivalences, known answers, the joint covariance, the bootstrap,
and the size and power of the equal-effects and adjusted tests over seeds."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from _did_dgp import make_staggered
from fe_helpers import make_panel
from statsmodels.stats.multitest import multipletests

from _asserts import assert_close
from _stats import binomial_min_hits
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.heterogeneity import heterogeneity_effects, subgroup_effects
from clusterimpact.estimation.influence import draw_multipliers
from clusterimpact.estimation.multiplicity import romano_wolf
from clusterimpact.estimation.staggered import aggte, att_gt
from tolerances import (
    EXACT_REL,
    HETERO_BOOT_CORR_ABS,
    HETERO_BOOT_VAR_REL,
    HETERO_EXACT_ABS_SCALE,
    HETERO_EXACT_REL,
    TRUTH_SE_MULTIPLE,
)


def _close(actual, expected) -> None:
    expected = np.asarray(expected, dtype=float)
    atol = HETERO_EXACT_ABS_SCALE * float(np.max(np.abs(expected)))
    assert_close(actual, expected, rel=HETERO_EXACT_REL, abs=atol)


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return fn(*a, **kw)


def _grouped(n: int, seed: int, *, effect_c: float = 0.0, shares=(0.3, 0.3, 0.3)) -> pd.DataFrame:
    """make_staggered with no effect (parallel trends hold) and a fixed trait ``grp`` (A/B/C) drawn
    independently of everything; ``effect_c`` is added to group C's treated firm-years. With 10 %
    never-treated firms the subgroups share few controls, so their estimates are strongly correlated
    (about 0.55)."""
    df, _ = make_staggered(
        n_units=n,
        years=(2010, 2017),
        cohorts=(2012, 2014, 2016),
        shares=shares,
        base=(0.0, 0.0, 0.0),
        slope=0.0,
        noise=0.3,
        seed=seed,
    )
    grp = np.random.default_rng(10_000 + seed).choice(np.array(["A", "B", "C"]), size=n)
    df["grp"] = np.repeat(grp, 8)
    on = (df["grp"] == "C").to_numpy() & (df["member"] == 1).to_numpy()
    df.loc[on, "y"] += effect_c
    return df


@pytest.fixture(scope="module")
def ecoom() -> pd.DataFrame:
    from clusterimpact.synthetic import simulate

    return simulate("ecoom", seed=1, n_firms=2000).panel().data


# -- equivalences and known answers --------------------------------------------------------------------
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cohort_split_equals_the_group_aggregation(control):
    """Subgroups by cohort are Callaway-Sant'Anna's ``group`` elements: the same estimates and the same
    joint covariance (aggte computes it from the pooled fit's influence functions; here it comes from
    separate fits mapped onto firms)."""
    df, _ = make_staggered(n_units=600, seed=3)
    res = _quiet(subgroup_effects, df, "y", "cohort", control=control, n_boot=99, seed=1)
    # the subgroup fits carry the small-sample factor (issue #14): so must the reference
    grp = aggte(att_gt(df, "y", control=control, small_sample=True), "group")
    terms = [f"group:{g}" for g in (2013, 2015, 2017)]
    assert list(res.params.index) == ["cohort:2013", "cohort:2015", "cohort:2017"]
    _close(res.params.to_numpy(), grp.params[terms].to_numpy())
    _close(res.vcov.to_numpy(), grp.vcov.loc[terms, terms].to_numpy())
    assert (res.n_firms.to_numpy() > 50).all()


def test_cohort_split_on_the_unbalanced_synthetic_panel(ecoom):
    res = _quiet(
        subgroup_effects,
        ecoom,
        "ln_lp",
        "cohort",
        control="notyet",
        allow_unbalanced=True,
        min_treated=1,
        min_cohort=1,  # every cohort, however small (the group aggregation keeps them all)
        n_boot=99,
    )
    grp = _quiet(
        aggte,
        _quiet(att_gt, ecoom, "ln_lp", control="notyet", allow_unbalanced=True, small_sample=True),
        "group",
    )
    terms = [t.replace("cohort:", "group:") for t in res.params.index]
    assert set(terms) == {t for t in grp.params.index if ":" in t}
    _close(res.params.to_numpy(), grp.params[terms].to_numpy())
    _close(res.vcov.to_numpy(), grp.vcov.loc[terms, terms].to_numpy())


def test_diagonal_equals_each_subgroups_own_fit(ecoom):
    """The joint covariance's diagonal is each subgroup's own analytic variance from att_gt/aggte run on
    that subgroup's firms and the never-treated firms alone (balanced fast path and unbalanced panel)."""
    for df, outcome, by, kw in (
        (make_panel(n_firms=600, seed=4), "ln_lp", "sector", {}),
        (ecoom, "ln_lp", "region", {"allow_unbalanced": True}),
    ):
        res = _quiet(
            subgroup_effects, df, outcome, by, comparison="pooled", n_boot=99, min_treated=10,
            min_cohort=1, **kw,
        )  # fmt: skip
        g = pd.to_numeric(df["treat_year"], errors="coerce").fillna(0)
        for term, fit in res.fits.items():
            label = term.split(":", 1)[1]
            own_rows = (g == 0) | (df[by].astype(str) == label)
            if label == "other":
                own_rows = (g == 0) | df["firm_id"].isin(fit.unit_ids)
            own = aggte(_quiet(att_gt, df[own_rows], outcome, small_sample=True, **kw), "simple")
            _close(res.params[term], own.params["simple"])
            _close(res.vcov.loc[term, term], own.std_errors["simple"] ** 2)
        _close(np.sqrt(np.diag(res.vcov)), res.std_errors.to_numpy())
        assert res.vcov.to_numpy()[0, 1] > 0  # shared controls: positively correlated


def _two_by_two(seed: int = 0, n: int = 90):
    rng = np.random.default_rng(seed)
    grp = np.array(["A"] * 30 + ["B"] * 25 + ["-"] * (n - 55))
    g = np.where(grp == "-", 0, 2011)
    y0, y1 = rng.normal(size=n), rng.normal(size=n) + 0.3 * (grp == "A")
    firm = np.array([f"f{i:03d}" for i in range(n)])
    df = pd.DataFrame(
        {
            "firm_id": np.repeat(firm, 2),
            "year": np.tile([2010, 2011], n),
            "treat_year": np.repeat(g, 2),
            "y": np.column_stack([y0, y1]).ravel(),
            "grp": np.repeat(grp, 2),
            "region": np.repeat(np.arange(n) % 7, 2),
        }
    )
    return df, y1 - y0, grp


def test_known_answer_two_periods_one_cohort():
    """One cohort, two periods, never-treated controls: each subgroup's ATT is a difference of mean
    changes; its influence function is ``(dY_i - m_s) / n_s`` on its firms and ``-(dY_i - m_C) / n_C``
    on the controls, so the covariance of two subgroups is the controls' term ``sum (dY - m_C)^2 / n_C^2``."""
    df, dy, grp = _two_by_two()
    # the formula above is R did's (no small-sample factor): test_subgroup_small_sample.py has the factor
    res = subgroup_effects(df, "y", "grp", min_treated=5, n_boot=99, seed=1, small_sample=False)
    assert list(res.params.index) == ["grp:A", "grp:B"]
    c = grp == "-"
    mc = dy[c].mean()
    vc = ((dy[c] - mc) ** 2).sum() / c.sum() ** 2
    est, var = [], []
    for s in ("A", "B"):
        m = grp == s
        est.append(dy[m].mean() - mc)
        var.append(((dy[m] - dy[m].mean()) ** 2).sum() / m.sum() ** 2 + vc)
    _close(res.params.to_numpy(), est)
    _close(res.vcov.to_numpy(), [[var[0], vc], [vc, var[1]]])
    # clustered by region (7 clusters): psi summed within clusters first
    cl = subgroup_effects(
        df, "y", "grp", min_treated=5, n_boot=99, seed=1, cluster="region", small_sample=False
    )
    psi = np.zeros((2, dy.size))
    for k, s in enumerate(("A", "B")):
        m = grp == s
        psi[k, m] = (dy[m] - dy[m].mean()) / m.sum()
        psi[k, c] = -(dy[c] - mc) / c.sum()
    region = np.arange(dy.size) % 7
    psi_c = np.stack([np.bincount(region, weights=row) for row in psi])
    _close(cl.vcov.to_numpy(), psi_c @ psi_c.T)
    _close(cl.params.to_numpy(), est)
    # the Wald statistic of equal effects: (est_A - est_B)^2 / Var(est_A - est_B)
    d = est[0] - est[1]
    _close(res.equal_effects["stat"], d**2 / (var[0] + var[1] - 2 * vc))
    assert res.equal_effects["df"] == 1


def test_known_answer_not_yet_treated_controls_span_subgroups():
    """With control='notyet' a subgroup's comparison firms are the never-treated firms and the not-yet-
    treated firms of *every* subgroup, as in the pooled Callaway-Sant'Anna fit. Hand-computed cells:
    cohorts 2012 and 2014 in 2010-2014, varying base (post cells use base g-1)."""
    rng = np.random.default_rng(5)
    n = 240
    g = rng.choice([2012, 2014, 0], size=n, p=[0.35, 0.35, 0.3])
    grp = rng.choice(np.array(["A", "B"]), size=n)
    years = np.arange(2010, 2015)
    y = rng.normal(size=(n, years.size)).cumsum(axis=1)
    df = pd.DataFrame(
        {
            "firm_id": np.repeat(np.arange(n), years.size),
            "year": np.tile(years, n),
            "treat_year": np.repeat(g, years.size),
            "y": y.ravel(),
            "grp": np.repeat(grp, years.size),
        }
    )
    res = subgroup_effects(df, "y", "grp", control="notyet", min_treated=5, n_boot=99)

    def hand(s: str, controls_from_all: bool) -> float:
        num = den = 0.0
        for gg in (2012, 2014):
            treated = (g == gg) & (grp == s)
            b = gg - 1 - years[0]
            for t in range(gg, years[-1] + 1):
                later = g > t
                ctrl = (g == 0) | (later & (True if controls_from_all else grp == s))
                it = t - years[0]
                att = (y[treated, it] - y[treated, b]).mean() - (y[ctrl, it] - y[ctrl, b]).mean()
                num += treated.sum() * att
                den += treated.sum()
        return num / den

    expected = [hand("A", True), hand("B", True)]
    _close(res.params.to_numpy(), expected)
    wrong = [hand("A", False), hand("B", False)]  # the other subgroup's firms left out
    assert np.min(np.abs(np.subtract(wrong, expected))) > 1e-3


# -- bootstrap and adjusted p-values ---------------------------------------------------------------------
def test_bootstrap_shares_firm_multipliers_and_is_reproducible():
    df = _grouped(800, seed=2)
    res = subgroup_effects(df, "y", "grp", n_boot=1999, seed=7)
    again = subgroup_effects(df.sample(frac=1.0, random_state=3), "y", "grp", n_boot=1999, seed=7)
    other = subgroup_effects(df, "y", "grp", n_boot=1999, seed=8)
    # one multiplier per firm (sorted ids) and draw, the same for every subgroup
    xi = draw_multipliers(np.random.default_rng(7), (1999, len(res.firm_ids)))
    _close(res.boot_draws, np.asarray(res.influence @ xi.T).T)
    # row order does not matter; the seed does
    np.testing.assert_array_equal(res.boot_draws, again.boot_draws)
    pd.testing.assert_series_equal(res.p_romano_wolf, again.p_romano_wolf)
    _close(again.vcov.to_numpy(), res.vcov.to_numpy())
    assert not np.array_equal(res.boot_draws, other.boot_draws)
    # the draws reproduce the analytic covariance, correlations included
    V, B = res.vcov.to_numpy(), np.cov(res.boot_draws, rowvar=False)
    assert_close(np.diag(B), np.diag(V), rel=HETERO_BOOT_VAR_REL)
    sd_v, sd_b = np.sqrt(np.diag(V)), np.sqrt(np.diag(B))
    corr_v, corr_b = V / np.outer(sd_v, sd_v), B / np.outer(sd_b, sd_b)
    assert corr_v[0, 1] > 0.25  # the check below can tell shared from independent multipliers
    assert_close(corr_b, corr_v, abs=HETERO_BOOT_CORR_ABS)
    # adjusted p-values: Holm on the normal p-values, Romano-Wolf on the studentised draws
    np.testing.assert_array_equal(
        res.p_holm.to_numpy(), multipletests(res.pvalues.to_numpy(), method="holm")[1]
    )
    rw = romano_wolf(res.tstats.to_numpy(), res.boot_draws / res.std_errors.to_numpy())
    np.testing.assert_array_equal(res.p_romano_wolf.to_numpy(), rw)
    tmax = np.max(np.abs(res.boot_draws) / res.std_errors.to_numpy(), axis=1)
    assert res.crit_value == np.quantile(tmax, 0.95, method="inverted_cdf")
    band = res.conf_int(uniform=True)
    assert (band["upper"] - band["lower"] > res.conf_int()["upper"] - res.conf_int()["lower"]).all()


def test_wald_is_invariant_to_the_reference_subgroup():
    df = _grouped(600, seed=4, effect_c=0.1)
    res = subgroup_effects(df, "y", "grp", n_boot=99)
    th, V = res.params.to_numpy(), res.vcov.to_numpy()
    R = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]])  # other contrasts, same hypothesis
    d = R @ th
    _close(res.equal_effects["stat"], d @ np.linalg.solve(R @ V @ R.T, d))
    assert res.equal_effects["df"] == 2


# -- size and power over seeds ---------------------------------------------------------------------------
# No effect anywhere and parallel trends: over 80 seeds (800 firms, three subgroups of treated firms that
# share 10 % never-treated controls; correlation of the estimates about 0.55), the 5 % Wald test of equal
# effects, and the family-wise tests "some subgroup has an effect" with Holm and with Romano-Wolf (5 %),
# each reject on at most 80 - binomial_min_hits(80, 0.95, 0.001) = 11 seeds (a test of size 5 % fails
# with probability <= 0.001). The Wald statistic's mean must be df = 2 within 3.29 of its standard
# errors (chi-squared variance 2 df, so 0.22 over 80 seeds): a covariance that ignored the shared
# controls gives a mean of about 1.03 here (measured), 4.3 standard errors low. About 5.5 s CPU.
SIZE_SEEDS = range(80)


def test_size_of_equal_effects_and_adjusted_tests_under_the_null():
    wald, p_eq, any_holm, any_rw = [], [], [], []
    for s in SIZE_SEEDS:
        res = _quiet(subgroup_effects, _grouped(800, seed=s), "y", "grp", n_boot=199, seed=s)
        wald.append(res.equal_effects["stat"])
        p_eq.append(res.equal_effects["p_value"])
        any_holm.append(bool((res.p_holm < 0.05).any()))
        any_rw.append(bool((res.p_romano_wolf < 0.05).any()))
    n = len(SIZE_SEEDS)
    k = binomial_min_hits(n, 0.95, 0.001)
    assert k == 69
    for name, rejected in (
        ("equal effects", np.array(p_eq) < 0.05),
        ("Holm", np.array(any_holm)),
        ("Romano-Wolf", np.array(any_rw)),
    ):
        assert n - rejected.sum() >= k, f"{name}: rejected on {rejected.sum()} of {n} seeds"
    bound = 3.29 * np.sqrt(2 * 2 / n)
    assert abs(np.mean(wald) - 2.0) <= bound, f"mean Wald {np.mean(wald):.3f} (df 2 +- {bound:.3f})"


def test_power_a_real_difference_is_detected():
    """Group C's effect is 0.2 (about 7 of its standard errors), A and B have none: the equal-effects
    test rejects at 0.1 % and Romano-Wolf finds C on each of three seeds (power is ~1)."""
    for s in (1, 2, 3):
        res = subgroup_effects(_grouped(800, seed=s, effect_c=0.2), "y", "grp", n_boot=499, seed=s)
        assert res.equal_effects["p_value"] < 1e-3, res.equal_effects
        assert res.p_romano_wolf["grp:C"] < 0.01 and res.p_holm["grp:C"] < 0.01
        assert abs(res.params["grp:C"] - 0.2) <= TRUTH_SE_MULTIPLE * res.std_errors["grp:C"]


# The ECOOM claim, "firm size does not moderate the effect", shown both ways on the synthetic ecoom
# scenario (1,500 firms, seeds 1-8; size classes from FTE in the year before joining, merged to >= 20
# firms): with no size heterogeneity in the DGP the 5 % test of equal effects across size classes does
# not reject on >= binomial_min_hits(8, 0.95, 0.001) = 5 seeds; adding an effect that grows with size
# (0.1 x ln FTE before joining: +0.23 log points from 10 to 100 FTE) it rejects on >= 7 of 8 seeds
# (a test with power 0.99 does so with probability 0.997; measured p-values 1e-4 and below, while
# 0.05 x ln FTE rejected on only 6 of 8). About 5 s CPU.
ECOOM_SEEDS = range(1, 9)


def test_ecoom_size_does_not_moderate_unless_the_dgp_says_so():
    from clusterimpact.synthetic import simulate

    p_flat, p_grow = [], []
    kw = dict(control="notyet", allow_unbalanced=True, n_boot=199)
    for s in ECOOM_SEEDS:
        df = simulate("ecoom", seed=s, n_firms=1500).panel().data
        p_flat.append(_quiet(subgroup_effects, df, "ln_lp", "size", seed=s, **kw).equal_effects)
        g = pd.to_numeric(df["treat_year"], errors="coerce")
        pre = df[df["year"] == g - 1].set_index("firm_id")["emp"]
        size_pre = df["firm_id"].map(pre).astype(float)
        grow = 0.1 * np.log(size_pre).fillna(0.0) * (df["year"] >= g).fillna(False)
        df = df.assign(y_grow=df["ln_lp"] + grow)
        p_grow.append(_quiet(subgroup_effects, df, "y_grow", "size", seed=s, **kw).equal_effects)
    k = binomial_min_hits(len(ECOOM_SEEDS), 0.95, 0.001)
    assert k == 5
    flat = np.array([r["p_value"] for r in p_flat])
    grow = np.array([r["p_value"] for r in p_grow])
    assert (flat > 0.05).sum() >= k, np.round(flat, 3)
    assert (grow < 0.05).sum() >= 7, np.round(grow, 4)


# -- subgroup rules ----------------------------------------------------------------------------------------
def test_classes_are_measured_before_joining(ecoom):
    """Changing a treated firm's employment from its join year on changes nothing: the class is its
    FTE in g - 1 (and the mean over g-3..g-1 with window=3); anticipation moves the window back."""
    kw = dict(control="notyet", allow_unbalanced=True, n_boot=99, seed=1, min_cohort=1)
    base = _quiet(subgroup_effects, ecoom, "ln_lp", "size", **kw)
    g = pd.to_numeric(ecoom["treat_year"], errors="coerce")
    after = (ecoom["year"] >= g).fillna(False).to_numpy()
    moved = ecoom.assign(emp=np.where(after, ecoom["emp"] * 100, ecoom["emp"]))
    same = _quiet(subgroup_effects, moved, "ln_lp", "size", **kw)
    pd.testing.assert_series_equal(base.params, same.params)
    pd.testing.assert_series_equal(base.n_firms, same.n_firms)
    assert base.rule_text.startswith("emp: value in g-1 (before joining)")
    # the firm counts follow the rule, computed here by hand
    pre = ecoom[(ecoom["year"] == g - 1)].groupby("firm_id")["emp"].mean()
    counts = pd.cut(pre, [0, 10, 50, np.inf], right=False).value_counts(sort=False).to_numpy()
    assert list(base.n_firms) == list(counts)  # 250+ merged into 50-249 (fewer than 20 firms)
    assert list(base.params.index) == ["size:<10 FTE", "size:10 to <50 FTE", "size:50+ FTE"]
    w3 = _quiet(subgroup_effects, ecoom, "ln_lp", "size", window=3, **kw)
    assert "mean in g-3..g-1" in w3.rule_text
    lo = ecoom[(ecoom["year"] >= g - 3) & (ecoom["year"] <= g - 1)].groupby("firm_id")["emp"].mean()
    counts3 = pd.cut(lo, [0, 10, 50, np.inf], right=False).value_counts(sort=False).to_numpy()
    assert list(w3.n_firms) == list(counts3)


def test_custom_column_bins_labels_and_small_classes():
    df = make_panel(n_firms=600, seed=6)
    df["score"] = np.random.default_rng(0).normal(size=len(df))
    res = subgroup_effects(
        df, "ln_lp", "score", bins=[-10, 0, 10], labels=["low", "high"], n_boot=99, seed=1
    )
    assert list(res.params.index) == ["score:low", "score:high"]
    assert res.rule["at"] == "pre" and res.rule["bins"] == [-10.0, 0.0, 10.0]
    # a class below min_treated merges with its neighbour (labels joined)
    with pytest.warns(EstimationWarning, match="merged with a neighbour"):
        m = subgroup_effects(
            df, "ln_lp", "score", bins=[-10, -2.5, 0, 10], labels=["tail", "low", "high"], n_boot=99
        )
    assert list(m.params.index) == ["score:tail + low", "score:high"]
    # categories below min_treated pool into 'other'
    treated = df[df["treat_year"].notna()].drop_duplicates("firm_id")
    counts = treated["sector"].value_counts().sort_values()
    small = counts.iloc[1] + 1  # the two smallest sectors are too small; together they are not
    with pytest.warns(EstimationWarning, match="pooled into 'other'"):
        o = subgroup_effects(df, "ln_lp", "sector", min_treated=small, n_boot=99)
    assert list(o.params.index)[-1] == "sector:other"
    assert o.n_firms["sector:other"] == counts.iloc[0] + counts.iloc[1]
    with pytest.warns(EstimationWarning, match="pooled class 'other'.*left out"):
        _quiet_none = subgroup_effects(
            df, "ln_lp", "sector", min_treated=counts.iloc[0] + 1, n_boot=99
        )
    assert "sector:other" not in _quiet_none.params.index


def test_bad_input_errors(ecoom):
    df = make_panel(n_firms=300, seed=1)
    varying = df.assign(sector=np.where(df["year"] > 2015, "x", df["sector"]))
    with pytest.raises(DataError, match=r"column 'sector'.*rows .*changes over time.*at='pre'"):
        subgroup_effects(varying, "ln_lp", "sector", n_boot=99)
    with pytest.raises(DataError, match="missing required column.*nope"):
        subgroup_effects(df, "ln_lp", "nope", n_boot=99)
    with pytest.raises(SpecError, match="increasing edges"):
        subgroup_effects(df, "ln_lp", "x", bins=[1, 0, 2], n_boot=99)
    with pytest.raises(SpecError, match="one label per bin"):
        subgroup_effects(df, "ln_lp", "x", bins=[-9, 0, 9], labels=["a"], n_boot=99)
    with pytest.raises(SpecError, match="n_boot"):
        subgroup_effects(df, "ln_lp", "sector", n_boot=10)
    with pytest.raises(SpecError, match="seed"):
        subgroup_effects(df, "ln_lp", "sector", seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="at must be one of"):
        subgroup_effects(df, "ln_lp", "sector", at="later")
    with pytest.raises(EstimationError, match="need two to compare"):
        _quiet(subgroup_effects, df, "ln_lp", "sector", min_treated=1000, n_boot=99)
    with pytest.raises(DataError, match="cluster must be constant"):
        subgroup_effects(df, "ln_lp", "sector", cluster="x", n_boot=99)


def test_input_untouched_results_reported_and_json(ecoom):
    before = ecoom.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        allr = heterogeneity_effects(
            ecoom.drop(columns=["region"]),
            "ln_lp",
            control="notyet",
            allow_unbalanced=True,
            n_boot=199,
            seed=3,
        )
    pd.testing.assert_frame_equal(ecoom, before)
    # no region column; only the 2017 cohort has 20 firms at this size: both skipped, with a warning
    assert list(allr) == ["cluster", "size", "age", "sector"]
    with pytest.warns(EstimationWarning, match="subgroups by region skipped: no column 'region'"):
        missing = heterogeneity_effects(
            ecoom.drop(columns=["region"]), "ln_lp", by=("region",), allow_unbalanced=True
        )
    assert missing == {}
    with pytest.warns(EstimationWarning, match="subgroups by cohort skipped: .*need two"):
        heterogeneity_effects(ecoom, "ln_lp", by=("cohort",), allow_unbalanced=True)
    one = _quiet(
        subgroup_effects,
        ecoom,
        "ln_lp",
        "size",
        control="notyet",
        allow_unbalanced=True,
        n_boot=199,
        seed=3,
    )
    pd.testing.assert_series_equal(one.p_romano_wolf, allr["size"].p_romano_wolf)
    cl = allr["cluster"]
    assert all(t.startswith("cluster:") for t in cl.params.index)
    tidy = cl.tidy()
    assert {"n_firms", "p_holm", "p_romano_wolf"} <= set(tidy.columns)
    text = cl.summary()
    assert "Joint Wald test of equal effects: chi2(" in text and "p_romano_wolf" in text
    js = json.loads(json.dumps(cl.to_dict()))
    assert js["by"] == "cluster" and js["rule"]["at"] == "join"
    assert js["equal_effects"]["df"] == len(cl.params) - 1
    assert [e["term"] for e in js["estimates"]] == list(cl.params.index)
    assert_close(js["estimates"][0]["p_romano_wolf"], cl.p_romano_wolf.iloc[0], rel=EXACT_REL)
    assert js["pooled"]["term"] == "simple" and len(js["covariance"]) == len(cl.params)


def test_clustering_by_the_firm_column_is_the_default_clustering():
    """``cluster=<the unit column>`` is the firm-level default, not an error (the report passed it and
    pandas refused to group a column by itself)."""
    df, _ = make_staggered(n_units=300, seed=5)
    plain = _quiet(subgroup_effects, df, "y", "cohort", n_boot=99, seed=1)
    by_firm = _quiet(subgroup_effects, df, "y", "cohort", cluster="firm_id", n_boot=99, seed=1)
    _close(by_firm.params.to_numpy(), plain.params.to_numpy())
    _close(by_firm.vcov.to_numpy(), plain.vcov.to_numpy())
