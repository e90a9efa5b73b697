"""The imputation estimator on Dask equals the in-memory one (#16).

On the shared Parquet panel (``dask_rows()`` firm-years, 1, 4 and 16 partitions by firm, the 2-worker
cluster): every estimate, standard error, covariance entry, the pre-trend test and its lead estimates,
the joint lead/lag covariance and the HonestDiD inputs built on it, to ``DASK_REL`` (the HonestDiD
sets themselves to the precision of their numerical search, ``HONEST_ROUTES_SD``: a 1e-14 relative
change of their inputs already moves them by ~1e-9 relative). Small hand-made
panels: what the in-memory path refuses, counts or warns about, the Dask path refuses, counts or warns
about the same way. The additivity the Dask path rests on (the per-block statistics of
``_imputation_parts`` summed over blocks of whole firms give the whole-frame statistics) is checked
without Dask.

(The file is not ``test_imputation.py``: test folders have no ``__init__.py``, so basenames must be
unique, and an ``__init__.py`` here would shadow the ``dask`` package.)
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from _asserts import assert_dask_equal as _same
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation import _imputation_parts as parts
from clusterimpact.estimation.fe._demean import factorize
from clusterimpact.estimation.honest import event_study_coefficients, honest_did
from clusterimpact.estimation.imputation import _fit_core, imputation_did
from tolerances import HONEST_ROUTES_SD

pytestmark = [pytest.mark.xdist_group("dask")]

LEADS, HORIZONS = 3, range(0, 4)
# the options of the second comparison: another aggregation, weights, no leave-out, no leads
OTHER = {"aggregation": "calendar", "weights": "emp", "leave_out": False, "leads": 0}


def _fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return imputation_did(data, "ln_tfp", **kw)


def _same_result(got, ref) -> None:
    """Same terms, numbers, counts, exclusions, warnings and pre-trend test."""
    assert type(got) is type(ref)
    assert list(got.params.index) == list(ref.params.index)
    _same(got.params, ref.params, "params")
    _same(got.std_errors, ref.std_errors, "std_errors")
    _same(got.vcov, ref.vcov, "vcov")
    assert list(got.counts) == list(ref.counts)
    assert got.x.to_dict() == ref.x.to_dict()
    assert (got.nobs, got.n_units, got.n_treated_obs, got.n_untreated_obs) == (
        ref.nobs,
        ref.n_units,
        ref.n_treated_obs,
        ref.n_untreated_obs,
    )
    assert got.exclusions == ref.exclusions
    assert got.warnings == ref.warnings
    assert (got.aggregation, got.x_label) == (ref.aggregation, ref.x_label)
    if ref.pretrend is None:
        assert got.pretrend is None and got.pretrend_estimates is None
        return
    p, q = got.pretrend, ref.pretrend
    assert (p.df, p.df_denom, p.method, p.terms) == (q.df, q.df_denom, q.method, q.terms)
    _same([p.statistic, p.p_value], [q.statistic, q.p_value], "pre-trend F test")
    cols = ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
    assert list(got.pretrend_estimates["term"]) == list(ref.pretrend_estimates["term"])
    _same(got.pretrend_estimates[cols], ref.pretrend_estimates[cols], "lead estimates")


@pytest.fixture(scope="module")
def memory_fits(dask_panel):
    return {
        "dynamic": _fit(dask_panel, leads=LEADS, horizons=HORIZONS),
        "other": _fit(dask_panel, **OTHER),
    }


@pytest.mark.parametrize("npartitions", [1, 4, 16])
def test_dask_equals_memory_on_the_parquet_panel(npartitions, firm_partitions, memory_fits):
    """Event-time profile with the pre-trend test and HonestDiD; and calendar-year averages with
    employment weights and the plain (not leave-out) variance."""
    fp = firm_partitions(npartitions)
    ref = memory_fits["dynamic"]
    got = _fit(fp, leads=LEADS, horizons=HORIZONS)
    _same_result(got, ref)
    assert got.influence is None and got.tau.empty  # per-firm(-year) rows stay on the workers
    assert list(got.influence_cov.index) == list(ref.influence_cov.index)
    _same(got.influence_cov, ref.influence_cov, "joint lead/lag covariance")
    # HonestDiD: its inputs to DASK_REL; its sets to the precision of their own numerical search
    c_got, c_ref = event_study_coefficients(got), event_study_coefficients(ref)
    assert c_got.terms == c_ref.terms and c_got.n_pre == c_ref.n_pre == LEADS
    _same(c_got.betahat, c_ref.betahat, "HonestDiD betahat")
    _same(c_got.sigma, c_ref.sigma, "HonestDiD sigma")
    sd = float(ref.std_errors["dynamic:0"])  # theta = the effect on impact (target=0)
    for restriction, grid in (("sd", [0.0, 0.01]), ("rm", [0.5])):
        kw = {"restriction": restriction, "grid": grid, "breakdown": False}
        h_got, h_ref = honest_did(got, **kw), honest_did(ref, **kw)
        cols = ["conf_low", "conf_high"]
        assert_close(h_got.sets[cols], h_ref.sets[cols], abs=HONEST_ROUTES_SD * sd, msg=restriction)
    if npartitions == 16:  # the other options' code paths do not depend on the partition count
        _same_result(_fit(fp, backend="dask", **OTHER), memory_fits["other"])


# -- small hand-made panels ------------------------------------------------------------------------
def _small(seed: int = 1, n_firms: int = 60, years: range = range(2010, 2018)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    firm = np.repeat(np.arange(n_firms), len(years))
    year = np.tile(np.asarray(years), n_firms)
    g = np.asarray([2012, 2013, 2015, 0, 0])[firm % 5].astype(float)
    df = pd.DataFrame({"firm_id": firm, "year": year, "treat_year": g})
    df["ln_tfp"] = rng.normal(size=len(df)) + 0.05 * (year - 2010) + 0.2 * (g > 0) * (year >= g)
    df["emp"] = rng.uniform(1, 10, len(df))
    return df


def _split(df: pd.DataFrame, npartitions: int = 3, firm: str = "firm_id"):
    """Firm partitions of a small panel without a shuffle (firms dealt by ``firm % npartitions``;
    the shuffle itself is tested with the Parquet panel and in ``test_dask_frames``)."""
    import dask.dataframe as dd

    from clusterimpact.dask import FirmPartitions

    key = pd.factorize(df[firm])[0] % npartitions
    pieces = [
        df.loc[key == i].sort_values([firm, "year"]).reset_index(drop=True)
        for i in range(npartitions)
    ]
    frame = dd.concat([dd.from_pandas(p, npartitions=1, sort=False) for p in pieces])
    return FirmPartitions(frame, firm, "year", whole_firms=True)


def _both(df: pd.DataFrame, npartitions: int = 3, **kw):
    return _fit(df, **kw), _fit(_split(df, npartitions), **kw)


def test_dask_counts_and_warns_as_memory(dask_client):
    """Missing outcomes, a treated firm without an untreated year, a year without untreated firms,
    a bad weight, a single-firm averaging group: the same exclusions, warnings and numbers."""
    df = _small()
    df.loc[[3, 50], "ln_tfp"] = np.nan
    df.loc[df["firm_id"] == 7, "treat_year"] = 2009.0  # treated in every year: no untreated year
    late = df["year"] == 2017
    df.loc[late & (df["treat_year"] == 0), "year"] = 2018  # 2017: treated firms only
    df.loc[df.index[(df["treat_year"] > 0) & (df["year"] >= 2015)][:2], "emp"] = -1.0
    df = df.drop_duplicates(["firm_id", "year"])
    lone = (df["treat_year"] == 2015) & (df["firm_id"] != 2)  # cohort 2015: one firm
    df = df.loc[~lone]
    member = (df["treat_year"] > 0) & (df["year"] >= df["treat_year"])
    df["tenure"] = np.where(member, df["year"] - df["treat_year"], np.nan)
    for kw in ({"weights": "emp", "by": "tenure"}, {"aggregation": "group", "leads": 2}):
        ref, got = _both(df, **kw)
        cases = ["missing_values", "no_untreated_year_for_firm", "no_untreated_firm_in_year"]
        for key in cases + (["bad_weight"] if "weights" in kw else []):
            assert ref.exclusions.get(key, 0) > 0, key  # the panel has the case
        assert any("single firm" in w for w in ref.warnings)
        _same_result(got, ref)
    # the result vocabulary works on a Dask result
    assert got.to_dict().keys() == ref.to_dict().keys()
    assert got.summary().splitlines()[:3] == ref.summary().splitlines()[:3]
    assert list(got.tidy().columns) == list(ref.tidy().columns)


@pytest.mark.parametrize(
    ("change", "kw", "error"),
    [
        (lambda d: d.drop(columns="ln_tfp"), {}, DataError),
        (lambda d: d.assign(treat_year=0.0), {}, EstimationError),
        (lambda d: d.assign(treat_year=np.where(d["treat_year"] > 0, 2012.5, 0.0)), {}, DataError),
        (lambda d: d, {"horizons": [-1, 0]}, SpecError),
        (lambda d: d, {"aggregation": "weekly"}, SpecError),
        (lambda d: d, {"by": "no_such_column"}, DataError),
    ],
    ids=[
        "missing-column",
        "no-treated",
        "bad-cohort",
        "negative-horizon",
        "bad-aggregation",
        "bad-by",
    ],
)
def test_dask_refuses_what_memory_refuses(dask_client, change, kw, error):
    """The same error type; the same message where it names no rows (row labels are partition-local)."""
    df = change(_small())
    with pytest.raises(error) as mem:
        _fit(df, **kw)
    fp = _split(df)
    with pytest.raises(error) as dsk:
        _fit(fp, **kw)
    if "row" not in str(mem.value):
        assert str(dsk.value) == str(mem.value)


def test_backend_choice_and_partition_key(dask_client):
    df = _small().assign(other=lambda d: d["firm_id"] % 7)
    fp = _split(df, 2, firm="other")
    with pytest.raises(SpecError, match="partitions are by 'other'"):
        _fit(fp)
    with pytest.raises(SpecError, match="backend must be one of"):
        _fit(df, backend="spark")
    # a pandas frame with backend="dask" is split by firm and takes the Dask path
    got = _fit(df, backend="dask", leads=2)
    assert got.influence is None and got.influence_cov is not None  # the Dask path was taken
    _same_result(got, _fit(df, leads=2))


def test_no_pre_joining_years_note_is_the_same(dask_client):
    df = _small()
    rel = df["year"] - df["treat_year"]
    df = df.loc[(df["treat_year"] == 0) | ~rel.between(-2, -1)]  # no firm-year 1 or 2 years before
    ref, got = _both(df, leads=2)
    assert ref.pretrend is None and any("pre-trend" in w for w in ref.warnings)
    _same_result(got, ref)


# -- the additivity behind the Dask path, without Dask ------------------------------------------------
def test_block_statistics_add_up_to_the_whole_frame():
    """``term_sums`` of blocks of whole firms (local firm codes, global year codes) sum to the
    whole-frame sums, and each block's firm scores are the whole-frame scores of its firms."""
    df = _small(3).sort_values(["firm_id", "year"]).reset_index(drop=True)
    y = df["ln_tfp"].to_numpy()
    g = df["treat_year"].replace(0, np.nan).to_numpy()
    t = df["year"].to_numpy(dtype=float)
    treated = np.isfinite(g) & (t >= g)
    unit = factorize(df["firm_id"])[0]
    core, _ = _fit_core(y, unit, factorize(t)[0], ~treated, treated)
    term = np.where(core.ident, np.nan_to_num(t - g, nan=-1).astype(np.int64), -1)
    K = int(term.max()) + 1
    group = np.where(core.ident, np.nan_to_num(g, nan=0).astype(np.int64) * 100 + term, -1)
    gu = np.unique(group[core.ident])
    gcode = parts.code_rows(group, gu, core.ident)
    whole = parts.term_sums(core.block, core.tau, core.ident, term, K, gcode, len(gu))
    fin = parts.finalize_terms(whole, core.solve)
    U_whole, _ = parts.firm_scores(
        core.block, core.tau, core.ident, core.resid, term, gcode, fin, True
    )
    total = None
    for firms in np.array_split(np.arange(core.n_units), 3):
        rows = np.isin(unit, firms)
        loc = unit[rows] - firms[0]
        b = replace(
            core.block,
            y=y[rows],
            unit=loc,
            n_units=len(firms),
            t0=core.block.t0[rows],
            untreated=core.block.untreated[rows],
            target=core.block.target[rows],
            w=core.block.w[rows],
        )
        s = parts.term_sums(
            b, core.tau[rows], core.ident[rows], term[rows], K, gcode[rows], len(gu)
        )
        total = s if total is None else parts.add_sums(total, s)
        U, _ = parts.firm_scores(
            b,
            core.tau[rows],
            core.ident[rows],
            core.resid[rows],
            term[rows],
            gcode[rows],
            fin,
            True,
        )
        _same(U, U_whole[firms], "block firm scores")
    for key, value in whole.items():
        _same(total[key], value, key)
    assert whole["wsum"].min() > 0 and np.abs(whole["CR"]).max() > 0  # the sums are not empty


def test_pretrend_singleton_rule_as_memory(dask_client):
    """The pre-trend regression's sample drops singletons (a firm with one untreated row, then a year
    left with one row) before its small-sample factor: the same F test, leads and joint covariance."""
    df = _small(4)
    extra = pd.DataFrame(
        {
            "firm_id": [900, 900, 901],
            "year": [2019, 2012, 2016],  # 2019: one untreated row; firm 901: one untreated row
            "treat_year": [0.0, 0.0, 2017.0],
            "ln_tfp": [0.3, -0.2, 0.1],
            "emp": [1.0, 1.0, 1.0],
        }
    )
    df = pd.concat([df, extra], ignore_index=True)
    ref, got = _both(df, leads=2)
    assert ref.pretrend is not None
    assert ref.pretrend.df_denom == ref.n_units - 1 - 2  # firms 901 and (after 2019) 900 dropped
    _same_result(got, ref)
    _same(got.influence_cov, ref.influence_cov, "joint lead/lag covariance")
