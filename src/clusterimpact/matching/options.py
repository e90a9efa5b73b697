"""The matching options shared by :func:`~clusterimpact.matching.match`, ``match_panel`` and the study spec."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError

__all__ = ["ESTIMANDS", "METHODS", "MatchingOptions"]

METHODS = ("nearest", "nnmatch", "cem", "exact")
ESTIMANDS = ("att", "ate", "atc")


@dataclass(frozen=True)
class MatchingOptions:
    """How units are matched: method, distance, neighbours, caliper, common support, variance.

    Validated on construction; the defaults that depend on the method (``distance``, ``replace``,
    ``score_scale``) are resolved, so every field holds the value that is used.

    Parameters
    ----------
    method
        ``"nearest"``, ``"nnmatch"`` (Abadie-Imbens), ``"cem"`` or ``"exact"``.
    estimand
        ``"att"``, ``"ate"`` or ``"atc"``.
    neighbors
        Matches per focal unit (a positive integer).
    replace
        Match with replacement; None is False, except for ``nnmatch`` (always True).
    caliper
        Maximum distance (positive), or None.
    distance
        ``"propensity"``, ``"covariates"`` or ``"mahalanobis"``; None is ``"covariates"`` for
        ``nnmatch`` and ``"propensity"`` otherwise.
    link
        Propensity model: ``"logit"`` or ``"probit"``.
    score_scale
        ``"link"`` or ``"response"``; None is ``"response"`` for ``nnmatch`` and ``"link"`` otherwise.
    metric
        ``"inverse-variance"`` or ``"mahalanobis"`` (forced by ``distance="mahalanobis"``).
    variance
        Conditional-variance estimate: ``"robust"`` or ``"iid"``.
    var_neighbors
        Same-group neighbours of the robust variance (a positive integer).
    se_target
        ``"population"`` or ``"sample"``.
    discard
        Common support rule: ``"none"``, ``"treated"``, ``"control"`` or ``"both"``.
    trim
        Keep propensity scores in ``[trim, 1 - trim]`` (``0 < trim < 0.5``), or None.
    order
        Greedy order without replacement: ``"largest"``, ``"smallest"``, ``"data"``, ``"random"``.
    ratio
        Alias of ``neighbors`` (init only); giving both with different values is an error.

    Raises
    ------
    SpecError
        An option outside its valid choices or range, or a contradictory combination.

    Examples
    --------
    >>> from clusterimpact.matching.options import MatchingOptions
    >>> options = MatchingOptions(method="nearest", caliper=0.2)
    >>> options.distance, options.replace  # method-dependent defaults, resolved
    ('propensity', False)
    """

    method: str = "nearest"
    estimand: str = "att"
    neighbors: int = 1
    replace: bool | None = None
    caliper: float | None = None
    distance: str | None = None
    link: str = "logit"
    score_scale: str | None = None
    metric: str = "inverse-variance"
    variance: str = "robust"
    var_neighbors: int = 2
    se_target: str = "population"
    discard: str = "none"
    trim: float | None = None
    order: str = "largest"
    ratio: InitVar[int | None] = None

    def __post_init__(self, ratio: int | None) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("estimand", self.estimand, ESTIMANDS)
        distance = self.distance
        if distance is None:
            distance = "covariates" if self.method == "nnmatch" else "propensity"
        check_choice("distance", distance, ("propensity", "covariates", "mahalanobis"))
        metric = "mahalanobis" if distance == "mahalanobis" else self.metric
        check_choice("link", self.link, ("logit", "probit"))
        check_choice("metric", metric, ("inverse-variance", "mahalanobis"))
        check_choice("variance", self.variance, ("robust", "iid"))
        check_choice("se_target", self.se_target, ("population", "sample"))
        check_choice("discard", self.discard, ("none", "treated", "control", "both"))
        check_choice("order", self.order, ("largest", "smallest", "data", "random"))
        neighbors = self.neighbors
        if ratio is not None:
            if neighbors != 1 and neighbors != ratio:
                raise SpecError(
                    f"neighbors={neighbors} and ratio={ratio} disagree; give one of them"
                )
            neighbors = ratio
        self._check_numbers(neighbors)
        replace = self._resolve_replace()
        score_scale = self.score_scale
        if score_scale is None:
            score_scale = "response" if self.method == "nnmatch" else "link"
        check_choice("score_scale", score_scale, ("link", "response"))
        for name, value in (
            ("distance", distance),
            ("metric", metric),
            ("neighbors", int(neighbors)),
            ("replace", replace),
            ("score_scale", score_scale),
            ("var_neighbors", int(self.var_neighbors)),
        ):
            object.__setattr__(self, name, value)

    def _check_numbers(self, neighbors: int) -> None:
        """Range checks of the numeric options."""
        if int(neighbors) != neighbors or neighbors < 1:
            raise SpecError(f"neighbors must be a positive integer, got {neighbors!r}")
        if int(self.var_neighbors) != self.var_neighbors or self.var_neighbors < 1:
            raise SpecError(f"var_neighbors must be a positive integer, got {self.var_neighbors!r}")
        if self.caliper is not None and not self.caliper > 0:
            raise SpecError(f"caliper must be positive, got {self.caliper!r}")
        if self.trim is not None and not 0 < self.trim < 0.5:
            raise SpecError(f"trim must lie in (0, 0.5), got {self.trim!r}")

    def _resolve_replace(self) -> bool:
        """``replace`` as used: always True for nnmatch; ATE nearest-neighbour needs it."""
        replace = self.replace
        if self.method == "nnmatch":
            if replace is False:
                raise SpecError("method='nnmatch' (Abadie-Imbens) always matches with replacement")
            replace = True
        replace = bool(replace)
        if self.method == "nearest" and self.estimand == "ate" and not replace:
            raise SpecError(
                "estimand='ate' with nearest-neighbour matching needs replace=True (without "
                "replacement the treated would use up the controls they are also matched from)"
            )
        return replace

    def recorded(self) -> dict[str, Any]:
        """The resolved options a result records (``MatchResult.options``), in their usual order."""
        return {
            "neighbors": self.neighbors,
            "replace": self.replace,
            "distance": self.distance,
            "link": self.link,
            "score_scale": self.score_scale,
            "metric": self.metric,
            "variance": self.variance,
            "var_neighbors": self.var_neighbors,
            "se_target": self.se_target,
            "discard": self.discard,
            "trim": self.trim,
            "order": self.order,
        }
