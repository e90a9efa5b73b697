"""Figures that tell the story (#15): the overlap on the logit scale, the leaving members with the
number of firms behind each point, the love plot in words, the conditional DiD figure."""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.container import BarContainer

from _asserts import assert_close
from clusterimpact import descriptive as D
from clusterimpact import plotting as P
from clusterimpact.errors import DataError, SpecError
from tolerances import EXACT_FLOOR, EXACT_REL, PLOT_DRAWN_REL

FIG_DIR = os.environ.get("CLUSTERIMPACT_FIGURE_DIR")


def _save(ax, name, tmp_path) -> None:
    (png,) = P.save_figure(ax, os.path.join(FIG_DIR or tmp_path, name), formats=("png",), dpi=80)
    assert png.stat().st_size > 0
    plt.close("all")


def _close(actual, expected) -> None:
    assert_close(actual, expected, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)


# -- overlap on the logit scale -------------------------------------------------------------------


def _scores(seed: int = 4, n: int = 3000):
    """Few joiners among many firms: most scores pile up near 0, as in the report's data."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-4.0, 1.2, n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(z + 0.8)))).astype(int)
    return 1 / (1 + np.exp(-z)), t


def test_overlap_logit_bars_are_histograms_of_the_logit(tmp_path):
    p, t = _scores()
    ax = P.plot_overlap(p, t, bins=25, support=(0.002, 0.6), tail=0.0)
    logit = np.array([math.log(v / (1 - v)) for v in p])  # written out, not the package's
    edges = np.linspace(logit.min(), logit.max(), 26)
    ht, _ = np.histogram(logit[t == 1], bins=edges, density=True)
    hc, _ = np.histogram(logit[t == 0], bins=edges, density=True)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["Treated", "Controls"]
    _close([r.get_height() for r in bars[0]], ht)
    _close([r.get_height() for r in bars[1]], -hc)
    _close([r.get_x() for r in bars[0]], edges[:-1])
    # the mass is visible: on the score scale one bin holds most of it, on the logit scale it spreads
    share_score = np.histogram(p[t == 0], bins=np.linspace(0, 1, 26))[0].max() / (t == 0).sum()
    share_logit = np.histogram(logit[t == 0], bins=edges)[0].max() / (t == 0).sum()
    assert share_score > 0.75 and share_logit < 0.2, (share_score, share_logit)
    # ticks sit at the logits of round scores and are labelled as scores
    labels = [tl.get_text() for tl in ax.get_xticklabels()]
    assert "0.01" in labels and "0.5" in labels
    for tick, lab in zip(ax.get_xticks(), labels, strict=True):
        assert_close(tick, math.log(float(lab) / (1 - float(lab))), rel=EXACT_REL)
    support = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_gid() == "support"]
    _close(support, [math.log(0.002 / 0.998), math.log(0.6 / 0.4)])
    assert ax.get_xlabel() == "Propensity score (logit scale)"
    cap = P.figure_caption(ax)
    assert "logit ln(p / (1 − p))" in cap and f"n = {int((t == 1).sum()):,}" in cap
    _save(ax, "story_overlap_logit", tmp_path)
    # the precomputed density draws the same bars
    dens = D.overlap_density(p, t, bins=25, tail=0.0)
    again = P.plot_overlap(dens)
    bars2 = [c for c in again.containers if isinstance(c, BarContainer)]
    _close([r.get_height() for r in bars2[0]], ht)
    edges2, ht2, _ = P.overlap_histograms(p, t, bins=25, tail=0.0)
    assert_close(ht2, ht, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_overlap_counts_scores_at_0_or_1_and_refuses_scores_outside():
    p, t = _scores(n=400)
    p = p.copy()
    p[:3] = [0.0, 1.0, np.nan]
    dens = D.overlap_density(p, t, bins=10, tail=0.0)
    assert dens.n_clamped == 2 and dens.n_missing == 1
    assert dens.n_treated + dens.n_control == 399
    ax = P.plot_overlap(p, t, bins=10, tail=0.0)
    cap = P.figure_caption(ax)
    assert "2 scores in the far tails" in cap and "1 rows without a score" in cap
    with pytest.raises(DataError, match=r"must lie in \[0, 1\]; 1 do not"):
        D.overlap_density(np.r_[p[3:], 1.2], np.r_[t[3:], 1])


# -- leaving members: the firms behind each point, thin points marked ------------------------------


def test_members_vs_sector_writes_the_firms_behind_each_point(tmp_path):
    from _plotfakes import fake_panel

    panel = fake_panel()
    series = P.members_vs_sector_series(panel, "va_per_fte")
    leaving = series[series["group"] == "leaving"]
    assert len(leaving) and (leaving["n_firms"] < 30).all()  # the fake's leavers are a thin series
    ax = P.plot_members_vs_sector(panel, "va_per_fte", thin=30, show_n=("leaving",))
    texts = [a for a in ax.texts if a.get_gid() == "leaving:n"]
    assert [a.get_text() for a in texts] == [str(int(n)) for n in leaving["n_firms"]]
    _close([a.xy[0] for a in texts], leaving["year"].to_numpy(dtype=float))
    _close([a.xy[1] for a in texts], leaving["value"].to_numpy(dtype=float))
    assert not [a for a in ax.texts if a.get_gid() in ("staying:n", "new:n", "sector:n")]
    (hollow,) = [ln for ln in ax.get_lines() if ln.get_gid() == "leaving:thin"]
    _close(hollow.get_xdata(), leaving["year"].to_numpy(dtype=float))  # every leaving point is thin
    cap = P.figure_caption(ax)
    assert (
        "Hollow markers: fewer than 30 firms" in cap and "firms behind each point (leaving)" in cap
    )
    assert "the first year after leaving" in cap
    _save(ax, "story_members_leaving", tmp_path)
    every = P.plot_members_vs_sector(panel, "va_per_fte", show_n=True)
    members = series[series["group"] != "sector"]
    assert len([a for a in every.texts if str(a.get_gid()).endswith(":n")]) == len(members)
    with pytest.raises(SpecError, match="unknown member group"):
        P.plot_members_vs_sector(panel, "va_per_fte", show_n=("sector",))
    plt.close("all")


# -- the love plot in words --------------------------------------------------------------------------


def test_love_plot_names_covariates_for_readers(tmp_path):
    import pandas as pd

    bal = pd.DataFrame(
        {
            "covariate": ["ln_emp_pre_mean", "ln_lp_growth", "age", "my_score"],
            "smd_before": [0.7, 0.1, 0.5, 0.3],
            "smd_after": [0.02, 0.06, 0.01, 0.04],
        }
    )
    ax = P.plot_love(bal, labels={"my_score": "Export score (0-1)"})
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Size (ln FTE), mean over g-4..g-1",
        "Productivity growth (Δ ln VA per FTE), g-4 to g-1",
        "Age (years)",
        "Export score (0-1)",
    ]
    _save(ax, "story_love", tmp_path)
    two = P.plot_love(bal, window=2)
    assert two.get_yticklabels()[0].get_text() == "Size (ln FTE), mean over g-3..g-1"
    assert two.get_yticklabels()[3].get_text() == "my_score"  # unknown names stay as they are
    plt.close("all")


def test_overlap_far_tail_does_not_squeeze_the_bulk(tmp_path):
    """Quasi-separation leaves some controls at logits of -50: they go into the first bin (and
    the caption counts them) instead of stretching the axis over empty space."""
    p, t = _scores(seed=7)
    logit = np.array([math.log(v / (1 - v)) for v in p])
    far = np.r_[p, 1e-22, 1e-20, 1e-18]  # logits about -50, -46, -41
    t_far = np.r_[t, 0, 0, 0]
    full = D.overlap_density(far, t_far, tail=0.0)
    dens = D.overlap_density(far, t_far)
    assert full.edges[0] < -40 and dens.edges[0] > logit.min() - 3  # trimmed near the bulk
    assert dens.edges[-1] <= logit.max() + 1e-12
    below = int((np.r_[logit, -50.7, -46.1, -41.4] < dens.edges[0]).sum())
    above = int((logit > dens.edges[-1]).sum())
    assert dens.n_clamped == below + above >= 3
    c0 = ((np.r_[logit, -50, -46, -41] <= dens.edges[1]) & (t_far == 0)).sum()
    width = dens.edges[1] - dens.edges[0]
    assert_close(dens.control[0], c0 / (t_far == 0).sum() / width, rel=EXACT_REL)
    ax = P.plot_overlap(far, t_far)
    assert f"{dens.n_clamped:,} scores in the far tails" in P.figure_caption(ax)
    ticks = ax.get_xticks()
    assert np.all(np.diff(ticks) >= (dens.edges[-1] - dens.edges[0]) / 12 - 1e-12)
    _save(ax, "story_overlap_tail", tmp_path)
