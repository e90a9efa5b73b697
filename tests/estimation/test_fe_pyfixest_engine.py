"""The pyfixest engine reads pyfixest through its public API only (#13): one module imports pyfixest,
it touches no private attribute of pyfixest's objects, and what it computes itself from the public pieces
(rows used, parameter count, residual df, clusters, R-squared) equals what pyfixest holds privately."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.estimation.twfe import feols
from tolerances import FE_EXACT_REL, FE_PYFIXEST_ENGINE_REL

SRC = Path(__file__).resolve().parents[2] / "src" / "clusterimpact"


def _imports_pyfixest(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "pyfixest" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pyfixest":
            return True
    return False


def test_only_the_adapter_imports_pyfixest_and_reads_no_private_attribute():
    users = [
        p.relative_to(SRC).as_posix()
        for p in sorted(SRC.rglob("*.py"))
        if _imports_pyfixest(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert users == ["estimation/fe/_pyfixest.py"]
    tree = ast.parse((SRC / "estimation/fe/_pyfixest.py").read_text(encoding="utf-8"))
    private = sorted(
        {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")}
    )
    assert private == []


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = make_panel(n_firms=150, n_years=7, seed=4, exit_share=0.2)
    rng = np.random.default_rng(0)
    df = df.loc[rng.random(len(df)) > 0.15]
    few = df["firm_id"].isin(df["firm_id"].unique()[:15])
    df = pd.concat([df.loc[~few], df.loc[few].groupby("firm_id").head(1)])  # 15 singleton firms
    df = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    df.loc[rng.random(len(df)) < 0.03, "x"] = np.nan  # missing values
    df["z"] = df["x"].fillna(0) + rng.normal(size=len(df))
    df["region"] = df["firm_id"].astype("category").cat.codes % 7
    return df


@pytest.mark.parametrize(
    "vcov, cluster",
    [("iid", None), ("hetero", None), ("cluster", "region"), ("twoway", ["firm_id", "year"])],
)
@pytest.mark.parametrize("weights", [None, "w"])
def test_engine_matches_pyfixest_private_fields(panel, vcov, cluster, weights):
    import pyfixest as pf

    fml = "ln_lp ~ member + x | firm_id + year"
    ours = feols(fml, panel, vcov, cluster=cluster, weights=weights, engine="pyfixest")
    pv = {"iid": "iid", "hetero": "hetero"}.get(
        vcov, {"CRV1": "+".join([cluster] if isinstance(cluster, str) else cluster or [])}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssc = pf.ssc(k_adj=True, k_fixef="nonnested", G_adj=True, G_df="min")
        m = pf.feols(fml, panel, vcov=pv, weights=weights, ssc=ssc, fixef_tol=1e-10)
    # the reference reads pyfixest's private fields; the engine must not, and must agree with them
    assert ours.nobs == m._N and ours.df_k == m._df_k and ours.df_resid == m._df_t
    n_missing = int(panel["x"].isna().sum())
    assert ours.exclusions == {
        "missing_values": n_missing,
        "singleton": len(panel) - n_missing - m._N,
    }
    assert ours.exclusions["singleton"] > 0
    if cluster is not None:
        assert ours.n_clusters == min(np.atleast_1d(m._G))
    assert_close(ours.r2, m._r2, rel=FE_PYFIXEST_ENGINE_REL)
    assert_close(ours.r2_within, m._r2_within, rel=FE_PYFIXEST_ENGINE_REL)
    assert ours.vcov is None  # pyfixest 0.60 publishes no covariance matrix
    # pyfixest's own standard errors (its iterative demeaning may differ in the last bits run to run)
    assert_close(ours.std_errors.to_numpy(), m.se().to_numpy(), rel=FE_EXACT_REL)


def test_engine_collinear_and_iv(panel):
    df = panel.assign(x0=0.0)
    with pytest.warns(Warning, match="x0"):
        res = feols("ln_lp ~ member + x0 + x | firm_id + year", df, engine="pyfixest")
    assert res.collinear == ("x0",) and list(res.params.index) == ["member", "x"]
    iv = feols("ln_lp ~ member | firm_id + year | x ~ z", panel)
    assert iv.engine == "pyfixest" and np.isnan(iv.r2) and np.isnan(iv.r2_within)
