"""``duration_effects`` on Dask equals the in-memory one (#16).

The Dask path is the imputation estimator's Dask driver (``_imputation_dask.fit_dask``) with the
duration targets (member firm-years in the bins, post-exit years left out) and cohort x bin averaging
groups; the slope and its tests are the same finalize on the client. On the shared Parquet panel (1, 4
and 16 partitions by firm): params, standard errors, the covariance, the slope, equal-effects and
pre-trend tests, counts, mean durations, exclusions and warnings to ``DASK_REL``. Small hand-made
panels: what the in-memory path refuses, the Dask path refuses with the same error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_dask_equal as _same
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation.duration import duration_effects

pytestmark = [pytest.mark.xdist_group("dask")]

OPTIONS = {"bins": [1, 2, "3-4", "5+"], "weights": "emp", "leads": 3}


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return duration_effects(data, "ln_tfp", **kw)


def _same_result(got, ref) -> None:
    assert type(got) is type(ref)
    assert list(got.params.index) == list(ref.params.index)
    _same(got.params, ref.params, "params")
    _same(got.std_errors, ref.std_errors, "std_errors")
    _same(got.vcov, ref.vcov, "vcov")
    _same(got.x, ref.x, "mean duration per bin")
    assert list(got.x.index) == list(ref.x.index)
    assert got.counts.to_dict() == ref.counts.to_dict()
    assert (got.nobs, got.n_units, got.n_treated_obs, got.n_untreated_obs) == (
        ref.nobs,
        ref.n_units,
        ref.n_treated_obs,
        ref.n_untreated_obs,
    )
    assert got.exclusions == ref.exclusions
    assert sorted(got.warnings) == sorted(ref.warnings)
    for name in ("slope_test", "equal_effects", "pretrend"):
        p, q = getattr(got, name), getattr(ref, name)
        assert (p is None) == (q is None), name
        if q is not None:
            assert (p.df_num, p.df_denom, p.terms) == (q.df_num, q.df_denom, q.terms), name
            _same([p.statistic, p.p_value], [q.statistic, q.p_value], name)


@pytest.fixture(scope="module")
def memory_fit(dask_panel):
    return _fit(dask_panel, **OPTIONS)


@pytest.mark.parametrize("npartitions", [1, 4, 16])
def test_dask_equals_memory_on_the_parquet_panel(npartitions, firm_partitions, memory_fit):
    """Bins with a range and an open end, employment weights, the pre-trend test."""
    ref = memory_fit
    assert ref.exclusions.get("post_exit", 0) > 0  # the panel has exits
    assert ref.slope_test is not None and ref.pretrend is not None
    _same_result(_fit(firm_partitions(npartitions), **OPTIONS), ref)


# -- small hand-made panels ------------------------------------------------------------------------
def _small(seed: int = 3, n_firms: int = 60, years: range = range(2010, 2019)) -> pd.DataFrame:
    """Cohorts 2012, 2013, 2015 and never-members; firms 5k+1 leave in 2016."""
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), len(years))
    year = np.tile(np.asarray(years), n_firms)
    g = np.asarray([2012, 2013, 2015, 0, 0])[firm % 5].astype(float)
    member = (g > 0) & (year >= g) & ~((firm % 5 == 1) & (year >= 2016))
    df = pd.DataFrame({"firm_id": firm, "year": year, "treat_year": g, "member": member * 1})
    df["member_years"] = df.groupby("firm_id")["member"].cumsum() * df["member"]
    df["ln_tfp"] = rng.normal(size=len(df)) + 0.05 * (year - 2010) + 0.1 * df["member_years"]
    df["emp"] = rng.uniform(1, 10, len(df))
    return df


def _split(df: pd.DataFrame, npartitions: int = 3):
    """Firm partitions without a shuffle (firms dealt by ``firm % npartitions``)."""
    import dask.dataframe as dd

    from clusterimpact.dask import FirmPartitions

    key = df["firm_id"].to_numpy() % npartitions
    pieces = [df.loc[key == i].reset_index(drop=True) for i in range(npartitions)]
    frame = dd.concat([dd.from_pandas(p, npartitions=1, sort=False) for p in pieces])
    return FirmPartitions(frame, "firm_id", "year", whole_firms=True)


def test_dask_counts_and_warns_as_memory(dask_client):
    """Exits, member years outside the bins, a bad weight, a missing outcome, one bin: the same numbers,
    exclusions and warnings."""
    df = _small()
    df.loc[[4, 40], "ln_tfp"] = np.nan
    df.loc[df.index[df["member"] == 1][:2], "emp"] = -1.0
    for kw in ({"bins": [1, 2], "weights": "emp", "leave_out": False}, {"bins": ["1+"]}):
        ref = _fit(df, **kw)
        for key in ("post_exit", "missing_values") + (("outside_bins",) if "weights" in kw else ()):
            assert ref.exclusions.get(key, 0) > 0, key  # the panel has the case
        got = _fit(_split(df), **kw)
        _same_result(got, ref)
    assert got.summary().splitlines()[:3] == ref.summary().splitlines()[:3]


@pytest.mark.parametrize(
    ("change", "kw", "error"),
    [
        (lambda d: d.drop(columns="member_years"), {}, DataError),
        (lambda d: d.assign(member=np.where(d["firm_id"] == 3, 1, d["member"])), {}, DataError),
        (lambda d: d.assign(member=0), {}, EstimationError),
        (lambda d: d, {"bins": [1, "12+"]}, EstimationError),
        (lambda d: d, {"bins": ["x"]}, SpecError),
        (lambda d: d, {"backend": "spark"}, SpecError),
    ],
    ids=["missing-column", "member-before-cohort", "no-members", "empty-bin", "bad-bin", "backend"],
)
def test_dask_refuses_what_memory_refuses(dask_client, change, kw, error):
    """The same error type; the same message where it names no rows (row labels are partition-local)."""
    df = change(_small())
    with pytest.raises(error) as mem:
        _fit(df, **kw)
    with pytest.raises(error) as dsk:
        _fit(_split(df), **kw)
    if "row" not in str(mem.value):
        assert str(dsk.value) == str(mem.value)


def test_backend_dask_on_a_frame(dask_client):
    """``backend="dask"`` on a pandas frame partitions it by firm and gives the in-memory numbers."""
    df = _small()
    _same_result(_fit(df, backend="dask"), _fit(df))
