"""Key findings: the report's opening sentences, written from the study's results.

:func:`key_findings` is a pure function of the results (the mapping a report run fills: ``cs:<y>``,
``cs_simple:<y>``, ``duration:<y>``, ``matched_did:<y>``, the estimator ``comparison`` frame, ...) and
the headline outcome. It returns :class:`Finding` objects: a verdict, the sentence, the numbers it
states, and the anchor of the figure or table it rests on. :func:`findings_html` renders them; every
number is in a ``<span class="num" data-key=...>`` so a browser test can read it back and check it
against the table the sentence links to.

The verdicts follow the numbers, never a fixed text:

- premium: ``positive`` / ``negative`` when the confidence interval excludes zero, else
  ``not significant``;
- duration: ``grows`` / ``shrinks`` when the slope's interval excludes zero, else ``no change``;
- pre-trends: ``rejected`` when the joint test of the leads has p < 1 − level, else ``not rejected``;
- comparison: ``agree`` when every estimator's interval covers the headline estimate's sign region
  (all significant the same way, or none significant), else ``differ``;
- null reading: ``consistent with no effect`` when zero lies in the interval, else ``no effect
  rejected`` (with the pre-trend caveat when the pre-test rejects).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.labels import label
from clusterimpact.units import PERCENT_NOTE, format_percent, is_log_outcome, log_to_percent

__all__ = ["Finding", "findings_html", "key_findings", "pretest_numbers"]

#: Preferred source of the headline premium: heterogeneity-robust first (comparison-table names).
ROBUST = ("Callaway-Sant'Anna", "Imputation (BJS)", "Sun-Abraham")
_TWFE = ("TWFE (1{t >= G})", "TWFE (member dummy)", "TWFE")
_MATCHED = "Matched DiD"
_RESULT_KEYS = (
    ("cs_simple", "Callaway-Sant'Anna"),
    ("imputation", "Imputation (BJS)"),
    ("sa", "Sun-Abraham"),
    ("twfe", "TWFE"),
    ("matched_did", _MATCHED),
)


@dataclass(frozen=True)
class Finding:
    """One key finding.

    Attributes
    ----------
    key
        ``premium``, ``duration``, ``pretrend``, ``comparison`` or ``null``.
    verdict
        What the numbers say, in a word or two (see the module docstring).
    parts
        The sentence as text pieces and numbers: ``str`` pieces are plain text, ``(name, value,
        shown)`` tuples a number (``value`` as computed, ``shown`` as printed).
    anchor
        The ``id`` of the figure or table the sentence rests on (``tab-comparison``).
    anchor_text
        The link text.
    """

    key: str
    verdict: str
    parts: tuple[str | tuple[str, float, str], ...]
    anchor: str
    anchor_text: str
    numbers: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The sentence as plain text."""
        return "".join(p if isinstance(p, str) else p[2] for p in self.parts)


class _Parts:
    """Builds a sentence of text and numbers."""

    def __init__(self) -> None:
        self.parts: list[str | tuple[str, float, str]] = []
        self.numbers: dict[str, float] = {}

    def t(self, s: str) -> _Parts:
        self.parts.append(s)
        return self

    def n(self, name: str, value: float, shown: str) -> _Parts:
        self.parts.append((name, float(value), shown))
        self.numbers[name] = float(value)
        return self

    def done(self, key: str, verdict: str, anchor: str, anchor_text: str) -> Finding:
        return Finding(key, verdict, tuple(self.parts), anchor, anchor_text, dict(self.numbers))


# -- reading the results ------------------------------------------------------------------------------
def _overall_row(res: Any, level: float) -> dict[str, float] | None:
    """The headline term of a result (``overall_term``; else ``simple``/``ATT``/``member``)."""
    tidy = res.tidy(level).set_index("term")
    term = getattr(res, "overall_term", None)
    candidates = [term] if term else ["simple", "ATT", "member", "overall"]
    for t in candidates:
        if t in tidy.index:
            r = tidy.loc[t]
            return {k: float(r[k]) for k in ("estimate", "std_error", "conf_low", "conf_high")} | {
                "nobs": float(res.nobs)
            }
    return None


def overall_rows(results: Mapping[Any, Any], outcome: str, level: float = 0.95) -> pd.DataFrame:
    """Overall estimates on ``outcome`` by estimator: the report's ``comparison`` frame when it has
    the outcome (the numbers of the comparison table), else the results' headline terms."""
    cmp = results.get("comparison")
    if isinstance(cmp, pd.DataFrame) and "outcome" in cmp.columns:
        rows = cmp[cmp["outcome"].astype(str).isin([label(outcome), outcome])]
        if len(rows):
            return rows.reset_index(drop=True)
    recs = []
    for prefix, name in _RESULT_KEYS:
        res = results.get(f"{prefix}:{outcome}")
        row = _overall_row(res, level) if res is not None else None
        if row is not None:
            recs.append({"outcome": label(outcome), "estimator": name, **row})
    return pd.DataFrame(recs)


def pretest_numbers(res: Any) -> dict[str, float] | None:
    """A result's joint pre-trend test as statistic, df, df_denom, p_value (``pretrend`` or the
    older ``pretest`` dict); None when absent or not computed."""
    pt = getattr(res, "pretrend", None)
    if pt is None:
        pt = getattr(res, "pretest", None)
    if pt is None:
        return None
    if isinstance(pt, Mapping):
        stat, df, den, p = pt.get("stat"), pt.get("df"), None, pt.get("p_value")
    else:
        stat = getattr(pt, "statistic", None)
        df = getattr(pt, "df", getattr(pt, "df_num", None))
        den = getattr(pt, "df_denom", None)
        p = getattr(pt, "p_value", None)
    if stat is None or p is None or not np.isfinite(float(p)):
        return None
    return {
        "statistic": float(stat),
        "df": float(df) if df is not None else float("nan"),
        "df_denom": float(den) if den is not None else float("nan"),
        "p_value": float(p),
    }


# -- formatting -----------------------------------------------------------------------------------
def _pct(b: float, log_scale: bool) -> float:
    return log_to_percent(b) if log_scale else float(b)


def _fmt_effect(v: float, log_scale: bool, digits: int = 1) -> str:
    return format_percent(v, digits) if log_scale else _signed(v, digits + 2)


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _signed(v: float, digits: int) -> str:
    """``+0.19`` / ``−0.76`` (true minus sign, no ``−0.00``)."""
    s = f"{abs(v):.{digits}f}"
    if float(s) == 0:
        return s
    return ("−" if v < 0 else "+") + s


def _ci_verdict(lo: float, hi: float, pos: str, neg: str, none: str) -> str:
    if lo > 0:
        return pos
    if hi < 0:
        return neg
    return none


# -- the findings ---------------------------------------------------------------------------------
def _premium(row: Mapping[Any, Any], y: str, level: float, pre_rejected: bool) -> Finding:
    log_scale = is_log_outcome(y)
    est, lo, hi = (_pct(float(row[k]), log_scale) for k in ("estimate", "conf_low", "conf_high"))
    verdict = _ci_verdict(
        float(row["conf_low"]), float(row["conf_high"]), "positive", "negative", "not significant"
    )
    s = _Parts()
    s.t(f"Premium on {label(y)} ({row['estimator']}): ")
    s.n("estimate_pct", est, _fmt_effect(est, log_scale))
    s.t(f" ({100 * level:g}% CI ")
    s.n("ci_low_pct", lo, _fmt_effect(lo, log_scale))
    s.t(" to ")
    s.n("ci_high_pct", hi, _fmt_effect(hi, log_scale))
    s.t("). ")
    s.t(
        {
            "positive": "Members are significantly more productive than comparable firms after "
            "joining",
            "negative": "Members are significantly less productive than comparable firms after "
            "joining",
            "not significant": "There is no significant premium: the interval includes zero",
        }[verdict]
    )
    s.t(
        "; but parallel trends are rejected (below), so this is a difference, not the effect of "
        "membership."
        if pre_rejected and verdict != "not significant"
        else "."
    )
    return s.done("premium", verdict, "tab-comparison", "estimator comparison")


def _duration(res: Any, y: str, level: float, pre_rejected: bool = False) -> Finding | None:
    tidy = res.tidy(level).set_index("term")
    if "slope" not in tidy.index:
        return None
    r = tidy.loc["slope"]
    b, lo, hi, p = (float(r[k]) for k in ("estimate", "conf_low", "conf_high", "p_value"))
    verdict = _ci_verdict(lo, hi, "grows", "shrinks", "no change")
    bins = [t for t in tidy.index if str(t).startswith("member_years::")]
    log_scale = is_log_outcome(y)
    unit = " percentage points a year (100 × slope)" if log_scale else " a year"
    s = _Parts()
    if bins:
        first, last = float(tidy.loc[bins[0], "estimate"]), float(tidy.loc[bins[-1], "estimate"])
        f_pct, l_pct = _pct(first, log_scale), _pct(last, log_scale)
        s.t("By years of membership the premium goes from ")
        s.n("first_pct", f_pct, _fmt_effect(f_pct, log_scale))
        s.t(" in the first year to ")
        s.n("last_pct", l_pct, _fmt_effect(l_pct, log_scale))
        s.t(f" in {_bin_words(str(bins[-1]))}; ")
    k = 100.0 if log_scale else 1.0
    s.t("the slope is ")
    s.n("slope_pp", k * b, _signed(k * b, 2))
    s.t(f"{unit} ({100 * level:g}% CI ")
    s.n("slope_low_pp", k * lo, _signed(k * lo, 2))
    s.t(" to ")
    s.n("slope_high_pp", k * hi, _signed(k * hi, 2))
    s.t("; test of no growth p ")
    s.n("slope_p", p, _p_text(p))
    s.t("). ")
    s.t(
        {
            "grows": "The premium grows with years of membership.",
            "shrinks": "The premium shrinks with years of membership.",
            "no change": "There is no significant evidence that the premium changes with years of "
            "membership.",
        }[verdict]
    )
    if pre_rejected:
        s.t(
            " With parallel trends rejected, this path may reflect where members stood before "
            "joining rather than the effect of membership."
        )
    return s.done("duration", verdict, "tab-duration", "premium by years of membership")


def _bin_words(term: str) -> str:
    k = term.split("::", 1)[1]
    return f"years {k} of membership" if k.endswith("+") else f"year {k} of membership"


def _pretrend(pt: Mapping[str, float], source: str, level: float) -> Finding:
    rejected = pt["p_value"] < 1 - level
    verdict = "rejected" if rejected else "not rejected"
    df = pt["df"]
    stat_name = f"F({df:g}, {pt['df_denom']:g})" if np.isfinite(pt["df_denom"]) else f"χ²({df:g})"
    s = _Parts()
    s.t(
        f"Pre-trends ({source}, joint test that the effects before joining are zero): {stat_name} = "
    )
    s.n("pretrend_stat", pt["statistic"], f"{pt['statistic']:.2f}")
    s.t(", p ")
    s.n("pretrend_p", pt["p_value"], _p_text(pt["p_value"]))
    s.t(". ")
    if rejected:
        s.t(
            "Parallel trends are rejected: members were already on a different path before joining, "
            "so the premium cannot be read as the effect of membership without the sensitivity "
            "analysis."
        )
    else:
        s.t("Parallel trends are not rejected before joining (which does not prove they hold).")
    if source == "imputation":
        return s.done("pretrend", verdict, "tab-duration", "duration table's notes")
    return s.done("pretrend", verdict, "tab-event_study", "event-study table's notes")


def _comparison(rows: pd.DataFrame, y: str, level: float) -> Finding | None:
    log_scale = is_log_outcome(y)
    names = rows["estimator"].astype(str)
    robust = rows[names.isin(ROBUST)]
    twfe = rows[names.isin(_TWFE)]
    matched = rows[names == _MATCHED]
    if len(rows) < 2 or (robust.empty and matched.empty):
        return None

    def sig(r: Mapping[Any, Any]) -> str:
        return _ci_verdict(float(r["conf_low"]), float(r["conf_high"]), "+", "-", "0")

    s = _Parts()
    s.t(f"Estimators compared on {label(y)}: ")
    pieces = 0
    if not matched.empty:
        m = matched.iloc[0]
        v = _pct(float(m["estimate"]), log_scale)
        s.t("matched DiD (members vs matched controls) ")
        s.n("matched_pct", v, _fmt_effect(v, log_scale))
        pieces += 1
    if not robust.empty:
        vals = [_pct(float(x), log_scale) for x in robust["estimate"]]
        lo_i, hi_i = int(np.argmin(vals)), int(np.argmax(vals))
        s.t("; " if pieces else "")
        s.t("unmatched heterogeneity-robust estimators from ")
        s.n("robust_min_pct", vals[lo_i], _fmt_effect(vals[lo_i], log_scale))
        s.t(f" ({robust['estimator'].iloc[lo_i]}) to ")
        s.n("robust_max_pct", vals[hi_i], _fmt_effect(vals[hi_i], log_scale))
        s.t(f" ({robust['estimator'].iloc[hi_i]})")
        pieces += 1
    if not twfe.empty:
        t0 = twfe.iloc[0]
        v = _pct(float(t0["estimate"]), log_scale)
        s.t(f"; {t0['estimator']} ")
        s.n("twfe_pct", v, _fmt_effect(v, log_scale))
    verdicts = {sig(r) for r in rows.to_dict("records")}
    verdict = "agree" if len(verdicts) == 1 else "differ"
    s.t(". ")
    if verdict == "agree":
        word = {"+": "a significant positive", "-": "a significant negative", "0": "no significant"}
        s.t(f"All {len(rows)} estimates point the same way: {word[verdicts.pop()]} premium.")
    else:
        n_pos = sum(sig(r) == "+" for r in rows.to_dict("records"))
        n_neg = sum(sig(r) == "-" for r in rows.to_dict("records"))
        s.t(
            f"They differ: {n_pos} of {len(rows)} intervals lie above zero and {n_neg} below; the "
            "estimands weight cohorts and years differently, and TWFE is biased when effects vary "
            "by cohort or grow with duration."
        )
    return s.done("comparison", verdict, "tab-comparison", "estimator comparison")


def _null(row: Mapping[Any, Any], y: str, level: float, pre_rejected: bool) -> Finding:
    log_scale = is_log_outcome(y)
    b, se = float(row["estimate"]), float(row["std_error"])
    lo, hi = _pct(float(row["conf_low"]), log_scale), _pct(float(row["conf_high"]), log_scale)
    p = float(2 * stats.norm.sf(abs(b / se))) if se > 0 else float("nan")
    covers = float(row["conf_low"]) <= 0 <= float(row["conf_high"])
    s = _Parts()
    if covers:
        verdict = "consistent with no effect"
        s.t("Read against no effect: zero lies inside the interval (p ")
        s.n("null_p", p, _p_text(p))
        s.t(
            "), so the data are consistent with membership having no effect on productivity; "
            "they rule out premia above "
        )
        s.n("null_max_pct", hi, _fmt_effect(hi, log_scale))
        s.t(" and below ")
        s.n("null_min_pct", lo, _fmt_effect(lo, log_scale))
        s.t(f" at the {100 * level:g}% level.")
    else:
        verdict = "no effect rejected"
        s.t(
            "Read against no effect: if membership had no effect, an estimate this far from zero "
            "would arise with probability p "
        )
        s.n("null_p", p, _p_text(p))
        s.t(". ")
        s.t(
            "But the pre-trend test rejects, so selection of firms already on a different path "
            "could produce it."
            if pre_rejected
            else "With parallel trends not rejected, the premium is unlikely to be chance alone."
        )
    return s.done("null", verdict, "tab-comparison", "estimator comparison")


def key_findings(
    results: Mapping[Any, Any], outcome: str, *, level: float = 0.95
) -> tuple[Finding, ...]:
    """The key findings on the headline ``outcome``, from the study's results.

    Parameters
    ----------
    results
        A report run's results by name (``ReportResult.results``): the estimator ``comparison``
        frame and/or ``cs_simple:<y>``, ``imputation:<y>``, ``sa:<y>``, ``twfe:<y>``,
        ``matched_did:<y>``; ``duration:<y>`` (slope); ``cs:<y>`` (or ``sa:<y>``, ``duration:<y>``)
        for the pre-trend test.
    outcome
        The headline outcome column (``ln_tfp_acf``).
    level
        Confidence level of the intervals and the tests' size (1 − level).

    Returns
    -------
    tuple of Finding
        In reading order: premium, duration, pre-trends, comparison, null reading; a finding whose
        results are missing is left out (an empty tuple when there is no overall estimate).
    """
    rows = overall_rows(results, outcome, level)
    pre = None
    for key, source in (
        ("cs", "Callaway-Sant'Anna"),
        ("sa", "Sun-Abraham"),
        ("duration", "imputation"),
    ):
        res = results.get(f"{key}:{outcome}")
        pt = pretest_numbers(res) if res is not None else None
        if pt is not None:
            pre = _pretrend(pt, source, level)
            break
    pre_rejected = pre is not None and pre.verdict == "rejected"
    head = None
    if len(rows):
        names = rows["estimator"].astype(str).tolist()
        pick = next((n for n in (*ROBUST, *_TWFE, _MATCHED) if n in names), names[0])
        head = rows.iloc[names.index(pick)].to_dict()
    dur = results.get(f"duration:{outcome}")
    found = [
        _premium(head, outcome, level, pre_rejected) if head is not None else None,
        _duration(dur, outcome, level, pre_rejected) if dur is not None else None,
        pre,
        _comparison(rows, outcome, level) if len(rows) else None,
        _null(head, outcome, level, pre_rejected) if head is not None else None,
    ]
    return tuple(f for f in found if f is not None)


def findings_html(findings: Sequence[Finding], *, outcome: str) -> str:
    """The key-findings block that opens the report (a ``<div id="findings">`` before the
    numbered sections): one list item per finding (``data-finding``, ``data-verdict``),
    numbers in ``<span class="num" data-key=...>``, a link to the figure or table it rests on, and
    the percent note once."""
    e = html.escape
    items = []
    for f in findings:
        body = "".join(
            e(p)
            if isinstance(p, str)
            else f'<span class="num" data-key="{e(p[0])}">{e(p[2])}</span>'
            for p in f.parts
        )
        items.append(
            f'<li id="finding-{e(f.key)}" data-finding="{e(f.key)}" data-verdict="{e(f.verdict)}">'
            f'{body} <a href="#{e(f.anchor)}">(see the {e(f.anchor_text)})</a></li>'
        )
    if not items:
        items.append("<li>No overall estimate is available in this run.</li>")
    note = PERCENT_NOTE if is_log_outcome(outcome) else ""
    return (
        '<div id="findings" class="key-findings">\n<h2>Key findings</h2>\n<ol class="findings">\n'
        + "\n".join(items)
        + "\n</ol>\n"
        + (f'<p class="tcap">{e(note)}</p>\n' if note else "")
        + "</div>\n"
    )
