"""Fixed-effects regressions and the classic membership models (kept as a module users import).

The code lives in :mod:`clusterimpact.estimation.fe`; this module re-exports its public names.
"""

from __future__ import annotations

from clusterimpact.estimation.fe import (
    ENGINES,
    MAX_BOOT_DUMMIES,
    Collinear,
    Engine,
    EstimationResult,
    PostExit,
    binned_duration,
    feols,
    linear_duration,
    parse_bins,
    static_premium,
    wild_bootstrap,
)

__all__ = [
    "ENGINES",
    "MAX_BOOT_DUMMIES",
    "Collinear",
    "Engine",
    "EstimationResult",
    "PostExit",
    "binned_duration",
    "feols",
    "linear_duration",
    "parse_bins",
    "static_premium",
    "wild_bootstrap",
]
