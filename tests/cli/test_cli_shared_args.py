"""The CLI's shared argument helpers (#13): one definition of the staggered-DiD flags, --level and
the panel keys, used by did, heterogeneity and chain."""

from __future__ import annotations

import argparse

import pytest

from clusterimpact.cli import build_parser
from clusterimpact.cli._common import check_level, panel_keys
from clusterimpact.errors import SpecError

STAGGERED = (
    "cohort",
    "control",
    "covariates",
    "est",
    "anticipation",
    "allow_unbalanced",
    "cluster",
)


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_did_and_heterogeneity_share_the_staggered_flags():
    flags = [
        "--cohort", "g", "--control", "notyet", "--covariates", "a,b", "--est", "ipw",
        "--anticipation", "1", "--allow-unbalanced", "--cluster", "region", "--level", "0.9",
    ]  # fmt: skip
    did = _parse(["did", "--data", "x.csv", "--outcome", "y", *flags])
    het = _parse(["heterogeneity", "--data", "x.csv", "--outcome", "y", *flags])
    for name in (*STAGGERED, "level"):
        assert getattr(did, name) == getattr(het, name), name
    assert (did.cohort, did.control, did.est, did.anticipation) == ("g", "notyet", "ipw", 1)
    assert did.allow_unbalanced is True and did.level == 0.9
    assert panel_keys(did) == {"cohort": "g", "unit": "firm_id", "time": "year"}


def test_defaults_are_the_same_in_both_commands():
    did = _parse(["did", "--data", "x.csv", "--outcome", "y"])
    het = _parse(["heterogeneity", "--data", "x.csv", "--outcome", "y"])
    for name in (*STAGGERED, "level"):
        assert getattr(did, name) == getattr(het, name), name


@pytest.mark.parametrize("level", [0.0, 1.0, 95.0, -0.5])
def test_level_outside_the_unit_interval_is_a_spec_error(level):
    with pytest.raises(SpecError, match=rf"--level must be in \(0, 1\), got {level}"):
        check_level(level)
    check_level(0.95)
