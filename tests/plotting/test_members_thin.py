"""plot_members_vs_sector(thin=): points resting on few firms are marked, and only those."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _plotfakes import fake_panel

from _asserts import assert_close
from clusterimpact import plotting as P
from tolerances import STORED_REL


def test_thin_points_get_hollow_markers_and_the_caption_says_so():
    panel = fake_panel()
    series = P.members_vs_sector_series(panel, "va_per_fte")
    cut = int(np.median(series["n_firms"])) + 1  # some points above, some below
    ax = P.plot_members_vs_sector(panel, "va_per_fte", thin=cut)
    marked = 0
    for grp in series["group"].unique():
        s = series[series["group"] == grp]
        few = s[s["n_firms"] < cut]
        lines = [ln for ln in ax.get_lines() if ln.get_gid() == f"{grp}:thin"]
        if few.empty:
            assert not lines, f"{grp}: marked although every point has >= {cut} firms"
            continue
        assert len(lines) == 1
        np.testing.assert_array_equal(lines[0].get_xdata(), few["year"].to_numpy(dtype=float))
        assert_close(lines[0].get_ydata(), few["value"].to_numpy(dtype=float), rel=STORED_REL)
        assert lines[0].get_markerfacecolor() == "white"
        marked += len(few)
    assert 0 < marked < len(series)
    assert f"fewer than {cut} firms" in P.figure_caption(ax)
    plt.close("all")
    plain = P.plot_members_vs_sector(panel, "va_per_fte")
    assert not [ln for ln in plain.get_lines() if str(ln.get_gid()).endswith(":thin")]
    assert "Hollow markers" not in P.figure_caption(plain)
    plt.close("all")
