"""The key findings as a reader sees them: headless Chromium renders report.html, a probe script reads
the findings section (its text, numbers and links) and the tables the sentences link to, and the
numbers are checked against those tables' cells. Same launcher as test_report_browser.py (Chromium
must be installed; without it this test FAILS, it never skips)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

from _asserts import assert_close
from _report_run import small_report_runs
from clusterimpact.labels import label
from test_report_browser import _run
from tolerances import STORY_FINDING_PCT_ABS, STORY_SLOPE_PP_ABS

pytestmark = pytest.mark.xdist_group("report")

_PROBE = """
<script>
window.addEventListener("load", function () {
  function cells(tr) {
    return Array.prototype.map.call(tr.querySelectorAll("th,td"), function (c) {
      return c.innerText.trim();
    });
  }
  var out = {findings: [], targets: {}};
  var items = document.querySelectorAll("#findings ol.findings li");
  for (var i = 0; i < items.length; i++) {
    var li = items[i], nums = {};
    var spans = li.querySelectorAll("span.num");
    for (var j = 0; j < spans.length; j++) nums[spans[j].dataset.key] = spans[j].innerText;
    var a = li.querySelector("a[href^='#']");
    var href = a ? a.getAttribute("href").slice(1) : null;
    out.findings.push({key: li.dataset.finding, verdict: li.dataset.verdict,
                       text: li.innerText, nums: nums, href: href});
    if (href && !(href in out.targets)) {
      var el = document.getElementById(href);
      var t = {exists: !!el, height: el ? el.getBoundingClientRect().height : 0, rows: [], notes: []};
      if (el) {
        var trs = el.querySelectorAll("thead tr, tbody tr");
        for (var k = 0; k < trs.length; k++) t.rows.push(cells(trs[k]));
        var ft = el.querySelectorAll("tfoot td, .tcap");
        for (var m = 0; m < ft.length; m++) t.notes.push(ft[m].innerText.trim());
      }
      out.targets[href] = t;
    }
  }
  var first = document.querySelector("h1").nextElementSibling;
  while (first && first.classList.contains("meta")) first = first.nextElementSibling;
  out.first_after_title = first ? (first.id || first.tagName.toLowerCase()) : null;
  var pre = document.createElement("pre");
  pre.id = "probe-json";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
  document.body.setAttribute("data-probe", "done");
});
</script>
"""


def num(text: str) -> float:
    """A number as printed: ``+4.0%``, ``−2.6``, ``= 0.127``, ``< 0.001``, ``1,234.5``."""
    s = text.replace("−", "-").replace("%", "").replace("=", "").replace("<", "").replace(",", "")
    return float(s.strip())


def ci(cell: str) -> tuple[float, float]:
    lo, hi = cell.strip("[]").split(", ")
    return num(lo), num(hi)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> dict[str, Any]:
    run = small_report_runs()[0]
    tmp = tmp_path_factory.mktemp("findings-browser")
    text = (run.out / "report.html").read_text(encoding="utf-8")
    probe = tmp / "probe.html"
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    res = _run(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp)
    m = re.search(r'<pre id="probe-json">(.*?)</pre>', res.stdout, re.S)
    assert m, f"chromium did not run the probe: {res.stderr[-2000:]}"
    out = json.loads(html.unescape(m.group(1)))
    out["headline"] = run.manifest["spec"]["outcomes"]["headline"]
    return out


def finding(page: dict[str, Any], key: str) -> dict[str, Any]:
    found = [f for f in page["findings"] if f["key"] == key]
    assert len(found) == 1, f"no single '{key}' finding in {[f['key'] for f in page['findings']]}"
    return found[0]


def table(page: dict[str, Any], anchor: str) -> tuple[list[str], list[list[str]]]:
    t = page["targets"][anchor]
    return t["rows"][0], t["rows"][1:]


def comparison_rows(page: dict[str, Any]) -> dict[str, dict[str, str]]:
    head, body = table(page, "tab-comparison")
    rows = [dict(zip(head, r, strict=True)) for r in body]
    want = label(page["headline"])
    return {r["Estimator"]: r for r in rows if r["Outcome"] == want}


def test_the_page_opens_with_findings_that_link_to_visible_tables(page):
    assert page["first_after_title"] == "findings"
    keys = [f["key"] for f in page["findings"]]
    assert keys == ["premium", "duration", "pretrend", "comparison", "null"]
    for f in page["findings"]:
        t = page["targets"][f["href"]]
        assert t["exists"] and t["height"] > 20, f"{f['key']} links to a missing target {f['href']}"
        assert t["rows"], f"{f['key']} links to {f['href']}, which shows no table"


def test_premium_and_null_reading_equal_the_comparison_table(page):
    rows = comparison_rows(page)
    f = finding(page, "premium")
    name = re.search(r"\(([^()]*(?:\([^()]*\))?[^()]*)\): ", f["text"]).group(1)
    row = rows[name]
    assert_close(num(f["nums"]["estimate_pct"]), num(row["Effect (%)"]), abs=STORY_FINDING_PCT_ABS)
    lo, hi = ci(row["95% CI (%)"])
    assert_close(num(f["nums"]["ci_low_pct"]), lo, abs=STORY_FINDING_PCT_ABS)
    assert_close(num(f["nums"]["ci_high_pct"]), hi, abs=STORY_FINDING_PCT_ABS)
    verdict = "positive" if lo > 0 else "negative" if hi < 0 else "not significant"
    assert f["verdict"] == verdict
    null = finding(page, "null")
    if verdict == "not significant":
        assert null["verdict"] == "consistent with no effect"
        assert_close(num(null["nums"]["null_max_pct"]), hi, abs=STORY_FINDING_PCT_ABS)
        assert_close(num(null["nums"]["null_min_pct"]), lo, abs=STORY_FINDING_PCT_ABS)
    else:
        assert null["verdict"] == "no effect rejected"


def test_comparison_sentence_equals_the_comparison_table(page):
    rows = comparison_rows(page)
    f = finding(page, "comparison")
    assert_close(
        num(f["nums"]["matched_pct"]),
        num(rows["Matched DiD"]["Effect (%)"]),
        abs=STORY_FINDING_PCT_ABS,
    )
    robust = [
        num(rows[k]["Effect (%)"])
        for k in ("Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)")
    ]
    assert_close(num(f["nums"]["robust_min_pct"]), min(robust), abs=STORY_FINDING_PCT_ABS)
    assert_close(num(f["nums"]["robust_max_pct"]), max(robust), abs=STORY_FINDING_PCT_ABS)
    twfe = next(k for k in rows if k.startswith("TWFE"))
    assert twfe in f["text"]
    assert_close(
        num(f["nums"]["twfe_pct"]), num(rows[twfe]["Effect (%)"]), abs=STORY_FINDING_PCT_ABS
    )
    signs = {
        ("+" if ci(r["95% CI (%)"])[0] > 0 else "-" if ci(r["95% CI (%)"])[1] < 0 else "0")
        for r in rows.values()
    }
    assert f["verdict"] == ("agree" if len(signs) == 1 else "differ")


def test_duration_sentence_equals_the_duration_table(page):
    f = finding(page, "duration")
    head, body = table(page, f["href"])
    rows = {r[0]: dict(zip(head, r, strict=True)) for r in body}
    slope = rows["Slope per year of membership"]
    # the sentence states 100 x slope (2 decimals); the table the slope in logs (4 decimals)
    assert_close(num(f["nums"]["slope_pp"]), 100 * num(slope["estimate"]), abs=STORY_SLOPE_PP_ABS)
    assert_close(
        num(f["nums"]["slope_low_pp"]), 100 * num(slope["conf_low"]), abs=STORY_SLOPE_PP_ABS
    )
    assert_close(
        num(f["nums"]["slope_high_pp"]), 100 * num(slope["conf_high"]), abs=STORY_SLOPE_PP_ABS
    )
    years = [k for k in rows if "of membership" in k and k.startswith("Year")]
    assert_close(
        num(f["nums"]["first_pct"]), num(rows[years[0]]["effect (%)"]), abs=STORY_FINDING_PCT_ABS
    )
    assert_close(
        num(f["nums"]["last_pct"]), num(rows[years[-1]]["effect (%)"]), abs=STORY_FINDING_PCT_ABS
    )
    lo, hi = num(slope["conf_low"]), num(slope["conf_high"])
    assert f["verdict"] == ("grows" if lo > 0 else "shrinks" if hi < 0 else "no change")


def test_pretrend_sentence_quotes_the_tables_note(page):
    f = finding(page, "pretrend")
    stat = re.search(r"((?:χ²|F)\([^)]*\) = [0-9.]+, p [<=] [0-9.]+)", f["text"]).group(1)
    notes = page["targets"][f["href"]]["notes"]
    assert any(stat in n for n in notes), f"{stat!r} not in the notes of {f['href']}: {notes}"
    p = num(f["nums"]["pretrend_p"])
    assert f["verdict"] == ("rejected" if p < 0.05 else "not rejected")
