"""Invariances, equivalences, reproducibility and the result object's behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _prod_dgp import make_production

from _asserts import assert_close, assert_differ
from clusterimpact.errors import EstimationWarning
from clusterimpact.productivity import (
    ACF,
    ProductionResult,
    estimate_tfp,
    labour_productivity,
)
from tolerances import (
    DISTINCT_REL,
    EXACT_FLOOR,
    EXACT_REL,
    TFP_INVARIANCE_ABS,
    TFP_SHIFT_ABS,
    WOOLDRIDGE_STEPS_SE_MULTIPLE,
)

METHODS = ["ols", "fe", "op", "lp", "acf", "wooldridge"]


@pytest.fixture(scope="module")
def panel():
    return make_production(400, seed=3)


def _fit(df, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return estimate_tfp(
            df, method, **({"n_starts": 2} if method in ("op", "lp", "acf") else {}) | kw
        )


@pytest.mark.parametrize("method", METHODS)
def test_rescaling_changes_only_the_constant(panel, method):
    base = _fit(panel, method)
    df = panel.copy()
    df["ln_va"] += np.log(1000.0)  # output in thousands
    df["ln_capital"] += np.log(0.01)  # capital in hundreds
    df["ln_emp"] += np.log(2.0)
    df["ln_materials"] += np.log(5.0)
    df["ln_investment"] += np.log(3.0)
    res = _fit(df, method)
    assert_close(res.params, base.params, abs=TFP_INVARIANCE_ABS)
    # the TFP series shifts by a constant only
    d = res.tfp["ln_tfp"].to_numpy() - base.tfp["ln_tfp"].to_numpy()
    assert_close(np.ptp(d), 0.0, abs=TFP_SHIFT_ABS)


@pytest.mark.parametrize("method", METHODS)
def test_row_order_changes_nothing(panel, method):
    base = _fit(panel, method)
    shuffled = panel.sample(frac=1.0, random_state=np.random.default_rng(4)).reset_index(drop=True)
    res = _fit(shuffled, method)
    assert_close(res.params, base.params, rel=EXACT_REL, floor=EXACT_FLOOR)
    a = base.join(panel).sort_values(["firm_id", "year"])["ln_tfp"].to_numpy()
    b = res.join(shuffled).sort_values(["firm_id", "year"])["ln_tfp"].to_numpy()
    assert_close(a, b, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_same_seed_same_bootstrap(panel):
    a = _fit(panel, "acf", n_boot=4, seed=9)
    b = _fit(panel, "acf", n_boot=4, seed=9)
    c = _fit(panel, "acf", n_boot=4, seed=10)
    pd.testing.assert_frame_equal(a.bootstrap_draws, b.bootstrap_draws)
    assert a.std_errors.equals(b.std_errors)
    assert not a.bootstrap_draws.equals(c.bootstrap_draws)


def test_bootstrap_independent_of_worker_count(panel):
    a = _fit(panel, "ols", n_boot=6, seed=3, n_jobs=1)
    b = _fit(panel, "ols", n_boot=6, seed=3, n_jobs=2)
    assert_close(
        a.bootstrap_draws.to_numpy(), b.bootstrap_draws.to_numpy(), rel=EXACT_REL, floor=EXACT_FLOOR
    )


def test_bootstrap_progress_callback(panel):
    seen = []
    _fit(panel, "ols", n_boot=3, seed=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_input_not_modified(panel):
    before = panel.copy()
    res = _fit(panel, "acf")
    pd.testing.assert_frame_equal(panel, before)
    joined = res.join(panel)
    assert "ln_tfp" not in panel.columns
    assert {"ln_tfp", "ln_tfp_resid"} <= set(joined.columns)


def test_levels_equal_logs(panel):
    logs = _fit(panel, "lp")
    levels = _fit(
        panel, "lp", output="va", free=["emp"], state=["capital"], proxy="materials", logged=False
    )
    assert_close(levels.params.to_numpy(), logs.params.to_numpy(), abs=TFP_INVARIANCE_ABS)


def test_result_presentation(panel):
    res = _fit(panel, "acf", n_boot=5, seed=1)
    assert isinstance(res, ProductionResult)
    tidy = res.tidy()
    assert list(tidy["term"]) == ["ln_emp", "ln_capital"]
    assert np.all(tidy["conf_low"] < tidy["estimate"])
    text = res.summary()
    assert "Returns to scale" in text and "first-stage R2" in text
    assert "\\begin{tabular}" in res.to_latex()
    d = res.to_dict()
    assert_close(d["returns_to_scale"]["estimate"], res.params.sum(), rel=EXACT_REL)
    assert len(d["starts"]) == 2
    assert res.starts["chosen"].sum() == 1
    assert (
        res.exclusions["no_previous_year_second_stage"]
        == res.nobs - res.diagnostics["nobs_second_stage"]
    )


def test_join_leaves_unmatched_rows_nan(panel):
    res = _fit(panel, "ols")
    extra = pd.concat([panel, panel.iloc[[0]].assign(year=1900)], ignore_index=True)
    out = res.join(extra)
    assert np.isnan(out["ln_tfp"].iloc[-1])
    assert out["ln_tfp"].iloc[:-1].notna().all()


def test_wooldridge_two_step_and_j(panel):
    one = _fit(panel, "wooldridge")
    two = _fit(panel, "wooldridge", weighting="two-step")
    assert np.isfinite(two.diagnostics["j_statistic"])
    # both consistent: they differ by sampling noise of the weight matrix, well inside either's SE
    se = np.minimum(one.std_errors, two.std_errors)
    assert_close(two.params, one.params, abs=WOOLDRIDGE_STEPS_SE_MULTIPLE * se)


def test_translog_and_gross_output_run(panel):
    tl = _fit(panel, "acf", function="translog", n_starts=1)
    assert "ln_emp^2" in tl.params.index and "ln_emp:ln_capital" in tl.params.index
    assert list(tl.elasticities.index) == ["ln_emp", "ln_capital"]
    assert 0.2 < tl.elasticities["ln_emp"] < 1.2
    go = _fit(panel, "acf", value_added=False, n_starts=1)
    assert list(go.elasticities.index) == ["ln_emp", "ln_capital", "ln_materials"]


def test_exit_correction_runs_and_reports_exits(panel):
    res = _fit(panel, "op", exit_correction=True)
    # exits: firm-years before the last year whose firm is not observed the next year
    p = panel.sort_values(["firm_id", "year"])
    nxt = p.groupby("firm_id")["year"].shift(-1)
    n_exit = int(((nxt != p["year"] + 1) & (p["year"] < p["year"].max())).sum())
    assert res.diagnostics["exits"] == n_exit > 0
    # the survival probability enters the second stage: capital moves
    assert_differ(res.params, _fit(panel, "op").params, rel=DISTINCT_REL)


def test_multistart_reports_all_optima_and_warns(request):
    """The Chilean plants' ACF criterion has several optima: all are reported and a warning is raised."""
    path = request.config.rootpath / "tests" / "reference" / "chilean_plants" / "chilean_plants.csv"
    plants = pd.read_csv(path)
    with pytest.warns(EstimationWarning, match="starting points reached a different optimum"):
        res = estimate_tfp(
            plants,
            "acf",
            output="log_y",
            free=["log_lab1", "log_lab2"],
            state=["log_k"],
            proxy="log_materials",
            unit="id",
            time="year",
            n_starts=6,
            seed=1,
        )
    assert len(res.starts) == 6
    assert {"criterion", "converged", "start:log_k", "log_k", "chosen"} <= set(res.starts.columns)
    chosen = res.starts.loc[res.starts["chosen"]].iloc[0]
    assert_close(chosen["criterion"], res.starts["criterion"].min(), rel=EXACT_REL)
    assert_close(res.params["log_k"], chosen["log_k"], rel=EXACT_REL)


def test_start_values_and_class_interface(panel):
    est = ACF(start={"ln_emp": 0.6, "ln_capital": 0.3}, n_starts=1)
    res = est.fit(panel)
    assert res.starts.iloc[0]["start:ln_emp"] == 0.6
    assert est.start == {"ln_emp": 0.6, "ln_capital": 0.3}  # constructor only stores


def test_labour_productivity(panel):
    res = labour_productivity(panel)
    assert_close(
        res.join(panel)["ln_tfp"],
        panel["ln_va"] - panel["ln_emp"],
        rel=EXACT_REL,
        floor=EXACT_FLOOR,
    )
    same = estimate_tfp(panel, "labour")
    assert_close(same.tfp["ln_tfp"], res.tfp["ln_tfp"], rel=EXACT_REL, floor=EXACT_FLOOR)


def test_controls_enter_and_are_reported(panel):
    df = panel.assign(trend=panel["year"] - 2000.0)
    res = _fit(df, "lp", controls=["trend"])
    assert "trend" in res.params.index and "trend" not in res.elasticities.index


def test_coarse_start_search_keeps_first_start_and_lowest_criterion(panel, monkeypatch):
    """Large panels search from starts 2..n on a firm subsample, then polish on all rows.

    The first start still runs on all rows, so its optimum is unchanged, and the chosen optimum's
    criterion is never above the one found without the subsample phase's basins.
    """
    import clusterimpact.productivity._stages as stages

    full = _fit(panel, "acf", n_starts=3, seed=2)
    monkeypatch.setattr(stages, "COARSE_ROWS", 500)
    coarse = _fit(panel, "acf", n_starts=3, seed=2)
    assert list(coarse.starts["coarse_start"]) == [False, True, True]
    assert_close(
        coarse.starts.loc[0, ["ln_emp", "ln_capital"]].to_numpy(dtype=float),
        full.starts.loc[0, ["ln_emp", "ln_capital"]].to_numpy(dtype=float),
        rel=EXACT_REL,
        floor=EXACT_FLOOR,
    )
    first = full.starts.loc[0, "criterion"]
    assert coarse.diagnostics["criterion"] <= first + EXACT_FLOOR * abs(first)


def test_front_door_passes_method_options(panel):
    exact = _fit(panel, "acf", instruments="exact", n_starts=1)
    assert exact.provenance.options["instruments"] == "exact"
    w = _fit(panel, "wooldridge", state_in_control=False)
    assert w.provenance.options["state_in_control"] is False
