"""Fixed-effects regressions with fixest formula syntax, and the classic membership models.

``feols("y ~ x1 + x2 | firm_id + year", data, vcov="cluster", cluster="firm_id")`` estimates a linear
model with absorbed fixed effects. Two engines give identical answers (tested to 1e-8):

* a **fast path** (``engine="fast"``) for formulas whose regressors are plain columns and whose fixed
  effects are columns or interactions ``a^b``, any number of them, nested or crossed: the largest fixed
  effect is swept out with group sums and the others are solved exactly
  (:mod:`clusterimpact.estimation.fe._demean`; tested against pyfixest on random specifications), then the
  covariance is built by :mod:`clusterimpact.estimation.inference`;
* **pyfixest** (``engine="pyfixest"``), given the columns :func:`build_design` computed; ``"auto"``
  uses it for instrumental variables only.

``engine="auto"`` (default) takes the fast path for every formula without instruments: transforms,
interactions and ``C()``/``i()`` dummies (``i(rel_year, ref=-1)``) are columns computed by
:mod:`clusterimpact.formula.design` before either engine runs. Either way the result is our
:class:`FixedEffectsResult`, so names and errors do not depend on the engine.

Conventions (those of reghdfe/fixest/pyfixest): regressors absorbed by the fixed effects or collinear with
earlier ones are dropped with a note (``collinear="drop"``, :mod:`clusterimpact.estimation.fe._collinear`);
singleton fixed-effect levels are dropped iteratively and reported in ``exclusions["singleton"]``; the small-sample factors are described in
:mod:`clusterimpact.estimation.inference` (fixed effects nested in the cluster variable are not counted in
``K``). Weights are analytic weights (weighted least squares).

Layout: :mod:`~clusterimpact.estimation.fe.model` (:func:`feols`, the engine choice),
:mod:`~clusterimpact.estimation.fe.result` (the result), :mod:`~clusterimpact.estimation.fe.vcov` (the
``vcov=`` specification, the small-sample parameter count, the fast path's covariance),
``_sample`` (the estimation sample), ``_fast`` (the exact fast path), ``_demean`` + ``_blocksolve``
(absorbing any number of fixed effects), ``_collinear`` (fixest's drop rule), ``_indicators`` (regression
on mutually exclusive dummies from group counts), ``_pyfixest`` (the only module importing pyfixest),
:mod:`~clusterimpact.estimation.fe.membership` (the membership models) and
:mod:`~clusterimpact.estimation.fe.wild` (the wild cluster bootstrap front door). The formula grammar
(:mod:`clusterimpact.formula.grammar`) and its design columns (:mod:`clusterimpact.formula.design`)
stay beside this package: matching and the study spec use them too.
"""

from __future__ import annotations

from typing import Any

from clusterimpact.estimation.fe import result as _result
from clusterimpact.estimation.fe.membership import (
    PostExit,
    binned_duration,
    linear_duration,
    parse_bins,
    static_premium,
)
from clusterimpact.estimation.fe.model import ENGINES, Collinear, Engine, feols
from clusterimpact.estimation.fe.result import FixedEffectsResult
from clusterimpact.estimation.fe.wild import MAX_BOOT_DUMMIES, wild_bootstrap

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
