"""Uncertainty of the whole chain: production function -> ln TFP -> matching -> DiD / duration.

TFP is estimated and then used as an outcome; the DiD estimators' own standard errors treat it as data.
:func:`chain_bootstrap` resamples firms with replacement and re-runs every step on each resample (the
productivity bootstrap's firm-block draw, seeded per replication, parallel over worker processes), and
returns each estimate with its plug-in and its chain standard error (:class:`ChainResult`).
:func:`chain_from_spec` runs it with a study's settings (the report's hook).

This package sits above ``productivity/``, ``matching/`` and ``estimation/`` (it imports all three and
none of them imports it); ``report/`` and ``cli/`` call it.
"""

from __future__ import annotations

from clusterimpact.chain.api import CHAIN_METHODS, chain_bootstrap, chain_from_spec
from clusterimpact.chain.result import ChainResult

__all__ = ["CHAIN_METHODS", "ChainResult", "chain_bootstrap", "chain_from_spec"]
