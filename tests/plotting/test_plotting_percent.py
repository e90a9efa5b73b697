"""Effects on log outcomes are drawn in percent, 100·(exp(b) − 1), by default (#15): every drawn
number (points, whiskers, bands, truth, reference lines) is the converted estimate, the axis says
"(%)", the caption states the conversion once, and a label naming log points on a percent axis is
refused."""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plotfakes import estimate_result, profile_result
from matplotlib.collections import LineCollection
from matplotlib.container import ErrorbarContainer

from _asserts import assert_close
from clusterimpact import plotting as P
from clusterimpact.errors import SpecError
from tolerances import PLOT_DRAWN_REL

#: Where the rendered figures go for a look (kept when CLUSTERIMPACT_FIGURE_DIR is set).
FIG_DIR = os.environ.get("CLUSTERIMPACT_FIGURE_DIR")

CONVERSION = "100·(exp(b) − 1)"


def _pct(v) -> np.ndarray:
    """The conversion written out independently of the package: 100 (e^b - 1), element by element."""
    return np.array([100.0 * (math.exp(float(b)) - 1.0) for b in np.ravel(v)])


def _close(actual, expected) -> None:
    assert_close(actual, expected, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)


def _eb(ax) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _points_and_limits(c: ErrorbarContainer, vertical: bool = True):
    line, _caps, bars = c.lines
    xy = np.asarray(line.get_xydata()) if line is not None else np.empty((0, 2))
    segs = bars[0].get_segments()
    k = 1 if vertical else 0
    lo = np.array([min(s[0][k], s[1][k]) for s in segs])
    hi = np.array([max(s[0][k], s[1][k]) for s in segs])
    return xy, lo, hi


def _line(ax, gid):
    (ln,) = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    return ln


def _save(ax, name, tmp_path) -> None:
    folder = FIG_DIR or tmp_path
    (png,) = P.save_figure(ax, os.path.join(folder, f"percent_{name}"), formats=("png",), dpi=80)
    assert png.stat().st_size > 0
    plt.close("all")


def _unit_checks(label: str, caption: str) -> None:
    assert label.endswith("(%)") and "log point" not in label.lower()
    assert caption.count(CONVERSION) == 1


@pytest.fixture(scope="module")
def event_profile():
    return profile_result(
        [-3, -2, 0, 1, 2, 3],
        [0.004, -0.006, 0.02, 0.045, 0.06, 0.08],
        [0.01] * 6,
        crit=2.7,
        reference=-1,
    )


def test_event_study_in_percent(event_profile, tmp_path):
    ax = P.plot_event_study({"CS": event_profile})
    (c,) = _eb(ax)
    prof = event_profile.profile()
    xy, lo, hi = _points_and_limits(c)
    _close(xy[:, 1], _pct(prof["estimate"]))
    _close(lo, _pct(prof["conf_low"]))
    _close(hi, _pct(prof["conf_high"]))
    (band,) = [col for col in ax.collections if col.get_gid() == "band:CS"]
    assert isinstance(band, LineCollection)
    band_lo = [min(s[0][1], s[1][1]) for s in band.get_segments()]
    _close(band_lo, _pct(prof["band_low"]))
    _close(_line(ax, "reference").get_ydata(), [0.0])  # the normalised period stays at 0
    assert ax.get_ylabel() == "Effect on productivity (%)"  # in %: no "ln"
    _unit_checks(ax.get_ylabel(), P.figure_caption(ax))
    _save(ax, "event_study", tmp_path)
    logs = P.plot_event_study({"CS": event_profile}, percent=False)
    _close(_points_and_limits(_eb(logs)[0])[0][:, 1], prof["estimate"])
    assert logs.get_ylabel().endswith("(log points)") and CONVERSION not in P.figure_caption(logs)


def test_duration_premium_in_percent(tmp_path):
    dur = profile_result(
        [1, 2, 3, "4+"],
        [0.01, 0.025, 0.04, 0.05],
        [0.006] * 4,
        prefix="member_years::",
        method="duration",
        extra={"slope": (0.012, 0.003)},
        x_label="Years of membership",
    )
    truth = {"1": 0.01, "2": 0.02, "3": 0.03}
    for kind in ("points", "bars"):
        ax = P.plot_duration_premium(dur, truth=truth, kind=kind, outcome_label="ln TFP (ACF)")
        prof = dur.profile()
        (c,) = _eb(ax)
        xy, lo, hi = _points_and_limits(c)
        _close(lo, _pct(prof["conf_low"]))
        _close(hi, _pct(prof["conf_high"]))
        if kind == "points":
            _close(xy[:, 1], _pct(prof["estimate"]))
        else:
            (bars,) = [b for b in ax.containers if not isinstance(b, ErrorbarContainer)]
            _close([r.get_height() for r in bars], _pct(prof["estimate"]))
        _close(_line(ax, "truth").get_ydata(), _pct([0.01, 0.02, 0.03]))
        assert ax.get_ylabel() == "Premium in TFP (ACF) (%)"
        cap = P.figure_caption(ax)
        _unit_checks(ax.get_ylabel(), cap)
        assert "+0.0120 log points per year (SE 0.0030" in cap  # the slope keeps its unit
        _save(ax, f"duration_{kind}", tmp_path)


def test_forest_in_percent_and_refuses_a_log_point_label(tmp_path):
    byc = estimate_result(
        ["cluster:Catalisti", "cluster:Flux50", "cluster:SIM"], [0.02, 0.07, -0.01], [0.012] * 3
    )
    ax = P.plot_forest(
        byc, overall=0.03, truth={"Catalisti": 0.03, "SIM": 0.0}, outcome_label="ln TFP"
    )
    (c,) = _eb(ax)
    t = byc.tidy()
    xy, lo, hi = _points_and_limits(c, vertical=False)
    _close(xy[:, 0], _pct(t["estimate"]))
    _close(lo, _pct(t["conf_low"]))
    _close(hi, _pct(t["conf_high"]))
    _close(_line(ax, "truth").get_xdata(), _pct([0.03, 0.0]))
    (overall,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("Overall")]
    _close(overall.get_xdata(), _pct([0.03, 0.03]))
    assert overall.get_label() == f"Overall ({_pct([0.03])[0]:+.1f} %)"
    assert ax.get_xlabel() == "Effect on TFP (%)"
    cap = P.figure_caption(ax)
    _unit_checks(ax.get_xlabel(), cap)
    assert f"overall estimate {_pct([0.03])[0]:+.1f} %" in cap
    custom = P.plot_forest(byc, caption="By cluster.")
    assert P.figure_caption(custom).startswith("By cluster.") and CONVERSION in P.figure_caption(
        custom
    )
    _save(ax, "forest", tmp_path)
    with pytest.raises(SpecError, match=r"xlabel=.*log points.*percent=False"):
        P.plot_forest(byc, xlabel="Effect on ln TFP (log points)")
    logs = P.plot_forest(byc, xlabel="Effect on ln TFP (log points)", percent=False)
    assert logs.get_xlabel() == "Effect on ln TFP (log points)"


def test_estimator_comparison_in_percent(tmp_path):
    frame = pd.DataFrame(
        {
            "estimator": ["TWFE", "CS", "TWFE", "CS"],
            "outcome": ["ln_lp", "ln_lp", "TFP", "TFP"],
            "estimate": [0.01, 0.03, 0.02, 0.05],
            "std_error": [0.01, 0.01, 0.012, 0.012],
        }
    )
    ax = P.plot_estimator_comparison(frame, truth={"ln_lp": 0.03, "TFP": 0.04})
    rows = P.comparison_frame(frame)
    for c, o in zip(_eb(ax), ["ln_lp", "TFP"], strict=True):
        s = rows[rows["outcome"] == o]
        xy, lo, hi = _points_and_limits(c, vertical=False)
        _close(xy[:, 0], _pct(s["estimate"]))
        _close(lo, _pct(s["conf_low"]))
        _close(hi, _pct(s["conf_high"]))
    for o, v in (("ln_lp", 0.03), ("TFP", 0.04)):
        _close(_line(ax, f"truth:{o}").get_xdata(), _pct([v, v]))
    one = P.plot_estimator_comparison(frame[frame["outcome"] == "TFP"], truth=0.04)
    _close(_line(one, "truth").get_xdata(), _pct([0.04, 0.04]))
    assert ax.get_xlabel() == "Overall effect of membership (%)"
    _unit_checks(ax.get_xlabel(), P.figure_caption(ax))
    _save(ax, "comparison", tmp_path)


def test_truth_vs_estimate_in_percent_keeps_coverage(event_profile, tmp_path):
    truth = {"-3": 0.0, "-2": 0.0, "0": 0.02, "1": 0.04, "2": 0.2, "3": 0.08}
    for kind in ("profile", "scatter"):
        ax = P.plot_truth_vs_estimate(event_profile, truth, kind=kind)
        logs = P.plot_truth_vs_estimate(event_profile, truth, kind=kind, percent=False)
        cov = "5 of 6 cover the truth"
        assert cov in P.figure_caption(ax) and cov in P.figure_caption(logs)
        for c, c_log in zip(_eb(ax), _eb(logs), strict=True):
            xy, lo, hi = _points_and_limits(c)
            xy_log, lo_log, hi_log = _points_and_limits(c_log)
            _close(xy[:, 1], _pct(xy_log[:, 1]))
            _close(lo, _pct(lo_log))
            _close(hi, _pct(hi_log))
        if kind == "profile":
            prof = event_profile.profile()
            want = _pct([truth[f"{int(x)}"] for x in prof["x"]])
            _close(_line(ax, "truth").get_ydata(), want)
            _unit_checks(ax.get_ylabel(), P.figure_caption(ax))
        else:
            assert ax.get_xlabel() == "True effect (%)" and ax.get_ylabel() == "Estimate (%)"
        assert "log points" in P.figure_caption(ax)  # the RMSE states its unit
        _save(ax, f"truth_{kind}", tmp_path)
