"""Units (log effects as percent) and reader-facing labels: clusterimpact.units, clusterimpact.labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact import labels, units
from tolerances import STORY_CENTRAL_DIFF_REL, STORY_PERCENT_FLOOR, STORY_PERCENT_REL


@pytest.mark.parametrize("ratio", [1.05, 0.9, 1.0, 1.3, 0.5])
def test_log_to_percent_known_ratios(ratio: float) -> None:
    # a log difference of ln(ratio) is a change of 100*(ratio - 1) percent
    got = units.log_to_percent(math.log(ratio))
    assert isinstance(got, float)
    assert_close(got, 100 * (ratio - 1), rel=STORY_PERCENT_REL, abs=STORY_PERCENT_FLOOR * 100)


def test_log_to_percent_containers_keep_type_and_nan() -> None:
    b = np.array([-0.2, 0.0, 0.03, np.nan])
    expected = np.array([100 * (math.exp(v) - 1) if np.isfinite(v) else np.nan for v in b])
    arr = units.log_to_percent(b)
    assert isinstance(arr, np.ndarray)
    assert np.isnan(arr[3])
    assert_close(arr[:3], expected[:3], rel=STORY_PERCENT_REL, floor=STORY_PERCENT_FLOOR)
    s = units.log_to_percent(pd.Series(b, index=list("abcd")))
    assert isinstance(s, pd.Series) and list(s.index) == list("abcd")
    assert_close(s.to_numpy()[:3], expected[:3], rel=STORY_PERCENT_REL, floor=STORY_PERCENT_FLOOR)
    df = pd.DataFrame({"lower": b[:3], "upper": b[:3] + 0.1})
    out = units.log_to_percent(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["lower", "upper"]
    assert (out["lower"] < out["upper"]).all()  # monotone: interval order kept
    assert df["lower"].iloc[0] == -0.2  # input not modified


def test_percent_inverse_and_delta_se() -> None:
    for b in (-0.3, 0.0, 0.042, 0.7):
        assert_close(
            units.percent_to_log(units.log_to_percent(b)),
            b,
            rel=STORY_PERCENT_REL,
            abs=STORY_PERCENT_FLOOR,
        )
    # delta method: derivative of 100*(exp(b)-1) is 100*exp(b); check against a central difference
    b, se, h = 0.05, 0.02, 1e-6
    slope = (units.log_to_percent(b + h) - units.log_to_percent(b - h)) / (2 * h)
    assert_close(units.percent_se(b, se), slope * se, rel=STORY_CENTRAL_DIFF_REL)


def test_format_percent_signs() -> None:
    assert units.format_percent(3.04) == "+3.0%"
    assert units.format_percent(-1.25, 2) == "−1.25%"
    assert units.format_percent(-0.04) == "0.0%"  # no "−0.0%"
    assert units.format_percent(2.0, sign=False) == "2.0%"
    assert units.format_percent(float("nan")) == "n/a"


def test_is_log_outcome_and_note() -> None:
    assert units.is_log_outcome("ln_lp") and units.is_log_outcome("ln_tfp_acf")
    assert not units.is_log_outcome("emp")
    assert "100·(exp(b) − 1)" in units.PERCENT_NOTE
    assert "log points" not in units.PERCENT_NOTE


def test_labels_matching_variables_follow_the_window() -> None:
    assert labels.label("ln_emp_pre_mean") == "Size (ln FTE), mean over g-4..g-1"
    assert (
        labels.label("ln_kl_pre_mean", window=2) == "Capital intensity (ln K/L), mean over g-3..g-1"
    )
    assert labels.label("ln_lp_growth") == "Productivity growth (Δ ln VA per FTE), g-4 to g-1"
    assert labels.label("age") == "Age (years)"
    # a column this module does not know stays as the user named it (also with a known suffix)
    assert labels.label("my_score") == "my_score"
    assert labels.label("unknown_pre_mean") == "unknown_pre_mean"


def test_every_label_names_a_unit_or_kind() -> None:
    # economic variables carry their unit: ln, FTE, years, deflated, 0/1 or a ratio
    for name in ("ln_lp", "ln_emp", "emp", "age", "ln_kl", "va", "capital", "ln_tfp_acf", "member"):
        text = labels.label(name)
        assert text != name
        assert any(u in text for u in ("ln", "FTE", "years", "deflated", "0/1", "K/L")), text


def test_column_estimator_and_term_labels() -> None:
    assert labels.column_label("mean_control_after") == "Mean, matched controls"
    assert labels.column_label("whatever") == "whatever"
    assert labels.estimator_label("imputation") == "Imputation (BJS)"
    assert labels.term_label("member_years::3") == "Year 3 of membership"
    assert labels.term_label("member_years::5+") == "Years 5+ of membership"
    assert labels.term_label("dynamic:-3") == "Event time −3"
    assert labels.term_label("group:2017") == "Cohort 2017"
    assert labels.term_label("cluster:Flux-50") == "Cluster: Flux-50"  # a name keeps its hyphen
    assert labels.term_label("ATT(2017,2018)") == "ATT(2017,2018)"


@pytest.mark.parametrize("module", [units, labels])
def test_docstring_examples_run(module: object) -> None:
    import doctest

    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
