"""A forest row whose interval does not contain its estimate (a bootstrap percentile interval can do
that) is drawn whole, from its lower to its upper limit, not refused."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from clusterimpact.plotting import plot_forest


def test_interval_beside_its_estimate_is_drawn_whole() -> None:
    tidy = pd.DataFrame(
        {
            "term": ["a", "b"],
            "estimate": [0.10, 0.20],
            "std_error": [0.01, 0.01],
            "conf_low": [0.05, 0.25],  # b's interval lies wholly above its estimate
            "conf_high": [0.15, 0.40],
        }
    )
    ax = plot_forest(tidy, percent=False, outcome_label="y")
    segs = [
        seg
        for c in ax.collections
        if isinstance(c, LineCollection)
        for seg in c.get_segments()
        if len(seg) == 2 and seg[0][1] == seg[1][1]
    ]
    spans = {(round(float(s[0][0]), 12), round(float(s[1][0]), 12)) for s in segs}
    assert (0.25, 0.40) in spans  # b: the whole interval, lower to upper
    assert (0.05, 0.15) in spans  # a: errorbar's usual span
    xs = np.concatenate([line.get_xdata() for line in ax.lines if len(line.get_xdata()) == 2])
    assert np.isclose(xs, 0.20).any()  # b's marker stays at its estimate
    plt.close(ax.figure)
