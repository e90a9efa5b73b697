"""The statistics behind the descriptive and matching figures live in ``clusterimpact.descriptive``;
the plotting package draws them and computes none itself (#13)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

import clusterimpact
from _asserts import assert_close
from clusterimpact import descriptive as D
from clusterimpact import plotting as P
from tolerances import EXACT_FLOOR, EXACT_REL

PLOTTING = Path(clusterimpact.__file__).parent / "plotting"

#: Calls that compute a statistic (a method or function of this name). Reading an input's extent for
#: a caption (``min``/``max``) is drawing, not estimation, and is not listed.
_STAT_CALLS = {
    "mean",
    "median",
    "std",
    "var",
    "average",
    "histogram",
    "quantile",
    "percentile",
    "groupby",
    "ppf",
    "sf",
    "cdf",
    "nanmean",
    "value_counts",
}

#: (file, function) still computing a statistic inside plotting, with the owner and the reason.
_ALLOWED = {
    (
        "_core.py",
        "_fill_ci",
    ): "vocab (#13): CI from SE for frames without limits; goes with the guessing code",
}


def _stat_calls(folder: Path = PLOTTING) -> set[tuple[str, str]]:
    found = set()
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _STAT_CALLS
                ):
                    found.add((path.name, fn.name))
    return found


def test_plotting_computes_no_statistics():
    found = _stat_calls()
    extra = sorted(found - set(_ALLOWED))
    assert not extra, (
        f"statistics computed inside plotting (move them to the owning layer): {extra}"
    )
    stale = sorted(set(_ALLOWED) - found)
    assert not stale, (
        f"allow-list entries that no longer compute a statistic (remove them): {stale}"
    )


def test_the_scan_sees_a_statistic(tmp_path):
    """The guard is not vacuous: a plotting file that takes a mean is caught."""
    (tmp_path / "bad.py").write_text("def plot_x(df):\n    return df['y'].mean()\n")
    assert _stat_calls(tmp_path) == {("bad.py", "plot_x")}


def test_plotting_reexports_the_one_implementation():
    for name in (
        "members_vs_sector_series",
        "selection_table",
        "trajectories_series",
        "overlap_histograms",
    ):
        assert getattr(P, name) is getattr(D, name), name


def test_cohort_mean_smd_by_hand():
    long = pd.DataFrame(
        {
            "covariate": ["b", "b", "a", "a", "b", "a"],
            "cohort": ["2015", "2016", "2015", "2016", "2015", "2015"],
            "stage": ["before", "before", "before", "before", "after", "after"],
            "smd": [0.4, 0.2, -0.1, 0.3, 0.05, 0.02],
        }
    )
    got = D.cohort_mean_smd(long)
    assert list(zip(got["covariate"], got["stage"], strict=True)) == [
        ("b", "before"),
        ("a", "before"),
        ("b", "after"),
        ("a", "after"),
    ]
    assert_close(got["smd"], np.array([0.3, 0.1, 0.05, 0.02]), rel=EXACT_REL, floor=EXACT_FLOOR)


def test_truth_fit_by_hand():
    covers, rmse = D.truth_fit(
        np.array([0.1, 0.2, 0.5]),
        np.array([0.1, 0.0, 0.3]),
        np.array([0.0, 0.05, 0.3]),
        np.array([0.2, 0.3, 0.7]),
    )
    assert covers.tolist() == [True, False, True]  # 0.3 on the lower limit covers
    assert_close(rmse, ((0.0 + 0.04 + 0.04) / 3) ** 0.5, rel=EXACT_REL)
