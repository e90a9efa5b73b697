"""The conditional DiD figure (#15): matched estimates by outcome and cohort with their CIs, beside
the unmatched ones; what is drawn equals the rows given, in percent by default."""

from __future__ import annotations

import math
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _plotfakes import estimate_result
from matplotlib.container import ErrorbarContainer

from _asserts import assert_close
from clusterimpact import plotting as P
from clusterimpact.errors import SpecError
from tolerances import EXACT_FLOOR, EXACT_REL, PLOT_DRAWN_REL

FIG_DIR = os.environ.get("CLUSTERIMPACT_FIGURE_DIR")
Z95 = 1.959963984540054  # standard normal 97.5 % quantile


def _pct(v) -> np.ndarray:
    return np.array([100.0 * (math.exp(float(b)) - 1.0) for b in np.ravel(v)])


def _close(actual, expected) -> None:
    assert_close(actual, expected, rel=PLOT_DRAWN_REL, floor=PLOT_DRAWN_REL)


def _eb(ax) -> dict[str, ErrorbarContainer]:
    return {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}


def _drawn(c: ErrorbarContainer):
    line, _caps, bars = c.lines
    xy = np.asarray(line.get_xydata())
    segs = bars[0].get_segments()
    lo = np.array([min(s[0][0], s[1][0]) for s in segs])
    hi = np.array([max(s[0][0], s[1][0]) for s in segs])
    return xy, lo, hi


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Matched DiD by cohort and pooled for ln_lp, pooled only for ln TFP; TWFE unmatched."""
    recs = []
    for outcome, cohorts in (("ln_lp", ["all", 2016, 2015]), ("ln_tfp_acf", ["all"])):
        for i, c in enumerate(cohorts):
            for sample, est_name, shift in (
                ("matched", "Matched DiD", 0.0),
                ("unmatched", "TWFE", 0.02),
            ):
                b = 0.03 + 0.01 * i + shift + (0.005 if outcome == "ln_tfp_acf" else 0.0)
                recs.append(
                    {
                        "outcome": outcome,
                        "cohort": c,
                        "sample": sample,
                        "estimator": est_name,
                        "estimate": b,
                        "conf_low": b - 0.02,
                        "conf_high": b + 0.025,
                        "n": {"all": 120, 2016: 80, 2015: 40}[c] if sample == "matched" else 900,
                    }
                )
    return pd.DataFrame(recs)


def test_draws_matched_beside_unmatched_by_outcome_and_cohort(rows, tmp_path):
    ax = P.plot_conditional_did(rows)
    cons = _eb(ax)
    assert list(cons) == ["Matched (Matched DiD)", "Unmatched (TWFE)"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "Labour productivity (VA per FTE)",  # header: a percent effect on ln X is one on X
        "All cohorts (n = 120)",
        "Cohort 2015 (n = 40)",
        "Cohort 2016 (n = 80)",
        "TFP (ACF)",
        "All cohorts (n = 120)",
    ]
    bold = [t.get_text() for t in ax.get_yticklabels() if t.get_gid() == "header"]
    assert bold == ["Labour productivity (VA per FTE)", "TFP (ACF)"]
    ticks = list(ax.get_yticks())
    order = [("ln_lp", "all", 1), ("ln_lp", 2015, 2), ("ln_lp", 2016, 3), ("ln_tfp_acf", "all", 5)]
    for name, sample, off in (
        ("Matched (Matched DiD)", "matched", 0.09),
        ("Unmatched (TWFE)", "unmatched", -0.09),
    ):
        xy, lo, hi = _drawn(cons[name])
        want = pd.concat(
            [
                rows[(rows.outcome == o) & (rows.cohort == c) & (rows["sample"] == sample)]
                for o, c, _ in order
            ]
        )
        _close(xy[:, 0], _pct(want["estimate"]))
        _close(lo, _pct(want["conf_low"]))
        _close(hi, _pct(want["conf_high"]))
        _close(xy[:, 1], [ticks[k] + off for *_, k in order])  # matched above, unmatched below
    assert ax.get_xlabel() == "Effect of membership (%)"
    cap = P.figure_caption(ax)
    assert "matched controls" in cap and "without matching" in cap and "by joining cohort" in cap
    assert cap.count("100·(exp(b) − 1)") == 1 and "95 % confidence intervals" in cap
    (png,) = P.save_figure(
        ax, os.path.join(FIG_DIR or tmp_path, "conditional_did"), formats=("png",)
    )
    assert png.stat().st_size > 0
    plt.close("all")


def test_log_points_and_intervals_from_standard_errors():
    frame = pd.DataFrame(
        {
            "outcome": ["ln_lp", "ln_lp"],
            "sample": ["matched", "unmatched"],
            "estimate": [0.04, 0.07],
            "std_error": [0.01, 0.015],
        }
    )
    ax = P.plot_conditional_did(frame, percent=False)
    xy, lo, hi = _drawn(_eb(ax)["Matched"])
    _close(xy[:, 0], [0.04])
    assert_close(lo, [0.04 - Z95 * 0.01], rel=EXACT_REL, floor=EXACT_FLOOR)
    assert ax.get_xlabel() == "Effect of membership (log points)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ln labour productivity (VA per FTE)"]
    assert "100·(exp(b) − 1)" not in P.figure_caption(ax)
    plt.close("all")


def test_results_contribute_their_overall_effect():
    matched = estimate_result(["att"], [0.05], [0.01], method="matched_did")
    twfe = estimate_result(["member"], [0.08], [0.012], method="twfe")
    rows = P.conditional_did_frame({"ln_lp": {"matched": matched, "unmatched": twfe}})
    assert list(rows["sample"]) == ["matched", "unmatched"] and set(rows["cohort"]) == {"all"}
    assert_close(rows["estimate"], [0.05, 0.08], rel=EXACT_REL)
    assert list(rows["estimator"]) == ["matched_did", "twfe"]
    two = estimate_result(["a", "b"], [0.05, 0.01], [0.01, 0.01])
    with pytest.raises(SpecError, match="2 terms and no overall_term"):
        P.conditional_did_frame({"ln_lp": {"matched": two}})


def test_bad_input_names_the_problem(rows):
    bad = rows.assign(sample=rows["sample"].replace({"unmatched": "raw"}))
    with pytest.raises(SpecError, match=r"'matched' or 'unmatched'; got \['raw'\] \(rows \[1, 3"):
        P.plot_conditional_did(bad)
    with pytest.raises(SpecError, match="no matched estimate"):
        P.plot_conditional_did(rows[rows["sample"] == "unmatched"])
    with pytest.raises(SpecError, match=r"column\(s\) \['sample'\]"):
        P.plot_conditional_did(rows.drop(columns="sample"))
    with pytest.raises(SpecError, match="tidy frame or"):
        P.plot_conditional_did([1, 2])


def test_cohorts_of_few_firms_are_a_marked_series(rows):
    few = rows.copy()
    few.loc[(few["cohort"] == 2015) & (few["sample"] == "matched"), "n"] = 12
    ax = P.plot_conditional_did(few, thin=30)
    cons = _eb(ax)
    assert list(cons) == [
        "Matched (Matched DiD)",
        "Matched, fewer than 30 firms",
        "Unmatched (TWFE)",
    ]
    xy, lo, _ = _drawn(cons["Matched, fewer than 30 firms"])
    want = few[(few["cohort"] == 2015) & (few["sample"] == "matched")]
    _close(xy[:, 0], _pct(want["estimate"]))
    _close(lo, _pct(want["conf_low"]))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Cohort 2015 (n = 12)" in labels
    _close(xy[:, 1], [ax.get_yticks()[labels.index("Cohort 2015 (n = 12)")] + 0.09])
    assert len(_drawn(cons["Matched (Matched DiD)"])[0]) == 3  # the other matched rows
    assert "fewer than 30 member firms" in P.figure_caption(ax)
    plain = P.plot_conditional_did(few, thin=None)
    assert list(_eb(plain)) == ["Matched (Matched DiD)", "Unmatched (TWFE)"]
    assert "fewer than" not in P.figure_caption(plain)
    plt.close("all")
