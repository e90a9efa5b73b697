"""Every result class speaks the one vocabulary of #13, the pre-trend tests agree with a direct
computation, and the old spellings (``pretest``) still work with a FutureWarning."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from scipy import stats

from _asserts import assert_close
from clusterimpact import PanelSpec, build_panel, simulate
from clusterimpact.results import TIDY_COLUMNS, EstimateResult, PreTrendTest
from conftest import REFERENCE
from tolerances import EXACT_FLOOR, EXACT_REL

# its module fixtures are built once: all its tests on one pytest worker
pytestmark = pytest.mark.xdist_group("vocabulary")

MP = dict(cohort="first.treat", unit="countyreal", time="year")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    sd = simulate("ecoom", seed=2, n_firms=300)
    return build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators).data


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_all_subclasses(sub)}
    return out


def _quiet(fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _fits(mpdta: pd.DataFrame, small: pd.DataFrame) -> dict[str, EstimateResult]:
    """One fitted result of every result class in the package (by class name)."""
    from clusterimpact.chain import chain_bootstrap
    from clusterimpact.estimation.bacon import bacon_decomposition
    from clusterimpact.estimation.duration import duration_effects
    from clusterimpact.estimation.event_study import event_study
    from clusterimpact.estimation.fe import wild_bootstrap
    from clusterimpact.estimation.heterogeneity import subgroup_effects
    from clusterimpact.estimation.honest import honest_did
    from clusterimpact.estimation.imputation import imputation_did
    from clusterimpact.estimation.matched import matched_did
    from clusterimpact.estimation.staggered import aggte, att_gt
    from clusterimpact.estimation.sunab import sun_abraham
    from clusterimpact.estimation.twfe import static_premium
    from clusterimpact.matching import match_panel
    from clusterimpact.matching.rosenbaum import rosenbaum_bounds
    from clusterimpact.matching.rosenbaum_sets import rosenbaum_sets
    from clusterimpact.productivity import estimate_tfp

    gt = _quiet(att_gt, mpdta, "lemp", **MP)
    sa = _quiet(sun_abraham, mpdta, "lemp", **MP)
    matched = _quiet(
        match_panel, small, ["ln_lp", "ln_emp"], outcome="ln_lp", control="notyet", seed=1
    )
    firms = small["firm_id"].unique()
    half = dict(zip(firms, np.arange(len(firms)) % 2, strict=True))
    grp = small.assign(grp=small["firm_id"].map(half).map({0: "even", 1: "odd"}))
    out: list[Any] = [
        gt,
        _quiet(aggte, gt, "dynamic"),
        sa,
        _quiet(event_study, small, "ln_lp", window=(-3, 3)),
        _quiet(imputation_did, mpdta, "lemp", **MP),
        _quiet(honest_did, sa),
        _quiet(subgroup_effects, grp, "ln_lp", "grp", min_treated=5, n_boot=99, seed=1),
        _quiet(chain_bootstrap, small, n_boot=3, seed=2, method="ols", estimators=("cs",)),
        matched,
        _quiet(matched_did, matched.matched_panel, "ln_lp"),
        _quiet(
            wild_bootstrap,
            "ln_lp ~ member | firm_id + year",
            small,
            "member",
            cluster="firm_id",
            n_boot=99,
            seed=3,
        ),
        rosenbaum_bounds(np.random.default_rng(0).normal(0.3, 1.0, 40)),
        rosenbaum_sets(np.random.default_rng(1).normal(0.0, 1.0, (40, 3)) + [0.5, 0.0, 0.0]),
        _quiet(estimate_tfp, small, "ols"),
        _quiet(bacon_decomposition, mpdta, "lemp", **MP),
        _quiet(duration_effects, small, "ln_lp", bins=(1, 2, "3+")),
        _quiet(static_premium, small, "ln_lp"),
    ]
    return {type(r).__name__: r for r in out}


@pytest.fixture(scope="module")
def fitted(mpdta: pd.DataFrame, small: pd.DataFrame) -> dict[str, EstimateResult]:
    return _fits(mpdta, small)


def test_every_result_class_is_fitted_here(fitted: dict[str, EstimateResult]) -> None:
    # the fixture imported every module of the package that defines a result class
    classes = {
        c.__name__
        for c in _all_subclasses(EstimateResult)
        if c.__module__.startswith("clusterimpact.")
    }
    classes.discard("ProfileResult")  # the shared base of the axis results, never returned itself
    assert classes <= set(fitted), f"add a fit of {sorted(classes - set(fitted))} to _fits"


@pytest.mark.parametrize(
    "name",
    [
        "ATTgtResult",
        "AggteResult",
        "SunAbrahamResult",
        "EventStudyResult",
        "ImputationResult",
        "HonestResult",
        "SubgroupResult",
        "ChainResult",
        "MatchResult",
        "RosenbaumResult",
        "ProductionResult",
        "BaconResult",
        "DurationResult",
        "MatchedDiDResult",
        "WildBootstrapResult",
        "RosenbaumSetsResult",
    ],
)
def test_result_has_the_whole_vocabulary(fitted: dict[str, EstimateResult], name: str) -> None:
    res = fitted[name]
    assert isinstance(res, EstimateResult)
    assert isinstance(res.params, pd.Series) and isinstance(res.std_errors, pd.Series)
    ci = res.conf_int(getattr(res, "level", 0.95))
    assert isinstance(ci, pd.DataFrame) and list(ci.columns) == ["lower", "upper"]
    assert list(res.tidy().columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    assert isinstance(res.summary(), str) and isinstance(res.to_latex(), str)
    assert isinstance(res._repr_html_(), str)
    d = res.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["method"] == res.method
    term = res.overall_term
    assert term is None or term in res.params.index
    pt = res.pretrend
    assert pt is None or isinstance(pt, PreTrendTest)
    assert isinstance(res.plot(), Axes)


def test_headline_terms(fitted: dict[str, EstimateResult]) -> None:
    # the terms the report's "overall" picker chose by guessing (simple / ATT / HL) are now named
    assert fitted["AggteResult"].overall_term == "dynamic"
    assert fitted["SunAbrahamResult"].overall_term == "simple"
    assert fitted["ImputationResult"].overall_term == "simple"
    assert fitted["MatchResult"].overall_term == "ATT"
    assert fitted["RosenbaumResult"].overall_term == "HL"
    assert fitted["RosenbaumSetsResult"].overall_term == "M"
    assert fitted["MatchedDiDResult"].overall_term == "ATT"
    for name in ("ATTgtResult", "EventStudyResult", "ProductionResult", "SubgroupResult"):
        assert fitted[name].overall_term is None


def test_aggte_overall_term_by_type(mpdta: pd.DataFrame) -> None:
    from clusterimpact.estimation.staggered import aggte, att_gt

    gt = _quiet(att_gt, mpdta, "lemp", **MP)
    for ty in ("simple", "dynamic", "group", "calendar"):
        assert aggte(gt, ty).overall_term == ty
    # a window of leads only has no overall (post-treatment) term
    assert _quiet(aggte, gt, "dynamic", max_e=-1).overall_term is None


def _wald_direct(res: EstimateResult, leads: list[str]) -> tuple[float, float]:
    assert res.vcov is not None
    b = res.params[leads].to_numpy()
    V = res.vcov.loc[leads, leads].to_numpy()
    stat = float(b @ np.linalg.solve(V, b))
    return stat, float(stats.chi2.sf(stat, len(leads)))


def test_sun_abraham_lead_test_is_the_wald_test_of_its_vcov(mpdta: pd.DataFrame) -> None:
    from clusterimpact.estimation.sunab import sun_abraham

    sa = sun_abraham(mpdta, "lemp", **MP)
    pt = sa.pretrend
    assert pt is not None and pt.method == "wald" and pt.df_denom is None
    leads = [t for t in sa.x.index if sa.x[t] < 0]
    assert list(pt.terms) == leads == ["dynamic:-4", "dynamic:-3", "dynamic:-2"]
    stat, p = _wald_direct(sa, leads)
    assert pt.df == 3
    assert_close(pt.statistic, stat, rel=EXACT_REL, floor=EXACT_FLOOR * stat)
    assert_close(pt.p_value, p, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert sa.to_dict()["pretrend"]["p_value"] == pytest.approx(pt.p_value, rel=EXACT_REL)
    assert "Pre-trend test" in sa.summary()
    # no leads in the window: no test
    assert sun_abraham(mpdta, "lemp", window=(-1, 3), **MP).pretrend is None


def test_cs_pretrend_is_the_pretest_and_the_old_name_warns(mpdta: pd.DataFrame) -> None:
    from clusterimpact.estimation.staggered import aggte, att_gt

    gt = _quiet(att_gt, mpdta, "lemp", **MP)
    dyn = aggte(gt, "dynamic")
    for res in (gt, dyn):
        pt, det = res.pretrend, res.pretrend_detail
        assert pt is not None and det is not None and pt.method == "wald"
        assert (pt.statistic, pt.df, pt.p_value) == (det["stat"], det["df"], det["p_value"])
        with pytest.warns(FutureWarning, match="pretest is now spelled 'pretrend'"):
            assert res.pretest is det
    assert list(dyn.pretrend.terms) == ["dynamic:-3", "dynamic:-2", "dynamic:-1"]
    # the cell-level test is the Wald test of the pre-treatment cells (full rank on mpdta)
    pre = list(gt.params.index[~gt.post.to_numpy(dtype=bool)])
    assert list(gt.pretrend.terms) == pre
    stat, p = _wald_direct(gt, pre)
    assert_close(gt.pretrend.statistic, stat, rel=EXACT_REL, floor=EXACT_FLOOR * stat)
    assert aggte(gt, "group").pretrend is None


def test_event_study_and_imputation_pretrend_are_f_tests(
    fitted: dict[str, EstimateResult],
) -> None:
    for name in ("EventStudyResult", "ImputationResult"):
        pt = fitted[name].pretrend
        if pt is None:
            continue
        assert pt.method == "f" and pt.df_denom is not None and pt.df == len(pt.terms)
        assert_close(pt.p_value, stats.f.sf(pt.statistic, pt.df, pt.df_denom), rel=EXACT_REL)
        assert fitted[name].to_dict()["pretrend"]["df_num"] == pt.df  # the key before #13
    assert fitted["EventStudyResult"].pretrend is not None


def test_pretrend_test_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="'wald' or 'f'"):
        PreTrendTest(statistic=1.0, df=1, df_denom=None, p_value=0.3, method="chi2", terms=())
    with pytest.raises(ValueError, match="needs df_denom"):
        PreTrendTest(statistic=1.0, df=1, df_denom=None, p_value=0.3, method="f", terms=())
    t = PreTrendTest(
        statistic=float("nan"), df=0, df_denom=None, p_value=float("nan"), method="wald", terms=()
    )
    assert t.to_dict()["p_value"] is None and t.df_num == 0


def test_callaway_santanna_fit_leaves_its_settings_alone(mpdta: pd.DataFrame) -> None:
    from clusterimpact.estimation.staggered import CallawaySantAnna

    est = CallawaySantAnna("lemp", cluster="countyreal", cohort="first.treat", unit="countyreal")
    before = dict(vars(est))
    res = _quiet(est.fit, mpdta)
    assert vars(est) == before
    ref = _quiet(CallawaySantAnna("lemp", cohort="first.treat", unit="countyreal").fit, mpdta)
    assert_close(res.std_errors, ref.std_errors, rel=EXACT_REL, floor=EXACT_FLOOR)
