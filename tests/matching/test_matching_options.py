"""MatchingOptions: one validated, frozen set of matching options (#13)."""

from __future__ import annotations

import dataclasses

import pytest

from clusterimpact.errors import SpecError
from clusterimpact.matching.options import MatchingOptions


def test_method_dependent_defaults_are_resolved():
    nn = MatchingOptions(method="nnmatch")
    assert (nn.distance, nn.replace, nn.score_scale) == ("covariates", True, "response")
    near = MatchingOptions()
    assert (near.distance, near.replace, near.score_scale) == ("propensity", False, "link")
    assert MatchingOptions(distance="mahalanobis").metric == "mahalanobis"


def test_ratio_is_an_alias_of_neighbors():
    assert MatchingOptions(ratio=3).neighbors == 3
    assert MatchingOptions(neighbors=3, ratio=3).neighbors == 3
    with pytest.raises(SpecError, match=r"neighbors=2 and ratio=3 disagree"):
        MatchingOptions(neighbors=2, ratio=3)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"method": "knn"}, r"method='knn' is not valid"),
        ({"estimand": "late"}, r"estimand='late' is not valid"),
        ({"neighbors": 0}, r"neighbors must be a positive integer, got 0"),
        ({"var_neighbors": 1.5}, r"var_neighbors must be a positive integer, got 1.5"),
        ({"caliper": 0.0}, r"caliper must be positive, got 0.0"),
        ({"trim": 0.5}, r"trim must lie in \(0, 0.5\), got 0.5"),
        ({"method": "nnmatch", "replace": False}, r"always matches with replacement"),
        ({"estimand": "ate"}, r"estimand='ate' with nearest-neighbour matching needs replace=True"),
        ({"score_scale": "odds"}, r"score_scale='odds' is not valid"),
    ],
)
def test_bad_options_are_spec_errors(kw, message):
    with pytest.raises(SpecError, match=message):
        MatchingOptions(**kw)


def test_frozen_and_recorded_as_before():
    opts = MatchingOptions(method="nnmatch", neighbors=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.neighbors = 3  # type: ignore[misc]
    assert opts.recorded() == {
        "neighbors": 2,
        "replace": True,
        "distance": "covariates",
        "link": "logit",
        "score_scale": "response",
        "metric": "inverse-variance",
        "variance": "robust",
        "var_neighbors": 2,
        "se_target": "population",
        "discard": "none",
        "trim": None,
        "order": "largest",
    }
