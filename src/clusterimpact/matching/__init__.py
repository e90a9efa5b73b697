"""Matching for staggered entry, with balance diagnostics.

* :func:`match`: cross-sectional matching (nearest neighbour on the propensity score or Mahalanobis
  distance, Abadie-Imbens nearest-neighbour estimator, coarsened exact and exact matching);
* :func:`match_panel`: cohort-wise matching of joining firms to not-(yet-)members on pre-joining levels
  and trends, returning a cohort-stacked matched panel for DiD;
* :class:`MatchResult`: pairs, weights, matched sample, balance tables, estimates;
* :class:`MatchingOptions`: the validated matching options both front doors (and the study spec) use.

Balance statistics live in :mod:`clusterimpact.balance`. Written from the papers (Rosenbaum & Rubin
1983; Abadie & Imbens 2006, 2011; Iacus, King & Porro 2012; Stuart 2010).
"""

from __future__ import annotations

from clusterimpact.matching.core import match
from clusterimpact.matching.options import MatchingOptions
from clusterimpact.matching.panel import match_panel
from clusterimpact.matching.propensity import PropensityFit, fit_propensity
from clusterimpact.matching.result import MatchResult

__all__ = [
    "MatchResult",
    "MatchingOptions",
    "PropensityFit",
    "fit_propensity",
    "match",
    "match_panel",
]
