"""One small report run per test process, shared by test_report.py and test_report_browser.py.

The study is the synthetic ``ecoom`` scenario simulated in memory at 2,000 firms with few bootstrap
draws, so the whole pipeline runs in seconds. The robustness checks are bounded the same way (the
default study's settings are in studies/default.toml): short sensitivity grids, two subgroup splits
with the fewest draws Romano-Wolf accepts (99), and a chain bootstrap of ``SMALL_CHAIN_REPS``
replications in one process, which checks the wiring; the chain's standard errors themselves are tested
in tests/chain/. It is run twice (into two folders) so the tests can
check that tables, figures, HTML and the manifest (outside its ``volatile`` block) are byte-identical.
Both test modules carry ``xdist_group("report")`` so that, under ``pytest -n 2 --dist loadgroup``,
they share one worker and therefore these runs.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from clusterimpact.spec import BootstrapSpec, DataSpec, RobustnessSpec, StudySpec

_CACHE: dict[str, Any] = {}
#: Chain-bootstrap replications of the suite's report runs (the default study: 200).
SMALL_CHAIN_REPS = 4


def small_spec() -> StudySpec:
    """The small synthetic study used by the report tests."""
    base = StudySpec.default()
    return replace(
        base,
        title="Small synthetic study (test)",
        data=DataSpec(source="simulate", scenario="ecoom", synthetic_seed=1, n_firms=2000),
        bootstrap=BootstrapSpec(did_draws=49, tfp_reps=0),
        robustness=RobustnessSpec(
            honest_mbar_grid=(0.0, 0.5, 1.0),
            honest_m_grid=(0.0, 0.01, 0.02),
            heterogeneity_by=("cluster", "size"),
            heterogeneity_draws=99,
            chain_reps=SMALL_CHAIN_REPS,
            chain_workers=1,
        ),
    )


def small_report_runs() -> tuple[Any, Any]:
    """Two ReportResults of :func:`small_spec` in two fresh folders (computed once per process)."""
    if "runs" not in _CACHE:
        from threadpoolctl import threadpool_limits

        from clusterimpact.report import report

        root = Path(tempfile.mkdtemp(prefix="clusterimpact-report-test-"))
        spec = small_spec()
        # one BLAS thread, as `make test` and `make golden` run: a multi-threaded BLAS sums in another
        # order, and the PDF figures store coordinates with more digits than that roundoff
        with threadpool_limits(limits=1):
            first = report(spec, out=root / "run1", progress=False)
            second = report(spec, out=root / "run2", progress=False)
        _CACHE["runs"] = (first, second)
    return _CACHE["runs"]
