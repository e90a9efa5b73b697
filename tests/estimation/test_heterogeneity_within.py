"""Subgroups compared with comparison firms of their own class (issue #14, ``comparison="within"``).

Each size (age, sector, region) subgroup is compared only with comparison firms of the same class, so
the subgroups share no firm: their joint covariance is block-diagonal (diagonal when clustering by
firm) and each diagonal entry is the subgroup's own att_gt/aggte variance on its own firms. Checked
here by direct computation on small panels, with the classification of the comparison firms by hand,
and with power against a known size gradient.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.errors import EstimationWarning, SpecError
from clusterimpact.estimation._subgroups import PRESETS, SubgroupRule, classify
from clusterimpact.estimation.heterogeneity import heterogeneity_effects, subgroup_effects
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.synthetic import simulate
from tolerances import HETERO_EXACT_ABS_SCALE, HETERO_EXACT_REL, TRUTH_SE_MULTIPLE


def _close(actual, expected) -> None:
    expected = np.asarray(expected, dtype=float)
    atol = HETERO_EXACT_ABS_SCALE * float(np.max(np.abs(expected)))
    assert_close(actual, expected, rel=HETERO_EXACT_REL, abs=atol)


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return fn(*a, **kw)


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_within_estimates_are_each_class_on_its_own_and_independent(control):
    """Under "within" a sector's estimate and variance are att_gt/aggte on that sector's firms alone
    (members and comparison firms), and the covariance between sectors is exactly zero."""
    df = make_panel(n_firms=600, seed=4)
    res = _quiet(
        subgroup_effects, df, "ln_lp", "sector", comparison="within", control=control,
        n_boot=99, min_treated=10, min_cohort=1,
    )  # fmt: skip
    assert res.comparison == "within"
    named = [t.split(":", 1)[1] for t in res.params.index]
    sector = df["sector"].astype(str)
    for term, label in zip(res.params.index, named, strict=True):
        rows = ~sector.isin(named) if label == "other" else sector == label
        own = aggte(_quiet(att_gt, df[rows], "ln_lp", control=control, small_sample=True), "simple")
        _close(res.params[term], own.params["simple"])
        _close(res.vcov.loc[term, term], own.std_errors["simple"] ** 2)
    off = res.vcov.to_numpy() - np.diag(np.diag(res.vcov.to_numpy()))
    assert np.all(off == 0.0)  # no firm in two subgroups' fits
    pooled = _quiet(subgroup_effects, df, "ln_lp", "sector", comparison="pooled", n_boot=99,
                    min_treated=10, control=control)  # fmt: skip
    assert pooled.comparison == "pooled" and pooled.vcov.to_numpy()[0, 1] > 0  # shared controls


def test_comparison_firms_are_classified_by_the_members_rule_at_the_median_cohort():
    """A never-treated firm's size class is its FTE in g* - 1, g* the treated firms' median cohort;
    those without employment there are excluded and counted; treated firms of other classes are no
    comparison firms."""
    df = simulate("ecoom", seed=1, n_firms=2000).panel().data
    res = _quiet(subgroup_effects, df, "ln_lp", "size", control="notyet", allow_unbalanced=True,
                 n_boot=99, seed=1)  # fmt: skip
    assert res.comparison == "within"  # the default for size
    g = pd.to_numeric(df["treat_year"], errors="coerce").fillna(0.0)
    firms_g = pd.Series(g.to_numpy(), index=df["firm_id"]).groupby(level=0).first()
    kept = pd.Index(res.firm_ids)
    treated = firms_g[(firms_g > 0) & firms_g.index.isin(kept)]
    g_star = int(np.floor(np.median(treated.to_numpy())))
    never = kept.difference(treated.index)
    emp = df[df["year"] == g_star - 1].set_index("firm_id")["emp"].reindex(never)
    assert res.exclusions[next(k for k in res.exclusions if "comparison firms" in k)] == int(
        emp.isna().sum()
    )
    cls = pd.cut(emp.dropna(), [0, 10, 50, np.inf], right=False, labels=False)
    assert [t.split(":")[1] for t in res.params.index] == ["<10 FTE", "10 to <50 FTE", "50+ FTE"]
    for k, term in enumerate(res.params.index):
        in_fit = pd.Index(res.fits[term].unit_ids)
        assert set(in_fit.difference(treated.index)) == set(cls.index[cls == k])
        assert len(in_fit.intersection(treated.index)) == res.n_firms[term]


def test_auto_is_within_for_characteristics_firms_share_and_pooled_otherwise():
    df = simulate("ecoom", seed=1, n_firms=1500).panel().data
    res = _quiet(heterogeneity_effects, df, "ln_lp", by=("cluster", "size"), control="notyet",
                 allow_unbalanced=True, n_boot=99, seed=1)  # fmt: skip
    assert res["cluster"].comparison == "pooled"  # members only have a cluster
    assert res["size"].comparison == "within"
    assert res["size"].to_dict()["comparison"] == "within"
    with pytest.raises(SpecError, match="defined for members only"):
        subgroup_effects(df, "ln_lp", "cluster", comparison="within", allow_unbalanced=True)
    with pytest.raises(SpecError, match="comparison"):
        subgroup_effects(df, "ln_lp", "size", comparison="like", allow_unbalanced=True)


def test_comparison_values_get_the_final_merged_classes():
    """Comparison firms never count towards a class's size; they get the merged bin / 'other'."""
    rule = PRESETS["size"]
    treated = pd.Series([1.0] * 30 + [20.0] * 30 + [300.0] * 3, index=[f"t{i}" for i in range(63)])
    others = pd.Series([5.0, 60.0, 400.0, np.nan, -1.0], index=[f"c{i}" for i in range(5)])
    labels, _, _ = classify(treated, rule, 20, others=others)
    got = labels.reindex(others.index).astype(object).where(labels.reindex(others.index).notna())
    assert list(got[:3]) == ["<10 FTE", "10+ FTE", "10+ FTE"]  # 50-249 and 250+ merged into 10+
    assert got.iloc[3:].isna().all()
    cat = SubgroupRule(column="sector", at="fixed")
    tv = pd.Series(
        ["A"] * 25 + ["B"] * 25 + ["C"] * 12 + ["D"] * 12, index=[f"t{i}" for i in range(74)]
    )
    ov = pd.Series(["A", "C", "Z"], index=["c0", "c1", "c2"])
    lab, _, _ = classify(tv, cat, 20, others=ov)
    assert list(lab.reindex(ov.index).astype(str)) == ["A", "other", "other"]


# -- power against a known size gradient ------------------------------------------------------------
STEP = {0: 0.0, 1: 0.06, 2: 0.12}  # added to members' outcome from g on, by FTE class in g - 1


@pytest.mark.parametrize("seed", [11, 12])
def test_a_size_gradient_is_detected_and_recovered(seed):
    """No scenario has a size gradient, so one is added: in the ``null`` scenario (no effect) the
    members' ln labour productivity gains 0 / 0.06 / 0.12 from joining by FTE class in g - 1 (< 10,
    10-49, 50+). The within-class estimates recover each class's step within 3 SE and the
    equal-effects test rejects."""
    df = simulate("null", seed=seed, n_firms=4000).panel().data
    g = pd.to_numeric(df["treat_year"], errors="coerce")
    pre = df[df["year"] == g - 1].set_index("firm_id")["emp"]
    k = pd.cut(df["firm_id"].map(pre), [0, 10, 50, np.inf], right=False, labels=False)
    step = k.map(STEP).fillna(0.0) * (df["year"] >= g).fillna(False)
    df = df.assign(y=df["ln_lp"] + step)
    res = _quiet(subgroup_effects, df, "y", "size", bins=[0, 10, 50, np.inf], control="notyet",
                 allow_unbalanced=True, n_boot=99, seed=seed)  # fmt: skip
    assert len(res.params) == 3
    truth = np.array(list(STEP.values()))
    z = (res.params.to_numpy() - truth) / res.std_errors.to_numpy()
    assert np.all(np.abs(z) <= TRUTH_SE_MULTIPLE), np.round(z, 2)
    assert res.equal_effects["p_value"] < 0.01, res.equal_effects
