"""The comparison table is made by the tables layer from a ComparisonResult (#13): compare.py computes,
tables.comparison_table formats; ``ComparisonResult.table()`` is the same table."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from fe_helpers import make_panel

from clusterimpact import tables as T
from clusterimpact.estimation.compare import compare_estimators


@pytest.fixture(scope="module")
def cmp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compare_estimators(
            make_panel(n_firms=150, n_years=6, seed=2),
            "ln_lp",
            estimators=("twfe", "imputation"),
            terms="simple",
            bacon=False,
        )


def test_comparison_table_accepts_the_result(cmp):
    assert not cmp.failures
    rows = cmp.overall_rows()
    assert list(rows["estimator"]) == ["TWFE", "Imputation (BJS)"]  # display labels
    pd.testing.assert_frame_equal(
        rows.drop(columns="estimator"), cmp.overall().drop(columns=["estimator", "label"])
    )
    for fmt in ("markdown", "html", "latex"):
        assert T.comparison_table(cmp, fmt=fmt, digits=4) == cmp.table(fmt, digits=4)
        assert T.comparison_table(cmp, fmt=fmt) == T.comparison_table(rows, fmt=fmt)
    assert cmp._repr_html_() == str(T.comparison_table(cmp, fmt="html"))
