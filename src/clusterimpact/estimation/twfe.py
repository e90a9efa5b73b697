"""Fixed-effects regressions and the classic membership models (kept as a module users import).

The code lives in :mod:`clusterimpact.estimation.fe`; this module re-exports its public names.
"""

from __future__ import annotations

from typing import Any

from clusterimpact.estimation.fe import (
    ENGINES,
    MAX_BOOT_DUMMIES,
    Collinear,
    Engine,
    FixedEffectsResult,
    PostExit,
    binned_duration,
    feols,
    linear_duration,
    parse_bins,
    static_premium,
    wild_bootstrap,
)
from clusterimpact.estimation.fe import result as _result

__all__ = [
    "ENGINES",
    "MAX_BOOT_DUMMIES",
    "Collinear",
    "Engine",
    "FixedEffectsResult",
    "PostExit",
    "binned_duration",
    "feols",
    "linear_duration",
    "parse_bins",
    "static_premium",
    "wild_bootstrap",
]


def __getattr__(name: str) -> Any:
    """The former name ``EstimationResult`` still resolves (with a FutureWarning)."""
    if name == "EstimationResult":
        return _result.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
