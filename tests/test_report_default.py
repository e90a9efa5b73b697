"""`make report` on the synthetic default, inside the test suite (STYLE.md, Tests 6: slow but bounded).

Runs the built-in default study (the committed ``data/synthetic/`` folder, 15,000 firms) exactly as
``make report`` does, with the multiplier bootstrap scaled by ``CLUSTERIMPACT_SLOW_SCALE`` (``make test``:
0.2 → 199 draws) so the suite stays bounded, and checks that every step runs and that the
heterogeneity-robust estimators recover the known truth within ``TRUTH_SE_MULTIPLE`` standard errors.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from clusterimpact.spec import BootstrapSpec, StudySpec
from conftest import REPO, slow_scale
from tolerances import TRUTH_SE_MULTIPLE

pytestmark = pytest.mark.slow


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
    )
    return report(spec, out=out, progress=False)


def test_default_report_runs_every_step_on_the_committed_data(default_run):
    not_ok = {s.name: (s.status, s.detail) for s in default_run.steps if s.status != "ok"}
    assert not not_ok, not_ok
    m = json.loads((default_run.out / "manifest.json").read_text())
    assert set(m["inputs"]) == {"accounts", "registry", "deflators", "truth"}
    assert all(len(v["sha256"]) == 64 for v in m["inputs"].values())
    assert m["steps"][1]["firms"] == 15000


def test_robust_estimators_recover_the_truth(default_run):
    t = default_run.results["truth_table"]
    robust = t[
        t["estimator"].isin(["Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)"])
        & t["quantity"].str.startswith("overall")
    ]
    assert len(robust) >= 6
    assert (robust["|error|/SE"] <= TRUTH_SE_MULTIPLE).all(), robust.to_string()
    dur = t[t["quantity"] == "years of membership"]
    assert len(dur) == 5
    assert (dur["|error|/SE"] <= TRUTH_SE_MULTIPLE).all(), dur.to_string()
    assert np.isfinite(t["estimate"]).all()
