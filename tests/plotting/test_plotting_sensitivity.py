"""The sensitivity figure draws the original interval and every robust set from the result."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.estimation.honest import honest_did_arrays
from clusterimpact.plotting import figure_caption, save_figure
from clusterimpact.plotting.sensitivity import plot_sensitivity, sensitivity_frame
from tolerances import PLOT_DRAWN_REL

BETA = np.array([0.004, -0.002, 0.001, 0.05, 0.07])
SIGMA = np.diag([6e-5, 5e-5, 4e-5, 8e-5, 1e-4]) + 1e-5


@pytest.fixture(scope="module", params=["rm", "sd"])
def result(request):
    grid = [0.0, 0.5, 1.0, 2.0] if request.param == "rm" else [0.0, 0.01, 0.02, 0.04]
    return honest_did_arrays(BETA, SIGMA, 3, restriction=request.param, grid=grid, n_sims=2000)


def _whiskers(c: ErrorbarContainer) -> np.ndarray:
    segs = c.lines[2][0].get_segments()
    return np.array([[s[0][0], s[0][1], s[1][1]] for s in segs])


def test_draws_the_tidy_intervals(result, tmp_path):
    ax = plot_sensitivity(result)
    bars = {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}
    method = "C-LF" if result.restriction == "rm" else "FLCI"
    assert set(bars) == {"Original", method}
    tidy = result.tidy()
    frame = sensitivity_frame(result)
    drawn = np.vstack([_whiskers(bars["Original"]), _whiskers(bars[method])])
    assert_close(drawn[:, 0], frame.x, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    lo, hi = np.minimum(drawn[:, 1], drawn[:, 2]), np.maximum(drawn[:, 1], drawn[:, 2])
    assert_close(lo, tidy.conf_low, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    assert_close(hi, tidy.conf_high, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "Original" and labels[1:] == [f"{v:g}" for v in result.sets.bound]
    assert ax.get_xlabel() == ("Mbar" if result.restriction == "rm" else "M")
    assert "robust confidence sets" in figure_caption(ax)
    bd = [ln for ln in ax.get_lines() if ln.get_label().startswith("breakdown")]
    if result.breakdown is not None and 0 < result.breakdown <= result.sets.bound.max():
        assert len(bd) == 1
        assert_close(bd[0].get_xdata()[0], result.breakdown, rel=PLOT_DRAWN_REL)
    paths = save_figure(ax.figure, tmp_path / f"sensitivity_{result.restriction}")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_rejects_other_results():
    with pytest.raises(SpecError, match="HonestResult"):
        plot_sensitivity(object())
