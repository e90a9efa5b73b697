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


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLUSTERIMPACT_SWEEP") == "1":
        return
    skip = pytest.mark.skip(reason="seed sweep: set CLUSTERIMPACT_SWEEP=1 to run")
    for item in items:
        if "sweep" in item.keywords:
            item.add_marker(skip)
