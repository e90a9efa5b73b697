"""Matching's propensity model is loud: separation and non-convergence are errors, extreme scores a
warning that says why, and in cohort-wise matching every message names the cohort."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.matching import fit_propensity, match_panel
from clusterimpact.matching.propensity import _check_symptoms


def _panel(seed: int = 0, n: int = 240) -> pd.DataFrame:
    """Firms 2010-2016; cohorts 2013 and 2015 (30 firms each), the rest never join."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2017)
    g = np.r_[np.full(30, 2013.0), np.full(30, 2015.0), np.full(n - 60, np.nan)]
    x = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "firm_id": np.repeat([f"f{i}" for i in range(n)], years.size),
            "year": np.tile(years, n),
            "treat_year": np.repeat(g, years.size),
            "x": np.repeat(x, years.size) + rng.normal(scale=0.1, size=n * years.size),
        }
    )
    df["y"] = df["x"] + rng.normal(size=len(df))
    return df


def _match(df):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = match_panel(df, covariates=["x"], trends=[], outcome="y", window=None)
    return res, [str(w.message) for w in caught if issubclass(w.category, EstimationWarning)]


def test_regular_panel_no_propensity_warning():
    res, msgs = _match(_panel())
    assert not any("propensity" in m for m in msgs)
    assert set(res.matched_panel["stack"]) == {2013, 2015}


def test_separated_cohort_is_skipped_and_named():
    df = _panel()
    members = df["treat_year"] == 2015
    df.loc[members, "x"] = df["x"].max() + 1 + df.loc[members, "x"].abs()
    res, msgs = _match(df)
    hit = [m for m in msgs if m.startswith("cohort 2015:")]
    assert hit and "perfect separation" in hit[0] and "cohort skipped" in hit[0]
    assert set(res.matched_panel["stack"]) == {2013}


def test_extreme_scores_warning_names_the_cohort():
    """A control with an outlying covariate gets a score of ~0 without separating the data."""
    df = _panel()
    df.loc[df["treat_year"] == 2013, "x"] += 1.5  # x predicts joining: a steep score
    pos = df.index[(df["firm_id"] == "f100") & (df["year"] == 2012)]
    df.loc[pos, "x"] = -400.0  # f100 in 2012 = cohort 2013's matching year
    res, msgs = _match(df)
    hit = [m for m in msgs if "numerically 0 or 1" in m]
    assert hit and hit[0].startswith("cohort 2013:") and "not separated" in hit[0]


def test_non_convergence_without_separation_is_an_error():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200)})
    d = (rng.random(200) < 0.3).astype(float)
    Z = np.column_stack([np.ones(200), X["a"]])
    with pytest.raises(EstimationError, match="did not converge in 100 Newton.*not separated"):
        _check_symptoms(Z, d, "logit", False, 0, X)
    # quasi-complete separation (a dummy that is 1 for three controls only) stays an error
    X["dummy"] = 0.0
    X.loc[np.flatnonzero(d == 0)[:3], "dummy"] = 1.0
    with pytest.raises(EstimationError, match="perfect separation.*dummy"):
        fit_propensity(X, d)
