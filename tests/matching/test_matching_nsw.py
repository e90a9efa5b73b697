"""NSW job-training data: experimental benchmark, the Abadie-Imbens estimator against its authors' printed
output, and matching on the CPS comparison group against the experimental ATT (PROVENANCE.md)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.matching import match
from tolerances import (
    EXACT_REL,
    NSW_AI_ESTIMATE_ABS,
    NSW_AI_SE_REL,
    NSW_CPS_SE_MULTIPLE,
    SMD_BALANCED,
    printed_precision,
)

NSW = Path(__file__).resolve().parents[1] / "reference" / "nsw"
PS_FORMULA = (
    "treat ~ age + I(age**2) + educ + I(educ**2) + marr + nodegree + black + hisp + re74 + re75"
    " + u74 + u75 + educ:re74"
)


@pytest.fixture(scope="module")
def nsw() -> pd.DataFrame:
    return pd.read_csv(NSW / "nsw_dw.csv")


@pytest.fixture(scope="module")
def refs() -> pd.DataFrame:
    return pd.read_csv(NSW / "reference_values.csv").set_index("id")


@pytest.fixture(scope="module")
def cps(nsw: pd.DataFrame) -> pd.DataFrame:
    c = pd.read_csv(NSW / "cps_controls.csv")
    obs = pd.concat([nsw[nsw["treat"] == 1], c], ignore_index=True)
    obs["u74"] = (obs["re74"] == 0).astype(float)
    obs["u75"] = (obs["re75"] == 0).astype(float)
    return obs


def _experimental(nsw: pd.DataFrame) -> tuple[float, float]:
    t, c = nsw.loc[nsw.treat == 1, "re78"], nsw.loc[nsw.treat == 0, "re78"]
    return float(t.mean() - c.mean()), float(np.sqrt(t.var() / len(t) + c.var() / len(c)))


def _sd_of_difference(r, data: pd.DataFrame, nsw: pd.DataFrame) -> float:
    """sd of (matched ATT - experimental ATT) when both use all 185 NSW treated.

    The treated mean cancels: the difference is (mean of the experimental controls) - (weighted mean of
    the matched controls), two independent samples. The matched part uses the matched controls'
    outcome variance without conditioning on X, which overstates Var(Y | X): a conservative sd.
    """
    assert r.weights[data.treat == 1].sum() == (nsw.treat == 1).sum()  # every treated unit matched
    w = r.weights[(data.treat == 0) & (r.weights > 0)]
    y = data.loc[w.index, "re78"]
    var_matched = np.average((y - np.average(y, weights=w)) ** 2, weights=w)
    c = nsw.loc[nsw.treat == 0, "re78"]
    return float(np.sqrt(c.var() / len(c) + ((w / w.sum()) ** 2).sum() * var_matched))


def _assert_recovers_experimental(r, data, nsw) -> None:
    exp, _ = _experimental(nsw)
    sd = _sd_of_difference(r, data, nsw)
    # the window tells the experimental ATT from no effect (a matching that found 0 would fail) ...
    assert abs(exp) > NSW_CPS_SE_MULTIPLE * sd, (exp, sd)
    # ... and the matched estimate lands in it
    assert abs(r.params["ATT"] - exp) <= NSW_CPS_SE_MULTIPLE * sd, (r.params["ATT"], exp, sd)


def test_experimental_benchmark_is_1794(nsw, refs):
    est, _ = _experimental(nsw)
    assert len(nsw) == 445 and nsw.treat.sum() == 185
    ref = refs.loc["experimental_diff"]  # printed to the cent
    assert_close(est, ref["estimate"], abs=printed_precision(ref["decimals"]))


def test_exact_matching_on_experimental_data_is_the_stratified_difference(nsw):
    # a randomised experiment: exact matching on black changes little and equals the stratified means
    r = match(nsw, "treat", ["black"], method="exact", outcome="re78")
    g = nsw.groupby(["black", "treat"])["re78"].mean().unstack()
    n_t = nsw[nsw.treat == 1].groupby("black").size()
    strat = float(((g[1] - g[0]) * n_t).sum() / n_t.sum())
    assert_close(r.params["ATT"], strat, rel=EXACT_REL)


@pytest.mark.parametrize(
    ("ref_id", "covs"),
    [("imbens_match_age", ["age"]), ("imbens_match_4cov", ["age", "educ", "re74", "re75"])],
)
def test_abadie_imbens_matches_imbens_printed_log(nsw, refs, ref_id, covs):
    r = match(
        nsw, "treat", covs, method="nnmatch", estimand="ate", outcome="re78", se_target="sample"
    )
    assert_close(r.params["ATE"], refs.loc[ref_id, "estimate"], abs=NSW_AI_ESTIMATE_ABS)
    assert_close(r.std_errors["ATE"], refs.loc[ref_id, "std_error"], rel=NSW_AI_SE_REL)


def test_nnmatch_on_experimental_controls_lands_near_benchmark(nsw, refs):
    r = match(
        nsw,
        "treat",
        ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"],
        method="nnmatch",
        neighbors=4,
        outcome="re78",
        bias_adjust=True,
    )
    _assert_recovers_experimental(r, nsw, nsw)  # same controls on both sides: conservative here


@pytest.mark.parametrize(
    "kw",
    [
        {"method": "nnmatch", "bias_adjust": True},
        {"method": "nnmatch", "bias_adjust": True, "neighbors": 4},
        {"method": "nearest", "formula": PS_FORMULA},
        {"method": "nearest", "formula": PS_FORMULA, "replace": True, "neighbors": 4},
        {"method": "nnmatch", "distance": "propensity", "formula": PS_FORMULA, "neighbors": 4},
    ],
    ids=["ai-bias", "ai-bias-m4", "ps-greedy", "ps-replace-k4", "ps-ai-m4"],
)
def test_cps_comparison_recovers_experimental_att(nsw, cps, kw):
    exp, _ = _experimental(nsw)
    covs = (
        None
        if "formula" in kw
        else ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75", "u74", "u75"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = match(cps, "treat", covs, outcome="re78", **kw)
    _assert_recovers_experimental(r, cps, nsw)
    # ... while the raw CPS gap is nowhere near it
    raw = cps.loc[cps.treat == 1, "re78"].mean() - cps.loc[cps.treat == 0, "re78"].mean()
    assert abs(raw - exp) > 3 * NSW_CPS_SE_MULTIPLE * _sd_of_difference(r, cps, nsw)


def test_cps_mahalanobis_nnmatch_balances_the_covariates(cps):
    r = match(
        cps,
        "treat",
        ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"],
        method="nnmatch",
        outcome="re78",
    )
    assert r.balance_before["smd"].abs().max() > 1.0
    assert r.max_abs_smd < SMD_BALANCED
