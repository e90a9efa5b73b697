"""chain_bootstrap: reproducible for any worker count, each replication equals the chain re-run by hand
on the same firm draw, full-sample estimates equal the estimators', failed replications counted, bad
input, the result vocabulary and the report hook."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close, assert_differ
from clusterimpact import PanelSpec, build_panel, simulate
from clusterimpact.chain import ChainResult, chain_bootstrap, chain_from_spec
from clusterimpact.errors import DataError, EstimationWarning, SpecError
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.productivity import estimate_tfp
from clusterimpact.spec import DataSpec, EstimationSpec, StudySpec
from tolerances import CHAIN_SAME_REL, DISTINCT_REL


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    sd = simulate("ecoom", seed=2, n_firms=300)
    return build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators).data


def _quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return chain_bootstrap(**kw)


def _close(a: np.ndarray, b: np.ndarray) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    atol = CHAIN_SAME_REL * max(np.nanmax(np.abs(b)), 1e-300)
    assert_close(a, b, rel=CHAIN_SAME_REL, abs=atol)


def test_same_seed_same_numbers_for_one_and_two_workers(small):
    kw = dict(panel=small, n_boot=4, seed=11, estimators=("cs", "duration", "matched_did"))
    one = _quiet(n_jobs=1, **kw)
    two = _quiet(n_jobs=2, **kw)
    assert np.array_equal(one.draws.to_numpy(), two.draws.to_numpy(), equal_nan=True)
    pd.testing.assert_series_equal(one.std_errors, two.std_errors)
    pd.testing.assert_series_equal(one.params, two.params)
    other = _quiet(n_jobs=1, **{**kw, "seed": 12})
    assert_differ(other.draws.to_numpy(), one.draws.to_numpy(), rel=DISTINCT_REL)
    assert one.failures == two.failures and one.n_failed == two.n_failed


def test_full_sample_estimates_are_the_estimators_own(small):
    res = _quiet(panel=small, n_boot=2, seed=1, estimators=("cs", "duration"))
    tfp = estimate_tfp(small, "acf", seed=1)
    _close(res.params[["tfp:ln_emp", "tfp:ln_capital"]], tfp.elasticities)
    df = tfp.join(small, name="y", resid_name="y_resid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(df, "y", control="notyet", allow_unbalanced=True, cluster="firm_id")
        simple, dyn = aggte(gt, "simple"), aggte(gt, "dynamic", min_e=-5, max_e=5)
        dur = duration_effects(df, "y", bins=(1, 2, 3, 4, "5+"), leads=5)
    for prefix, r in (("cs:", simple), ("cs:", dyn), ("duration:", dur)):
        names = [prefix + t for t in r.params.index]
        _close(res.params[names], r.params)
        _close(res.plugin_se[names], r.std_errors)


def _firm_draw(frame: pd.DataFrame, seed: int, reps: int, b: int) -> pd.DataFrame:
    """Replication b's resample, rebuilt here: firms (sorted by id) drawn with replacement from the
    b-th child of SeedSequence(seed); the j-th draw becomes firm j."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(reps)[b])
    frame = frame.sort_values(["firm_id", "year"]).reset_index(drop=True)
    rows_of = frame.groupby("firm_id").indices
    firms = np.sort(frame["firm_id"].unique())
    pick = rng.integers(0, firms.size, firms.size)
    rows = [rows_of[firms[p]] for p in pick]
    out = frame.iloc[np.concatenate(rows)].reset_index(drop=True)
    out["firm_id"] = np.repeat(np.arange(pick.size), [r.size for r in rows])
    return out


def test_each_replication_is_the_chain_rerun_on_its_firm_draw(small):
    """OLS (no optimiser) makes the re-run exact: a duplicated firm enters as two firms."""
    seed, reps = 5, 3
    res = _quiet(panel=small, n_boot=reps, seed=seed, method="ols", estimators=("cs", "duration"))
    for b in range(reps):
        boot = _firm_draw(small, seed, reps, b)
        assert boot["firm_id"].nunique() == small["firm_id"].nunique()
        tfp = estimate_tfp(boot, "ols")
        df = tfp.join(boot, name="y", resid_name="y_resid")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(df, "y", control="notyet", allow_unbalanced=True, cluster="firm_id")
            dur = duration_effects(df, "y", bins=(1, 2, 3, 4, "5+"), leads=5)
        row = res.draws.iloc[b]
        _close(row[["tfp:ln_emp", "tfp:ln_capital"]], tfp.elasticities)
        _close(row[["cs:simple"]], aggte(gt, "simple").params)
        _close(row[[f"duration:{t}" for t in dur.params.index]], dur.params)
    sd = res.draws.std(ddof=1)
    _close(res.std_errors, sd)


def test_failed_replications_are_counted_with_their_reason(small):
    """Two never-members among 41 firms: a resample that draws neither has no control group for CS
    with control='never'; exactly those replications fail (predicted from the seed's draws)."""
    never = np.sort(small.loc[small["treat_year"].isna(), "firm_id"].unique())[:2]
    df = small[small["treat_year"].notna() | small["firm_id"].isin(never)]
    firms = np.sort(df["firm_id"].unique())
    codes = np.flatnonzero(np.isin(firms, never))
    seed, reps = 3, 30
    expected = []
    for b, child in enumerate(np.random.SeedSequence(seed).spawn(reps)):
        pick = np.random.default_rng(child).integers(0, firms.size, firms.size)
        if not np.isin(pick, codes).any():
            expected.append(b)
    assert 2 <= len(expected) < reps  # the design yields failures, and not only failures
    with pytest.warns(EstimationWarning, match=rf"{len(expected)} of {reps} replications failed"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="^(?!chain bootstrap)")
            res = chain_bootstrap(
                df, n_boot=reps, seed=seed, method="ols", control="never", estimators=("cs",)
            )
    failed = np.flatnonzero(res.draws.isna().all(axis=1).to_numpy())
    assert failed.tolist() == expected
    assert res.n_failed == len(expected)
    assert sum(res.failures.values()) == len(expected)
    assert all("no ATT(g,t) cell has a valid control group" in k for k in res.failures)
    assert (res.n_boot == reps - len(expected)).all()
    out = res.to_dict()
    assert out["chain"]["n_failed"] == len(expected)
    assert f"{len(expected)} failed" in res.summary()


def test_result_vocabulary(small):
    res = _quiet(panel=small, n_boot=5, seed=2, estimators=("cs",))
    assert isinstance(res, ChainResult)
    t = res.tidy()
    assert list(t.columns[:7]) == [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    ]
    d = res.draws["cs:simple"].to_numpy()
    row = t.set_index("term").loc["cs:simple"]
    _close([row.conf_low, row.conf_high], np.quantile(d, [0.025, 0.975]))
    _close([row.std_error], [d.std(ddof=1)])
    _close([row.se_ratio], [row.std_error / row.plugin_std_error])
    assert row.n_boot == 5
    half = 1.959963984540054 * row.plugin_std_error
    _close([row.plugin_conf_low, row.plugin_conf_high], [row.estimate - half, row.estimate + half])
    assert "plug-in SE" in res.summary() and "chain SE" in res.summary()
    js = res.to_dict()
    assert js["chain"]["reps"] == 5 and js["chain"]["ci"] == "percentile"
    assert {"plugin_std_error", "se_ratio", "n_boot"} <= set(js["estimates"][0])


@pytest.mark.parametrize(
    ("kw", "err", "match"),
    [
        ({"n_boot": 1}, SpecError, "at least 2 replications"),
        ({"estimators": ("cs", "twfe")}, SpecError, "twfe"),
        ({"estimators": ()}, SpecError, "estimators is empty"),
        ({"method": "labour"}, SpecError, "labour"),
        ({"matching": {"seed": 3}}, SpecError, "seed.*set by the chain"),
        ({"tfp_options": {"bootstrap": 10}}, SpecError, "bootstrap.*set by the chain"),
        ({"window": (0, 5)}, SpecError, "must include -1 and 0"),
        ({"n_jobs": 0}, SpecError, "n_jobs=0"),
        ({"cohort": "joined"}, DataError, "joined"),
    ],
)
def test_bad_input(small, kw, err, match):
    with pytest.raises(err, match=match):
        chain_bootstrap(small, **{"n_boot": 2, **kw})


def test_input_not_modified(small):
    before = small.copy()
    _quiet(panel=small.assign(ln_tfp_acf=0.0), n_boot=2, seed=1, estimators=("duration",))
    pd.testing.assert_frame_equal(small, before)


def test_chain_from_spec_takes_the_study_settings(small):
    spec = StudySpec(
        data=DataSpec(source="simulate", n_firms=300),
        estimation=EstimationSpec(estimators=("cs", "duration", "twfe")),
        seed=4,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = chain_from_spec(small, spec, n_boot=2, n_jobs=1)
        direct = chain_bootstrap(
            small, n_boot=2, seed=4, estimators=("cs", "duration"), control="notyet"
        )
    assert res.production["method"] == "acf"
    assert res.production["estimators"] == ["cs", "duration"]
    assert np.array_equal(res.draws.to_numpy(), direct.draws.to_numpy(), equal_nan=True)
