"""Belgian enterprise numbers: normalisation and the mod-97 check."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusterimpact.kbo import is_valid_kbo, kbo_check_digits, normalize_kbo, validate_kbo


@pytest.mark.parametrize(
    "value", ["0403.170.701", "BE0403170701", "BE 0403.170.701", "0403 170 701", "403170701"]
)
def test_valid_formats(value):
    assert is_valid_kbo(value)
    assert normalize_kbo(pd.Series([value])).iloc[0] == "0403170701"


@pytest.mark.parametrize(
    "value", ["0403170702", "2403170701", "04031707", "abc", "", None, float("nan")]
)
def test_invalid(value):
    assert not is_valid_kbo(value)


def test_check_digits_97_when_remainder_zero():
    assert kbo_check_digits(97 * 41565) == 97
    assert is_valid_kbo(f"0{97 * 41565:07d}97")


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 19_999_999))
def test_constructed_numbers_pass_and_neighbours_fail(first8):
    number = f"{first8:08d}{kbo_check_digits(first8):02d}"
    assert is_valid_kbo(number)
    wrong = (kbo_check_digits(first8) % 97) + 1
    assert not is_valid_kbo(f"{first8:08d}{wrong:02d}")


def test_vectorised_keeps_missing_and_index():
    s = pd.Series(["0403.170.701", None, "x"], index=[10, 11, 12])
    norm, ok = validate_kbo(s)
    assert list(norm.index) == [10, 11, 12]
    assert norm.isna().tolist() == [False, True, False]
    assert ok.tolist() == [True, False, False]
