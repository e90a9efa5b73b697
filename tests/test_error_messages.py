"""Error messages name the file, column and rows."""

from __future__ import annotations

import pandas as pd
import pytest

from clusterimpact._validation import check_choice, require_columns, require_numeric
from clusterimpact.errors import DataError, SpecError, describe_rows


def test_data_error_names_source_column_rows():
    e = DataError("non-numeric values", source="accounts.csv", column="va", rows=[3, 7])
    assert str(e) == "accounts.csv, column 'va', rows 3, 7: non-numeric values"
    assert e.rows == [3, 7]


def test_describe_rows_truncates():
    assert describe_rows(range(1, 13), limit=3) == "1, 2, 3, ... (12 in all)"


def test_check_choice_lists_valid_choices():
    with pytest.raises(SpecError, match=r"method='xx' is not valid; choose one of 'a', 'b'"):
        check_choice("method", "xx", ["a", "b"])
    assert check_choice("method", "a", ["a", "b"]) == "a"


def test_require_columns_and_numeric():
    df = pd.DataFrame({"va": ["1", "x", "3"], "emp": [1, 2, 3]}, index=[10, 11, 12])
    with pytest.raises(DataError, match="missing required column.*capital"):
        require_columns(df, ["va", "capital"], source="accounts.csv")
    with pytest.raises(DataError, match=r"column 'va', rows 11: non-numeric values \(e.g. 'x'\)"):
        require_numeric(df, ["emp", "va"])
