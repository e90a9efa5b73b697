"""heterogeneity_effects shares subgroup_effects' options (names and defaults) through one table."""

from __future__ import annotations

import inspect
import typing

import pytest

from clusterimpact.errors import SpecError
from clusterimpact.estimation import heterogeneity as het


def test_shared_options_have_one_set_of_names_and_defaults():
    sig = inspect.signature(het.subgroup_effects).parameters
    keys = set(typing.get_type_hints(het.SubgroupOptions))
    # every shared option is a keyword of subgroup_effects, and its default is the one used by both
    assert keys == set(het._DEFAULTS) and keys <= set(sig)
    assert all(het._DEFAULTS[k] == sig[k].default for k in keys)
    # subgroup_effects' remaining keywords are its own (the class rule of one split)
    assert set(sig) - keys == {"data", "outcome", "by", "bins", "labels", "at", "window"}


def test_unknown_option_is_refused_before_any_fit():
    with pytest.raises(SpecError, match=r"unknown options \['n_boots'\]"):
        het.heterogeneity_effects(None, "y", n_boots=99)  # type: ignore[call-arg]
