"""The fixed-effects results in the package's one result vocabulary (#13): the class name and its
deprecated alias, the headline term, and the old option spellings that still map onto the new ones."""

from __future__ import annotations

import dataclasses
import importlib

import pandas as pd
import pytest
from fe_helpers import make_panel

from clusterimpact.estimation.fe import FixedEffectsResult
from clusterimpact.estimation.twfe import (
    binned_duration,
    feols,
    linear_duration,
    static_premium,
)
from clusterimpact.results import EstimateResult


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(n_firms=120, n_years=8, seed=5)


@pytest.mark.parametrize(
    "module",
    [
        "clusterimpact.estimation.twfe",
        "clusterimpact.estimation.fe",
        "clusterimpact.estimation.fe.result",
    ],
)
def test_old_result_name_is_a_deprecated_alias(module):
    mod = importlib.import_module(module)
    with pytest.warns(FutureWarning, match="EstimationResult is now called FixedEffectsResult"):
        old = mod.EstimationResult
    assert old is FixedEffectsResult
    assert issubclass(old, EstimateResult)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchResult'"):
        _ = mod.NoSuchResult


def test_result_class_and_summary_use_the_new_name(panel):
    res = static_premium(panel)
    assert type(res) is FixedEffectsResult
    assert res.summary().splitlines()[0].startswith("FixedEffectsResult (static_premium): ")


def test_overall_term_names_the_headline(panel):
    assert static_premium(panel).overall_term == "member"
    other = panel.rename(columns={"member": "in_cluster"})
    assert static_premium(other, treatment="in_cluster").overall_term == "in_cluster"
    lin = linear_duration(panel)
    assert list(lin.params.index) == ["member", "member_years"]
    assert lin.overall_term == "member_years"  # the duration slope
    assert binned_duration(panel, bins=(1, 2, "3+")).overall_term is None
    assert feols("ln_lp ~ member | firm_id + year", panel).overall_term is None


def test_overall_term_is_none_for_a_headline_not_in_params(panel):
    res = static_premium(panel)
    assert dataclasses.replace(res, headline="member_years").overall_term is None
    assert dataclasses.replace(res, headline=None).overall_term is None
