"""[matching] speaks the matcher's language: trend_window (old key pre_years), MatchingOptions (#13)."""

from __future__ import annotations

import inspect
import json
import warnings

import pytest

from clusterimpact.errors import SpecError
from clusterimpact.matching import match_panel
from clusterimpact.matching.options import MatchingOptions
from clusterimpact.spec import MatchingSpec, StudySpec

CUSTOM = {"covariates": ["ln_emp", "age"], "trends": ["ln_lp"]}


def test_trend_window_is_match_panels_name():
    assert "trend_window" in inspect.signature(match_panel).parameters
    spec = StudySpec.from_dict({"matching": {**CUSTOM, "trend_window": 3}})
    assert spec.matching.trend_window == 3
    assert spec.matching.variables()["trend_window"] == 3


def test_old_toml_key_pre_years_is_read_with_a_future_warning():
    with pytest.warns(FutureWarning, match=r"\[matching\] pre_years is now spelled trend_window"):
        spec = StudySpec.from_dict({"matching": {**CUSTOM, "pre_years": 3}})
    assert spec.matching == MatchingSpec(
        covariates=("ln_emp", "age"), trends=("ln_lp",), trend_window=3
    )


def test_old_and_new_key_together_are_a_spec_error():
    with pytest.raises(SpecError, match=r"pre_years is the old name of trend_window; give only"):
        StudySpec.from_dict({"matching": {**CUSTOM, "pre_years": 3, "trend_window": 2}})


def test_old_python_keyword_and_old_manifest_record_still_work():
    with pytest.warns(FutureWarning, match=r"'pre_years' is now spelled 'trend_window'"):
        spec = MatchingSpec(covariates=("age",), pre_years=4)
    assert spec.trend_window == 4
    record = json.loads(json.dumps(StudySpec(matching=spec).to_dict()))
    assert record["matching"]["trend_window"] == 4 and "pre_years" not in record["matching"]
    record["matching"]["pre_years"] = record["matching"].pop("trend_window")
    with pytest.warns(FutureWarning, match="pre_years"):
        assert StudySpec.from_record(record).matching == spec


def test_trend_window_must_be_positive():
    with pytest.raises(SpecError, match=r"\[matching\] trend_window=0 must be at least 1"):
        MatchingSpec(covariates=("age",), trend_window=0)


def test_spec_maps_onto_the_matchers_options():
    spec = MatchingSpec(method="nnmatch", neighbors=2, caliper=0.1, replace=True)
    assert spec.options() == MatchingOptions(
        method="nnmatch", estimand="att", neighbors=2, replace=True, caliper=0.1
    )
    kw = spec.match_kwargs()
    assert kw == {
        "design": "trends",
        "exact": ["sector"],
        "method": "nnmatch",
        "neighbors": 2,
        "caliper": 0.1,
        "replace": True,
    }
    assert set(kw) <= set(inspect.signature(match_panel).parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MatchingSpec().options()  # the default spec is valid for the matcher
