"""Each figure draws exactly what its result says (points, whiskers, bands, labels, series)."""

from __future__ import annotations

import dataclasses

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plotfakes import estimate_result, fake_panel, profile_result
from matplotlib.collections import LineCollection
from matplotlib.container import BarContainer, ErrorbarContainer

from _asserts import assert_close
from clusterimpact import plotting as P
from clusterimpact.errors import DataError, SpecError
from clusterimpact.results import EstimateResult
from tolerances import EXACT_FLOOR, EXACT_REL, PLOT_DRAWN_REL


def _errorbars(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _eb_data(c: ErrorbarContainer, vertical: bool = True):
    """x, y of the points and (low, high) of the whiskers drawn by one errorbar call."""
    line, _caps, bars = c.lines
    xy = np.asarray(line.get_xydata()) if line is not None else None
    segs = bars[0].get_segments()
    if vertical:
        lo = np.array([min(s[0][1], s[1][1]) for s in segs])
        hi = np.array([max(s[0][1], s[1][1]) for s in segs])
        pos = np.array([s[0][0] for s in segs])
    else:
        lo = np.array([min(s[0][0], s[1][0]) for s in segs])
        hi = np.array([max(s[0][0], s[1][0]) for s in segs])
        pos = np.array([s[0][1] for s in segs])
    return xy, pos, lo, hi


def _line(ax, gid):
    found = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, f"expected one line with gid={gid!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return fake_panel()


@pytest.fixture(scope="module")
def es_results():
    xs = [-4, -3, -2, 0, 1, 2, 3, 4]
    cs = profile_result(
        xs,
        [0.0, 0.001, -0.002, 0.01, 0.02, 0.03, 0.04, 0.05],
        [0.01] * 8,
        crit=2.7,
        reference=-1,
        pretrend_pvalue=0.43,
    )
    sa = profile_result(
        xs, np.linspace(-0.01, 0.06, 8), np.full(8, 0.012), method="sa", reference=-1
    )
    imp = profile_result(xs[1:], np.linspace(0, 0.05, 7), np.full(7, 0.008), method="imputation")
    return {"CS": cs, "Sun-Abraham": sa, "Imputation": imp}


# -- 1. members vs sector ------------------------------------------------------------------------------


def _tiny_panel() -> pd.DataFrame:
    """Three years; A stays, B joins in 2021, C leaves after 2020, D and E are never-members in the
    members' sector, F is a never-member in another sector."""
    rows = []
    spec = {
        # firm: (sector, member by year, va by year, emp)
        "A": ("10", [1, 1, 1], [100, 110, 120], 10),
        "B": ("10", [0, 1, 1], [50, 60, 70], 5),
        "C": ("10", [1, 0, 0], [80, 90, 100], 8),
        "D": ("10", [0, 0, 0], [30, 33, 36], 3),
        "E": ("10", [0, 0, 0], [40, 44, 48], 4),
        "F": ("99", [0, 0, 0], [1000, 1000, 1000], 1),
    }
    for fid, (sector, mem, va, emp) in spec.items():
        my = 0
        for y, m, v in zip((2019, 2020, 2021), mem, va, strict=True):
            my += m
            rows.append(
                {
                    "firm_id": fid,
                    "year": y,
                    "sector": sector,
                    "member": m,
                    "member_years": my,
                    "ever_member": fid in "ABC",
                    "va": float(v),
                    "emp": float(emp),
                }
            )
    return pd.DataFrame(rows)


def test_members_vs_sector_series_classifies_by_status_change():
    s = P.members_vs_sector_series(_tiny_panel(), "va_per_fte", stat="mean")
    got = {(r.group, r.year): (r.value, r.n_firms) for r in s.itertuples(index=False)}
    want = {
        # 2019 (first year): A and C have member_years 1 and no previous row -> new
        ("new", 2019): ((10 + 10) / 2, 2),
        # 2020: A stays (11), C leaves (90/8), B joins (12); sector D, E = 11, 11
        ("staying", 2020): (11.0, 1),
        ("leaving", 2020): (90 / 8, 1),
        ("new", 2020): (12.0, 1),
        ("sector", 2020): (11.0, 2),
        # 2021: A and B stay; C no longer counts (left earlier); F is never in a member sector
        ("staying", 2021): ((12 + 14) / 2, 2),
    }
    for key, (value, n_firms) in want.items():
        assert_close(got[key][0], value, rel=EXACT_REL, msg=key)
        assert got[key][1] == n_firms, key
    assert ("leaving", 2021) not in got
    assert all(v[0] < 100 for v in got.values())  # F (va/fte 1000) never enters
    assert list(dict.fromkeys(s["group"])) == ["sector", "staying", "new", "leaving"]


def test_members_vs_sector_series_stats():
    df = _tiny_panel()
    agg = P.members_vs_sector_series(df, "va_per_fte", stat="aggregate")
    v = agg[(agg.group == "staying") & (agg.year == 2021)]["value"].item()
    assert_close(v, (120 + 70) / (10 + 5), rel=EXACT_REL)
    emp = P.members_vs_sector_series(df, "emp", stat="median")
    assert_close(
        emp[(emp.group == "sector") & (emp.year == 2020)]["value"].item(), 3.5, rel=EXACT_REL
    )
    masked = P.members_vs_sector_series(df, "va", min_firms=2)
    assert np.isnan(masked[(masked.group == "leaving")]["value"]).all()


def test_members_vs_sector_index(panel):
    lv = P.members_vs_sector_series(panel, "emp", stat="mean")
    ix = P.members_vs_sector_series(panel, "emp", stat="mean", index_year=2016)
    for grp in ("sector", "staying"):
        a = lv[lv.group == grp].set_index("year")["value"]
        b = ix[ix.group == grp].set_index("year")["value"]
        assert_close(b, 100 * a / a[2016], rel=EXACT_REL, floor=EXACT_FLOOR)
    ax = P.plot_members_vs_sector(panel, "emp", stat="mean", index_year=2016)
    drawn, series = _line(ax, "sector").get_ydata(), ix.loc[ix.group == "sector", "value"]
    assert_close(drawn, series, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert "index 2016 = 100" in ax.get_ylabel() and "2016 = 100" in P.figure_caption(ax)
    with pytest.raises(DataError, match="index_year=1990 is not among"):
        P.members_vs_sector_series(panel, index_year=1990)


def test_plot_members_vs_sector_lines_equal_series(panel):
    for var in ("va_per_fte", "emp", "va"):
        series = P.members_vs_sector_series(panel, var)
        ax = P.plot_members_vs_sector(panel, var)
        for grp in series["group"].unique():
            s = series[series.group == grp]
            ln = _line(ax, grp)
            assert_close(
                ln.get_xdata(), s["year"].to_numpy(float), rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
            )
            assert_close(
                ln.get_ydata(), s["value"].to_numpy(float), rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
            )
        assert {t.get_text() for t in ax.get_legend().get_texts()} == {
            "Sector (non-members)",
            "Members: staying",
            "Members: new",
            "Members: leaving",
        }
        assert ax.get_xlabel() == "Year" and ax.get_ylabel() and ax.get_title(loc="left")
        assert "never-members" in P.figure_caption(ax)


def test_members_vs_sector_bad_input(panel):
    with pytest.raises(SpecError, match="var='tfp' is not valid"):
        P.members_vs_sector_series(panel, "tfp")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="member_years"):
        P.plot_members_vs_sector(panel.drop(columns="member_years"))


# -- 2. selection -------------------------------------------------------------------------------------


def test_selection_table_matches_hand_computation(panel):
    tab = P.selection_table(panel, variables={"ln_emp": "Size"})
    ty = panel["treat_year"].astype("Float64")
    mem = panel[(panel["year"] == ty - 1).fillna(False).astype(bool)]
    years = mem.groupby("year")["firm_id"].size()
    never = panel[~panel["ever_member"] & panel["year"].isin(years.index)]
    w = never["year"].map(years) / never.groupby("year")["firm_id"].transform("size")
    mn = np.average(never["ln_emp"], weights=w)
    sn = np.sqrt(np.average((never["ln_emp"] - mn) ** 2, weights=w))
    sm = mem["ln_emp"].std(ddof=1)
    r = tab.iloc[0]
    assert_close(r["mean_members"], mem["ln_emp"].mean(), rel=EXACT_REL)
    assert_close(r["mean_nonmembers"], mn, rel=EXACT_REL)
    assert_close(
        r["smd"], (mem["ln_emp"].mean() - mn) / np.sqrt((sm**2 + sn**2) / 2), rel=EXACT_REL
    )
    assert r["n_members"] == len(mem)
    flat = P.selection_table(panel, variables={"ln_emp": "Size"}, weighting="none").iloc[0]
    assert_close(flat["mean_nonmembers"], never["ln_emp"].mean(), rel=EXACT_REL)
    assert flat["mean_members"] == r["mean_members"]
    # the fake DGP makes members larger and more productive
    full = P.selection_table(panel)
    assert list(full["variable"]) == ["ln_emp", "age", "ln_kl", "ln_lp", "lp_trend"]
    assert full.set_index("variable").loc["ln_emp", "smd"] > 0.3


def test_plot_selection_points_equal_table(panel):
    tab = P.selection_table(panel)
    ax = P.plot_selection(panel)
    pts = _line(ax, "smd")
    assert_close(
        pts.get_xdata(), tab["smd"].to_numpy(float), rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # top-to-bottom in table order: the largest y is the first variable
    order = np.argsort(-np.asarray(pts.get_ydata()))
    assert [labels[::-1][i].split("\n")[0] for i in range(len(labels))][::-1] == list(tab["label"])
    assert list(order) == list(range(len(tab)))
    assert "year before joining" in P.figure_caption(ax)


def test_plot_selection_needs_pre_join_rows(panel):
    late = panel[panel["rel_year"].isna() | (panel["rel_year"] >= 0)]
    with pytest.raises(DataError, match="year before joining"):
        P.plot_selection(late)


# -- 3. matching quality ---------------------------------------------------------------------------------


@pytest.fixture
def balance():
    covs = ["ln_emp", "age", "ln_kl"]
    return pd.DataFrame(
        {
            "covariate": covs * 3,
            "cohort": ["all"] * 3 + [2017] * 3 + [2018] * 3,
            "smd_before": [0.6, -0.3, 0.4, 0.7, -0.2, 0.5, 0.5, -0.35, 0.3],
            "smd_after": [0.02, -0.03, 0.05, 0.08, -0.12, 0.04, 0.0, 0.02, 0.06],
        }
    )


def test_plot_love_draws_pooled_and_cohort_smds(balance):
    ax = P.plot_love(balance)
    before, after = _line(ax, "before"), _line(ax, "after")
    assert_close(before.get_xdata(), [0.6, 0.3, 0.4], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(after.get_xdata(), [0.02, 0.03, 0.05], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(
        before.get_ydata(), [2, 1, 0], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )  # first covariate on top
    coh = _line(ax, "cohort_after")
    assert_close(
        sorted(coh.get_xdata()),
        sorted([0.08, 0.12, 0.04, 0.0, 0.02, 0.06]),
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Size (ln FTE)",
        "Age (years)",
        "Capital intensity (ln K/L)",
    ]  # human labels (#15)
    assert "0.050" in P.figure_caption(ax)  # largest |SMD| after matching
    raw = P.plot_love(balance, labels=False)
    assert [t.get_text() for t in raw.get_yticklabels()] == ["ln_emp", "age", "ln_kl"]


def test_plot_love_signed_without_pooled_row_uses_cohort_mean(balance):
    b = balance[balance["cohort"] != "all"].rename(
        columns={"smd_before": "smd_unmatched", "smd_after": "smd_matched", "covariate": "variable"}
    )
    ax = P.plot_love(b, absolute=False)
    assert_close(
        _line(ax, "after").get_xdata(),
        [0.04, -0.05, 0.05],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    assert "mean over cohorts" in P.figure_caption(ax)


def test_plot_love_bad_input():
    with pytest.raises(SpecError, match="SMD-before"):
        P.plot_love(pd.DataFrame({"covariate": ["a"], "smd_after": [0.1]}))


def test_plot_overlap_bars_equal_histograms():
    rng = np.random.default_rng(5)
    t = rng.integers(0, 2, 400)
    p = np.clip(rng.beta(2, 5, 400) + 0.2 * t, 0, 1)
    ax = P.plot_overlap(p, t, bins=20, support=(0.05, 0.9), scale="score")
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["Treated", "Controls"]
    edges = np.linspace(0, 1, 21)
    ht, _ = np.histogram(p[t == 1], bins=edges, density=True)
    hc, _ = np.histogram(p[t == 0], bins=edges, density=True)
    assert_close([r.get_height() for r in bars[0]], ht, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close([r.get_height() for r in bars[1]], -hc, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert all(lbl.get_text().lstrip("-") == lbl.get_text() for lbl in ax.get_yticklabels())
    cap = P.figure_caption(ax)
    assert f"n = {int((t == 1).sum())}" in cap and "common support [0.050, 0.900]" in cap
    frame_ax = P.plot_overlap(pd.DataFrame({"pscore": p, "treated": t}), bins=20, scale="score")
    bars2 = [c for c in frame_ax.containers if isinstance(c, BarContainer)]
    assert_close([r.get_height() for r in bars2[0]], ht, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    with pytest.raises(SpecError, match="differ in length"):
        P.plot_overlap(p, t[:-1])


# -- 4. trajectories --------------------------------------------------------------------------------------


def test_trajectories_series_and_plot(panel):
    stack = panel[panel["rel_year"].notna()].assign(treated=1)
    ctrl = panel[~panel["ever_member"]].assign(rel_year=lambda d: d["year"] - 2014, treated=0)
    stack = pd.concat([stack, ctrl], ignore_index=True)
    stack = stack[(stack["rel_year"] >= -3) & (stack["rel_year"] <= 3)]
    s = P.trajectories_series(stack)
    g = stack[stack.treated == 1].groupby("rel_year")["ln_lp"]
    m = s[s.group == "members"]
    assert_close(m["mean"], g.mean().to_numpy(float), rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(
        m["std_error"],
        (g.std() / np.sqrt(g.size())).to_numpy(float),
        rel=EXACT_REL,
        floor=EXACT_FLOOR,
    )
    ax = P.plot_trajectories(stack)
    for grp in ("members", "controls"):
        ln = _line(ax, grp)
        want = s.loc[s.group == grp, "mean"].to_numpy(float)
        assert_close(ln.get_ydata(), want, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert len(ax.collections) == 2  # the two bands
    # the precomputed series draws the same thing
    ax2 = P.plot_trajectories(s)
    assert_close(
        _line(ax2, "members").get_ydata(),
        _line(ax, "members").get_ydata(),
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    # weights: doubling every weight changes nothing
    w = P.trajectories_series(stack.assign(w=2.0), weight="w")
    assert_close(w["mean"], s["mean"], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(w["std_error"], s["std_error"], rel=EXACT_REL, floor=EXACT_FLOOR)


# -- 5. event study ----------------------------------------------------------------------------------------


def test_plot_event_study_points_whiskers_bands(es_results):
    ax = P.plot_event_study(es_results, dodge=0.1, percent=False)
    cons = _errorbars(ax)
    assert len(cons) == 3
    offsets = [-0.1, 0.0, 0.1]
    for c, (name, res), off in zip(cons, es_results.items(), offsets, strict=True):
        prof = res.profile()
        xy, pos, lo, hi = _eb_data(c)
        assert_close(xy[:, 0], prof["x"] + off, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
        assert_close(xy[:, 1], prof["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
        assert_close(lo, prof["conf_low"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
        assert_close(hi, prof["conf_high"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
        assert c.get_label().startswith(name)
    bands = [
        col
        for col in ax.collections
        if isinstance(col, LineCollection) and str(col.get_gid()).startswith("band:")
    ]
    assert [b.get_gid() for b in bands] == ["band:CS"]  # only CS carries a uniform band
    prof = es_results["CS"].profile()
    segs = bands[0].get_segments()
    assert_close(
        [s[0][1] for s in segs], prof["band_low"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )
    assert_close(
        [s[1][1] for s in segs], prof["band_high"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )
    assert np.all(prof["band_high"] > prof["conf_high"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "CS (pre-trend p = 0.430)" and legend[1:] == ["Sun-Abraham", "Imputation"]
    ref = _line(ax, "reference")
    assert list(ref.get_xdata()) == [-1.0] and list(ref.get_ydata()) == [0.0]
    vlines = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [-0.5, -0.5]]
    assert len(vlines) == 1
    cap = P.figure_caption(ax)
    assert "pre-trend test p = 0.430" in cap and "uniform" in cap and "ATT by event time" in cap


def test_plot_event_study_single_result_and_frame(es_results):
    ax = P.plot_event_study(es_results, pretrend={"Sun-Abraham": 0.0004}, percent=False)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1] == "Sun-Abraham (pre-trend p < 0.001)"
    ax = P.plot_event_study(es_results["CS"], uniform=False, percent=False)
    (c,) = _errorbars(ax)
    assert c.get_label().startswith("Callaway-Sant'Anna")
    xy, *_ = _eb_data(c)
    assert_close(
        xy[:, 0], es_results["CS"].profile()["x"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )  # no offset for one result
    assert not [col for col in ax.collections if str(col.get_gid()).startswith("band:")]
    frame = pd.DataFrame(
        {"x": [-2, 0, 1], "estimate": [0.0, 0.1, 0.2], "std_error": [0.05, 0.05, 0.05]}
    )
    ax2 = P.plot_event_study({"frame": frame}, percent=False)
    xy, _, lo, _ = _eb_data(_errorbars(ax2)[0])
    assert_close(lo, frame["estimate"] - 1.959963984540054 * 0.05, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_plot_event_study_into_given_axes(es_results):
    fig, axes = plt.subplots(1, 2)
    out = P.plot_event_study(es_results, ax=axes[1], percent=False)
    assert out is axes[1] and len(_errorbars(axes[1])) == 3 and not axes[0].containers
    assert P.figure_caption(fig) == P.figure_caption(axes[1])
    with pytest.raises(SpecError, match="ax must be"):
        P.plot_event_study(es_results, ax="left", percent=False)  # type: ignore[arg-type]


# -- 6. duration premium ---------------------------------------------------------------------------------


@pytest.fixture
def duration():
    return profile_result(
        [1, 2, 3, 4, "5+"],
        [0.01, 0.02, 0.028, 0.035, 0.04],
        [0.006] * 5,
        prefix="member_years::",
        method="duration",
        extra={"slope": (0.0075, 0.002)},
        x_label="Years of membership",
    )


def test_plot_duration_premium_points_truth_and_slope(duration):
    # "5" is the value at exactly 5 years, not the open bin "5+": only "5+" may be drawn there
    truth = {
        "1": {"att": 0.01, "att_lp": 0.02},
        "2": {"att": 0.02},
        "3": {"att": 0.03},
        "5": {"att": 0.9},
        "5+": {"att": 0.05},
    }
    ax = P.plot_duration_premium(duration, truth=truth, percent=False)
    (c,) = _errorbars(ax)
    prof = duration.profile()
    xy, _, lo, hi = _eb_data(c)
    assert_close(xy[:, 0], [1, 2, 3, 4, 5], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(xy[:, 1], prof["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(lo, prof["conf_low"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(hi, prof["conf_high"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4", "5+"]
    tr = _line(ax, "truth")
    assert_close(tr.get_xdata(), [1, 2, 3, 5], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(tr.get_ydata(), [0.01, 0.02, 0.03, 0.05], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    cap = P.figure_caption(ax)
    assert "+0.0075 log points per year (SE 0.0020, p < 0.001)" in cap
    assert "ATT by membership duration" in cap and "true effect" in cap
    assert ax.get_xlabel() == "Years of membership"


def test_open_bin_truth_is_the_n_weighted_mean_of_its_years(duration):
    truth = {
        "1": {"att": 0.01, "n": 10},
        "4": {"att": 0.04, "n": 10},
        "5": {"att": 0.05, "n": 30},
        "6": {"att": 0.07, "n": 10},
    }
    t = P.truth_frame(truth, open_bins=["5+", "9+"])
    assert_close(t["5+"], (0.05 * 30 + 0.07 * 10) / 40, rel=EXACT_REL)
    assert "9+" not in t.index  # nothing at or above 9
    ax = P.plot_duration_premium(duration, truth=truth, percent=False)
    tr = _line(ax, "truth")
    assert_close(tr.get_xdata(), [1, 4, 5], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(tr.get_ydata(), [0.01, 0.04, t["5+"]], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    ax = P.plot_truth_vs_estimate(duration, truth, percent=False)
    assert_close(
        _line(ax, "truth").get_ydata(),
        [0.01, 0.04, t["5+"]],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )


def test_plot_duration_premium_bars(duration):
    ax = P.plot_duration_premium(duration, kind="bars", percent=False)
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert_close(
        [r.get_height() for r in bars],
        duration.profile()["estimate"],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    (c,) = _errorbars(ax)
    _, _, lo, _ = _eb_data(c)
    assert_close(lo, duration.profile()["conf_low"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    with pytest.raises(SpecError, match="kind='pie'"):
        P.plot_duration_premium(duration, kind="pie", percent=False)


# -- 7. forest -------------------------------------------------------------------------------------------


def test_plot_forest_groups_rows_and_headers():
    byc = estimate_result(
        ["cluster:Catalisti", "cluster:Flux50", "cluster:SIM"], [0.02, 0.035, -0.01], [0.01] * 3
    )
    byg = estimate_result(["group:2017", "group:2018", "simple"], [0.03, 0.02, 0.025], [0.012] * 3)
    ax = P.plot_forest(
        {"By cluster": byc, "By cohort": byg}, terms=None, overall=0.025, percent=False
    )
    (c,) = _errorbars(ax)
    xy, pos, lo, hi = _eb_data(c, vertical=False)
    expect = pd.concat([byc.tidy(), byg.tidy()])
    assert_close(xy[:, 0], expect["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(lo, expect["conf_low"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(hi, expect["conf_high"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert np.all(np.diff(xy[:, 1]) < 0)  # top to bottom in order
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "By cluster",
        "Catalisti",
        "Flux50",
        "SIM",
        "By cohort",
        "2017",
        "2018",
        "simple",
    ]
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["By cluster", "By cohort"]
    ax = P.plot_forest(
        byc, truth={"Catalisti": {"att": 0.03, "n": 5}, "SIM": {"att": 0.0}}, percent=False
    )
    tr = _line(ax, "truth")
    assert_close(tr.get_xdata(), [0.03, 0.0], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    (c,) = _errorbars(ax)
    xy, *_ = _eb_data(c, vertical=False)
    assert_close(
        tr.get_ydata(), xy[[0, 2], 1], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )  # on the Catalisti and SIM rows
    assert "true effect" in P.figure_caption(ax)
    only = P.plot_forest(byg, terms="group:", percent=False)
    assert [t.get_text() for t in only.get_yticklabels()] == ["2017", "2018"]
    with pytest.raises(SpecError, match="no rows left"):
        P.plot_forest(byg, terms="cluster:", percent=False)


# -- 8. comparison --------------------------------------------------------------------------------------


def test_plot_estimator_comparison_series_per_outcome():
    ests = ["TWFE", "CS", "SA", "Imputation", "Matched DiD"]
    frame = pd.DataFrame(
        {
            "estimator": ests * 2,
            "outcome": ["ln_lp"] * 5 + ["TFP (ACF)"] * 5,
            "estimate": np.linspace(0.0, 0.045, 10),
            "std_error": np.full(10, 0.01),
        }
    )
    ax = P.plot_estimator_comparison(
        frame, truth={"ln_lp": 0.03, "TFP (ACF)": 0.025}, percent=False
    )
    cons = _errorbars(ax)
    assert [c.get_label() for c in cons] == ["ln_lp", "TFP (ACF)"]
    rows = P.comparison_frame(frame)
    for c, out in zip(cons, ["ln_lp", "TFP (ACF)"], strict=True):
        xy, _, lo, hi = _eb_data(c, vertical=False)
        r = rows[rows.outcome == out]
        assert_close(xy[:, 0], r["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
        assert_close(hi, r["conf_high"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert [t.get_text() for t in ax.get_yticklabels()] == ests
    assert {ln.get_gid() for ln in ax.get_lines() if str(ln.get_gid()).startswith("truth")} == {
        "truth:ln_lp",
        "truth:TFP (ACF)",
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Headlined(EstimateResult):
    """A result that names its headline term, as every estimator's result does (#13)."""

    headline: str = "simple"

    @property
    def overall_term(self) -> str | None:
        return self.headline


def test_comparison_frame_from_results():
    base = estimate_result(["group:2017", "simple"], [0.02, 0.03], [0.01, 0.01], method="cs")
    cs = _Headlined(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    tw = estimate_result(["member"], [0.01], [0.005], method="twfe")
    rows = P.comparison_frame({"ln_lp": {"CS": cs, "TWFE": tw}})
    assert list(rows["estimator"]) == ["CS", "TWFE"]
    assert_close(rows["estimate"], [0.03, 0.01], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    ax = P.plot_estimator_comparison({"CS": cs, "TWFE": tw}, truth=0.03, percent=False)
    assert _line(ax, "truth").get_xdata()[0] == 0.03
    two = estimate_result(["a", "b"], [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(SpecError, match="cannot tell which"):
        P.comparison_frame({"x": two})  # no overall_term and two terms: refused, never guessed


# -- 9. truth vs estimate ----------------------------------------------------------------------------------


def test_plot_truth_vs_estimate_coverage(es_results):
    cs = es_results["CS"]
    truth = {str(int(x)): 0.01 * max(x + 1, 0) for x in cs.x}
    truth["4"] = 0.2  # far outside its CI
    ax = P.plot_truth_vs_estimate(cs, truth, kind="scatter", percent=False)
    cons = {c.get_label(): c for c in _errorbars(ax)}
    assert set(cons) == {"CI covers truth", "CI misses truth"}
    xy, *_ = _eb_data(cons["CI misses truth"])
    assert_close(xy, [[0.2, 0.05]], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)  # (truth, estimate)
    cover_xy, *_ = _eb_data(cons["CI covers truth"])
    assert len(cover_xy) == 7
    assert "7 of 8 cover the truth" in P.figure_caption(ax)
    assert _line(ax, "diagonal")
    # a profile is drawn along its axis by default, the truth as a line of crosses
    ax = P.plot_truth_vs_estimate(cs, truth, percent=False)
    cons = {c.get_label(): c for c in _errorbars(ax)}
    xy, *_ = _eb_data(cons["CI misses truth"])
    assert_close(
        xy, [[4.0, 0.05]], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )  # (event time, estimate)
    tr = _line(ax, "truth")
    prof = cs.profile()
    assert_close(tr.get_xdata(), prof["x"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(
        tr.get_ydata(),
        [truth[f"{int(x)}"] for x in prof["x"]],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    assert "7 of 8 cover the truth" in P.figure_caption(ax)
    with pytest.raises(SpecError, match="kind='bars'"):
        P.plot_truth_vs_estimate(cs, truth, kind="bars", percent=False)
    with pytest.raises(SpecError, match="no estimate could be matched"):
        P.plot_truth_vs_estimate(cs, {"nope": 1.0}, percent=False)


# -- shared behaviour ------------------------------------------------------------------------------------


def test_style_is_applied_but_never_leaks(es_results):
    before = dict(mpl.rcParams)
    ax = P.plot_event_study(es_results, percent=False)
    assert ax.title.get_fontweight() == "bold" and ax.title.get_fontsize() == 10
    after = dict(mpl.rcParams)
    changed = {k for k in before if before[k] != after[k] and k != "backend"}
    assert not changed


def test_figure_caption_errors():
    with pytest.raises(SpecError, match="Axes or a Figure"):
        P.figure_caption("ax")  # type: ignore[arg-type]
    fig, ax = plt.subplots()
    assert P.figure_caption(ax) == ""
    P.set_caption(ax, "hello")
    assert P.figure_caption(fig) == "hello"
