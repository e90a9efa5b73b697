"""The public matched DiD (estimation.matched): same numbers as match_panel's ATT summary,
an independent brute-force computation, and the synthetic truth (#13)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.matched import MatchedDiDResult, matched_did
from clusterimpact.matching import match_panel
from clusterimpact.synthetic import simulate
from tolerances import MATCHED_DID_BRUTE_FLOOR, MATCHED_DID_BRUTE_REL, TRUTH_SE_MULTIPLE

WINDOW = (-4, 3)


@pytest.fixture(scope="module")
def sim():
    return simulate("ecoom", seed=2, n_firms=1500)


@pytest.fixture(scope="module")
def matched(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return match_panel(
            sim.panel().data, design="trends", exact="sector", control="notyet",
            neighbors=2, replace=True, outcome="ln_lp", window=WINDOW, seed=3,
        )  # fmt: skip


def _brute(long: pd.DataFrame, outcome: str, last: int) -> tuple[float, float]:
    """The estimator written out firm-stack by firm-stack with loops (no groupby transforms)."""
    rows = []
    for _key, g in long.groupby("stack_unit"):
        pre = g.loc[g.rel_year == -1, outcome]
        post = g.loc[(g.rel_year >= 0) & (g.rel_year <= last), outcome].dropna()
        if len(pre) == 0 or np.isnan(pre.iloc[0]) or len(post) == 0:
            continue
        first = g.iloc[0]
        rows.append((first["firm_id"], first["stack"], first["treated"], first["weight"],
                     post.mean() - pre.iloc[0]))  # fmt: skip
    firms, stacks, treated, w, dv = (np.array(c) for c in zip(*rows, strict=True))
    w = w.astype(float)
    for s in np.unique(stacks):
        t_s, c_s = (stacks == s) & (treated == 1), (stacks == s) & (treated == 0)
        w[c_s] = w[c_s] * w[t_s].sum() / w[c_s].sum() if c_s.any() else 0.0
        if not c_s.any():
            w[t_s] = 0.0
    t = treated == 1
    mt = np.sum(w[t] * dv[t]) / np.sum(w[t])
    mc = np.sum(w[~t] * dv[~t]) / np.sum(w[~t])
    contrib: dict[object, float] = {}
    for f, ti, wi, di in zip(firms, t, w, dv, strict=True):
        psi = wi * (di - mt) / np.sum(w[t]) if ti else -wi * (di - mc) / np.sum(w[~t])
        contrib[f] = contrib.get(f, 0.0) + psi
    s2 = np.array(list(contrib.values()))
    G = len(s2)
    return mt - mc, float(np.sqrt(np.sum(s2**2) * G / (G - 1)))


def test_same_numbers_as_match_panel(matched):
    long = matched.matched_panel
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EstimationWarning)
        r = matched_did(long, "ln_lp", window=WINDOW)
    assert isinstance(r, MatchedDiDResult)
    assert r.params["ATT"] == matched.params["ATT"]
    assert r.std_errors["ATT"] == matched.std_errors["ATT"]
    n_missing = r.exclusions.get("firm_stacks_missing_outcome", 0)
    said = [str(w.message) for w in caught if "lack the outcome" in str(w.message)]
    assert said == ([] if n_missing == 0 else [said[0]])
    assert all(m.startswith(f"{n_missing} matched firm-stacks") for m in said)
    assert (n_missing > 0) == any("lack the outcome" in m for m in matched.warnings)


def test_agrees_with_a_brute_force_computation(matched):
    long = matched.matched_panel
    r = matched_did(long, "ln_lp", window=WINDOW)
    est, se = _brute(long, "ln_lp", WINDOW[1])
    assert_close(r.params["ATT"], est, rel=MATCHED_DID_BRUTE_REL, floor=MATCHED_DID_BRUTE_FLOOR)
    assert_close(r.std_errors["ATT"], se, rel=MATCHED_DID_BRUTE_REL, floor=MATCHED_DID_BRUTE_FLOOR)


def test_recovers_the_truth_on_the_matched_members(sim, matched):
    r = matched_did(matched.matched_panel, "ln_lp", window=WINDOW)
    lat = sim.latent[["firm_id", "year", "ln_lp", "ln_lp0"]].rename(columns={"ln_lp": "lp1"})
    mp = matched.matched_panel
    t = mp[(mp.treated == 1) & (mp.rel_year >= 0)].merge(lat, on=["firm_id", "year"])
    truth = float((t.lp1 - t.ln_lp0).groupby(t.stack_unit).mean().mean())
    assert abs(r.params["ATT"] - truth) <= TRUTH_SE_MULTIPLE * r.std_errors["ATT"]
    assert truth > 0  # the check compares a real effect, not zero with zero


def test_speaks_the_result_vocabulary(matched):
    r = matched_did(matched.matched_panel, "ln_lp", window=WINDOW)
    assert r.overall_term == "ATT"
    tidy = r.tidy()
    assert list(tidy["term"]) == ["ATT"]
    assert tidy["estimate"].iloc[0] == r.params["ATT"]
    ci = r.conf_int(0.9)
    assert ci.iloc[0, 0] < r.params["ATT"] < ci.iloc[0, 1]
    d = r.to_dict()
    assert d["estimates"][0]["term"] == "ATT"
    assert "ATT" in r.summary()
    assert r.n_treated > 0 and r.n_controls > 0 and r.nobs == len(matched.matched_panel)


def test_missing_outcome_rows_are_counted_and_said(matched):
    long = matched.matched_panel.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        base = matched_did(long, "ln_lp", window=WINDOW).exclusions.get(
            "firm_stacks_missing_outcome", 0
        )
    post = long[(long.rel_year >= 0) & (long.rel_year <= WINDOW[1])].dropna(subset=["ln_lp"])
    pre = long[(long.rel_year == -1) & long.ln_lp.notna() & long.stack_unit.isin(post.stack_unit)]
    long.loc[pre.index[:7], "ln_lp"] = np.nan
    with pytest.warns(EstimationWarning, match=rf"{base + 7} matched firm-stacks lack the outcome"):
        r = matched_did(long, "ln_lp", window=WINDOW)
    assert r.exclusions == {"firm_stacks_missing_outcome": base + 7}


def test_bad_input(matched):
    long = matched.matched_panel
    with pytest.raises(DataError, match=r"missing required column\(s\) \(stacked panel\): weight"):
        matched_did(long.drop(columns="weight"), "ln_lp")
    with pytest.raises(DataError, match=r"\(outcome\): nope"):
        matched_did(long, "nope")
    with pytest.raises(SpecError, match="window must be"):
        matched_did(long, "ln_lp", window=(0, 3))
    with pytest.raises(EstimationError, match="no member or no control firm-stack"):
        matched_did(long[long.treated == 1], "ln_lp")
