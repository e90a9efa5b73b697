"""Smoke tests on the real estimators' results (small synthetic panel): every figure and table reads them,
and what is drawn equals the result's own profile / tidy rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from _asserts import assert_close
from clusterimpact import plotting as P
from clusterimpact import tables as T
from tolerances import EXACT_FLOOR, EXACT_REL, PLOT_DRAWN_REL

N_FIRMS = 1500


@pytest.fixture(scope="module")
def study():
    from clusterimpact.estimation.compare import compare_estimators
    from clusterimpact.estimation.duration import duration_effects
    from clusterimpact.matching import match_panel
    from clusterimpact.synthetic import simulate

    sd = simulate("ecoom", seed=2, n_firms=N_FIRMS)
    panel = sd.panel()
    df = panel.data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_estimators(df, "ln_lp", window=(-3, 4), bacon=False)
        dur = duration_effects(df, "ln_lp")
        m = match_panel(df, ["ln_emp", "ln_lp", "age"], outcome="ln_lp", window=(-3, 3), seed=1)
    return {"truth": sd.truth, "panel": panel, "df": df, "cmp": cmp, "dur": dur, "match": m}


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_descriptive_figures_on_a_firm_panel(study):
    ax = P.plot_members_vs_sector(study["panel"], "va_per_fte")
    series = P.members_vs_sector_series(study["panel"], "va_per_fte")
    assert {ln.get_gid() for ln in ax.get_lines()} >= set(series["group"])
    assert set(series["group"]) >= {"sector", "staying", "new"}
    ax = P.plot_selection(study["panel"])
    tab = P.selection_table(study["panel"])
    assert_close(
        [ln for ln in ax.get_lines() if ln.get_gid() == "smd"][0].get_xdata(),
        tab["smd"],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )


def test_event_study_and_truth_from_comparison(study):
    cmp, truth = study["cmp"], study["truth"]
    ax = P.plot_event_study(cmp, window=(-3, 4), percent=False)
    cons = _errorbars(ax)
    assert [c.get_label().split(" (")[0] for c in cons] == [
        "Callaway-Sant'Anna",
        "Sun-Abraham",
        "Imputation",
        "TWFE event study",
    ]
    prof = cmp.results["sa"].profile()
    prof = prof[(prof.x >= -3) & (prof.x <= 4)]
    ys = np.asarray(cons[1].lines[0].get_ydata())
    assert_close(ys, prof["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert "pre-trend test" in P.figure_caption(ax)

    dyn = cmp.results["cs_dynamic"]
    et = {f"dynamic:{k}": v["att_lp"] for k, v in truth["event_time"].items()}
    ax = P.plot_truth_vs_estimate(dyn, et, percent=False)
    assert "cover the truth" in P.figure_caption(ax)

    ax = P.plot_estimator_comparison(
        {"ln_lp": cmp}, truth={"ln_lp": truth["att_overall_lp"]}, percent=False
    )
    (c,) = _errorbars(ax)
    ov = cmp.overall()
    assert_close(
        np.asarray(c.lines[0].get_xdata()), ov["estimate"], rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
    )
    md = T.comparison_table(
        ov.drop(columns="estimator").rename(columns={"label": "estimator"}),
        fmt="markdown",
        truth=truth["att_overall_lp"],
    )
    assert md.count("\n| ") == len(ov)  # body rows (the header opens the string)


def test_duration_premium_with_binned_truth(study):
    dur, truth = study["dur"], study["truth"]
    ax = P.plot_duration_premium(
        dur, truth=truth["member_years_bins"], truth_key="att_lp", percent=False
    )
    (c,) = _errorbars(ax)
    prof = dur.profile()
    assert_close(
        np.asarray(c.lines[0].get_ydata()),
        prof["estimate"],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    tr = [ln for ln in ax.get_lines() if ln.get_gid() == "truth"][0]
    bins = truth["member_years_bins"]
    assert_close(
        tr.get_ydata(),
        [bins[t.split("::")[1]]["att_lp"] for t in prof["term"]],
        rel=PLOT_DRAWN_REL,
        floor=PLOT_DRAWN_REL,
    )
    # the per-year truth gives the same open-bin value as the binned truth
    ax2 = P.plot_duration_premium(
        dur, truth=truth["member_years"], truth_key="att_lp", percent=False
    )
    tr2 = [ln for ln in ax2.get_lines() if ln.get_gid() == "truth"][0]
    assert_close(tr2.get_ydata(), tr.get_ydata(), rel=EXACT_REL, floor=EXACT_FLOOR)
    slope = dur.params["slope"]
    assert f"{slope:+.4f} log points per year" in P.figure_caption(ax)
    bars = P.plot_duration_premium(dur, kind="bars", percent=False)
    assert [c for c in bars.containers if isinstance(c, BarContainer)]


def test_matching_figures_and_balance_table(study):
    m = study["match"]
    ax = P.plot_love(m)
    after = [ln for ln in ax.get_lines() if ln.get_gid() == "after"][0]
    pooled = m.balance_after[m.balance_after["stack"].isna()]
    if len(pooled):
        assert_close(
            after.get_xdata(), pooled["smd"].abs(), rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL
        )
    ax = P.plot_overlap(m)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    edges, ht, _ = P.overlap_histograms(m.propensity["score"], m.propensity["treated"])
    assert_close([r.get_height() for r in bars[0]], ht, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    ax = P.plot_trajectories(m)
    assert {ln.get_gid() for ln in ax.get_lines()} >= {"members", "controls"}
    assert "matching-weighted" in P.figure_caption(ax)
    tab = T.balance_table(m)
    assert tab.columns[:3] == ("Cohort", "Covariate", "Mean treated")
    n_cov = m.balance["covariate"].nunique()
    n_stack = m.balance["stack"].astype("object").where(m.balance["stack"].notna(), "all").nunique()
    assert len(tab.rows) == n_cov * n_stack


def test_regression_table_of_fixed_effects_results(study):
    cmp = study["cmp"]
    tw, es = cmp.results["twfe"], cmp.results["twfe_event_study"]
    out = T.regression_table({"Static": tw, "Event study": es}, fmt="markdown")
    assert "| Fixed effects | firm_id, year | firm_id, year |" in out
    assert "| Std. errors | Clustered (firm_id) | Clustered (firm_id) |" in out
    assert f"| Observations | {tw.nobs:,} | {es.nobs:,} |" in out
    tex = T.regression_table([tw, es], stars=True, fmt="latex")
    assert "R$^2$" in tex and "\\_did\\_treated" in tex
    html = T.regression_table([tw], fmt="html")
    assert html.startswith('<table class="clusterimpact-table">')
    rows = T.regression_table([tw]).rows
    assert rows[0] == ("Dependent variable", tw.depvar)
    assert [r[0] for r in rows[1 + 2 * len(tw.params) :]][:4] == [
        "Observations",
        "Fixed effects",
        "Std. errors",
        "Clusters",
    ]
