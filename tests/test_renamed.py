"""Old option spellings map onto the new ones with a FutureWarning; both at once is an error."""

from __future__ import annotations

import warnings

import pytest

from clusterimpact._renamed import renamed_kwargs


@renamed_kwargs(B="n_boot", alpha="level")
def _f(x: int, *, n_boot: int = 99, level: float = 0.95) -> tuple[int, int, float]:
    return x, n_boot, level


def test_new_names_pass_silently() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _f(1, n_boot=5, level=0.9) == (1, 5, 0.9)


def test_old_name_warns_and_maps() -> None:
    with pytest.warns(FutureWarning, match="'B' is now spelled 'n_boot'"):
        assert _f(2, B=7) == (2, 7, 0.95)


def test_both_names_is_an_error() -> None:
    with pytest.raises(TypeError, match="both 'B' and 'n_boot'"):
        _f(3, B=1, n_boot=2)


@renamed_kwargs(alpha=("level", lambda a, lv: 1 - a, "level = 1 - alpha"))
def _g(*, level: float = 0.95) -> float:
    return level


def test_old_value_is_converted_to_the_new_option() -> None:
    with pytest.warns(FutureWarning, match=r"'alpha' is now spelled 'level' \(level = 1 - alpha\)"):
        assert _g(alpha=0.1) == pytest.approx(0.9, abs=1e-15)
