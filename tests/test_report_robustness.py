"""The report's Robustness sections (issue #14): HonestDiD sets, Rosenbaum bounds, subgroups, chain.

The report's tables are read back from the files it wrote (``tables/<name>.md``) and compared with the
package's API called here, directly, on the same data (the panel, ln TFP from the report's production
function); the Rosenbaum pairs are rebuilt here from the matched panel without the report's helpers.
The ``[robustness]`` section of the spec is validated with errors naming the key and the valid choices.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from _report_run import SMALL_CHAIN_REPS, small_report_runs, small_spec
from clusterimpact.errors import SpecError
from clusterimpact.spec import RobustnessSpec, StudySpec
from conftest import REPO
from tolerances import REPORT_TABLE_4DP_ABS

pytestmark = pytest.mark.xdist_group("report")

_NEW_SECTIONS = ("sensitivity", "subgroups", "chain")


@pytest.fixture(scope="module")
def run():
    return small_report_runs()[0]


@pytest.fixture(scope="module")
def frame(run):
    """The report's analysis frame: the panel with ln TFP (ACF) from the report's production function."""
    return run.results["tfp:acf"].join(run.panel.data, name="ln_tfp_acf", resid_name="_r")


def read_table(out: Path, name: str) -> pd.DataFrame:
    """A Markdown table the report wrote, numbers parsed ("" -> NaN, thousands separators removed)."""
    lines = (out / "tables" / f"{name}.md").read_text().strip().splitlines()
    cols = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    df = pd.DataFrame(rows, columns=cols)
    for c in df.columns:
        num = pd.to_numeric(df[c].str.replace(",", ""), errors="coerce")
        if num.notna().sum() == (df[c] != "").sum():
            df[c] = num
    return df


def close(printed: pd.Series | np.ndarray, expected: pd.Series | np.ndarray) -> None:
    """Printed with 4 decimals: equal to half a unit in the last digit."""
    assert_close(
        np.asarray(printed, dtype=float),
        np.asarray(expected, dtype=float),
        abs=REPORT_TABLE_4DP_ABS,
    )


# -- sections, figures, manifest ---------------------------------------------------------------------
def test_robustness_sections_have_their_figures_and_tables(run):
    html = (run.out / "report.html").read_text()
    secs = dict(re.findall(r'<section id="([a-z_]+)">(.*?)</section>', html, flags=re.S))
    want_figs = {
        "sensitivity": {"honest_rm", "honest_sd"},
        "subgroups": {"subgroups_cluster", "subgroups_size"},
        "chain": set(),
    }
    want_tabs = {
        "sensitivity": {"honest", "honest_breakdown", "rosenbaum"},
        "subgroups": {"subgroups", "subgroup_tests"},
        "chain": {"chain"},
    }
    for key in _NEW_SECTIONS:
        body = secs[key]
        figs = set(re.findall(r'<figure id="fig-([a-z_]+)">', body))
        tabs = set(re.findall(r'<div class="table" id="tab-([a-z_]+)">', body))
        assert figs == want_figs[key], (key, figs)
        assert tabs == want_tabs[key], (key, tabs)
        for b64 in re.findall(r'<img src="data:image/png;base64,([^"]+)"', body):
            png = base64.b64decode(b64)
            assert png.startswith(b"\x89PNG") and len(png) > 5_000
    m = json.loads((run.out / "manifest.json").read_text())
    for f in ("honest_rm", "honest_sd", "subgroups_cluster", "subgroups_size"):
        for fmt in ("png", "pdf"):
            rel = f"figures/{f}.{fmt}"
            assert rel in m["outputs"] and (run.out / rel).stat().st_size > 5_000, rel
    for t in ("honest", "honest_breakdown", "rosenbaum", "subgroups", "subgroup_tests", "chain"):
        for fmt in ("md", "tex", "html"):
            assert f"tables/{t}.{fmt}" in m["outputs"]
    assert m["spec"]["robustness"]["chain_reps"] == SMALL_CHAIN_REPS


def test_figure_captions_say_what_they_show(run):
    html = (run.out / "report.html").read_text()
    for name in ("honest_rm", "honest_sd", "subgroups_cluster"):
        fig = re.search(rf'<figure id="fig-{name}">.*?<figcaption>(.*?)</figcaption>', html, re.S)
        assert fig is not None
        text = re.sub(r"<[^>]+>", "", fig.group(1))
        assert len(text) > 100, text
    assert "Mbar" in html and "breakdown" in html and "Romano-Wolf" in html


# -- numbers against the API called directly ---------------------------------------------------------
def test_honest_tables_equal_honest_did_on_the_sun_abraham_event_study(run, frame):
    from clusterimpact.estimation.honest import honest_did
    from clusterimpact.estimation.sunab import sun_abraham

    spec, r = run.manifest["spec"], small_spec().robustness
    es = sun_abraham(
        frame, outcome="ln_tfp_acf", cohort="treat_year", unit="firm_id", time="year",
        window=tuple(spec["estimation"]["event_window"]), cluster="firm_id",
    )  # fmt: skip
    sets = read_table(run.out, "honest")
    brk = read_table(run.out, "honest_breakdown")
    for kind, name in (("rm", "relative magnitudes"), ("sd", "smoothness")):
        grid = list(r.honest_mbar_grid if kind == "rm" else r.honest_m_grid)
        h = honest_did(es, restriction=kind, grid=grid, target="average", seed=small_spec().seed)
        rows = sets[sets["restriction"] == name]
        close(rows["value"], h.sets["bound"])
        close(rows["conf_low"], h.sets["conf_low"])
        close(rows["conf_high"], h.sets["conf_high"])
        b = brk[brk["restriction"] == name].iloc[0]
        close([b["original low"], b["original high"]], h.original)
        assert h.breakdown is not None
        close([b["breakdown"]], [h.breakdown])


def _pair_differences_here(match, outcome: str, hi: int) -> tuple[np.ndarray, int]:
    """Treated-minus-control (mean outcome over e = 0..hi minus the outcome in g-1) of the pairs
    that share no firm with a pair of an earlier (or the same) cohort; and how many were left out."""
    long = match.matched_panel
    y = pd.to_numeric(long[outcome], errors="coerce")
    pre = long[long["rel_year"] == -1].assign(y=y).groupby(["stack", "firm_id"])["y"].first()
    post_rows = long["rel_year"].between(0, hi)
    post = long[post_rows].assign(y=y[post_rows]).groupby(["stack", "firm_id"])["y"].mean()
    change = (post - pre).to_dict()
    used: set = set()
    out, shared = [], 0
    for g in sorted(match.pairs["stack"].unique()):
        for r in match.pairs[match.pairs["stack"] == g].itertuples():
            if r.focal in used or r.match in used:
                shared += 1
                continue
            used |= {r.focal, r.match}
            out.append(change.get((g, r.focal), np.nan) - change.get((g, r.match), np.nan))
    d = np.array(out)
    return d[np.isfinite(d)], shared


def test_rosenbaum_table_equals_rosenbaum_bounds_on_disjoint_pairs(run):
    """The small study matches with replacement: the bounds use the same matching redone without
    replacement (no control twice in a cohort), pairs sharing a firm across cohorts left out."""
    from clusterimpact.matching.rosenbaum import rosenbaum_bounds

    assert small_spec().matching.replace
    match = run.results["rosenbaum_matching"]
    assert not match.pairs.duplicated(["stack", "match"]).any()
    hi = run.manifest["spec"]["estimation"]["event_window"][1]
    d, shared = _pair_differences_here(match, "ln_tfp_acf", hi)
    res = rosenbaum_bounds(d, gammas=list(small_spec().robustness.rosenbaum_gammas))
    tab = read_table(run.out, "rosenbaum")
    for col in ("gamma", "p_lower", "p_upper", "hl_lower", "hl_upper"):
        close(tab[col], res.bounds[col])
    page = (run.out / "report.html").read_text()
    crit = "inf" if np.isinf(res.critical_gamma) else f"{res.critical_gamma:.3f}"
    assert f"critical Gamma {crit}" in page
    assert f"{res.n_pairs:,} pairs" in page
    assert f"{shared} pairs sharing a firm" in page


def test_subgroup_tables_equal_heterogeneity_effects(run, frame):
    from clusterimpact.estimation.heterogeneity import heterogeneity_effects

    r = small_spec().robustness
    res = heterogeneity_effects(
        frame, "ln_tfp_acf", by=list(r.heterogeneity_by), control="notyet",
        allow_unbalanced=True, n_boot=r.heterogeneity_draws, seed=small_spec().seed + 3,
    )  # fmt: skip
    assert set(res) == set(r.heterogeneity_by)
    tab = read_table(run.out, "subgroups")
    tests = read_table(run.out, "subgroup_tests")
    for by, sub in res.items():
        t = sub.tidy()
        rows = tab[tab["split"] == by]
        assert rows["term"].tolist() == t["term"].tolist()
        assert rows["n_firms"].tolist() == t["n_firms"].astype(int).tolist()
        for col in ("estimate", "std_error", "p_value", "p_holm", "p_romano_wolf"):
            close(rows[col], t[col])
        row = tests[tests["split"] == by].iloc[0]
        close([row["chi2"], row["df"], row["p_value"]], [sub.equal_effects[k] for k in ("stat", "df", "p_value")])  # fmt: skip
        close([row["pooled ATT"]], [sub.pooled.params.iloc[0]])
        ee = sub.equal_effects  # the F verdict (issue #14): df2 = smallest subgroup's members - 1
        assert row["df2"] == int(sub.n_firms.min()) - 1
        close([row["p_value (F)"]], [ee["p_value_f"]])


@pytest.mark.filterwarnings("ignore::clusterimpact.errors.EstimationWarning")
def test_chain_table_equals_chain_from_spec(run):
    """The same chain run directly (seeded per replication): estimate, plug-in SE, chain SE, ratio."""
    from clusterimpact.chain import chain_from_spec

    spec = small_spec()
    res = chain_from_spec(run.panel, spec, n_boot=SMALL_CHAIN_REPS, n_jobs=1)
    t = res.tidy().set_index("term")
    tab = read_table(run.out, "chain").set_index("term")
    assert not any(s.startswith("cs:dynamic:") for s in tab.index)
    assert {"cs:simple", "duration:average", "matched_did:ATT", "tfp:ln_emp"} <= set(tab.index)
    t = t.loc[tab.index]
    close(tab["estimate"], t["estimate"])
    close(tab["chain SE"], t["std_error"])
    close(tab["plug-in SE"], t["plugin_std_error"])
    close(tab["ratio"], t["se_ratio"])
    close(tab["fixed-TFP SE"], t["fixed_tfp_std_error"])  # blank (NaN) for the elasticities
    close(tab["ratio fixed"], t["se_ratio_fixed"])
    assert (tab["replications"] == SMALL_CHAIN_REPS).all()
    assert f"({SMALL_CHAIN_REPS} replications)" in (run.out / "report.html").read_text()


# -- the spec --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("checks", ["honest", "placebo"], r"checks entry='placebo'.*'honest', 'rosenbaum', 'heterogeneity', 'chain'"),
        ("honest_event_study", "imputation", r"honest_event_study='imputation'.*'sa', 'cs', 'twfe'"),
        ("honest_restrictions", ["rm", "linear"], r"honest_restrictions entry='linear'.*'rm', 'sd'"),
        ("honest_restrictions", [], r"honest_restrictions=\[\].*'rm', 'sd'"),
        ("honest_target", "last", r"honest_target='last'.*'average' or an event time"),
        ("honest_target", -1, r"honest_target=-1.*'average' or an event time"),
        ("honest_mbar_grid", [0.0, -1.0], r"honest_mbar_grid=.*non-negative"),
        ("honest_m_grid", ["a"], r"honest_m_grid=.*list of numbers"),
        ("rosenbaum_gammas", [0.5, 1.0], r"rosenbaum_gammas=.*>= 1"),
        ("heterogeneity_by", ["colour"], r"heterogeneity_by entry='colour'.*'cluster', 'cohort', 'size', 'age', 'sector', 'region'"),
        ("heterogeneity_draws", 50, r"heterogeneity_draws=50.*>= 99"),
        ("chain_reps", -1, r"chain_reps=-1.*>= 0"),
        ("chain_workers", 0, r"chain_workers=0.*>= 1"),
        ("chain_reps", 2.5, r"chain_reps=2.5 must be an integer"),
        ("chain_replications", 5, r"unknown key.*'chain_replications'.*\[robustness\].*chain_reps"),
    ],
)  # fmt: skip
def test_bad_robustness_values_name_the_key_and_the_choices(key, value, message):
    with pytest.raises(SpecError, match=r"\[robustness\]|unknown key") as info:
        StudySpec.from_dict({"robustness": {key: value}})
    assert re.search(message, str(info.value)), str(info.value)


def test_robustness_section_round_trips_and_the_default_study_sets_it():
    spec = StudySpec.from_dict(
        {"robustness": {"checks": ["honest"], "honest_target": 0, "rosenbaum_gammas": [1, 2]}}
    )
    r = spec.robustness
    assert r.checks == ("honest",) and r.honest_target == 0 and r.rosenbaum_gammas == (1.0, 2.0)
    assert StudySpec.from_record(spec.to_dict()) == spec
    default = StudySpec.from_toml(REPO / "studies" / "default.toml").robustness
    assert default == RobustnessSpec()  # the file spells out the built-in default
    assert default.chain_reps == 200 and default.checks == (
        "honest", "rosenbaum", "heterogeneity", "chain",
    )  # fmt: skip


def test_checks_can_be_switched_off(tmp_path):
    """An empty ``checks`` leaves the robustness steps 'not requested' and their sections empty."""
    from clusterimpact.report import report
    from clusterimpact.spec import EstimationSpec, OutcomeSpec

    spec = replace(
        small_spec(),
        outcomes=OutcomeSpec(tfp_methods=(), headline="ln_lp"),
        estimation=EstimationSpec(estimators=("twfe",)),
        robustness=RobustnessSpec(checks=()),
    )
    res = report(spec, out=tmp_path / "r", progress=False)
    steps = {s.name: s for s in res.steps}
    for name in ("honest", "rosenbaum", "subgroups", "chain"):
        assert steps[name].status == "ok" and steps[name].detail == "not requested"
    assert not {"honest", "rosenbaum", "subgroups", "chain"} & set(res.tables)
