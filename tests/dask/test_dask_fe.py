"""Fixed effects on Dask equal the in-memory engine (#16): feols, the membership models, the event study.

The shared Parquet panel (``dask_rows()`` firm-years, tests/conftest.py) read into 1, 4 and 16 firm
partitions on the session's 2-worker LocalCluster; the reference is the in-memory fit of the same panel.
Every number of the result is compared: params, SEs, t, p, the pre-trend test, nobs, R2, df, clusters,
fixed-effect levels, exclusions. Seeded random specifications on small random panels (with singletons,
missing values and movers) run the same comparison, and bad input is refused as in memory.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from _asserts import assert_close
from clusterimpact.dask import FirmPartitions
from clusterimpact.errors import DataError, SpecError
from clusterimpact.estimation.event_study import EventStudyResult
from clusterimpact.estimation.fe import binned_duration, linear_duration, static_premium
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]


def _by_firm(df: pd.DataFrame, firm: str, n: int) -> FirmPartitions:
    """``n`` partitions holding whole firms (firm codes modulo ``n``), without a shuffle: the
    constructors' hash repartition is tested in tests/test_dask_frames.py; here it would only cost."""
    import dask.dataframe as dd

    code = pd.factorize(df[firm], sort=True)[0] % n
    parts = [df[code == i].reset_index(drop=True) for i in range(n)]
    return FirmPartitions(
        dd.from_map(lambda p: p, parts, meta=df.head(0)), firm, "year", whole_firms=True
    )


PARTS = [1, 4, 16]
_MEMORY: dict[Any, Any] = {}  # in-memory references, computed once per specification


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _memory(key: Any, fn: Any, data: Any) -> Any:
    if key not in _MEMORY:
        _MEMORY[key] = _quiet(fn, data)
    return _MEMORY[key]


def assert_same_fit(got: Any, ref: Any) -> None:
    """Every number of a FixedEffectsResult (or EventStudyResult) equal to the reference."""
    assert type(got) is type(ref)
    assert got.params.index.tolist() == ref.params.index.tolist()
    close = {"rel": DASK_REL, "floor": DASK_FLOOR}
    assert_close(got.params, ref.params, **close, msg="params")
    assert_close(got.std_errors, ref.std_errors, **close, msg="std errors")
    assert_close(got.vcov.to_numpy(), ref.vcov.to_numpy(), **close, msg="vcov")
    t_got, t_ref = got.tidy(), ref.tidy()
    for col in ("statistic", "p_value", "conf_low", "conf_high"):
        assert_close(t_got[col].to_numpy(), t_ref[col].to_numpy(), **close, msg=col)
    assert got.nobs == ref.nobs
    assert got.df_resid == ref.df_resid
    assert got.exclusions == ref.exclusions
    assert got.n_clusters == ref.n_clusters and got.cluster == ref.cluster
    assert got.vcov_type == ref.vcov_type and got.fixed_effects == ref.fixed_effects
    assert_close(np.array([got.r2, got.r2_within]), np.array([ref.r2, ref.r2_within]), **close)
    assert got.warnings == ref.warnings
    if hasattr(ref, "df_k"):  # FixedEffectsResult
        assert got.df_k == ref.df_k and got.n_fe_levels == ref.n_fe_levels
        assert got.collinear == ref.collinear and got.headline == ref.headline
        assert got.method == ref.method
        assert_close(got.rss, ref.rss, **close)


# --- every function on the shared panel ----------------------------------------------------------------
def _feols(formula: str, **kw: Any) -> Any:
    return lambda data: ci.feols(formula, data, **kw)


def _model(fn: Any, **kw: Any) -> Any:
    return lambda data: fn(data, "ln_tfp", **kw)


W, SY = {"weights": "emp"}, {"fe": ["firm_id", "sector^year"]}
FE2 = "ln_tfp ~ member + ln_emp | firm_id + year"
SPECS = {
    "feols_iid": _feols(FE2, vcov="iid"),
    "feols_hc1_w": _feols(FE2, vcov="hetero", **W),
    "feols_crv1_sector_sy_w": _feols(
        "ln_tfp ~ member + ln_emp | firm_id + sector^year", vcov={"CRV1": "sector"}, **W
    ),
    "static_crv1": _model(static_premium),
    "static_hc1_w_sy": _model(static_premium, vcov="hetero", **W, **SY),
    "static_iid_w": _model(static_premium, vcov="iid", **W),
    "linear_crv1_drop": _model(linear_duration, post_exit="drop"),
    "linear_iid": _model(linear_duration, vcov="iid"),
    "linear_hc1_w_sy": _model(linear_duration, vcov="hetero", **W, **SY),
    "binned_iid_w": _model(binned_duration, bins=[1, 2, "3-4", "5+"], vcov="iid", **W),
    "binned_hc1": _model(binned_duration, bins=[1, "2+"], vcov="hetero"),
    "binned_crv1_w": _model(binned_duration, bins=[1, 2, "3-4", "5+"], **W),
    "event_hc1_notyet_w": _model(
        ci.event_study,
        window=(-3, 3),
        control="notyet",
        ref=(-1, -3),
        bin_endpoints=False,
        vcov="hetero",
        **W,
    ),
    "event_crv1": _model(ci.event_study, window=(-4, 4)),
    "event_crv1_w_sy": _model(ci.event_study, window=(-2, 3), **W, **SY),
}
# by default every function at every partition count, every vcov type at every count, weights and
# sector^year among them (15 fits); CLUSTERIMPACT_SWEEP=1 adds the rest of the cross product
DEFAULT = [
    ("feols_iid", 1),
    ("feols_crv1_sector_sy_w", 4),
    ("feols_hc1_w", 16),
    ("static_hc1_w_sy", 1),
    ("static_crv1", 4),
    ("static_iid_w", 16),
    ("linear_crv1_drop", 1),
    ("linear_iid", 4),
    ("linear_hc1_w_sy", 16),
    ("binned_iid_w", 1),
    ("binned_hc1", 4),
    ("binned_crv1_w", 16),
    ("event_hc1_notyet_w", 1),
    ("event_crv1", 4),
    ("event_crv1_w_sy", 16),
]
SWEEP = [(k, n) for k in SPECS for n in PARTS if (k, n) not in DEFAULT]


@pytest.mark.parametrize(
    ("name", "n"), DEFAULT + [pytest.param(*c, marks=pytest.mark.sweep) for c in SWEEP]
)
def test_equals_memory(name: str, n: int, dask_panel, firm_partitions) -> None:
    ref = _memory(name, SPECS[name], dask_panel)
    got = _quiet(SPECS[name], firm_partitions(n))
    assert_same_fit(got, ref)
    if isinstance(ref, EventStudyResult):
        assert got.counts.equals(ref.counts) and got.window == ref.window
        assert ref.pretrend is not None and got.pretrend is not None
        close = {"rel": DASK_REL, "floor": DASK_FLOOR}
        assert_close(got.pretrend.statistic, ref.pretrend.statistic, **close)
        assert_close(got.pretrend.p_value, ref.pretrend.p_value, **close)
        assert (got.pretrend.df, got.pretrend.df_denom) == (ref.pretrend.df, ref.pretrend.df_denom)
        assert_same_fit(got.regression, ref.regression)


def test_the_default_cases_cover_every_function_count_and_vcov() -> None:
    for prefix in ("feols", "static", "linear", "binned", "event"):
        assert sorted(n for k, n in DEFAULT if k.startswith(prefix)) == PARTS
    for tag in ("_iid", "_hc1", "_crv1", "_w", "_sy"):
        assert {n for k, n in DEFAULT if tag in k} == set(PARTS), tag


# --- random specifications on random panels ------------------------------------------------------------
def _random_case(seed: int) -> tuple[pd.DataFrame, str, dict[str, Any], int]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "estimation"))
    from fe_random import random_panel  # the property tests' seeded panels (singletons, movers)

    rng = np.random.default_rng(seed)
    df = random_panel(rng, n_firms=(150, 250))
    df.loc[rng.random(len(df)) < 0.02, "x1"] = np.nan  # missing values: excluded and counted
    regs = list(rng.choice(["x1", "x2", "member", "member_years"], rng.integers(1, 4), False))
    fe = [
        "firm_id + year",
        "firm_id + sector^year",
        "year + firm_id + grp",
        "firm_id + region^year",
    ]
    formula = f"y ~ {' + '.join(regs)} | {fe[int(rng.integers(len(fe)))]}"
    vcov: list[dict[str, Any]] = [
        {"vcov": "iid"},
        {"vcov": "hetero"},
        {"vcov": "cluster", "cluster": "firm_id"},
        {"vcov": "cluster", "cluster": "sector"},
    ]
    kw = dict(vcov[int(rng.integers(len(vcov)))])
    if rng.random() < 0.5:
        kw["weights"] = "w"
    return df, formula, kw, int(rng.choice(PARTS))


@pytest.mark.parametrize("seed", range(5))
def test_random_specifications_equal_memory(seed: int, dask_client) -> None:
    df, formula, kw, n = _random_case(seed)
    ref = _quiet(ci.feols, formula, df, **kw)
    fp = _by_firm(df, "firm_id", n).persist()
    assert_same_fit(_quiet(ci.feols, formula, fp, **kw), ref)


def test_frame_with_backend_dask_equals_memory(dask_client) -> None:
    """A pandas frame with backend='dask' is split by the first fixed effect and gives the same fit."""
    df, formula, kw, _ = _random_case(100)
    ref = _quiet(ci.feols, formula, df, **kw)
    assert_same_fit(_quiet(ci.feols, formula, df, backend="dask", **kw), ref)
    ref = _quiet(static_premium, df, "y")
    assert_same_fit(_quiet(static_premium, df, "y", backend="dask"), ref)


# --- loud the same way --------------------------------------------------------------------------------
def _both_raise(exc: type[Exception], call: Any, df: pd.DataFrame) -> None:
    """``call(data)`` raises the same error type with the same message in memory and on Dask (the row
    numbers aside: a partition numbers its own rows)."""
    with pytest.raises(exc) as mem:
        _quiet(call, df)
    fp = _by_firm(df, "firm_id", 3).persist()
    with pytest.raises(exc) as dsk:
        _quiet(call, fp)
    assert type(dsk.value) is type(mem.value)
    rows = re.compile(r"rows? [0-9, .]+(\(\d+ in all\))?")
    assert rows.sub("", str(mem.value)) == rows.sub("", str(dsk.value))


def test_bad_input_refused_as_in_memory(dask_client) -> None:
    df, *_ = _random_case(3)
    _both_raise(DataError, lambda d: ci.feols("y ~ nope | firm_id + year", d), df)
    text = df.assign(y="a")  # a text outcome
    _both_raise(DataError, lambda d: ci.feols("y ~ x1 | firm_id + year", d), text)
    neg = df.assign(w=-df["w"])
    _both_raise(DataError, lambda d: ci.feols("y ~ x1 | firm_id + year", d, weights="w"), neg)
    _both_raise(DataError, lambda d: static_premium(d, "nope"), df)
    _both_raise(DataError, lambda d: ci.event_study(d, "y", cohort="nope"), df)
    bad = df.assign(treat_year=df["treat_year"].astype(str).replace("0", "20x1"))
    _both_raise(DataError, lambda d: ci.event_study(d, "y"), bad)


def test_what_dask_cannot_do_exactly_is_refused(dask_client) -> None:
    df, *_ = _random_case(4)
    fp = _by_firm(df, "firm_id", 2).persist()
    with pytest.raises(SpecError, match="partition key 'firm_id'"):
        ci.feols("y ~ x1 | sector + year", fp)
    with pytest.raises(SpecError, match="vcov='twoway' is not available with backend='dask'"):
        ci.feols("y ~ x1 | firm_id + year", fp, vcov="twoway", cluster=["firm_id", "year"])
    with pytest.raises(SpecError, match="cluster='grp' varies within"):
        ci.feols("y ~ x1 | firm_id + year", fp, vcov="cluster", cluster="grp")
    with pytest.raises(SpecError, match="plain columns"):
        ci.feols("y ~ log(w) | firm_id + year", fp)
    with pytest.raises(SpecError, match="pyfixest"):
        ci.feols("y ~ x1 | firm_id + year", fp, engine="pyfixest")


def test_singleton_cascade_over_partitions(dask_client) -> None:
    """A year seen once (in one partition) is dropped, which leaves its firm with one row (dropped in
    turn): the iterative rule over all partitions gives the in-memory sample and fit."""
    df, *_ = _random_case(5)
    lone = df.iloc[[0]].assign(year=1990, firm_id=df["firm_id"].max() + 1)
    twin = lone.assign(year=1991)  # its firm's second row, in a year seen once too
    df = pd.concat([df, lone, twin, lone.assign(year=1992, firm_id=lone["firm_id"] + 1)])
    for single in (True, False):
        ref = _quiet(ci.feols, "y ~ x1 + x2 | firm_id + year", df, drop_singletons=single)
        fp = _by_firm(df, "firm_id", 4).persist()
        got = _quiet(ci.feols, "y ~ x1 + x2 | firm_id + year", fp, drop_singletons=single)
        assert_same_fit(got, ref)
        assert ("singleton" in got.exclusions) is single
