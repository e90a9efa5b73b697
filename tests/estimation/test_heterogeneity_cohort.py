"""Subgroup effects read the cohort through the package's one parser (``_cohort.cohort_years``): a
typo'd cohort is a DataError naming the column and the rows, raised before any fit, never read as
"never treated" (the module used to parse it with ``to_numeric(errors="coerce").fillna(0)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterimpact.errors import DataError
from clusterimpact.estimation import heterogeneity
from clusterimpact.estimation.heterogeneity import subgroup_effects


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    grp = np.array(["A"] * 20 + ["B"] * 20 + ["-"] * (n - 40))
    g = np.where(grp == "-", "", "2011").astype(object)
    return pd.DataFrame(
        {
            "firm_id": np.repeat([f"f{i:03d}" for i in range(n)], 2),
            "year": np.tile([2010, 2011], n),
            "treat_year": np.repeat(g, 2),
            "y": rng.normal(size=2 * n),
            "grp": np.repeat(grp, 2),
        }
    )


def test_a_typo_in_the_cohort_is_a_data_error_naming_column_and_rows(monkeypatch):
    df = _frame()
    df.loc[[4, 5], "treat_year"] = "2011x"  # firm f002, both of its rows (1-based rows 5 and 6)

    def no_fit(*a: object, **k: object) -> None:
        raise AssertionError("the cohort must be checked before any fit")

    monkeypatch.setattr(heterogeneity, "att_gt", no_fit)
    with pytest.raises(DataError, match=r"column 'treat_year', rows 5, 6: .*bad values: '2011x'"):
        subgroup_effects(df, "y", "grp", n_boot=99)


def test_text_cohorts_with_blanks_for_never_treated_still_fit():
    res = subgroup_effects(_frame(), "y", "grp", n_boot=99, seed=1)
    assert set(res.n_firms.index) == {"grp:A", "grp:B"}
