"""The report with ``[compute] engine = "dask"`` equals the in-memory report (#16).

The small test study (tests/_report_run.py) without the robustness section and with analytic CS
standard errors (see the fixture), run twice: in memory and
with ``engine = "dask"`` on a 2-worker LocalCluster started and closed by the report itself, the panel
built on Dask and cut into 4 partitions. Every estimate and standard error agrees to
``tolerances.DASK_REL`` (with its floor), and the report records which step ran where.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from _report_run import small_spec
from clusterimpact.report import report
from clusterimpact.spec import ComputeSpec, RobustnessSpec
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask_report")
    # analytic CS standard errors: the Dask bootstrap draws one multiplier per firm (draws="firm"),
    # the in-memory report a random stream, so bootstrap SEs differ by Monte Carlo error there (their
    # equality under draws="firm" is tests/dask/test_cs.py's)
    small = small_spec()
    spec = replace(
        small,
        robustness=RobustnessSpec(checks=()),
        bootstrap=replace(small.bootstrap, did_draws=0),
    )
    memory = report(spec, out=root / "memory", progress=False, strict=True)
    dask_spec = replace(spec, compute=ComputeSpec(engine="dask", n_workers=2, npartitions=4))
    on_dask = report(dask_spec, out=root / "dask", progress=False, strict=True)
    return memory, on_dask


def _numbers(result) -> dict[str, np.ndarray]:
    out = {}
    for name, res in result.results.items():
        tidy = getattr(res, "tidy", None)
        if callable(tidy):
            t = tidy()
            out[name] = t[["estimate", "std_error"]].to_numpy(dtype=float)
    return out


def test_dask_report_numbers_equal_memory(two_reports) -> None:
    memory, on_dask = two_reports
    a, b = _numbers(memory), _numbers(on_dask)
    assert a.keys() == b.keys() and len(a) > 5
    for name in a:
        exp, got = a[name], b[name]
        assert exp.shape == got.shape, name
        fin = np.isfinite(exp)
        assert (fin == np.isfinite(got)).all(), name
        floor = DASK_FLOOR * (np.abs(exp[fin]).max() if fin.any() else 0.0)
        np.testing.assert_allclose(got[fin], exp[fin], rtol=DASK_REL, atol=floor, err_msg=name)
    assert on_dask.panel.exclusion_counts() == memory.panel.exclusion_counts()


def test_dask_report_says_where_each_step_ran(two_reports) -> None:
    memory, on_dask = two_reports
    man = json.loads((Path(on_dask.out) / "manifest.json").read_text())
    eng = man["engines"]
    assert eng["engine"] == "dask" and eng["npartitions"] == 4
    assert eng["steps"]["panel"] == {"dask": ["build_panel_dask (4 partitions)"], "memory": []}
    assert set(eng["steps"]) == {s.name for s in on_dask.steps if s.ran}
    # every estimator with a Dask path ran there, every other one in memory, and nothing unlisted
    from clusterimpact.estimation.duration import duration_effects
    from clusterimpact.estimation.fe import static_premium
    from clusterimpact.estimation.imputation import imputation_did
    from clusterimpact.estimation.staggered import att_gt

    y = "ln_tfp_acf"
    for step, key, fn in (("twfe", f"twfe:{y}", static_premium),
                          ("event_study", f"imputation:{y}", imputation_did),
                          ("event_study", f"cs:{y}", att_gt),
                          ("duration", f"duration:{y}", duration_effects)):  # fmt: skip
        where = "dask" if "backend" in inspect.signature(fn).parameters else "memory"
        assert key in eng["steps"][step][where], (step, key)
    assert f"sa:{y}" in eng["steps"]["event_study"]["memory"]  # Sun-Abraham has no Dask path
    assert man["spec"]["compute"]["engine"] == "dask"
    assert "engines" in on_dask.tables
    assert "engines" not in json.loads((Path(memory.out) / "manifest.json").read_text())
    assert "engines" not in memory.tables
