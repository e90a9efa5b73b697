"""Figures for the cluster study, all in one shared style.

Every ``plot_*`` function takes a result (or a tidy frame / panel) and ``ax=None``, draws inside the
shared style (:func:`style_context`; global rcParams are never changed), and returns the
:class:`matplotlib.axes.Axes` it drew into. Each attaches a caption stating the estimand, sample and
method, which :func:`figure_caption` returns (the report prints it under the figure). Save with
:func:`save_figure`, which writes byte-reproducible PNG and PDF files.

The series behind the descriptive figures are computed by pure functions
(:func:`members_vs_sector_series`, :func:`selection_table`, :func:`trajectories_series`, ...) so they
can be tabulated and tested on their own.
"""

from clusterimpact.plotting._core import (
    PALETTE,
    STYLE_PATH,
    figure_caption,
    profile_frame,
    save_figure,
    set_caption,
    style_context,
)
from clusterimpact.plotting.comparison import comparison_frame, plot_estimator_comparison
from clusterimpact.plotting.conditional_did import conditional_did_frame, plot_conditional_did
from clusterimpact.plotting.descriptive import (
    members_vs_sector_series,
    plot_members_vs_sector,
    plot_selection,
    selection_table,
)
from clusterimpact.plotting.duration import plot_duration_premium
from clusterimpact.plotting.event_study import plot_event_study
from clusterimpact.plotting.forest import forest_frame, plot_forest
from clusterimpact.plotting.heterogeneity import plot_subgroup_effects
from clusterimpact.plotting.matching import (
    balance_long,
    overlap_histograms,
    plot_love,
    plot_overlap,
)
from clusterimpact.plotting.sensitivity import plot_sensitivity, sensitivity_frame
from clusterimpact.plotting.trajectories import plot_trajectories, trajectories_series
from clusterimpact.plotting.truth import plot_truth_vs_estimate, truth_frame

__all__ = [
    "PALETTE",
    "STYLE_PATH",
    "balance_long",
    "comparison_frame",
    "conditional_did_frame",
    "figure_caption",
    "forest_frame",
    "members_vs_sector_series",
    "overlap_histograms",
    "plot_conditional_did",
    "plot_duration_premium",
    "plot_estimator_comparison",
    "plot_event_study",
    "plot_forest",
    "plot_love",
    "plot_members_vs_sector",
    "plot_overlap",
    "plot_selection",
    "plot_subgroup_effects",
    "plot_sensitivity",
    "plot_trajectories",
    "plot_truth_vs_estimate",
    "profile_frame",
    "save_figure",
    "selection_table",
    "sensitivity_frame",
    "set_caption",
    "style_context",
    "trajectories_series",
    "truth_frame",
]
