"""Tests of the synthetic data generator: determinism, truth, calibration, identification, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import clusterimpact.synthetic as synthetic
from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.kbo import validate_kbo
from clusterimpact.synthetic import SCENARIOS, simulate
from conftest import REPO
from tolerances import (
    EXACT_FLOOR,
    EXACT_REL,
    FILE_ROUNDTRIP_REL,
    SYNTH_ROUNDING_LOG,
    SYNTH_TURNOVER_ABS,
    TRUTH_SE_MULTIPLE,
)

SMALL = 2500


@pytest.fixture(scope="module")
def default():
    return simulate("ecoom", seed=1)


@pytest.fixture(scope="module")
def declining():
    return simulate("declining", seed=5, n_firms=8000)


@pytest.fixture(scope="module")
def small():
    return {s: simulate(s, seed=7, n_firms=SMALL) for s in SCENARIOS}


# --- helpers ------------------------------------------------------------------------------------
def oracle_did(latent: pd.DataFrame, y: str = "omega") -> tuple[float, float]:
    """Callaway-Sant'Anna-type DiD on a latent outcome, never-treated controls, base year g-1.

    Returns the firm-year-weighted ATT over post cells and a standard error from the spread of the
    treated firms' contributions (control means are estimated on ~20 times more firms).
    """
    wide = latent.pivot(index="firm_id", columns="year", values=y)
    g = latent.groupby("firm_id")["treat_year"].first().reindex(wide.index).to_numpy()
    years = wide.columns.to_numpy()
    vals = wide.to_numpy()
    never = g == 0
    contrib, weights = [], []
    firm_sum: dict[int, list[float]] = {}
    for coh in np.unique(g[g > 0]):
        if coh - 1 not in years:
            continue
        b = vals[:, np.searchsorted(years, coh - 1)]
        for j in np.flatnonzero(years >= coh):
            d = vals[:, j] - b
            ok_c = never & np.isfinite(d)
            ok_t = (g == coh) & np.isfinite(d)
            if not ok_t.any():
                continue
            cm = d[ok_c].mean()
            for i in np.flatnonzero(ok_t):
                firm_sum.setdefault(i, []).append(d[i] - cm)
            contrib.append((d[ok_t] - cm).sum())
            weights.append(ok_t.sum())
    att = float(np.sum(contrib) / np.sum(weights))
    per_firm = np.array([np.sum(v) - att * len(v) for v in firm_sum.values()])
    se = float(np.sqrt((per_firm**2).sum()) / np.sum(weights))
    return att, se


# --- API and determinism ------------------------------------------------------------------------
def test_same_seed_identical_frames():
    a = simulate("ecoom", seed=11, n_firms=1200)
    b = simulate("ecoom", seed=11, n_firms=1200)
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    pd.testing.assert_frame_equal(a.registry, b.registry)
    pd.testing.assert_frame_equal(a.latent, b.latent)
    pd.testing.assert_frame_equal(a.deflators, b.deflators)
    assert a.truth == b.truth


def test_different_seeds_differ():
    a = simulate("ecoom", seed=11, n_firms=1200)
    b = simulate("ecoom", seed=12, n_firms=1200)
    assert not a.accounts["va"].head(50).equals(b.accounts["va"].head(50))
    assert a.truth["att_overall"] != b.truth["att_overall"]


def test_columns_and_dtypes(small):
    sim = small["ecoom"]
    assert list(sim.accounts.columns) == [
        "firm_id", "year", "nace", "region", "founded", "va", "emp",
        "capital", "materials", "wages", "turnover", "investment",
    ]  # fmt: skip
    assert list(sim.registry.columns) == ["firm_id", "cluster", "join_date", "exit_date"]
    assert list(sim.deflators.columns) == ["sector", "year", "deflator"]
    for c in ("omega", "omega0", "effect", "ln_lp0", "member_years", "treat_year"):
        assert c in sim.latent.columns
    acc = sim.accounts
    assert not acc.duplicated(["firm_id", "year"]).any()
    assert acc[["firm_id", "year"]].equals(
        acc[["firm_id", "year"]].sort_values(["firm_id", "year"]).reset_index(drop=True)
    )
    assert acc["nace"].str.fullmatch(r"\d{4}").all()
    assert (acc["va"] > 0).all() and (acc["emp"] > 0).all()
    assert_close(acc["turnover"], acc["va"] + acc["materials"], abs=SYNTH_TURNOVER_ABS)
    assert (sim.latent[["firm_id", "year"]].to_numpy() == acc[["firm_id", "year"]].to_numpy()).all()


def test_enterprise_numbers_valid_and_unique(small):
    ids = small["ecoom"].accounts["firm_id"].drop_duplicates()
    norm, valid = validate_kbo(ids)
    assert valid.all()
    assert (norm.to_numpy() == ids.to_numpy()).all()
    assert ids.str.len().eq(10).all() and ids.is_unique


def test_bad_options_raise():
    with pytest.raises(SpecError, match="scenario=.*'ecoom'"):
        simulate("optimistic")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="unknown synthetic parameter.*not_a_param"):
        simulate(n_firms=100, not_a_param=1)
    with pytest.raises(SpecError, match="n_firms"):
        simulate(n_firms=0)
    with pytest.raises(SpecError, match="end_year"):
        simulate(n_firms=100, start_year=2010, end_year=2010)


def test_overrides_apply():
    sim = simulate("ecoom", seed=3, n_firms=800, beta_l=0.7, rho=0.5)
    assert sim.truth["elasticities"] == {"ln_emp": 0.7, "ln_capital": 0.3}
    assert sim.truth["rho"] == 0.5 and sim.truth["params"]["rho"] == 0.5


def test_chunks_combine(monkeypatch):
    monkeypatch.setattr(synthetic, "CHUNK_FIRMS", 700)
    sim = simulate("ecoom", seed=4, n_firms=2000)
    assert sim.accounts["firm_id"].nunique() == 2000
    assert sim.registry["firm_id"].isin(sim.accounts["firm_id"]).all()
    assert not sim.accounts.duplicated(["firm_id", "year"]).any()


# --- the truth is the realised sample's -----------------------------------------------------------
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_truth_matches_latent(small, scenario):
    sim = small[scenario]
    lat, t = sim.latent, sim.truth
    tr = lat[lat["treat_year"] > 0].assign(dlp=lambda d: d["ln_lp"] - d["ln_lp0"])
    cells = tr.groupby(["treat_year", "year"]).agg(
        att=("effect", "mean"), lp=("dlp", "mean"), n=("effect", "size")
    )
    gt = pd.DataFrame(t["att_gt"]).set_index(["cohort", "year"])
    assert len(gt) == len(cells)
    assert_close(gt["att"], cells["att"], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(gt["att_lp"], cells["lp"], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert (gt["n"].to_numpy() == cells["n"].to_numpy()).all()
    post = tr[tr["year"] >= tr["treat_year"]]
    assert_close(t["att_overall"], post["effect"].mean(), rel=EXACT_REL)
    assert_close(t["att_overall_lp"], post["dlp"].mean(), rel=EXACT_REL)
    # pre-joining cells are zero (ln_lp - ln_lp0: rounding of logs of size |ln_lp|); event-time and
    # member-years profiles add up to the overall ATT
    pre = gt[gt.index.get_level_values("year") < gt.index.get_level_values("cohort")]
    assert (pre["att"] == 0).all()
    assert_close(pre["att_lp"], 0.0, abs=EXACT_FLOOR * lat["ln_lp"].abs().max())
    et = pd.DataFrame(t["event_time"]).T.astype(float)
    et.index = et.index.astype(int)
    post_et = et[et.index >= 0]
    per_e = (post_et["att"] * post_et["n"]).sum() / post_et["n"].sum()
    assert_close(per_e, t["att_overall"], rel=EXACT_REL)
    my = pd.DataFrame(t["member_years"]).T.astype(float)
    assert my["n"].sum() == len(post)
    assert sum(v["n"] for v in t["by_cluster"].values()) == len(post)
    assert sum(v["n"] for v in t["by_cohort"].values()) == len(post)
    # effect is zero outside membership and before joining
    assert (lat.loc[lat["member_years"] == 0, "effect"] == 0).all()
    scale = lat["omega"].abs().max()
    assert_close(lat["omega"] - lat["omega0"], lat["effect"], abs=EXACT_FLOOR * scale)


def test_truth_keys(small):
    t = small["ecoom"].truth
    for key in (
        "scenario", "seed", "params", "elasticities", "rho", "att_overall", "att_overall_lp",
        "att_gt", "event_time", "member_years", "by_cluster", "by_cohort",
    ):  # fmt: skip
        assert key in t
    assert t["elasticities"] == {"ln_emp": 0.65, "ln_capital": 0.3}
    assert set(t["att_gt"][0]) == {"cohort", "year", "att", "att_lp", "n"}


# --- calibration of the default data set ----------------------------------------------------------
def test_default_size_and_skew(default):
    s = default.truth["sample"]
    assert 13_000 <= s["firms"] == 15_000
    assert 120_000 < s["firm_years"] < 180_000
    assert 1_000 <= s["members"] <= 1_500
    assert s["share_emp_under_10"] > 0.65  # most firms are small
    assert 2 < s["median_emp"] < 6
    emp = np.exp(default.latent["ln_emp"])
    assert emp.mean() > 2 * emp.median()  # right-skewed
    large = default.latent.loc[emp >= 100, "firm_id"].nunique()
    assert 100 <= large <= 600  # "a few hundred large"


def test_entry_exit_unbalanced(default):
    s = default.truth["sample"]
    assert 0.02 < s["exit_rate"] < 0.07
    lat = default.latent
    first = lat.groupby("firm_id")["year"].min()
    assert (first.value_counts().sort_index().loc[2009:] > 100).all()  # entrants every year
    assert lat.groupby("firm_id").size().nunique() > 5  # unbalanced
    # low-productivity firms exit: the last observed omega of exiters is below that of stayers
    last = lat.groupby("firm_id").tail(1)
    exiters = last["year"] < lat["year"].max()
    assert last.loc[exiters, "omega"].mean() < last.loc[~exiters, "omega"].mean() - 0.05


def test_membership_structure(default):
    reg, lat = default.registry, default.latent
    cohorts = lat.loc[lat["treat_year"] > 0].groupby("firm_id")["treat_year"].first()
    assert cohorts.min() >= 2011 and cohorts.max() <= 2023
    assert (cohorts >= 2017).mean() > 0.6  # most join from 2017
    assert set(reg["cluster"]) == set(default.truth["cluster_start"])
    assert reg["exit_date"].notna().sum() > 50  # some members leave
    assert reg.duplicated(["firm_id", "cluster"]).sum() > 5  # a few re-join
    assert (reg.groupby("firm_id")["cluster"].nunique() > 1).sum() > 5  # some in two clusters
    for c, start in default.truth["cluster_start"].items():
        assert reg.loc[reg["cluster"] == c, "join_date"].str[:4].astype(int).min() >= start
    # domains: most members of each cluster come from its NACE domain
    acc = default.accounts.drop_duplicates("firm_id").set_index("firm_id")["nace"]
    div = reg.assign(div=reg["firm_id"].map(acc).str[:2])
    assert div.loc[div["cluster"] == "Flanders' FOOD", "div"].isin(["10", "11"]).mean() > 0.6
    assert div.loc[div["cluster"] == "Catalisti", "div"].isin(["20", "22"]).mean() > 0.6


def test_members_larger_older_more_capital_intensive_before_joining(default):
    lat = default.latent.merge(
        default.accounts[["firm_id", "year", "founded"]], on=["firm_id", "year"]
    )
    pre = lat[(lat["treat_year"] > 0) & (lat["year"] == lat["treat_year"] - 1)]
    ctrl = lat[(lat["treat_year"] == 0) & lat["year"].isin(pre["year"].unique())]
    assert pre["ln_emp"].mean() > ctrl["ln_emp"].mean() + 0.3
    assert (pre["year"] - pre["founded"]).mean() > (ctrl["year"] - ctrl["founded"]).mean() + 2
    kl = lambda d: (d["ln_capital"] - d["ln_emp"]).mean()  # noqa: E731
    assert kl(pre) > kl(ctrl) + 0.2
    assert pre["omega"].mean() > ctrl["omega"].mean() + 0.02


# --- scenarios ----------------------------------------------------------------------------------
def test_ecoom_effect_grows_with_member_years(default):
    t = default.truth
    assert 0.02 < t["att_overall"] < 0.04
    bins = {k: v["att"] for k, v in t["member_years_bins"].items()}
    seq = [bins[k] for k in ("1", "2", "3", "4", "5+")]
    assert all(b > a for a, b in zip(seq, seq[1:], strict=False))
    assert 0.005 < seq[0] < 0.015 and 0.035 < seq[-1] < 0.055
    assert 0 < t["att_overall_lp"] < t["att_overall"]  # labour responds, so lp gains less


@pytest.mark.parametrize("scenario", ["null", "declining"])
def test_no_effect_scenarios(small, scenario):
    sim = small[scenario]
    assert (sim.latent["effect"] == 0).all()
    assert sim.truth["att_overall"] == 0
    scale = sim.latent["ln_lp"].abs().max()  # ln_lp - ln_lp0 is zero up to rounding of the logs
    assert_close(sim.truth["att_overall_lp"], 0.0, abs=EXACT_FLOOR * scale)
    assert all(c["att"] == 0 for c in sim.truth["att_gt"])


def test_heterogeneous_early_cohorts_larger(small):
    coh = {int(k): v["att"] for k, v in small["heterogeneous"].truth["by_cohort"].items()}
    early = [v for k, v in coh.items() if k <= 2013]
    late = [v for k, v in coh.items() if k >= 2020]
    assert min(early) > 5 * max(late)


def test_parallel_trends_hold_and_oracle_did_recovers_truth(default):
    """Selection on time-invariant types: DiD on the true log TFP recovers the realised ATT."""
    att, se = oracle_did(default.latent, "omega")
    assert abs(att - default.truth["att_overall"]) <= TRUTH_SE_MULTIPLE * se
    att_lp, se_lp = oracle_did(default.latent, "ln_lp")
    assert abs(att_lp - default.truth["att_overall_lp"]) <= TRUTH_SE_MULTIPLE * se_lp


def test_null_oracle_did_is_zero():
    sim = simulate("null", seed=5, n_firms=8000)
    att, se = oracle_did(sim.latent, "omega")
    assert abs(att) <= TRUTH_SE_MULTIPLE * se


def test_declining_biases_unconditional_did(declining):
    sim = declining
    att, se = oracle_did(sim.latent, "omega")
    assert att > TRUTH_SE_MULTIPLE * se  # spurious positive effect from mean reversion
    lat = sim.latent
    tr = lat[lat["treat_year"] > 0]
    d = tr.assign(e=tr["year"] - tr["treat_year"]).groupby("e")["u"].mean()
    assert d.loc[-1] < d.loc[-3] - 0.05  # members were declining before joining


def test_declining_bias_removed_by_conditioning_on_pre_trends(declining):
    """Regression-adjusting each 2x2 DiD for the pre-joining TFP trend and level removes the bias."""
    sim = declining
    wide = sim.latent.pivot(index="firm_id", columns="year", values="omega")
    g = sim.latent.groupby("firm_id")["treat_year"].first().reindex(wide.index).to_numpy()
    years, v = wide.columns.to_numpy(), wide.to_numpy()
    raw, adj, w = [], [], []
    for coh in np.unique(g[g > 0]):
        if coh - 3 < years[0]:
            continue
        jb, j3 = np.searchsorted(years, coh - 1), np.searchsorted(years, coh - 3)
        for j in np.flatnonzero(years >= coh):
            d, pre, lev = v[:, j] - v[:, jb], v[:, jb] - v[:, j3], v[:, jb]
            ok = np.isfinite(d) & np.isfinite(pre)
            tr, co = ok & (g == coh), ok & (g == 0)
            if tr.sum() < 5:
                continue
            x = np.column_stack([np.ones(co.sum()), pre[co], lev[co]])
            b = np.linalg.lstsq(x, d[co], rcond=None)[0]
            xt = np.column_stack([np.ones(tr.sum()), pre[tr], lev[tr]])
            raw.append(d[tr].mean() - d[co].mean())
            adj.append((d[tr] - xt @ b).mean())
            w.append(tr.sum())
    raw_att, adj_att = np.average(raw, weights=w), np.average(adj, weights=w)
    assert raw_att > 0.02
    assert abs(adj_att) < raw_att / 3


def test_heterogeneous_static_twfe_biased():
    sim = simulate("heterogeneous", seed=2)
    lat = sim.latent
    f = pd.factorize(lat["firm_id"])[0]
    t = pd.factorize(lat["year"])[0]
    y = lat["omega"].to_numpy().copy()
    x = ((lat["treat_year"] > 0) & (lat["year"] >= lat["treat_year"])).to_numpy(dtype=float)

    def sweep(v: np.ndarray) -> np.ndarray:  # one round of two-way demeaning
        v = v - (np.bincount(f, v) / np.bincount(f))[f]
        return v - (np.bincount(t, v) / np.bincount(t))[t]

    for _ in range(200):
        y, x = sweep(y), sweep(x)
    beta = float(x @ y / (x @ x))
    assert beta < sim.truth["att_overall"] - 0.01  # static TWFE misses much of the growing effect


# --- production function: OLS and FE are biased ----------------------------------------------------
def test_ols_overstates_labour_fe_understates_capital(default):
    lat = default.latent
    X = sm.add_constant(lat[["ln_emp", "ln_capital"]])
    ols = sm.OLS(lat["ln_va"], X).fit().params
    assert ols["ln_emp"] > 0.65 + 0.04
    assert ols["ln_capital"] < 0.30 - 0.02
    cols = ["ln_va", "ln_emp", "ln_capital"]
    w = lat[cols] - lat.groupby("firm_id")[cols].transform("mean")
    fe = sm.OLS(w["ln_va"], w[["ln_emp", "ln_capital"]]).fit().params
    assert fe["ln_capital"] < 0.15


def test_proxies_increasing_in_productivity(small):
    """Investment and materials are functions of (omega, k) strictly increasing in omega."""
    lat = small["ecoom"].latent
    X = sm.add_constant(lat[["omega", "ln_capital"]])
    for proxy in ("ln_investment", "ln_materials"):
        fit = sm.OLS(lat[proxy], X).fit()
        assert fit.params["omega"] > 0.5


# --- panel, deflation and dirt ----------------------------------------------------------------------
def test_panel_recovers_latent_real_values(small):
    sim = small["ecoom"]
    panel = sim.panel()
    assert panel.exclusion_counts() == {} or sum(panel.exclusion_counts().values()) == 0
    d = panel.data.merge(sim.latent, on=["firm_id", "year"], suffixes=("", "_true"))
    assert len(d) == len(sim.latent)
    for c in ("ln_va", "ln_emp", "ln_capital", "ln_materials"):
        assert (d[c] - d[f"{c}_true"]).abs().max() < SYNTH_ROUNDING_LOG
    assert (d["member_years"] == d["member_years_true"]).all()
    assert (d["treat_year"].fillna(0).astype(int) == d["treat_year_true"]).all()
    got = d["cluster"].astype(object).where(d["cluster"].notna(), "")
    assert (got == d["cluster_true"].where(d["cluster_true"].notna(), "")).all()


def test_dirty_counts_match_panel_exclusions():
    sim = simulate("ecoom", seed=9, n_firms=3000, dirty=True)
    dirt = sim.truth["dirt"]
    panel = sim.panel()
    counts = panel.exclusion_counts()
    for reason, n in dirt["expected_exclusions"].items():
        assert counts.get(reason, 0) == n, reason
    assert len(sim.accounts) == dirt["rows_dirty"] == dirt["rows_clean"] + dirt["duplicate"]
    assert len(panel.data) == dirt["rows_clean"] - sum(
        v for k, v in dirt["expected_exclusions"].items() if k != "duplicate"
    )
    assert set(dirt["registry_without_accounts"]) <= set(sim.registry["firm_id"])
    assert not set(dirt["registry_without_accounts"]) & set(sim.accounts["firm_id"])
    _, valid = validate_kbo(pd.Series(dirt["bad_id_firms"]))
    assert not valid.any()
    assert sim.accounts["capital"].isna().sum() == dirt["missing_capital"]
    assert sim.dirt["kind"].value_counts()["duplicate"] == dirt["duplicate"]


# --- files ------------------------------------------------------------------------------------------
def test_write_is_deterministic(tmp_path):
    sim = simulate("null", seed=3, n_firms=600)
    a = sim.write(tmp_path / "a", "x")
    b = simulate("null", seed=3, n_firms=600).write(tmp_path / "b", "x")
    for role in a:
        assert a[role].read_bytes() == b[role].read_bytes(), role


def test_written_files_build_the_same_panel(tmp_path):
    from clusterimpact.panel import PanelSpec, build_panel

    sim = simulate("ecoom", seed=3, n_firms=800, dirty=True)
    f = sim.write(tmp_path, "s")
    spec = PanelSpec(id_type="kbo", exclude_bad_ids=True, deflator_base=1.0)
    from_files = build_panel(f["accounts"], f["registry"], spec, f["deflators"])
    in_memory = sim.panel()
    pd.testing.assert_frame_equal(
        from_files.data.reset_index(drop=True), in_memory.data.reset_index(drop=True),
        check_dtype=False, rtol=FILE_ROUNDTRIP_REL, atol=FILE_ROUNDTRIP_REL,
    )  # fmt: skip
    assert from_files.exclusion_counts() == in_memory.exclusion_counts()


def test_committed_default_is_regenerated_bit_identically(tmp_path, default):
    committed = REPO / "data" / "synthetic"
    paths = default.write(tmp_path, "synthetic")
    for p in paths.values():
        ref = committed / p.name
        assert ref.exists(), f"missing committed file {ref} (run `make synth`)"
        assert p.read_bytes() == ref.read_bytes(), (
            f"{ref.name} differs: run `make synth` and commit"
        )
    assert sum(p.stat().st_size for p in paths.values()) < 6_000_000


@pytest.mark.sweep
@pytest.mark.parametrize("scenario", ["ecoom", "null", "heterogeneous"])
def test_oracle_did_coverage_over_seeds(scenario):
    """Over 20 seeds the oracle DiD's 3-SE interval covers the realised ATT almost always."""
    hits = 0
    for seed in range(20):
        sim = simulate(scenario, seed=100 + seed, n_firms=6000)
        att, se = oracle_did(sim.latent, "omega")
        hits += abs(att - sim.truth["att_overall"]) <= TRUTH_SE_MULTIPLE * se
    assert hits >= 18
