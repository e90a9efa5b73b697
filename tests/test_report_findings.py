"""Key findings (report/_findings.py): verdicts follow the numbers, numbers follow the results.

Two layers: hand-made results that drive every verdict branch (cheap), and the small synthetic study
built on the ``null`` and ``declining`` scenarios (a few seconds each: one TFP method, no bootstrap, no
robustness checks), whose findings must say the honest thing and state the numbers of the results
they rest on (checked against the result objects, not against the findings' own arithmetic).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _asserts import assert_close
from clusterimpact.report._findings import Finding, findings_html, key_findings
from clusterimpact.spec import BootstrapSpec, DataSpec, RobustnessSpec, StudySpec
from tolerances import STORY_FINDING_PCT_ABS, STORY_FINDING_PP_ABS, STORY_PERCENT_REL

Y = "ln_tfp_acf"


def shown_number(text: str) -> float:
    """A number as a finding prints it: ``+4.0%``, ``−2.6%``, ``= 0.127``, ``< 0.001`` (-> 0.001)."""
    s = text.replace("−", "-").replace("%", "").replace("=", "").replace("<", "").strip()
    return float(s)


def number(f: Finding, key: str) -> tuple[float, str]:
    for p in f.parts:
        if not isinstance(p, str) and p[0] == key:
            return p[1], p[2]
    raise AssertionError(f"finding {f.key} states no {key}: {f.text}")


def by_key(fs: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.key: f for f in fs}


# -- hand-made results: every branch --------------------------------------------------------------
@dataclass
class FakeProfile:
    """A duration-like result: tidy() with member_years bins and a slope."""

    rows: list[tuple[str, float, float]]  # term, estimate, std_error
    nobs: int = 100

    def tidy(self, level: float = 0.95) -> pd.DataFrame:
        from scipy import stats

        z = float(stats.norm.ppf(0.5 + level / 2))
        t = pd.DataFrame(self.rows, columns=["term", "estimate", "std_error"])
        t["conf_low"] = t["estimate"] - z * t["std_error"]
        t["conf_high"] = t["estimate"] + z * t["std_error"]
        t["p_value"] = 2 * stats.norm.sf(np.abs(t["estimate"] / t["std_error"]))
        return t


def comparison(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    recs = []
    for name, b, se in rows:
        recs.append(
            {
                "outcome": "ln TFP (ACF)",
                "estimator": name,
                "term": "simple",
                "estimate": b,
                "std_error": se,
                "conf_low": b - 1.96 * se,
                "conf_high": b + 1.96 * se,
                "nobs": 1000,
            }
        )
    return pd.DataFrame(recs)


@dataclass
class FakePre:
    pretest: dict[str, float]
    nobs: int = 1


def test_positive_growing_premium_without_pretrend_problem() -> None:
    results: dict[str, Any] = {
        "comparison": comparison(
            [
                ("TWFE (1{t >= G})", 0.02, 0.005),
                ("Callaway-Sant'Anna", 0.03, 0.01),
                ("Sun-Abraham", 0.035, 0.01),
                ("Matched DiD", 0.025, 0.008),
            ]
        ),
        f"duration:{Y}": FakeProfile(
            [
                ("member_years::1", 0.01, 0.004),
                ("member_years::5+", 0.046, 0.01),
                ("slope", 0.009, 0.002),
            ]
        ),
        f"cs:{Y}": FakePre({"stat": 3.0, "df": 4.0, "p_value": 0.56}),
    }
    f = by_key(key_findings(results, Y))
    assert list(f) == ["premium", "duration", "pretrend", "comparison", "null"]
    assert f["premium"].verdict == "positive"
    v, shown = number(f["premium"], "estimate_pct")
    assert_close(v, 100 * (math.exp(0.03) - 1), rel=STORY_PERCENT_REL)  # CS is the headline
    assert shown == "+3.0%"
    lo, _ = number(f["premium"], "ci_low_pct")
    assert_close(lo, 100 * (math.exp(0.03 - 1.96 * 0.01) - 1), rel=STORY_PERCENT_REL)
    assert f["duration"].verdict == "grows"
    assert "With parallel trends rejected" not in f["duration"].text
    assert number(f["duration"], "slope_pp")[1] == "+0.90"
    assert number(f["duration"], "last_pct")[1] == "+4.7%"
    assert f["pretrend"].verdict == "not rejected" and "χ²(4) = 3.00" in f["pretrend"].text
    assert f["comparison"].verdict == "agree"
    assert "significant positive" in f["comparison"].text
    assert f["null"].verdict == "no effect rejected"
    assert "pre-trend test rejects" not in f["null"].text
    assert "not the effect" not in f["premium"].text


def test_shrinking_premium_rejected_pretrends_and_disagreeing_estimators() -> None:
    results: dict[str, Any] = {
        "comparison": comparison(
            [
                ("TWFE (1{t >= G})", -0.03, 0.01),
                ("Imputation (BJS)", 0.04, 0.01),
                ("Matched DiD", 0.0, 0.02),
            ]
        ),
        f"duration:{Y}": FakeProfile(
            [
                ("member_years::1", 0.05, 0.01),
                ("member_years::3", 0.0, 0.01),
                ("slope", -0.02, 0.005),
            ]
        ),
        f"cs:{Y}": FakePre({"stat": 40.0, "df": 3.0, "p_value": 1e-8}),
    }
    f = by_key(key_findings(results, Y))
    assert f["premium"].verdict == "positive"  # imputation is the robust headline here
    assert "Imputation (BJS)" in f["premium"].text
    assert "not the effect of membership" in f["premium"].text  # pre-trends rejected
    assert f["duration"].verdict == "shrinks" and "shrinks" in f["duration"].text
    assert "With parallel trends rejected" in f["duration"].text
    assert number(f["duration"], "slope_pp")[1] == "−2.00"
    assert f["pretrend"].verdict == "rejected" and "p < 0.001" in f["pretrend"].text
    assert f["comparison"].verdict == "differ"
    assert "1 of 3 intervals lie above zero and 1 below" in f["comparison"].text
    assert f["null"].verdict == "no effect rejected" and "pre-trend test rejects" in f["null"].text


def test_no_premium_reads_as_consistent_with_no_effect() -> None:
    results: dict[str, Any] = {
        "comparison": comparison(
            [("Callaway-Sant'Anna", -0.005, 0.01), ("Matched DiD", 0.01, 0.02)]
        ),
        f"duration:{Y}": FakeProfile([("member_years::1", 0.0, 0.01), ("slope", 0.001, 0.004)]),
    }
    f = by_key(key_findings(results, Y))
    assert "pretrend" not in f  # no pre-test among the results: no sentence about it
    assert f["premium"].verdict == "not significant"
    assert f["duration"].verdict == "no change"
    assert f["comparison"].verdict == "agree" and "no significant premium" in f["comparison"].text
    assert f["null"].verdict == "consistent with no effect"
    hi, shown = number(f["null"], "null_max_pct")
    assert_close(hi, 100 * (math.exp(-0.005 + 1.96 * 0.01) - 1), rel=STORY_PERCENT_REL)
    assert shown == "+1.5%"


def test_no_results_no_findings_and_html_says_so() -> None:
    assert key_findings({}, Y) == ()
    page = findings_html((), outcome=Y)
    assert '<div id="findings" class="key-findings">' in page and "No overall estimate" in page


def test_html_links_escapes_and_marks_numbers() -> None:
    hostile = "ln_<b>x</b>"  # an outcome column named by the user, shown as given (no label)
    cmp = comparison([("Callaway-Sant'Anna", 0.03, 0.01), ("Matched DiD", 0.0, 0.1)])
    fs = key_findings({"comparison": cmp.assign(outcome=hostile)}, hostile)
    assert fs and hostile in fs[0].text
    page = findings_html(fs, outcome=hostile)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert page.count('<a href="#tab-comparison">') == len(fs)
    spans = re.findall(r'<span class="num" data-key="([a-z_]+)">([^<]+)</span>', page)
    assert ("estimate_pct", "+3.0%") in spans
    assert "100·(exp(b) − 1)" in page  # the unit stated once
    assert page.count("100·(exp(b) − 1)") == 1


# -- the small study on the null and declining scenarios -----------------------------------------
_RUNS: dict[str, Any] = {}


def scenario_run(scenario: str, tmp_root: Path) -> Any:
    if scenario not in _RUNS:
        from clusterimpact.report import report

        base = StudySpec.default()
        spec = replace(
            base,
            title=f"findings on {scenario}",
            data=DataSpec(source="simulate", scenario=scenario, synthetic_seed=1, n_firms=2000),
            outcomes=replace(base.outcomes, tfp_methods=("acf",)),
            estimation=replace(
                base.estimation,
                estimators=("twfe", "cs", "sa", "imputation", "duration", "compare", "matched_did"),
            ),
            bootstrap=BootstrapSpec(did_draws=0, tfp_reps=0),
            robustness=RobustnessSpec(checks=()),
        )
        _RUNS[scenario] = report(spec, out=tmp_root / scenario, progress=False)
    return _RUNS[scenario]


def check_against_results(run: Any) -> dict[str, Finding]:
    """Every number a finding states equals the result it rests on (printed precision), and every
    verdict follows from those numbers."""
    res = run.results
    f = by_key(key_findings(res, Y))
    cs = res[f"cs_simple:{Y}"]
    ci = cs.conf_int().loc["simple"]
    b = float(cs.params["simple"])
    for key, val in (
        ("estimate_pct", b),
        ("ci_low_pct", ci["lower"]),
        ("ci_high_pct", ci["upper"]),
    ):
        v, shown = number(f["premium"], key)
        expected = 100 * (math.exp(float(val)) - 1)
        assert_close(shown_number(shown), expected, abs=STORY_FINDING_PCT_ABS, msg=key)
        assert_close(v, expected, rel=STORY_PERCENT_REL, msg=key)
    sig = "positive" if ci["lower"] > 0 else "negative" if ci["upper"] < 0 else "not significant"
    assert f["premium"].verdict == sig
    dur = res[f"duration:{Y}"]
    slope, sci = float(dur.params["slope"]), dur.conf_int().loc["slope"]
    assert_close(
        shown_number(number(f["duration"], "slope_pp")[1]), 100 * slope, abs=STORY_FINDING_PP_ABS
    )
    want = "grows" if sci["lower"] > 0 else "shrinks" if sci["upper"] < 0 else "no change"
    assert f["duration"].verdict == want
    pre = res[f"cs:{Y}"]
    p = float(
        getattr(pre, "pretrend", None).p_value
        if getattr(pre, "pretrend", None) is not None
        else pre.pretest["p_value"]
    )
    assert f["pretrend"].verdict == ("rejected" if p < 0.05 else "not rejected")
    covers = ci["lower"] <= 0 <= ci["upper"]
    assert f["null"].verdict == ("consistent with no effect" if covers else "no effect rejected")
    return f


def test_null_scenario_says_no_significant_premium(tmp_path_factory) -> None:
    run = scenario_run("null", tmp_path_factory.mktemp("findings"))
    f = check_against_results(run)
    assert f["premium"].verdict == "not significant"
    assert f["null"].verdict == "consistent with no effect"
    assert "no significant premium" in f["premium"].text


def test_declining_scenario_flags_the_pretrend(tmp_path_factory) -> None:
    # declining firms select in and recover: the unconditional DiD shows a spurious premium, and the
    # leads (a pre-joining dip) give it away
    run = scenario_run("declining", tmp_path_factory.mktemp("findings"))
    f = check_against_results(run)
    assert f["pretrend"].verdict == "rejected"
    if f["premium"].verdict != "not significant":
        assert "not the effect of membership" in f["premium"].text
    if f["null"].verdict == "no effect rejected":
        assert "pre-trend test rejects" in f["null"].text
