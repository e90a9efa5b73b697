"""Callaway-Sant'Anna on Dask (#16) equals the in-memory estimator: every ATT(g,t), every aggregation,
analytic and bootstrap standard errors, uniform critical values and the pre-tests, for 1, 4 and 16
partitions of the shared Parquet panel; the per-firm bootstrap draws do not depend on the partitioning;
bad input is refused the same way."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.dask import FirmPartitions
from clusterimpact.errors import DataError, PanelError, SpecError
from clusterimpact.estimation.influence import firm_keys, firm_multipliers
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]

AGGREGATIONS = ("simple", "dynamic", "group", "calendar")

# (name, options): the fast path (balanced, no covariates), the general path without covariates
# (unbalanced) with the per-firm bootstrap, and OR / IPW / DR with a covariate
CONFIGS: dict[str, dict[str, Any]] = {
    "fast-never": dict(control="never", est="reg", base_period="universal", anticipation=1),
    "unbal-notyet-boot": dict(
        control="notyet", est="reg", allow_unbalanced=True, n_boot=199, seed=5, draws="firm"
    ),
    "reg-never-cov": dict(control="never", est="reg", covariates=["ln_kl"], allow_unbalanced=True),
    "ipw-notyet-cov": dict(
        control="notyet", est="ipw", covariates=["ln_kl"], allow_unbalanced=True
    ),
    "dr-never-cov": dict(control="never", est="dr", covariates=["ln_kl"], allow_unbalanced=True),
}


def _fit(data: Any, **opts: Any) -> ci.estimation.cs.result.ATTgtResult:  # type: ignore[name-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ci.att_gt(data, outcome="ln_tfp", **opts)


def _close(actual: Any, expected: Any, what: str, scale: float = 1.0) -> None:
    """Equal to ``DASK_REL`` relative with an absolute floor of ``DASK_FLOOR * max|expected|``."""
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape, what
    assert np.array_equal(np.isfinite(a), np.isfinite(e)), f"{what}: NaN pattern differs"
    ok = np.isfinite(e)
    if not ok.any():
        return
    tol = scale * (DASK_REL * np.abs(e[ok]) + DASK_FLOOR * np.max(np.abs(e[ok])))
    worst = np.abs(a[ok] - e[ok]) - tol
    assert (worst <= 0).all(), f"{what}: off by {np.max(np.abs(a[ok] - e[ok])):.3g}"


def _pretrend_close(
    actual: dict[str, Any], expected: dict[str, Any], condition: float, what: str
) -> None:
    """The Wald statistic inverts the estimates' correlation matrix: roundoff in it grows with that
    matrix's condition number, and the p-value's relative roundoff with the statistic (chi-squared
    tail), so the tolerances scale with them."""
    assert actual["df"] == expected["df"], what
    scale = max(1.0, condition)
    _close(actual["stat"], expected["stat"], f"{what} stat", scale)
    _close(actual["p_value"], expected["p_value"], f"{what} p", scale * max(1.0, expected["stat"]))


def _condition(vcov: pd.DataFrame, terms: list[str]) -> float:
    V = vcov.loc[terms, terms].to_numpy()
    d = np.sqrt(np.diag(V))
    ok = np.isfinite(d) & (d > 0)
    ev = np.linalg.eigvalsh(V[np.ix_(ok, ok)] / np.outer(d[ok], d[ok]))
    keep = ev > 1e-8 * ev.max()
    return float(ev.max() / ev[keep].min())


@pytest.fixture(scope="module")
def memory_fits(dask_panel: pd.DataFrame) -> dict[str, Any]:
    return {name: _fit(dask_panel, **opts) for name, opts in CONFIGS.items()}


# make test: the fast path at 1, 4 and 16 partitions and each other setup at one count (every count
# appears); CLUSTERIMPACT_SWEEP=1 runs the rest of the cross product (each Newton round of IPW/DR is a
# round trip to the cluster, the bulk of this file's cost)
DEFAULT = [
    ("fast-never", 1),
    ("fast-never", 4),
    ("fast-never", 16),
    ("unbal-notyet-boot", 16),
    ("reg-never-cov", 4),
    ("ipw-notyet-cov", 4),
    ("dr-never-cov", 1),
]
SWEEP = [(k, n) for k in CONFIGS for n in (1, 4, 16) if (k, n) not in DEFAULT]


@pytest.mark.parametrize(
    ("name", "n"), DEFAULT + [pytest.param(*c, marks=pytest.mark.sweep) for c in SWEEP]
)
def test_dask_equals_memory(
    name: str, n: int, memory_fits: dict[str, Any], firm_partitions: Any
) -> None:
    mem = memory_fits[name]
    got = _fit(firm_partitions(n), **CONFIGS[name])
    assert list(got.params.index) == list(mem.params.index)
    _close(got.params, mem.params, "ATT(g,t)")
    _close(got.std_errors, mem.std_errors, "std_errors")
    _close(got.analytic_std_errors, mem.analytic_std_errors, "analytic SEs")
    _close(got.vcov.to_numpy(), mem.vcov.to_numpy(), "vcov")
    assert (got.n_treated == mem.n_treated).all() and (got.n_control == mem.n_control).all()
    assert (got.nobs, got.n_units) == (mem.nobs, mem.n_units)
    assert got.exclusions == mem.exclusions
    assert got.warnings == mem.warnings
    _close(got.cohort_shares, mem.cohort_shares, "cohort shares")
    if mem.crit_value is not None:
        _close(got.crit_value, mem.crit_value, "uniform critical value")
    detail = mem.pretrend_detail
    _pretrend_close(got.pretrend_detail, detail, detail["condition"], "cell pre-test")
    for typ in AGGREGATIONS:
        a_mem, a_got = ci.aggte(mem, typ), ci.aggte(got, typ)
        _close(a_got.params, a_mem.params, f"aggte {typ}")
        _close(a_got.std_errors, a_mem.std_errors, f"aggte {typ} SEs")
        if a_mem.crit_value is not None:
            _close(a_got.crit_value, a_mem.crit_value, f"aggte {typ} critical value")
        lead = a_mem.pretrend_detail
        if typ == "dynamic" and lead is not None and lead["terms"]:
            cond = _condition(a_mem.vcov, lead["terms"])
            _pretrend_close(a_got.pretrend_detail, lead, cond, "lead pre-test")


def test_backend_option_splits_a_frame(dask_client: Any) -> None:
    df = _small_panel()
    codes = pd.factorize(df["firm_id"])[0]
    df["wt"] = 1.0 + codes % 3  # sampling weights, constant within firm
    opts = dict(control="notyet", est="reg", allow_unbalanced=True, weights="wt")
    mem = _fit(df, **opts)
    got = _fit(df, **opts, backend="dask")
    _close(got.params, mem.params, "ATT(g,t)")
    _close(got.std_errors, mem.std_errors, "std_errors")
    assert got.provenance.options["backend"] == "dask"


def test_firm_draws_do_not_depend_on_order_or_split() -> None:
    ids = np.array([f"{i:010d}" for i in range(3000)], dtype=object)
    keys = firm_keys(ids)
    for mult in ("mammen", "rademacher"):
        full = firm_multipliers(keys, 42, 0, 64, mult)  # type: ignore[arg-type]
        perm = np.random.default_rng(0).permutation(ids.size)
        assert np.array_equal(
            firm_multipliers(keys[perm], 42, 0, 64, mult)[:, np.argsort(perm)], full
        )  # type: ignore[arg-type]
        # draws 20.. of a later chunk equal the same draws of one chunk
        assert np.array_equal(firm_multipliers(keys[:7], 42, 20, 10, mult), full[20:30, :7])  # type: ignore[arg-type]
        # another seed gives other draws; integer and text ids share keys
        assert not np.array_equal(firm_multipliers(keys, 43, 0, 64, mult), full)  # type: ignore[arg-type]
    assert np.array_equal(firm_keys(np.arange(5)), firm_keys(np.array(["0", "1", "2", "3", "4"])))


def test_firm_draws_are_mean_zero_unit_variance() -> None:
    v = firm_multipliers(firm_keys(np.arange(20_000)), 7, 0, 50, "mammen")
    # 10^6 draws: the mean's standard error is 1e-3, the variance's (Mammen: fourth moment 2) 1.4e-3
    assert abs(v.mean()) < 5e-3 and abs(v.var() - 1) < 7e-3
    assert abs(float(np.mean(v**3)) - 1) < 0.02  # Mammen's third moment is one (sd ~ 2.2e-3)


def test_memory_firm_draws_keep_default_unchanged() -> None:
    df = _small_panel()
    base = _fit(df, control="notyet", allow_unbalanced=True, est="reg", n_boot=99, seed=1)
    firm = _fit(
        df, control="notyet", allow_unbalanced=True, est="reg", n_boot=99, seed=1, draws="firm"
    )
    again = _fit(df, control="notyet", allow_unbalanced=True, est="reg", n_boot=99, seed=1)
    assert np.array_equal(base.std_errors, again.std_errors)  # the default stream is untouched
    assert not np.array_equal(base.std_errors, firm.std_errors)
    assert base.draws == "stream" and firm.draws == "firm"
    # rows in another order: the same firms get the same multipliers, so the same bootstrap
    shuffled = _fit(df.sample(frac=1.0, random_state=2), control="notyet", allow_unbalanced=True,
                    est="reg", n_boot=99, seed=1, draws="firm")  # fmt: skip
    _close(shuffled.std_errors, firm.std_errors, "firm draws after shuffling")


def _small_panel() -> pd.DataFrame:
    from clusterimpact.panel import build_panel
    from clusterimpact.synthetic import simulate

    sim = simulate("ecoom", seed=3, n_firms=600)
    d = build_panel(sim.accounts, sim.registry, deflators=sim.deflators).data.copy()
    d["ln_tfp"] = d["ln_va"] - 0.3 * d["ln_emp"]
    return d


def _loud(df: pd.DataFrame, exc: type[Exception], **opts: Any) -> None:
    """The same error type and message text from memory and Dask (Dask names partition rows)."""
    with pytest.raises(exc) as mem:
        _fit(df, **opts)
    fp = FirmPartitions.from_pandas(df, "firm_id", "year", npartitions=3)
    with pytest.raises(exc) as got:
        _fit(fp, **opts)
    assert str(got.value).split(": ")[-1] == str(mem.value).split(": ")[-1]


def test_bad_input_is_as_loud(dask_client: Any) -> None:
    df = _small_panel()
    _loud(df, DataError, covariates=["no_such_column"], allow_unbalanced=True)
    dup = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    _loud(dup, PanelError, allow_unbalanced=True)
    moving = df.copy()
    first = moving.index[moving["treat_year"].notna()][0]
    moving.loc[first, "treat_year"] = 2009
    _loud(moving, PanelError, allow_unbalanced=True)
    neg = df.assign(wt=1.0)
    neg.loc[neg.index[3], "wt"] = -1.0
    _loud(neg, DataError, weights="wt", allow_unbalanced=True)
    fp = FirmPartitions.from_pandas(df, "firm_id", "year", npartitions=2)
    with pytest.raises(SpecError, match="cluster"):
        _fit(fp, cluster="sector", allow_unbalanced=True)


def test_dask_result_rebootstrap_needs_att_gt_settings(dask_client: Any) -> None:
    """A Dask result holds no firm-level influence values: other bootstrap settings than att_gt's
    are refused with a clear error (the same settings reuse att_gt's draws)."""
    df = _small_panel()
    got = _fit(df, control="notyet", est="reg", allow_unbalanced=True, backend="dask")
    assert got.unit_influence() is None and got.draws == "firm"
    with pytest.raises(SpecError, match="bootstrap it in att_gt"):
        ci.aggte(got, "simple", n_boot=49, seed=1)
