"""Conveniences for economists in notebooks: ``result.plot()``, ``_repr_html_``, ``regression_table`` as a
DataFrame with xlsx / Word-HTML export, R did / csdid argument names, and the public wild bootstrap."""

from __future__ import annotations

import html
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "estimation"))
from fe_helpers import make_panel
from test_inference import _brute_wild

import clusterimpact as ci
from _asserts import assert_close, assert_differ
from clusterimpact import plotting
from clusterimpact.errors import SpecError
from clusterimpact.tables import regression_table
from tolerances import DISTINCT_REL, FE_EXACT_REL, WILD_BOOT_P_ABS


@pytest.fixture(scope="module")
def panel():
    return make_panel(n_firms=240, seed=3)


@pytest.fixture(scope="module")
def results(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twfe = ci.feols("ln_lp ~ member | firm_id + year", panel, "cluster", cluster="firm_id")
        es = ci.event_study(panel, outcome="ln_lp", cohort="treat_year")
        dur = ci.duration_effects(panel, outcome="ln_lp", cohort="treat_year", bins=[1, 2, "3+"])
        gt = ci.att_gt(panel, outcome="ln_lp", cohort="treat_year")
        dyn = ci.aggte(gt, "dynamic")
    return {"twfe": twfe, "es": es, "dur": dur, "gt": gt, "dyn": dyn}


# -- plot() ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "func"),
    [
        ("twfe", "plot_forest"),
        ("es", "plot_event_study"),
        ("dur", "plot_duration_premium"),
        ("gt", "plot_forest"),
        ("dyn", "plot_event_study"),
    ],
)
def test_plot_delegates_to_the_plotting_function(results, key, func):
    import matplotlib.pyplot as plt

    res = results[key]
    _, given = plt.subplots()
    ax = res.plot(ax=given, level=0.9)
    direct = getattr(plotting, func)(res, level=0.9)
    try:
        assert ax is given  # keyword arguments are passed on
        # the same figure as the plotting function draws: caption, data lines and collections
        assert plotting.figure_caption(ax) == plotting.figure_caption(direct)
        assert plotting.figure_caption(ax)
        assert len(ax.lines) == len(direct.lines) and len(ax.collections) == len(direct.collections)
        assert len(ax.lines) + len(ax.collections) > 0
    finally:
        plt.close("all")


def test_newer_results_plot_with_their_own_figures(panel, results):
    """Sensitivity sets, subgroup effects and estimator comparisons draw their dedicated figure."""
    import matplotlib.pyplot as plt

    from clusterimpact.estimation.heterogeneity import subgroup_effects
    from clusterimpact.estimation.honest import honest_did

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hon = honest_did(results["es"], grid=[0.0, 1.0], n_sims=200, breakdown=False)
        sub = subgroup_effects(panel, "ln_lp", "sector", cohort="treat_year")
        cmp = ci.compare_estimators(panel, "ln_lp", estimators=["twfe", "cs"])
    try:
        for res, func in (
            (hon, plotting.plot_sensitivity),
            (sub, plotting.plot_subgroup_effects),
            (cmp, plotting.plot_estimator_comparison),
        ):
            ax, direct = res.plot(), func(res)
            assert plotting.figure_caption(ax) == plotting.figure_caption(direct) != ""
            assert len(ax.lines) == len(direct.lines) and len(ax.containers) == len(
                direct.containers
            )
        assert cmp._repr_html_() == cmp.table(fmt="html")
    finally:
        plt.close("all")


def test_style_context_keeps_interactive_mode_a_backend_switched_on():
    """Jupyter's inline backend switches interactive mode on when the first figure loads it; the
    style context must not switch it off again, or only a notebook's first figure is shown."""
    import matplotlib as mpl

    before = mpl.is_interactive()
    try:
        mpl.interactive(False)
        with plotting.style_context():
            mpl.interactive(True)
        assert mpl.is_interactive()
        with plotting.style_context():
            pass
        assert mpl.is_interactive()
        mpl.interactive(False)
        with plotting.style_context():
            pass
        assert not mpl.is_interactive()
    finally:
        mpl.interactive(before)


def test_match_result_plots_the_love_plot():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["d"] = (rng.random(n) < 1 / (1 + np.exp(-df["x1"]))).astype(int)
    m = ci.match(df, treatment="d", covariates=["x1", "x2"], seed=1, replace=True)
    ax = m.plot()
    try:
        assert plotting.figure_caption(ax) == plotting.figure_caption(plotting.plot_love(m))
        gids = {a.get_gid() for a in [*ax.collections, *ax.lines]}
        assert {"before", "after"} <= gids, gids
    finally:
        plt.close("all")


# -- _repr_html_ ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["twfe", "es", "dur", "dyn"])
def test_repr_html_has_header_and_one_row_per_term(results, key):
    res = results[key]
    out = res._repr_html_()
    assert html.escape(res._summary_header()[0]) in out
    tidy = res.tidy()
    assert out.count("<tr>") == len(tidy) + 1  # header row + one per term
    for t, est in zip(tidy["term"], tidy["estimate"], strict=True):
        assert f">{html.escape(t)}</td>" in out
        assert f">{est:,.4f}</td>".replace("-0.0000", "0.0000") in out


def test_tables_and_wild_results_render_in_jupyter(results):
    tab = regression_table({"A": results["twfe"]})
    assert tab._repr_html_() == tab.to_html() and repr(tab) == tab.to_markdown()
    wb = ci.wild_bootstrap("y ~ x1 + x2", _wild_data(), "x1", cluster="g", n_boot=99, seed=1)
    assert wb._repr_html_() == "<pre>" + html.escape(wb.summary()) + "</pre>"
    assert f"{wb.p_value:.4f}" in wb.summary() and str(wb) == wb.summary()


# -- regression_table -------------------------------------------------------------------------------------
def test_regression_table_frame_has_dependent_variable_row(results, panel):
    twfe = results["twfe"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = ci.feols("x ~ member | firm_id + year", panel, "cluster", cluster="firm_id")
    tab = regression_table({"LP": twfe, "TFP": other, "Dynamic": results["dyn"]}, ["member"])
    frame = tab.frame
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["LP", "TFP", "Dynamic"]
    assert frame.index[0] == "Dependent variable"
    assert list(frame.iloc[0]) == ["ln_lp", "x", "ln_lp"]
    assert tab.rows[0][1:] == tuple(frame.iloc[0])
    # the coefficient and its SE, as displayed, computed from the result itself
    assert frame.loc["member", "LP"] == f"{twfe.params['member']:.3f}"
    assert frame.iloc[2]["TFP"] == f"({other.std_errors['member']:.3f})"
    assert frame.loc["member", "Dynamic"] == ""  # the aggregation has no 'member' term
    assert frame.loc["Observations", "LP"] == f"{twfe.nobs:,}"
    assert regression_table({"LP": twfe}, fmt="frame").equals(regression_table({"LP": twfe}).frame)
    relabelled = regression_table({"LP": twfe}, depvars={"ln_lp": "ln VA per FTE"}, fmt="frame")
    assert relabelled.iloc[0, 0] == "ln VA per FTE"
    assert "Dependent variable" in tab.to_markdown() and tab.sections[0] == 1


def test_regression_table_exports_xlsx_and_word_html(results, tmp_path):
    tab = regression_table(
        {"(1)": results["twfe"], "(2)": results["dur"]}, caption="Premium", stars=True
    )
    xlsx = tab.save(tmp_path / "t.xlsx")
    back = pd.read_excel(xlsx, header=None, dtype=str, keep_default_na=False)
    assert back.iloc[0, 0] == "Premium"
    assert tuple(back.iloc[1]) == tab.columns
    body = back.iloc[2 : 2 + len(tab.rows)]
    assert [tuple(r) for r in body.itertuples(index=False)] == list(tab.rows)
    assert list(back.iloc[2 + len(tab.rows) :, 0]) == list(tab.notes)
    page = tab.save(tmp_path / "t.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "class=" not in page and "<script" not in page
    assert page.count("<tr>") == len(tab.rows) + 1
    for cell in tab.rows[1]:
        assert html.escape(cell) in page
    assert tab.save(tmp_path / "t.md").read_text(encoding="utf-8") == tab.to_markdown()
    with pytest.raises(SpecError, match="docx"):
        tab.save(tmp_path / "t.docx")
    with pytest.raises(SpecError, match="xlsx"):
        tab.to_excel(tmp_path / "t.xls")


# -- R did / csdid names -------------------------------------------------------------------------------
def test_att_gt_accepts_r_did_names(panel, results):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ci.att_gt(panel, yname="ln_lp", gname="treat_year", idname="firm_id", tname="year")
        notyet = ci.att_gt(panel, "ln_lp", cohort="treat_year", control="notyet")
        r_notyet = ci.att_gt(
            panel, yname="ln_lp", gvar="treat_year", ivar="firm_id", control_group="notyettreated"
        )
    pd.testing.assert_series_equal(r.params, results["gt"].params)
    pd.testing.assert_series_equal(r.std_errors, results["gt"].std_errors)
    pd.testing.assert_series_equal(r_notyet.params, notyet.params)
    assert_differ(
        notyet.params, results["gt"].params, rel=DISTINCT_REL
    )  # the control group mattered


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yname": "ln_lp", "outcome": "ln_lp"}, "pass 'outcome' only"),
        ({"outcome": "ln_lp", "xformla": "~x"}, "covariates="),
        ({"outcome": "ln_lp", "clustervars": ["firm_id"]}, "cluster="),
    ],
)
def test_att_gt_ambiguous_r_names_say_the_clusterimpact_name(panel, kwargs, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        ci.att_gt(panel, cohort="treat_year", **kwargs)


# -- wild cluster bootstrap ------------------------------------------------------------------------------
def _wild_data():
    """test_inference's design as a DataFrame, sorted by cluster so that the cluster codes the
    package assigns equal the raw codes the brute-force reference uses."""
    rng = np.random.default_rng(11)
    n, G = 600, 40
    c1 = np.sort(rng.integers(0, G, n))
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = 1.0 + 0.5 * x1 + rng.normal(size=n) + 0.5 * rng.normal(size=G)[c1]
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": c1})


@pytest.mark.parametrize("restricted", [True, False])
def test_public_wild_bootstrap_equals_brute_force(restricted):
    df = _wild_data()
    X = np.column_stack([np.ones(len(df)), df["x1"], df["x2"]])
    res = ci.wild_bootstrap(
        "y ~ x1 + x2", df, "x1", cluster="g", n_boot=199, seed=5, restricted=restricted
    )
    assert isinstance(res, ci.WildBootstrapResult)
    p, se = _brute_wild(X, df["y"].to_numpy(), df["g"].to_numpy(), 1, 199, 5, restricted)
    assert_close(res.p_value, p, abs=WILD_BOOT_P_ABS)
    assert_close(res.std_error, se, rel=FE_EXACT_REL)
    assert res.to_dict()["p_value"] == res.p_value and "bootstrap p-value" in res.summary()


def test_fe_cli_wild_bootstrap_matches_the_api(tmp_path, capsys):
    import json

    from clusterimpact.cli import main

    df = _wild_data()
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "fe.json"
    common = ["fe", "--data", str(data), "--formula", "y ~ x2 + x1", "--vcov", "cluster"]
    common += ["--cluster", "g", "--unit", "g", "--time", "x1"]
    argv = [*common, "--wild-bootstrap", "199", "--wild-term", "x1", "--seed", "5"]
    assert main([*argv, "--json", str(out)]) == 0
    wb = json.loads(out.read_text())["wild_bootstrap"]
    api = ci.wild_bootstrap("y ~ x2 + x1", df, "x1", cluster="g", n_boot=199, seed=5)
    assert wb == api.to_dict()
    assert main(argv) == 0
    assert api.summary() in capsys.readouterr().out
    assert main([*common, "--wild-bootstrap", "199"]) == 2  # no seed
    assert "--seed" in capsys.readouterr().err
