"""Production functions on Dask equal the in-memory ones (#16).

On the shared Parquet panel (``dask_rows()`` firm-years, 1, 4 and 16 partitions by firm, the 2-worker
cluster): labour productivity, OLS, FE and Wooldridge (one-step; two-step and the prodest variant on
4 partitions): elasticities, parameters, standard errors, covariance, returns to scale, criterion,
counts and exclusions, and the ln TFP column written back partition by partition, to ``DASK_REL``.
ACF (its criterion evaluated by map-reduce at every trial theta, the optimiser on the client) on a
600-firm sub-panel, 1, 4 and 16 partitions: the same, the criterion and its gradient also checked
against the in-memory ``LawOfMotion`` without Dask. Small hand-made panels: what the in-memory path
refuses or counts, the Dask path refuses or counts the same way; what Dask does not do (the
bootstrap) is refused by name (OP and LP: ``test_productivity_oplp.py``). The additivity the
Dask path rests on (the estimators' per-partition statistics summed over blocks of whole firms give
the whole-sample statistics) is checked without Dask.

(The file is not ``test_productivity.py``: test folders have no ``__init__.py``, so basenames must be
unique.)
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from _asserts import assert_dask_equal as _same
from clusterimpact.dask import FirmPartitions
from clusterimpact.errors import (
    DataError,
    DataWarning,
    EstimationError,
    EstimationWarning,
    PanelError,
    SpecError,
)
from clusterimpact.panel import FirmPanel
from clusterimpact.productivity import estimate_tfp, labour_productivity
from clusterimpact.productivity._prep import prepare
from clusterimpact.productivity._runner import MemoryRunner, RowRule, Runner, add_stats
from clusterimpact.productivity.ols import OLS, _fe_cross, _ols_cross
from clusterimpact.productivity.wooldridge import Wooldridge, _cross
from tolerances import ACF_CRITERION_REL, DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]

METHODS = ["labour", "ols", "fe", "wooldridge"]
VARIANTS = {
    "wooldridge-two-step": ("wooldridge", {"weighting": "two-step"}),
    "wooldridge-prodest": ("wooldridge", {"compat": "prodest"}),
}
NAMES = ("tfp_hat", "tfp_hat_resid")


def _by_firm(df: pd.DataFrame, n: int) -> FirmPartitions:
    """``n`` partitions of whole firms (firm code mod n), cut by hand: no shuffle for a small panel."""
    import dask.dataframe as dd

    code = pd.factorize(df["firm_id"], sort=True)[0] % n
    parts = [
        df[code == r].sort_values(["firm_id", "year"]).reset_index(drop=True) for r in range(n)
    ]
    frame = dd.concat([dd.from_pandas(p, npartitions=1) for p in parts])
    assert frame.npartitions == n
    return FirmPartitions(frame, "firm_id", "year", whole_firms=True)


def _fit(data, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (EstimationWarning, DataWarning))
        return estimate_tfp(data, method=method, **kw)


def _same_result(
    got, ref, path_dependent: tuple[str, ...] = (), rel: dict[str, float] | None = None
) -> None:
    """Same terms, numbers, counts, exclusions and diagnostics (but the ``path_dependent`` ones;
    ``rel``: another relative tolerance for some diagnostics)."""
    assert type(got) is type(ref)
    assert list(got.params.index) == list(ref.params.index)
    _same(got.params, ref.params, "params")
    _same(got.elasticities, ref.elasticities, "elasticities")
    _same(got.returns_to_scale, ref.returns_to_scale, "returns to scale")
    se = ref.std_errors.to_numpy(dtype=float)
    if np.isfinite(se).any():
        _same(got.std_errors, ref.std_errors, "std_errors")
        _same(got.elasticity_se, ref.elasticity_se, "elasticity SEs")
        _same(got.returns_to_scale_se, ref.returns_to_scale_se, "returns-to-scale SE")
        _same(got.vcov.to_numpy(), ref.vcov.to_numpy(), "vcov")
    else:
        assert not np.isfinite(got.std_errors.to_numpy(dtype=float)).any()
    assert got.nobs == ref.nobs
    assert got.exclusions == ref.exclusions
    for k, v in ref.diagnostics.items():
        if k in path_dependent:
            continue
        if isinstance(v, float) and np.isfinite(v) and k in (rel or {}):
            assert_close(got.diagnostics[k], v, rel=(rel or {})[k], msg=f"diagnostics[{k!r}]")
        elif isinstance(v, float) and np.isfinite(v):
            _same(got.diagnostics[k], v, f"diagnostics[{k!r}]")
        else:
            assert got.diagnostics[k] == v or (v != v and got.diagnostics[k] != got.diagnostics[k])
    assert got.tidy()["term"].tolist() == ref.tidy()["term"].tolist()
    assert got.to_dict().keys() == ref.to_dict().keys()
    assert got.summary().splitlines()[0] == ref.summary().splitlines()[0]


def _same_tfp(got, ref, fp, panel) -> None:
    """ln TFP and its residual by firm-year: Dask (written into the partitions) vs memory (joined)."""
    cols = ["firm_id", "year", *NAMES]
    mem = ref.join(panel, name=NAMES[0], resid_name=NAMES[1])[cols]
    dsk = got.join(fp, name=NAMES[0], resid_name=NAMES[1]).frame[cols].compute()
    assert len(dsk) == len(mem)
    key = ["firm_id", "year"]
    m = mem.sort_values(key).reset_index(drop=True)
    d = dsk.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(d[key], m[key], check_dtype=False)
    for c in NAMES:
        a, b = d[c].to_numpy(float), m[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(b)
        assert ok.any()
        _same(a[ok], b[ok], c)
    sample = got.tfp.frame.compute()
    assert len(sample) == len(ref.tfp) and list(sample.columns) == list(ref.tfp.columns)


@pytest.fixture(scope="module")
def memory_results(dask_panel):
    cache: dict[str, object] = {}

    def get(key: str):
        if key not in cache:
            method, kw = VARIANTS.get(key, (key, {}))
            cache[key] = _fit(dask_panel, method, **kw)
        return cache[key]

    return get


# labour productivity is row-local (nothing is summed but its mean): 16 partitions suffice; the
# estimators at 1, 4 and 16
# make test runs OLS at every count and each other estimator at one (CLUSTERIMPACT_SWEEP=1: all)
_ALL = [(m, n) for m in METHODS for n in (1, 4, 16) if m != "labour" or n == 16]
_DEFAULT = {("ols", 1), ("ols", 4), ("ols", 16), ("fe", 16), ("wooldridge", 4), ("labour", 16)}
CASES = [c if c in _DEFAULT else pytest.param(*c, marks=pytest.mark.sweep) for c in _ALL]


@pytest.mark.parametrize(("method", "n"), CASES)
def test_dask_equals_memory(method, n, firm_partitions, dask_panel, memory_results) -> None:
    fp = firm_partitions(n)
    got = _fit(fp, method)
    ref = memory_results(method)
    _same_result(got, ref)
    _same_tfp(got, ref, fp, dask_panel)
    assert got.provenance.options["backend"] == "dask"


@pytest.mark.parametrize("key", list(VARIANTS))
def test_wooldridge_variants_on_dask(key, dask_client, acf_panel) -> None:
    """The efficient weight and the prodest basis (on the 600-firm sub-panel, 4 partitions)."""
    sub, _ = acf_panel
    method, kw = VARIANTS[key]
    fp = _by_firm(sub, 4)
    _same_result(_fit(fp, method, **kw), _fit(sub, method, **kw))


def test_a_frame_with_backend_dask_and_labour_productivity(dask_client, dask_panel) -> None:
    small = dask_panel[dask_panel["firm_id"].isin(dask_panel["firm_id"].unique()[:300])]
    ref = _fit(small, "ols")
    _same_result(_fit(small, "ols", backend="dask"), ref)
    panel = FirmPanel(small.reset_index(drop=True), pd.DataFrame(), pd.DataFrame())  # split too
    _same_result(_fit(panel, "fe", backend="dask"), _fit(panel, "fe"))
    lp_ref = labour_productivity(small)
    with pytest.warns(DataWarning, match="already has column"):
        lp = labour_productivity(small, backend="dask")
    _same_result(lp, lp_ref)
    d = lp.tfp.frame.compute().sort_values(["firm_id", "year"])
    _same(d["ln_tfp"].to_numpy(), lp_ref.tfp["ln_tfp"].to_numpy(), "labour productivity")


def test_partitions_column_replaces_with_a_warning(firm_partitions, memory_results) -> None:
    fp = firm_partitions(4)
    assert "ln_tfp" in fp.columns  # the shared panel carries a true-TFP column
    with pytest.warns(DataWarning, match="already has column"):
        got = estimate_tfp(fp, method="ols")
    part = got.partitions.frame.get_partition(0).compute()
    assert {"ln_tfp", "ln_tfp_resid"} <= set(part.columns)
    with pytest.raises(DataError, match="already has a column 'ln_tfp'"):
        got.join(fp)
    with pytest.raises(SpecError, match="not the ones"):
        got.join(firm_partitions(16))
    with pytest.raises(SpecError, match="FirmPartitions it was estimated on"):
        got.join(pd.DataFrame({"firm_id": [1], "year": [2000]}))


# -- ACF: the criterion by map-reduce, the optimiser on the client ---------------------------------------
# a sub-panel (~6,000 firm-years): every criterion evaluation is a pass over partitions
ACF_FIRMS = 600
# the default first start (OLS, computed from summed cross-products on Dask) on 4 partitions; on 1 and
# 16 partitions a start near the optimum, so that the test costs a few passes (each a cluster
# round trip) per evaluation rather than the whole search
NEAR = {"ln_emp": 0.6, "ln_capital": 0.3}
ACF_STARTS = {1: NEAR, 4: None, 16: NEAR}


@pytest.fixture(scope="module")
def acf_panel(dask_panel):
    firms = np.sort(dask_panel["firm_id"].unique())[:ACF_FIRMS]
    sub = dask_panel[dask_panel["firm_id"].isin(firms)].reset_index(drop=True)
    refs = {str(start): _fit(sub, "acf", n_starts=1, start=start) for start in (None, NEAR)}
    return sub, refs


@pytest.mark.parametrize(
    "n", [pytest.param(1, marks=pytest.mark.sweep), 4, pytest.param(16, marks=pytest.mark.sweep)]
)
def test_acf_on_dask_equals_memory(n, dask_client, acf_panel) -> None:
    sub, refs = acf_panel
    ref = refs[str(ACF_STARTS[n])]
    fp = FirmPartitions.from_pandas(sub, "firm_id", "year", npartitions=n).persist()
    got = _fit(fp, "acf", n_starts=1, start=ACF_STARTS[n])
    # both optima are Newton-polished to a gradient at rounding level, so the optimiser's path (its
    # iterations and stopping message may differ) does not show in the estimates
    _same_result(
        got, ref, path_dependent=("optimizer_status",), rel={"criterion": ACF_CRITERION_REL}
    )
    _same_tfp(got, ref, fp, sub)
    chosen = got.starts.loc[got.starts["chosen"]].iloc[0]
    assert chosen["gradient_norm"] < 1e-12
    assert got.starts.shape[0] == ref.starts.shape[0] == 1


def test_the_criterion_from_summed_statistics_is_the_in_memory_one() -> None:
    """lom_finalize over statistics summed by blocks of rows = LawOfMotion.project (criterion and
    exact gradient), also with the powers of omega_{t-1} taken at another centre and scale."""
    from clusterimpact.productivity._dask_acf import lom_finalize, lom_stats
    from clusterimpact.productivity._stages import LawOfMotion, first_stage

    arr = prepare(_panel(n_firms=200, years=8), **ACF_PREP).arrays
    X = np.column_stack([arr.F, arr.K])
    phi = first_stage(arr.y, arr.C, np.column_stack([arr.F, arr.K, arr.P]), 3).phi
    cur, lag = arr.cur, arr.lag
    Z = np.column_stack([arr.F[lag], arr.K[cur], arr.K[lag]])
    Z = Z - Z.mean(axis=0)
    W = np.linalg.inv(Z.T @ Z)
    n = cur.size
    lom = LawOfMotion(X=X, phi=phi, cur=cur, lag=lag, order=3)
    for theta in (np.array([0.6, 0.3]), np.array([0.2, 0.7])):
        _, m, Zdr = lom.project(theta, Z)
        crit, grad = float(m @ W @ m) / n, 2.0 * (Zdr.T @ W @ m) / n
        u = phi[lag] - X[lag] @ theta
        for c, s in ((u.mean(), u.std()), (u.mean() + 0.3, 1.7 * u.std())):
            st = None
            for rows in np.array_split(np.arange(n), 3):
                part = lom_stats(
                    X[cur][rows],
                    X[lag][rows],
                    phi[cur][rows],
                    phi[lag][rows],
                    Z[rows],
                    theta,
                    c,
                    s,
                    3,
                )
                st = add_stats(st, part)
            got_c, got_g = lom_finalize(st, W, n, s, 4)
            _same(got_c, crit, "criterion")
            assert_close(got_g, grad, rel=DASK_REL, floor=DASK_FLOOR, msg="gradient")


ACF_PREP = {
    "output": "ln_va",
    "free": ["ln_emp"],
    "state": ["ln_capital"],
    "proxy": "ln_materials",
    "controls": [],
    "unit": "firm_id",
    "time": "year",
    "logged": True,
}


# -- hand-made panels: the same refusals and counts -------------------------------------------------
def _panel(n_firms: int = 60, years: int = 6, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = np.repeat(np.arange(n_firms), years)
    t = np.tile(np.arange(2010, 2010 + years), n_firms)
    k = rng.normal(3, 1, f.size)
    m = 0.5 * k + rng.normal(0, 1, f.size)
    e = 0.3 * k + 0.4 * m + rng.normal(0, 0.5, f.size)
    y = 1 + 0.6 * e + 0.3 * k + rng.normal(0, 0.2, f.size) + 0.2 * m
    return pd.DataFrame(
        {"firm_id": f, "year": t, "ln_va": y, "ln_emp": e, "ln_capital": k, "ln_materials": m}
    )


def _both(df: pd.DataFrame, method: str, **kw):
    """The in-memory call and the Dask call on 2 partitions."""
    fp = _by_firm(df, 2)
    return (lambda: _fit(df, method, **kw)), (lambda: _fit(fp, method, **kw))


def _same_error(df, method, exc, pattern, **kw) -> None:
    mem, dsk = _both(df, method, **kw)
    with pytest.raises(exc, match=pattern) as e_mem:
        mem()
    with pytest.raises(exc, match=pattern) as e_dsk:
        dsk()
    # the same message up to the rows named (the partitions' rows are numbered per partition)
    strip = re.compile(r"rows?[^;]*")
    assert strip.sub("", str(e_dsk.value)) == strip.sub("", str(e_mem.value))


def test_same_errors_for_bad_columns_and_rows(dask_client) -> None:
    df = _panel()
    _same_error(df.drop(columns="ln_capital"), "ols", DataError, "ln_capital")
    dup = pd.concat([df, df.iloc[[7]]], ignore_index=True)
    _same_error(dup, "wooldridge", PanelError, "duplicate firm-years")
    _same_error(df.assign(ln_capital=2.0), "ols", DataError, "does not vary")
    _same_error(df.assign(ln_capital=2 * df["ln_emp"] + 1), "ols", DataError, "collinear inputs")
    _same_error(df.assign(ln_materials=1.5), "wooldridge", DataError, "proxy does not vary")
    _same_error(df.assign(ln_va=np.nan), "ols", DataError, "no firm-year has every")
    gaps = df[df["year"] % 2 == 0]
    _same_error(gaps, "wooldridge", PanelError, "too few periods per firm")
    const = df.assign(ln_capital=df["firm_id"] * 0.1)
    _same_error(const, "fe", EstimationError, "does not vary within firms")


def test_same_exclusions_and_an_empty_partition(dask_client) -> None:
    df = _panel()
    df.loc[df.index[:9], "ln_emp"] = np.nan
    df.loc[df["firm_id"] == 5, "ln_va"] = np.nan  # a whole firm excluded
    df = df[~((df["firm_id"] == 7) & (df["year"] > 2010))]  # a singleton firm for FE
    fp = _by_firm(df, 4)
    for method in METHODS:
        ref = _fit(df, method)
        got = _fit(fp, method)
        assert got.exclusions == ref.exclusions and got.nobs == ref.nobs
        _same(got.params, ref.params, method)
    # partitions that hold no usable firm-year add nothing
    few = df[df["firm_id"].isin([1, 2, 3, 4, 6, 8])]
    got = _fit(_by_firm(few, 16), "ols")
    _same(got.params, _fit(few, "ols").params, "ols, 6 firms in 16 partitions")


def test_bootstrap_and_bad_backend_are_refused(dask_client) -> None:
    with pytest.raises(SpecError, match="bootstrap.*not available on backend='dask'"):
        _fit(_panel(), "ols", backend="dask", n_boot=5)
    with pytest.raises(SpecError, match="backend must be one of"):
        _fit(_panel(), "ols", backend="spark")


# -- the additivity the Dask path rests on, without Dask --------------------------------------------
class _Blocks(Runner):
    """The in-memory arrays cut into blocks of whole firms, statistics summed like the Dask path."""

    distributed = True  # ln TFP as a RowRule, as on Dask

    def __init__(self, arrs) -> None:
        self.arrs = arrs

    def rows(self, fn, *args):
        return RowRule(fn, args)

    def reduce(self, fn, *args):
        out = None
        for a in self.arrs:
            out = add_stats(out, fn(a, {}, *args))
        return out


def test_block_statistics_add_up_to_the_whole() -> None:
    df = _panel(n_firms=90)
    cut = [df[df["firm_id"] % 3 == r] for r in range(3)]
    est = Wooldridge()
    opts = est._prepare_options()
    whole = prepare(df, **opts).arrays
    blocks = _Blocks([prepare(c, **opts).arrays for c in cut])
    sc, _, _ = est._scale(MemoryRunner(whole), est._order())
    for fn, args in ((_ols_cross, ()), (_fe_cross, ()), (_cross, (sc,))):
        a, b = blocks.reduce(fn, *args), MemoryRunner(whole).reduce(fn, *args)
        for k in b:
            if k in ("n_single", "n", "G"):
                assert a[k] == b[k]
            elif k not in ("max_abs", "sx"):  # a maximum; a sum that is zero up to roundoff
                _same(np.asarray(a[k]), np.asarray(b[k]), f"{fn.__name__}[{k}]")
    # and the estimator run on the blocks is the in-memory estimator
    point = OLS()._estimate(blocks, full=True)
    ref = OLS()._estimate(MemoryRunner(whole), full=True)
    _same(point.params, ref.params, "ols on blocks")
    _same(point.vcov, ref.vcov, "ols vcov on blocks")
