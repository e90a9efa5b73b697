"""Olley-Pakes and Levinsohn-Petrin on Dask equal the in-memory estimates (#16).

Both paths run the passes of ``productivity/_op_passes.py`` (first-stage cross-products, the survival
probit's Newton sums, the second stage's moments at every trial theta); in memory on one block, on
Dask over firm partitions with the optimiser on the client. The optimum is Newton-polished on both,
so parameters, criterion, counts, diagnostics and ln TFP by firm-year agree to ``DASK_REL``:

- LP on the shared Parquet panel (``firm_partitions(n)``, 1, 4 and 16 partitions), one start near
  the optimum (every criterion evaluation is a cluster round trip);
- OP with the exit correction (the survival probit by map-reduce Newton steps) on a 500-firm
  sub-panel, 4 partitions (with ``CLUSTERIMPACT_SWEEP=1`` also 1 and 16, LP fitted to omega on 16, and
  the default multistart on 4: starts from the OLS fit on summed cross-products, seeded draws);
- without Dask: the statistics summed over blocks of whole firms give the whole-sample estimate; the
  criterion and gradient from the summed moments equal the row-wise ``LawOfMotion`` (the in-memory
  route before the port, an independent implementation); the survival probit equals statsmodels';
- loud cases: what the in-memory path refuses (no exits to model, a flat proxy, a missing column, too
  few lags) the Dask path refuses with the same error; the bootstrap is refused on Dask; a
  separated survival probit warns on both paths.
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
from clusterimpact.productivity import OlleyPakes, estimate_tfp
from clusterimpact.productivity._prep import prepare
from clusterimpact.productivity._runner import (
    MemoryBlocks,
    MemoryRunner,
    RowRule,
    Runner,
    add_stats,
)
from tolerances import DASK_FLOOR, DASK_REL, SURVIVAL_PROBIT_REL

pytestmark = [pytest.mark.xdist_group("dask")]

NAMES = ("tfp_hat", "tfp_hat_resid")
NEAR = {"ln_capital": 0.3}  # the capital elasticity's start (true 0.30): a few evaluations each


def _fit(data, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (EstimationWarning, DataWarning))
        return estimate_tfp(data, method=method, seed=1, **kw)


def _same_result(got, ref) -> None:
    """Same terms, numbers, counts, exclusions, diagnostics and table of starts."""
    assert type(got) is type(ref)
    assert list(got.params.index) == list(ref.params.index)
    _same(got.params, ref.params, "params")
    _same(got.elasticities, ref.elasticities, "elasticities")
    _same(got.returns_to_scale, ref.returns_to_scale, "returns to scale")
    assert got.nobs == ref.nobs and got.exclusions == ref.exclusions
    for k, v in ref.diagnostics.items():
        if k == "optimizer_status":  # the optimiser's path may end with another message
            continue
        if isinstance(v, float) and np.isfinite(v):
            _same(got.diagnostics[k], v, f"diagnostics[{k!r}]")
        else:
            assert got.diagnostics[k] == v or (v != v and got.diagnostics[k] != got.diagnostics[k])
    # every start, and the chosen (Newton-polished) optimum; the others stop where BFGS's tolerance
    # and path leave them (not polished), so they agree only to that
    starts = [c for c in ref.starts.columns if c.startswith("start")]
    _same(got.starts[starts].to_numpy(float), ref.starts[starts].to_numpy(float), "starts")
    assert got.starts["chosen"].tolist() == ref.starts["chosen"].tolist()
    chosen = ref.starts["chosen"].to_numpy()
    names = list(ref.elasticities.index.intersection(ref.starts.columns))
    _same(
        got.starts.loc[chosen, names].to_numpy(float),
        ref.starts.loc[chosen, names].to_numpy(float),
        "optimum",
    )
    assert got.warnings == ref.warnings
    assert got.to_dict().keys() == ref.to_dict().keys()
    assert got.tidy()["term"].tolist() == ref.tidy()["term"].tolist()


def _same_tfp(got, ref, fp, panel) -> None:
    """ln TFP and its residual by firm-year: Dask (written into the partitions) vs memory (joined)."""
    cols = ["firm_id", "year", *NAMES]
    key = ["firm_id", "year"]
    mem = ref.join(panel, name=NAMES[0], resid_name=NAMES[1])[cols]
    dsk = got.join(fp, name=NAMES[0], resid_name=NAMES[1]).frame[cols].compute()
    m = mem.sort_values(key).reset_index(drop=True)
    d = dsk.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(d[key], m[key], check_dtype=False)
    for c in NAMES:
        a, b = d[c].to_numpy(float), m[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert (~np.isnan(b)).any()
        _same(a[~np.isnan(b)], b[~np.isnan(b)], c)


# -- LP on the shared panel ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lp_memory(dask_panel):
    return _fit(dask_panel, "lp", n_starts=1, start=NEAR)


@pytest.mark.parametrize("n", [1, 4, 16])
def test_lp_on_the_shared_panel(n, firm_partitions, dask_panel, lp_memory) -> None:
    fp = firm_partitions(n)
    got = _fit(fp, "lp", n_starts=1, start=NEAR)
    _same_result(got, lp_memory)
    _same_tfp(got, lp_memory, fp, dask_panel)
    assert got.provenance.options["backend"] == "dask"
    chosen = got.starts.loc[got.starts["chosen"]].iloc[0]
    assert chosen["converged"] and chosen["gradient_norm"] < 1e-12


# -- OP with the exit correction, LP on omega: a sub-panel -------------------------------------------------
SUB_FIRMS = 500
VARIANTS = {
    "op-exit": ("op", {"exit_correction": True, "n_starts": 1, "start": NEAR}),
    "lp-omega": ("lp", {"lom_target": "omega", "n_starts": 1, "start": NEAR}),
    "op-default-starts": ("op", {"n_starts": 3}),
}


@pytest.fixture(scope="module")
def sub_panel(dask_panel):
    firms = np.sort(dask_panel["firm_id"].unique())[:SUB_FIRMS]
    sub = dask_panel[dask_panel["firm_id"].isin(firms)].reset_index(drop=True)
    refs: dict[str, object] = {}

    def ref(key: str):
        if key not in refs:
            method, kw = VARIANTS[key]
            refs[key] = _fit(sub, method, **kw)
        return refs[key]

    return sub, ref


# make test runs the exit correction on 4 partitions (the test budget: every criterion evaluation is
# a cluster round trip); CLUSTERIMPACT_SWEEP=1 adds 1 and 16 partitions, LP on omega and the default
# multistart (the same passes on blocks of firms without Dask are checked below at every setting)
_SWEEP = [("op-exit", 1), ("op-exit", 16), ("lp-omega", 16), ("op-default-starts", 4)]
CASES = [("op-exit", 4)] + [pytest.param(*c, marks=pytest.mark.sweep) for c in _SWEEP]


@pytest.mark.parametrize(("key", "n"), CASES)
def test_sub_panel_on_dask_equals_memory(key, n, dask_client, sub_panel) -> None:
    sub, ref = sub_panel
    method, kw = VARIANTS[key]
    fp = _by_firm(sub, n)
    got = _fit(fp, method, **kw)
    _same_result(got, ref(key))
    _same_tfp(got, ref(key), fp, sub)
    if "exit_correction" in kw:
        assert got.diagnostics["exits"] > 0


# -- without Dask: the passes summed over blocks of whole firms -----------------------------------------
class _Blocks(Runner):
    """The in-memory arrays cut into blocks of whole firms, summed like the Dask path."""

    distributed = True  # ln TFP as a RowRule; no rows for a least-squares fallback

    def __init__(self, arrs) -> None:
        self.arrs = arrs

    def reduce(self, fn, *args):
        out = None
        for a in self.arrs:
            out = add_stats(out, fn(a, {}, *args))
        return out

    def rows(self, fn, *args):
        return RowRule(fn, args)

    def blocks(self, fn, *args):
        parts = [MemoryBlocks(fn(a, {}, *args)) for a in self.arrs]
        return _SumBlocks(parts)


class _SumBlocks:
    def __init__(self, parts) -> None:
        self.parts = parts

    def reduce(self, fn, *args):
        out = None
        for p in self.parts:
            out = add_stats(out, p.reduce(fn, *args))
        return out


def _panel(n_firms: int = 150, years: int = 8, seed: int = 3, exits: bool = True) -> pd.DataFrame:
    """A small production panel with persistent productivity, investment and materials rising with
    it, and (``exits``) low-productivity firms leaving early."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_firms):
        om, k = rng.normal(0, 0.3), rng.normal(3, 0.8)
        for t in range(2010, 2010 + years):
            om = 0.7 * om + rng.normal(0, 0.2)
            e = 0.5 * k + 0.8 * om + rng.normal(0, 0.3)
            inv = 0.5 * k + 1.5 * om + rng.normal(0, 0.2)
            m = 0.4 * k + 0.6 * e + 1.2 * om + rng.normal(0, 0.1)
            y = 1 + 0.6 * e + 0.3 * k + om + rng.normal(0, 0.1)
            rows.append((f, t, y, e, k, inv, m))
            if exits and om < -0.35 and rng.random() < 0.5:
                break
            k = 0.9 * k + 0.1 * inv + rng.normal(0, 0.05)
    cols = ["firm_id", "year", "ln_va", "ln_emp", "ln_capital", "ln_investment", "ln_materials"]
    return pd.DataFrame(rows, columns=cols)


def _blocks(df: pd.DataFrame, est, n: int = 3) -> tuple[MemoryRunner, _Blocks, list]:
    """The whole sample's runner, blocks of whole firms, and each block's firm-year keys."""
    opts = est._prepare_options()
    preps = [prepare(df[df["firm_id"] % n == r], **opts) for r in range(n)]
    whole = MemoryRunner(prepare(df, **opts).arrays)
    return whole, _Blocks([p.arrays for p in preps]), [p.keys for p in preps]


@pytest.mark.parametrize(
    "kw", [{}, {"exit_correction": True}, {"lom_target": "omega", "exit_correction": True}]
)
def test_blocks_of_firms_give_the_whole_sample_estimate(kw) -> None:
    est = OlleyPakes(seed=2, n_starts=2, **kw)
    df = _panel()
    whole, blocks, keys = _blocks(df, est)
    ref = est._estimate(whole)
    got = est._estimate(blocks)
    _same(got.params, ref.params, "params")
    _same(got.diagnostics["criterion"], ref.diagnostics["criterion"], "criterion")
    assert got.diagnostics.get("exits") == ref.diagnostics.get("exits")
    assert got.exclusions == ref.exclusions
    # ln TFP: the rule applied block by block = the in-memory rows, firm-year by firm-year
    ln = pd.concat(
        [k.assign(v=got.tfp_rule(a)[0]) for k, a in zip(keys, blocks.arrs, strict=True)]
    ).sort_values(["firm_id", "year"])
    mem = prepare(df, **est._prepare_options()).keys.assign(v=ref.ln_tfp)
    pd.testing.assert_frame_equal(
        ln[["firm_id", "year"]].reset_index(drop=True), mem[["firm_id", "year"]]
    )
    _same(ln["v"].to_numpy(), mem["v"].to_numpy(), "ln TFP")


@pytest.mark.parametrize(
    ("extra", "omega"), [(False, False), (False, True), (True, False), (True, True)]
)
def test_the_criterion_from_summed_moments_is_the_row_wise_one(extra, omega) -> None:
    """lom_finalize over lom_moments summed by blocks = LawOfMotion.project on the rows (criterion
    and exact gradient), also with omega_{t-1} centred and scaled elsewhere."""
    from clusterimpact.productivity._op_passes import lom_finalize, lom_moments
    from clusterimpact.productivity._stages import LawOfMotion

    rng = np.random.default_rng(5)
    n = 3000
    xl = rng.normal(3, 1, (n, 1))
    xc = xl + rng.normal(0, 0.2, (n, 1))
    phil = 0.3 * xl[:, 0] + rng.normal(0, 0.5, n)
    phic = 0.3 * xc[:, 0] + 0.7 * (phil - 0.3 * xl[:, 0]) + rng.normal(0, 0.2, n)
    rows = {"xc": xc, "xl": xl, "phic": phic, "phil": phil, "basec": phic + rng.normal(0, 0.1, n)}
    ex = None
    if extra:
        rows["extra"] = 1 / (1 + np.exp(-2 - rng.normal(0, 1, n)))[:, None]
        ex = (float(rows["extra"].mean()), float(rows["extra"].std()))
    lom = LawOfMotion(
        X=np.r_[xc, xl],
        phi=np.r_[phic, phil],
        cur=np.arange(n),
        lag=np.arange(n, 2 * n),
        order=3,
        base=np.r_[rows["basec"], np.zeros(n)],
        extra=rows.get("extra"),
        fit_on="omega" if omega else "target",
    )
    for theta in (np.array([0.3]), np.array([0.1])):
        _, rr, rdr = lom.project(theta)
        w = phil - xl @ theta
        for c, s in ((w.mean(), w.std()), (w.mean() + 0.4, 1.6 * w.std())):
            st = None
            for part in np.array_split(np.arange(n), 3):
                block = {k: v[part] for k, v in rows.items()}
                st = add_stats(st, lom_moments(block, theta, c, s, 3, omega, ex))
            crit, grad = lom_finalize(st, n, s, 3, 1 + int(extra), omega)
            _same(crit, float(rr[0]) / n, "criterion")
            assert_close(grad, 2.0 * rdr[0] / n, rel=DASK_REL, floor=DASK_FLOOR, msg="gradient")


def test_the_survival_probit_is_statsmodels_probit() -> None:
    from statsmodels.discrete.discrete_model import Probit

    from clusterimpact.productivity._op_passes import survival_rows
    from clusterimpact.productivity.olley_pakes import survival_probability

    df = _panel(n_firms=300)
    arr = prepare(df, **OlleyPakes()._prepare_options()).arrays
    problems: list[str] = []
    prob, n_exit = survival_probability(arr, 2, problems=problems)
    assert problems == [] and n_exit > 0
    mu = np.column_stack([arr.K, arr.P]).mean(axis=0)
    sd = np.column_stack([arr.K, arr.P]).std(axis=0)
    D, Dr, s = survival_rows(arr, {}, (mu, sd, 2, int(arr.time.max())))
    assert int((s == 0).sum()) == n_exit
    res = Probit(s, Dr).fit(disp=0, method="newton", tol=1e-13, maxiter=100)
    assert_close(prob, res.predict(D), rel=SURVIVAL_PROBIT_REL, msg="survival probabilities")


# -- loud cases: the same refusals and warnings ---------------------------------------------------------
def _by_firm(df: pd.DataFrame, n: int) -> FirmPartitions:
    """``n`` partitions of whole firms (firm code mod n), cut by hand: no shuffle for a small panel."""
    import dask.dataframe as dd

    code = pd.factorize(df["firm_id"], sort=True)[0] % n
    parts = [
        df[code == r].sort_values(["firm_id", "year"]).reset_index(drop=True) for r in range(n)
    ]
    return FirmPartitions(
        dd.concat([dd.from_pandas(p, npartitions=1) for p in parts]),
        "firm_id",
        "year",
        whole_firms=True,
    )


def _same_error(df, method, exc, pattern, **kw) -> None:
    with pytest.raises(exc, match=pattern) as e_mem:
        _fit(df, method, n_starts=1, **kw)
    with pytest.raises(exc, match=pattern) as e_dsk:
        _fit(_by_firm(df, 2), method, n_starts=1, **kw)
    strip = re.compile(r"rows?[^;]*")  # partitions number their rows per partition
    assert strip.sub("", str(e_dsk.value)) == strip.sub("", str(e_mem.value))


def test_same_errors(dask_client) -> None:
    df = _panel(n_firms=40, exits=False)
    _same_error(df, "op", EstimationError, "no firm leaves the panel", exit_correction=True)
    _same_error(df.assign(ln_investment=1.0), "op", DataError, "proxy does not vary")
    _same_error(df.drop(columns="ln_materials"), "lp", DataError, "ln_materials")
    _same_error(df[df["year"] % 2 == 0], "lp", PanelError, "too few periods per firm")
    with pytest.raises(SpecError, match="bootstrap.*not available on backend='dask'"):
        _fit(df, "op", backend="dask", n_boot=3)
    with pytest.raises(SpecError, match="bootstrap.*not available on backend='dask'"):
        _fit(_by_firm(df, 2), "lp", n_boot=3)


def test_a_separated_survival_probit_warns_on_both_paths(dask_client) -> None:
    """Firms leave exactly when their capital is low: the in-memory path names the separation (its
    linear programme needs the rows), the Dask path the probit's non-convergence."""
    df = _panel(n_firms=60, exits=False)
    low = df["ln_capital"] < df["ln_capital"].quantile(0.3)
    first = df[low & (df["year"] < df["year"].max())].groupby("firm_id")["year"].min()
    stop = df["firm_id"].map(first).fillna(df["year"].max())
    df = df[df["year"] <= stop].reset_index(drop=True)
    for data, phrase in ((df, "separation"), (_by_firm(df, 1), "did not converge")):
        with pytest.warns(EstimationWarning, match="exit correction: the survival probit") as rec:
            res = estimate_tfp(data, "op", exit_correction=True, n_starts=1, seed=1)
        assert any(phrase in str(w.message) for w in rec), [str(w.message) for w in rec]
        assert np.isfinite(res.params["ln_capital"])
