"""Shared test fixtures and settings.

- Matplotlib runs on the Agg backend; every figure is closed after each test.
- Tests must not touch numpy's global random state (checked after every test, as statsmodels does).
- ``CLUSTERIMPACT_SLOW_SCALE`` (0 < s <= 1) sizes the ``slow``-marked checks; ``make test`` sets 0.2.
- ``CLUSTERIMPACT_SWEEP=1`` turns on the seed sweeps (``sweep`` marker), skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "reference"


def slow_scale() -> float:
    """Fraction of full size for slow checks (``CLUSTERIMPACT_SLOW_SCALE``, default 1.0)."""
    return float(os.environ.get("CLUSTERIMPACT_SLOW_SCALE", "1.0"))


@pytest.fixture
def reference_dir() -> Path:
    """Folder of reference data (``tests/reference``)."""
    return REFERENCE


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def _global_random_state_untouched():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (checking the legacy state is the point)
    yield
    after = np.random.get_state()[1]  # noqa: NPY002
    assert np.array_equal(before, after), "test touched numpy's global random state"


#: the longest groups start first, so no worker begins one of them near the end of the run (each group
#: runs on one worker, one after another: the order that keeps both workers busy to the end)
FIRST_GROUPS = ("report_default", "report", "dask", "docs")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    _groups_are_honoured(config, items)
    items[:] = sorted(items, key=_start_rank)
    if os.environ.get("CLUSTERIMPACT_SWEEP") == "1":
        return
    skip = pytest.mark.skip(reason="seed sweep: set CLUSTERIMPACT_SWEEP=1 to run")
    for item in items:
        if "sweep" in item.keywords:
            item.add_marker(skip)


def _start_rank(item) -> int:
    """Rank of a test's group in :data:`FIRST_GROUPS` (others after them; ``sorted`` keeps the order
    within each rank, so a module's tests stay together)."""
    mark = item.get_closest_marker("xdist_group")
    name = (mark.args[0] if mark.args else mark.kwargs.get("name")) if mark is not None else None
    return FIRST_GROUPS.index(name) if name in FIRST_GROUPS else len(FIRST_GROUPS)


def _groups_are_honoured(config, items) -> None:
    """Under ``--dist loadgroup`` (a pytest-xdist worker), stop unless xdist tagged the grouped tests.

    pytest-xdist puts the tests of one ``xdist_group`` on one worker by appending ``@group`` to their
    node ids. pytest 9 computes node ids another way and pytest-xdist 3.8's tagging then has no effect:
    every group is spread over both workers, and each worker builds the shared report and Dask cluster
    again (the suite ran twice as long, with no error). That pair is excluded in pyproject.toml; this
    check makes any other such pair loud.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    marked = [item for item in items if item.get_closest_marker("xdist_group") is not None]
    lost = [item.nodeid for item in marked if "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist ignored xdist_group on {len(lost)} test(s) (e.g. {lost[0]}): this pytest "
            "and pytest-xdist pair does not support --dist loadgroup; install the versions "
            "pyproject.toml's test extra names"
        )


# --- the Dask back end (#16) -----------------------------------------------------------------------------
# Tests of the Dask path share one LocalCluster (2 worker processes, 1 thread each) and one partitioned
# Parquet panel per pytest worker; mark them ``pytest.mark.xdist_group("dask")`` so they run on one.
# The panel has ``dask_rows()`` firm-years: 10^6 at full size, ``CLUSTERIMPACT_SLOW_SCALE`` of that in
# ``make test``.


def dask_rows() -> int:
    """Firm-years of the shared Dask test panel (10^6 scaled by ``CLUSTERIMPACT_SLOW_SCALE``)."""
    return int(1_000_000 * slow_scale())


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.Client`` on a 2-worker ``LocalCluster``, closed at the end of the session."""
    from clusterimpact.dask import session

    with session(n_workers=2, threads_per_worker=1) as client:
        yield client


@pytest.fixture(scope="session")
def dask_panel():
    """The in-memory analysis panel (``FirmPanel.data``) behind the shared Dask Parquet data set.

    The synthetic ``ecoom`` study, about :func:`dask_rows` firm-years, with ``ln_tfp`` (ln value added
    net of the true elasticities: a known-truth outcome without a production-function step).
    """
    from clusterimpact.panel import build_panel
    from clusterimpact.synthetic import simulate

    n_firms = max(2_000, int(dask_rows() / 9.83))
    sim = simulate("ecoom", seed=16, n_firms=n_firms)
    data = build_panel(sim.accounts, sim.registry, deflators=sim.deflators).data.copy()
    el = sim.truth["elasticities"]
    data["ln_tfp"] = (
        data["ln_va"] - el["ln_emp"] * data["ln_emp"] - el["ln_capital"] * data["ln_capital"]
    )
    return data


@pytest.fixture(scope="session")
def dask_parquet(dask_panel, tmp_path_factory) -> Path:
    """:func:`dask_panel` written as a Parquet folder of 8 files cut by year (firms spread over files),
    so reading it by firm needs the hash repartition."""
    out = tmp_path_factory.mktemp("dask_parquet")
    years = np.sort(dask_panel["year"].unique())
    for i, chunk in enumerate(np.array_split(years, 8)):
        part = dask_panel[dask_panel["year"].isin(chunk)]
        part.to_parquet(out / f"part-{i:02d}.parquet", index=False)
    return out


@pytest.fixture(scope="session")
def firm_partitions(dask_client, dask_parquet):
    """``firm_partitions(n)``: the shared panel read from Parquet into ``n`` partitions by firm, persisted
    on the cluster (cached per ``n``)."""
    from clusterimpact.dask import FirmPartitions

    cache: dict[int, FirmPartitions] = {}

    def get(n: int) -> FirmPartitions:
        if n not in cache:
            cache[n] = FirmPartitions.from_parquet(
                str(dask_parquet), "firm_id", "year", npartitions=n
            ).persist()
        return cache[n]

    return get
