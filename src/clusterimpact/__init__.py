"""clusterimpact: do firms that join an innovation cluster become more productive?

Firm panels from annual accounts, productivity (labour productivity and TFP), matching for staggered
entry, fixed-effects and heterogeneity-robust staggered difference-in-differences, the premium by years
of membership, and a reproducible report. See DESIGN.md for the data flow.

The front-door functions are imported lazily, so ``import clusterimpact`` is cheap and a CLI call only
loads what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

from clusterimpact.provenance import package_version

__version__ = package_version()

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "ClusterImpactError": "clusterimpact.errors",
    "DataError": "clusterimpact.errors",
    "PanelError": "clusterimpact.errors",
    "SpecError": "clusterimpact.errors",
    "DataWarning": "clusterimpact.errors",
    "EstimationError": "clusterimpact.errors",
    "EstimationWarning": "clusterimpact.errors",
    # data
    "read_accounts": "clusterimpact.io",
    "read_registry": "clusterimpact.io",
    "read_deflators": "clusterimpact.io",
    "read_table": "clusterimpact.io",
    "build_panel": "clusterimpact.panel",
    "FirmPanel": "clusterimpact.panel",
    "PanelSpec": "clusterimpact.panel",
    "simulate": "clusterimpact.synthetic",
    "SyntheticData": "clusterimpact.synthetic",
    # productivity
    "estimate_tfp": "clusterimpact.productivity",
    "ProductionResult": "clusterimpact.productivity",
    # matching
    "match": "clusterimpact.matching",
    "match_panel": "clusterimpact.matching",
    "MatchResult": "clusterimpact.matching",
    # estimation
    "feols": "clusterimpact.estimation.twfe",
    "static_premium": "clusterimpact.estimation.twfe",
    "event_study": "clusterimpact.estimation.event_study",
    "duration_effects": "clusterimpact.estimation.duration",
    "att_gt": "clusterimpact.estimation.staggered",
    "aggte": "clusterimpact.estimation.staggered",
    "sun_abraham": "clusterimpact.estimation.sunab",
    "imputation_did": "clusterimpact.estimation.imputation",
    "bacon_decomposition": "clusterimpact.estimation.bacon",
    "compare_estimators": "clusterimpact.estimation.compare",
    "chain_bootstrap": "clusterimpact.chain",
    "ChainResult": "clusterimpact.chain",
    "matched_did": "clusterimpact.estimation.matched",
    "honest_did": "clusterimpact.estimation.honest",
    "heterogeneity_effects": "clusterimpact.estimation.heterogeneity",
    "rosenbaum_bounds": "clusterimpact.matching.rosenbaum",
    "wild_bootstrap": "clusterimpact.estimation.twfe",
    "WildBootstrapResult": "clusterimpact.estimation.wildboot",
    # output
    "regression_table": "clusterimpact.tables",
    "StudySpec": "clusterimpact.spec",
}
# public name -> module that IS it: ``clusterimpact.report`` is the report package (its function is
# ``clusterimpact.report.report``); the same object whether or not the package was imported before
_MODULES: dict[str, str] = {"report": "clusterimpact.report"}

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        return getattr(module, name)
    raise AttributeError(f"module 'clusterimpact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
