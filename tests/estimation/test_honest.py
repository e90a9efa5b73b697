"""HonestDiD sensitivity sets: the R package's Medicaid example, a second implementation, the CS vcov,
extraction from every event-study result, breakdown values, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.estimation import _honest_core as core
from clusterimpact.estimation.event_study import event_study
from clusterimpact.estimation.honest import (
    HonestResult,
    event_study_coefficients,
    honest_did,
    honest_did_arrays,
)
from clusterimpact.estimation.imputation import imputation_did
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.estimation.sunab import sun_abraham
from conftest import REFERENCE
from tolerances import (
    CS_BOOT_SE_REL,
    ELEMENTWISE_REL,
    EXACT_REL,
    HONEST_FLCI_SD,
    HONEST_LF_SIM_SD,
    HONEST_R_GRID_SD,
    HONEST_ROUTES_SD,
    LP_SOLVER_REL,
    ROOT_FIND_ABS,
)

HD = REFERENCE / "honestdid"


def _ehec() -> pd.DataFrame:
    return pd.read_csv(HD / "ehec_data.csv")


def _medicaid(sample: str):
    df = _ehec()
    if sample == "readme":
        d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
        d["cohort"] = np.where(d.yexp2 == 2014, 2014, np.nan)
    else:
        d = df[(df.year <= 2015) & (df.yexp2.isna() | (df.yexp2 < 2015))].copy()
        d["cohort"] = d.yexp2
    return event_study(
        d, "dins", cohort="cohort", window=(-6, 1), bin_endpoints=False, unit="stfips", time="year"
    )


@pytest.fixture(scope="module")
def medicaid():
    return {s: _medicaid(s) for s in ("readme", "mixtape")}


def _half_unit(printed: str) -> float:
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals


def _published(source: str, restriction: str, target: str) -> pd.DataFrame:
    ref = pd.read_csv(HD / "medicaid_published.csv", dtype=str)
    return ref[(ref.source == source) & (ref.restriction == restriction) & (ref.target == target)]


def _sd_theta(es, target: str) -> float:
    c = event_study_coefficients(es)
    lv = np.array([1.0, 0.0]) if target == "e0" else np.array([0.5, 0.5])
    return float(np.sqrt(lv @ c.sigma[c.n_pre :, c.n_pre :] @ lv))


# -- published reference values ------------------------------------------------------------------
def test_extraction_matches_the_readme_regression(medicaid):
    c = event_study_coefficients(medicaid["readme"])
    assert c.n_pre == 5 and c.n_post == 2 and c.reference == -1
    assert c.times == (-6, -5, -4, -3, -2, 0, 1)
    assert c.terms[0] == "rel_year::-6" and c.terms[-1] == "rel_year::1"


@pytest.mark.parametrize("target", ["e0", "average"])
def test_original_interval_matches_stata(medicaid, target):
    ref = _published("stata_readme", "original", target).iloc[0]
    r = honest_did(
        medicaid["readme"],
        restriction="rm",
        grid=[0.0],
        target=0 if target == "e0" else "average",
        breakdown=False,
    )
    assert abs(r.original[0] - float(ref.conf_low)) <= _half_unit(ref.conf_low)
    assert abs(r.original[1] - float(ref.conf_high)) <= _half_unit(ref.conf_high)
    row = r.tidy().iloc[0]
    assert row.term == "original" and row.conf_low == r.original[0]


@pytest.mark.parametrize(
    ("source", "sample", "target"),
    [
        ("r_readme", "readme", "e0"),
        ("stata_readme", "readme", "e0"),
        ("stata_readme", "readme", "average"),
        ("r_mixtape", "mixtape", "e0"),
    ],
)
def test_relative_magnitudes_reproduce_published(medicaid, source, sample, target):
    ref = _published(source, "rm", target)
    es = medicaid[sample]
    r = honest_did(
        es,
        restriction="rm",
        grid=ref.bound.astype(float).tolist(),
        target=0 if target == "e0" else "average",
        breakdown=False,
    )
    sd = _sd_theta(es, target)
    allow = (HONEST_R_GRID_SD + HONEST_LF_SIM_SD) * sd
    for got, want in zip(r.sets.itertuples(), ref.itertuples(), strict=True):
        assert abs(got.conf_low - float(want.conf_low)) <= allow + _half_unit(want.conf_low)
        assert abs(got.conf_high - float(want.conf_high)) <= allow + _half_unit(want.conf_high)


@pytest.mark.parametrize(
    ("source", "sample"),
    [("r_readme", "readme"), ("stata_readme", "readme"), ("r_mixtape", "mixtape")],
)
def test_smoothness_flci_reproduces_published(medicaid, source, sample):
    ref = _published(source, "sd", "e0")
    es = medicaid[sample]
    r = honest_did(es, restriction="sd", grid=ref.bound.astype(float).tolist(), breakdown=False)
    allow = HONEST_FLCI_SD * _sd_theta(es, "e0")
    assert (r.sets.method == "FLCI").all()
    for got, want in zip(r.sets.itertuples(), ref.itertuples(), strict=True):
        assert abs(got.conf_low - float(want.conf_low)) <= allow + _half_unit(want.conf_low)
        assert abs(got.conf_high - float(want.conf_high)) <= allow + _half_unit(want.conf_high)


def test_agrees_with_moderndid(medicaid):
    """A second implementation (moderndid 0.2.0, MIT) at full precision on the same coefficients."""
    ref = pd.read_csv(HD / "moderndid_medicaid.csv")
    es = medicaid["readme"]
    for (restriction, target), rows in ref.groupby(["restriction", "target"], sort=False):
        r = honest_did(
            es,
            restriction=restriction,
            grid=rows.bound.tolist(),
            target=0 if target == "e0" else "average",
            breakdown=False,
        )
        sd = _sd_theta(es, target)
        allow = (
            (HONEST_R_GRID_SD + HONEST_LF_SIM_SD) * sd
            if restriction == "rm"
            else HONEST_FLCI_SD * sd
        )
        assert_close(r.sets.conf_low, rows.conf_low, abs=allow)
        assert_close(r.sets.conf_high, rows.conf_high, abs=allow)


# -- second routes to the same numbers -------------------------------------------------------------
def test_vertex_and_lp_routes_agree(medicaid):
    """Vertex enumeration and linear programmes give the same ARP test (critical value and set)."""
    c = event_study_coefficients(medicaid["readme"])
    lv = np.array([0.5, 0.5])
    sd = _sd_theta(medicaid["readme"], "average")
    theta = float(lv @ c.betahat[c.n_pre :])
    for post_only in (True, False):
        A = core.rm_constraints(c.n_pre, c.n_post, 1.0, c.n_pre - 1, True, post_only=post_only)
        kw = dict(alpha=0.05, kappa=0.005, n_sims=40, seed=3)
        d = np.zeros(A.shape[0])
        fast = core.ArpPiece.build(A, d, c.betahat, c.sigma, c.n_pre, lv, **kw)
        slow = core.ArpPiece.build(A, d, c.betahat, c.sigma, c.n_pre, lv, use_lp=True, **kw)
        assert fast.vertices is not None and slow.vertices is None
        assert_close(fast.c_lf, slow.c_lf, rel=EXACT_REL)
        a = core.invert(fast.accepts, theta, 10 * sd, n_grid=15, tol=1e-8)
        b = core.invert(slow.accepts, theta, 10 * sd, n_grid=15, tol=1e-8)
        assert_close(a, b, abs=HONEST_ROUTES_SD * sd)


def test_flci_bias_is_the_worst_case_over_delta_sd(medicaid):
    """The closed-form worst-case bias equals a linear programme over Delta^SD(M) itself, and no
    feasible perturbation of the FLCI's weights shortens it (brute-force optimality)."""
    c = event_study_coefficients(medicaid["readme"])
    lv, m = np.array([1.0, 0.0]), 0.02
    f = core.flci_sd(c.betahat, c.sigma, c.n_pre, lv, m, 0.05)
    A, d = core.sd_constraints(c.n_pre, c.n_post, m)

    def lp_bias(v: np.ndarray) -> float:
        res = linprog(-v, A_ub=A, b_ub=d, bounds=[(None, None)] * len(v), method="highs")
        assert res.status == 0
        return float(-res.fun)

    assert_close(lp_bias(f.weights), f.max_bias, rel=LP_SOLVER_REL)
    rng = np.random.default_rng(7)
    _, trend = core._sd_bias_map(c.n_pre, c.n_post)
    tp = trend[: c.n_pre]
    for _ in range(40):
        step = rng.normal(size=c.n_pre) * 0.05
        step -= tp * (step @ tp) / (tp @ tp)  # keep the trend constraint
        v = f.weights.copy()
        v[: c.n_pre] += step
        sd = float(np.sqrt(v @ c.sigma @ v))
        half = sd * core.normal_abs_cv(lp_bias(v) / sd, 0.05)
        assert half >= f.half_length * (1 - EXACT_REL)


def test_normal_abs_cv():
    assert_close(core.normal_abs_cv(0.0, 0.05), 1.959963984540054, rel=ELEMENTWISE_REL)
    # large bias: essentially one-sided
    assert_close(core.normal_abs_cv(50.0, 0.05), 50 + 1.6448536269514722, abs=ROOT_FIND_ABS)


# -- breakdown values ------------------------------------------------------------------------------
def test_breakdown_values_bracket_the_published_grid(medicaid):
    es = medicaid["readme"]
    rm = honest_did(es, restriction="rm", grid=[1.5, 2.0])
    assert 1.5 < rm.breakdown <= 2.0  # published: Mbar = 1.5 excludes 0, Mbar = 2 includes it
    sd = honest_did(es, restriction="sd", grid=[0.02, 0.03])
    assert 0.02 < sd.breakdown <= 0.03
    below = honest_did(
        es, restriction="sd", grid=[0.995 * sd.breakdown, sd.breakdown], breakdown=False
    )
    assert below.sets.conf_low.iloc[0] > 0 >= below.sets.conf_low.iloc[1] - ROOT_FIND_ABS
    assert rm.to_dict()["sensitivity"]["breakdown"] == rm.breakdown


def test_breakdown_zero_when_the_usual_interval_contains_zero():
    V = np.diag([1e-4] * 3)
    r = honest_did_arrays([0.0, 0.0, 0.001], V, 2, restriction="rm", grid=[0.5])
    assert r.breakdown == 0.0


# -- other event-study results ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def ehec_cs():
    df = _ehec()
    res = att_gt(
        df,
        "dins",
        cohort="yexp2",
        unit="stfips",
        time="year",
        control="notyet",
        base_period="universal",
        est="reg",
    )
    return res


def test_cs_dynamic_vcov_from_influence_functions(ehec_cs):
    es = aggte(ehec_cs, "dynamic", min_e=-5, max_e=5)
    diag = np.sqrt(np.diag(es.vcov.to_numpy()))
    assert_close(
        diag, es.analytic_std_errors.to_numpy(), rel=ELEMENTWISE_REL, floor=ELEMENTWISE_REL
    )
    boot = aggte(ehec_cs, "dynamic", min_e=-5, max_e=5, n_boot=999, seed=1)
    keep = es.analytic_std_errors.to_numpy() > 0
    assert_close(boot.std_errors.to_numpy()[keep], diag[keep], rel=CS_BOOT_SE_REL)
    c = event_study_coefficients(es)
    assert c.reference == -1 and c.n_pre == 4 and c.n_post == 6
    r = honest_did(es, restriction="rm", grid=[0.5, 1.0], breakdown=False)
    assert isinstance(r, HonestResult) and r.post_times[0] == 0
    assert (r.sets.conf_low <= r.params["original"]).all()


def test_cs_varying_base_period_is_refused():
    df = _ehec()
    res = att_gt(
        df, "dins", cohort="yexp2", unit="stfips", time="year", control="notyet", est="reg"
    )
    with pytest.raises(SpecError, match="base_period='universal'"):
        honest_did(aggte(res, "dynamic"))
    with pytest.raises(SpecError, match="'dynamic'"):
        honest_did(aggte(res, "group"))


def test_sun_abraham_and_imputation():
    df = _ehec()
    sa = sun_abraham(df, "dins", cohort="yexp2", unit="stfips", time="year", window=(-5, 5))
    r = honest_did(sa, restriction="sd", grid=[0.0, 0.01], breakdown=False)
    assert r.pre_times[-1] == -2 and r.post_times[0] == 0
    imp = imputation_did(df, "dins", cohort="yexp2", unit="stfips", time="year", leads=0)
    with pytest.raises(SpecError, match="imputation_did needs aggregation='dynamic' and leads > 0"):
        honest_did(imp)  # with leads it runs: tests/estimation/test_honest_imputation.py


# -- results vocabulary and bad input -------------------------------------------------------------
def test_result_vocabulary(medicaid):
    r = honest_did(medicaid["readme"], restriction="rm", grid=[0.0, 1.0], breakdown=False)
    t = r.tidy()
    assert t.term.tolist() == ["original", "Mbar=0", "Mbar=1"]
    assert np.isnan(t.estimate.iloc[1]) and np.isfinite(t.conf_low).all()
    assert "breakdown Mbar = not computed" in r.summary()
    d = r.to_dict()
    assert d["sensitivity"]["grid"] == [0.0, 1.0] and len(d["estimates"]) == 3
    with pytest.raises(ValueError, match="level 0.95"):
        r.conf_int(0.9)


def test_bad_input(medicaid):
    es = medicaid["readme"]
    with pytest.raises(SpecError, match="restriction"):
        honest_did(es, restriction="xx")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="not a lag"):
        honest_did(es, target=5)
    with pytest.raises(SpecError, match="grid"):
        honest_did(es, grid=[-1.0])
    with pytest.raises(SpecError, match="target weights"):
        honest_did(es, target=[1.0, 2.0, 3.0])
    with pytest.raises(SpecError, match="symmetric"):
        honest_did_arrays([0.0, 1.0], [[1.0, 0.5], [0.0, 1.0]], 1)
    with pytest.raises(SpecError, match="one lead and one lag"):
        honest_did_arrays([0.0, 1.0], np.eye(2), 0)
    no_leads = _medicaid_window((-1, 1))
    with pytest.raises(SpecError, match="at least one lead"):
        honest_did(no_leads)


def _medicaid_window(window):
    df = _ehec()
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    d["cohort"] = np.where(d.yexp2 == 2014, 2014, np.nan)
    return event_study(
        d, "dins", cohort="cohort", window=window, bin_endpoints=False, unit="stfips", time="year"
    )


def test_binned_endpoints_warn(medicaid):
    df = _ehec()
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    d["cohort"] = np.where(d.yexp2 == 2014, 2014, np.nan)
    es = event_study(d, "dins", cohort="cohort", window=(-4, 1), unit="stfips", time="year")
    with pytest.warns(Warning, match="bins its endpoints"):
        r = honest_did(es, restriction="sd", grid=[0.0], breakdown=False)
    assert any("bins" in w for w in r.warnings)
