"""The fixed-TFP bootstrap beside the chain: the same firm draws with ln TFP held at its full-sample
values, re-run by hand; the ratio's Monte Carlo error; the result's columns and JSON."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact import PanelSpec, build_panel, simulate
from clusterimpact.chain import chain_bootstrap
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.productivity import estimate_tfp
from tolerances import CHAIN_RATIO_MC_REL, CHAIN_SAME_REL, EXACT_REL


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    sd = simulate("ecoom", seed=2, n_firms=300)
    return build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators).data


def _close(a, b) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert_close(a, b, rel=CHAIN_SAME_REL, abs=CHAIN_SAME_REL * max(np.nanmax(np.abs(b)), 1e-300))


def _rows_of_draw(frame: pd.DataFrame, seed: int, reps: int, b: int) -> pd.DataFrame:
    """Replication b's firm draw (the b-th child of SeedSequence(seed)), firms renumbered 0.."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(reps)[b])
    frame = frame.sort_values(["firm_id", "year"]).reset_index(drop=True)
    rows_of = frame.groupby("firm_id").indices
    firms = np.sort(frame["firm_id"].unique())
    pick = rng.integers(0, firms.size, firms.size)
    rows = [rows_of[firms[p]] for p in pick]
    out = frame.iloc[np.concatenate(rows)].reset_index(drop=True)
    out["firm_id"] = np.repeat(np.arange(pick.size), [r.size for r in rows])
    return out


def test_fixed_tfp_draws_are_the_did_on_the_same_draw_with_full_sample_tfp(small):
    seed, reps = 5, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = chain_bootstrap(
            small, reps=reps, seed=seed, method="ols", estimators=("cs", "duration")
        )
    full = estimate_tfp(small, "ols").join(small, name="y", resid_name="y_resid")
    assert list(res.fixed_draws.columns) == [
        t for t in res.params.index if not t.startswith("tfp:")
    ]
    for b in range(reps):
        boot = _rows_of_draw(full, seed, reps, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(boot, "y", control="notyet", allow_unbalanced=True, cluster="firm_id")
            dur = duration_effects(boot, "y", bins=(1, 2, 3, 4, "5+"), leads=5)
        row = res.fixed_draws.iloc[b]
        _close(row[["cs:simple"]], aggte(gt, "simple").params)
        _close(row[[f"duration:{t}" for t in dur.params.index]], dur.params)
    _close(res.fixed_tfp_se.dropna(), res.fixed_draws.std(ddof=1))
    assert res.fixed_tfp_se[["tfp:ln_emp", "tfp:ln_capital"]].isna().all()
    # the columns, the summary and the JSON carry the fixed-TFP SE and the ratio
    t = res.tidy().set_index("term")
    _close(t["se_ratio_fixed"].dropna(), (res.std_errors / res.fixed_tfp_se).dropna())
    assert "fixed-TFP SE" in res.summary() and "ratio fixed" in res.summary()
    js = json.loads(json.dumps(res.to_dict()))
    row = next(e for e in js["estimates"] if e["term"] == "cs:simple")
    assert_close(row["fixed_tfp_std_error"], res.fixed_tfp_se["cs:simple"], rel=EXACT_REL)
    off = chain_bootstrap(small, reps=2, seed=1, method="ols", estimators=("cs",), fixed_tfp=False)
    assert off.fixed_draws is None and off.tidy()["fixed_tfp_std_error"].isna().all()


def test_ratio_mc_error_by_simulation():
    """The delta-method MC SE of log(S_c / S_f) against its spread over independent sets of paired
    normal draws (correlation 0.9, SD ratio 1.1): the formula's mean is within CHAIN_RATIO_MC_REL of the
    spread."""
    from clusterimpact.chain.result import ChainResult
    from clusterimpact.provenance import make_provenance

    rng = np.random.default_rng(0)
    B, sets = 100, 400
    logs, mcs = [], []
    for _ in range(sets):
        z = rng.normal(size=(B, 2))
        f = z[:, 0]
        c = 1.1 * (0.9 * z[:, 0] + np.sqrt(1 - 0.81) * z[:, 1])
        idx = pd.Index(["x"])
        r = ChainResult(
            params=pd.Series([0.0], index=idx),
            std_errors=pd.Series([c.std(ddof=1)], index=idx),
            nobs=1,
            method="chain_bootstrap",
            provenance=make_provenance("chain_bootstrap", None, None),
            plugin_se=pd.Series([np.nan], index=idx),
            draws=pd.DataFrame({"x": c}),
            reps=B,
            n_failed=0,
            n_boot=pd.Series([B], index=idx),
            fixed_tfp_se=pd.Series([f.std(ddof=1)], index=idx),
            fixed_draws=pd.DataFrame({"x": f}),
        )
        logs.append(np.log(r.se_ratio_fixed["x"]))
        mcs.append(r.se_ratio_fixed_mc_se()["x"])
    assert_close(np.mean(mcs), np.std(logs, ddof=1), rel=CHAIN_RATIO_MC_REL)
