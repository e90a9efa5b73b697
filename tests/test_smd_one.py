"""One standardized-mean-difference implementation (balance.standardized_difference), used by the
balance tables and the selection table; the numbers are the ones the old inline formulas gave (#13)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact
from _asserts import assert_close
from clusterimpact.balance import balance_table, pooled_sd, standardized_difference
from clusterimpact.descriptive import selection_table
from clusterimpact.synthetic import simulate
from tolerances import EXACT_FLOOR, EXACT_REL

SRC = Path(clusterimpact.__file__).parent


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate("ecoom", seed=4, n_firms=800).panel().data


def test_edge_cases():
    assert standardized_difference(0.5, 0.25) == 2.0
    assert standardized_difference(0.0, 0.0) == 0.0
    assert np.isnan(standardized_difference(0.3, 0.0))
    assert np.isnan(standardized_difference(0.3, np.nan))
    assert pooled_sd(3.0, 4.0) == np.sqrt(12.5)


def test_selection_table_numbers_are_the_old_inline_formula(panel):
    tab = selection_table(panel)
    assert len(tab) >= 4 and tab["smd"].notna().all()
    for r in tab.itertuples():
        # the formula selection_table used inline before #13, to the last bit
        pooled = np.sqrt((r.sd_members**2 + r.sd_nonmembers**2) / 2)
        assert r.smd == (r.mean_members - r.mean_nonmembers) / pooled


@pytest.mark.parametrize("estimand", ["att", "atc", "ate"])
def test_balance_table_numbers_are_the_old_inline_formula(panel, estimand):
    cross = panel[panel.year == 2016].dropna(subset=["ln_emp", "age", "ln_kl"])
    cross = cross.assign(d=cross.treat_year.notna().astype(int))
    covs = ["ln_emp", "age", "ln_kl"]
    tab = balance_table(cross, "d", covs, estimand=estimand)
    t, c = cross[cross.d == 1], cross[cross.d == 0]
    for r in tab.itertuples():
        st = t[r.covariate].to_numpy(float).std(ddof=1)
        sc = c[r.covariate].to_numpy(float).std(ddof=1)
        sd = {"att": st, "atc": sc, "ate": np.sqrt((st**2 + sc**2) / 2)}[estimand]
        # another summation layout (per-covariate rows of a transposed array): floating point only
        assert_close(r.smd, r.diff / sd, rel=EXACT_REL, floor=EXACT_FLOOR)


def test_no_other_module_divides_by_a_pooled_sd():
    """The pooled-SD formula sqrt((a**2 + b**2) / 2) is written once, in balance.py."""
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.left, ast.BinOp)
                and isinstance(node.left.op, ast.Add)
                and isinstance(node.right, ast.Constant)
                and node.right.value == 2
                and all(
                    isinstance(side, ast.BinOp) and isinstance(side.op, ast.Pow)
                    for side in (node.left.left, node.left.right)
                )
            ):
                hits.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert len(hits) == 1 and hits[0].startswith("balance.py:"), hits
