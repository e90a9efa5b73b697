"""`make report` on the synthetic default, inside the test suite (STYLE.md, Tests 6: slow but bounded).

Runs the built-in default study (the committed ``data/synthetic/`` folder, 15,000 firms) exactly as
``make report`` does, with the multiplier bootstrap scaled by ``CLUSTERIMPACT_SLOW_SCALE`` (``make test``:
0.2 → 199 draws) and the robustness checks bounded (``bounded_robustness``: a 4-replication chain
bootstrap, the three subgroup splits of issue #14's minimum, Romano-Wolf draws scaled like the multiplier
bootstrap), so the suite stays bounded, and checks that every step runs and that the
heterogeneity-robust estimators recover the known truth within ``TRUTH_SE_MULTIPLE`` standard errors.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from _asserts import assert_close
from clusterimpact.spec import BootstrapSpec, RobustnessSpec, StudySpec
from conftest import REPO, slow_scale
from tolerances import SYNTH_TRUTH_ABS_SCALE, SYNTH_TRUTH_REL, TRUTH_SE_MULTIPLE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report_default")]  # one worker, one run

#: Chain-bootstrap replications of the suite's default run (`make report`: 200, studies/default.toml);
#: enough to check the wiring at full size, the chain's SEs are tested in tests/chain/.
DEFAULT_RUN_CHAIN_REPS = 4


def bounded_robustness(spec: StudySpec) -> RobustnessSpec:
    """The default study's [robustness] at a bounded cost for the suite (see the module docstring)."""
    return replace(
        spec.robustness,
        chain_reps=DEFAULT_RUN_CHAIN_REPS,
        heterogeneity_by=("cluster", "cohort", "size"),
        heterogeneity_draws=max(99, int(spec.robustness.heterogeneity_draws * slow_scale())),
    )


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    from clusterimpact.report import report

    assert (REPO / "data" / "synthetic" / "synthetic.truth.json").is_file(), (
        "data/synthetic/ is missing: run `make synth`"
    )
    out = tmp_path_factory.mktemp("default-report")
    spec = StudySpec.default()
    draws = max(49, int(spec.bootstrap.did_draws * slow_scale()))
    # the default spec reads data/synthetic/ relative to the working directory (the repository root
    # under `make report`); anchor it so the test does not depend on where pytest runs
    spec = replace(
        spec,
        data=replace(spec.data, synthetic_dir=REPO / "data" / "synthetic"),
        bootstrap=BootstrapSpec(did_draws=draws, tfp_reps=0),
        robustness=bounded_robustness(spec),
    )
    return report(spec, out=out, progress=False)


def test_default_report_runs_every_step_on_the_committed_data(default_run):
    not_ok = {s.name: (s.status, s.detail) for s in default_run.steps if not s.ran}
    assert not not_ok, not_ok
    m = json.loads((default_run.out / "manifest.json").read_text())
    assert set(m["inputs"]) == {"accounts", "registry", "deflators", "truth"}
    assert all(len(v["sha256"]) == 64 for v in m["inputs"].values())
    assert m["steps"][1]["firms"] == 15000
    # the Robustness sections at full size: every split of issue #14's minimum is estimated
    assert set(default_run.results["subgroups"]) == {"cluster", "cohort", "size"}
    assert {"honest_rm", "honest_sd", "subgroups_cohort"} <= set(default_run.figures)
    assert {"honest", "rosenbaum", "subgroups", "chain"} <= set(default_run.tables)
    assert default_run.results["chain"].reps == DEFAULT_RUN_CHAIN_REPS


# -- the truth table: every row against its own estimand, recomputed here ---------------------------
_OVERALL = {  # (estimator, term) of an overall row -> its estimand (written from each docstring)
    ("TWFE (1{t >= G})", "simple"): "twfe:treated",
    ("TWFE (member dummy)", "member"): "twfe:member",
    ("Callaway-Sant'Anna", "simple"): "cs:simple",
    ("Sun-Abraham", "simple"): "sa:simple",
    ("Imputation (BJS)", "simple"): "imputation:simple",
}
_PROFILE = {  # (quantity, estimator) -> estimand prefix of the row's term
    ("event time", "Imputation (BJS)"): "imputation",
    ("event time", "Callaway-Sant'Anna"): "cs",
    ("event time", "Sun-Abraham"): "sa",
    ("years of membership", "duration (imputation)"): "duration",
    ("cluster", "imputation"): "imputation",
    ("cohort", "Callaway-Sant'Anna"): "cs",
}


def _matched_truth(run, per_firm, outcome: str, j: int) -> float:
    """Matched DiD's target: matching-weighted mean of the used members' effects over e = 0..5."""
    long = run.results["matching"].matched_panel
    ok = long[long[outcome].notna()]
    pre = set(ok.loc[ok["rel_year"] == -1, "stack_unit"])
    post = set(ok.loc[ok["rel_year"].between(0, 5), "stack_unit"])
    units = long.drop_duplicates("stack_unit")
    both = units["stack_unit"].isin(pre & post)
    stacks = set(units.loc[both & (units["treated"] == 0), "stack"])
    used = units[both & (units["treated"] == 1) & units["stack"].isin(stacks)]
    v = np.array([per_firm[str(f)][j] for f in used["firm_id"]])
    w = used["weight"].to_numpy(dtype=float)
    return float(w @ v / w.sum())


_COLUMN = {
    "ln labour productivity (VA per FTE)": "ln_lp",
    "ln TFP (ACF)": "ln_tfp_acf",
    "ln TFP (Wooldridge)": "ln_tfp_wooldridge",
}


def _expected_truth(run, row, brute, per_firm) -> float:
    """The truth of the row's estimand; profiles are on the headline outcome, ln TFP (ACF)."""
    if row["quantity"] == "elasticity":
        return {"ln_emp": 0.65, "ln_capital": 0.30}[row["term"]]
    if not row["quantity"].startswith("overall"):
        return brute[f"{_PROFILE[(row['quantity'], row['estimator'])]}:{row['term']}"][0]
    col = _COLUMN[row["quantity"].split(", ", 1)[1]]
    j = 1 if col == "ln_lp" else 0  # effect on labour productivity, else on log TFP
    if row["estimator"] == "Matched DiD":
        return _matched_truth(run, per_firm, col, j)
    return brute[_OVERALL[(row["estimator"], row["term"])]][j]


def test_truth_table_compares_each_estimate_with_its_own_estimand(default_run):
    """Each row's truth equals the brute-force estimand of *its* estimator (recomputed here from the
    simulated firm-year effects of the committed data), and the heterogeneity-robust estimators land
    within TRUTH_SE_MULTIPLE of it, measured here (not read from the table's error column)."""
    from _truth_brute import brute_estimands
    from clusterimpact.synthetic import simulate

    assert StudySpec.default().outcomes.headline == "ln_tfp_acf"
    sim = simulate("ecoom", seed=1)  # the committed data (test_synthetic checks byte-identity)
    brute, per_firm = brute_estimands(sim.latent)
    t = default_run.results["truth_table"]
    expected = np.array([_expected_truth(default_run, r, brute, per_firm) for _, r in t.iterrows()])
    assert_close(t["truth"], expected, rel=SYNTH_TRUTH_REL, floor=SYNTH_TRUTH_ABS_SCALE)
    z = np.abs(t["estimate"].to_numpy() - expected) / t["std_error"].to_numpy()
    robust = t["estimator"].isin(
        ["Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)", "duration (imputation)"]
    ) & (t["quantity"].str.startswith("overall") | t["quantity"].isin(["years of membership"]))
    assert robust.sum() == 9 + 7, t[robust].to_string()
    assert (z[robust.to_numpy()] <= TRUTH_SE_MULTIPLE).all(), t.assign(z=z)[robust].to_string()
    # every estimator family and outcome has rows; TWFE's rows are labelled as its treated firm-years
    assert set(t["quantity"]) >= {
        "overall, ln labour productivity (VA per FTE)", "overall, ln TFP (ACF)",
        "overall, ln TFP (Wooldridge)", "event time", "years of membership", "cluster", "cohort",
        "elasticity",
    }  # fmt: skip
    assert set(t.loc[t["estimator"].str.startswith("TWFE"), "estimand"]) == {
        "twfe:treated",
        "twfe:member",
    }
    assert np.isfinite(t["estimate"]).all()
