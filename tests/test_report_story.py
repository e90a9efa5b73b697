"""report/_story.py: one definition of the member groups (table = figure), thin series marked, the
pre-trend note in the findings' format, effects in percent beside the log estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.descriptive import members_vs_sector_series
from clusterimpact.provenance import make_provenance
from clusterimpact.report._findings import key_findings
from clusterimpact.report._story import (
    MEMBER_STATUS_DEFINITION,
    members_status_table,
    percent_tidy,
    pretrend_note,
)
from clusterimpact.results import EstimateResult
from clusterimpact.units import PERCENT_NOTE
from tolerances import STORED_REL, STORY_PERCENT_REL

pytestmark = pytest.mark.xdist_group("report")  # the last test reads the shared small report


def _panel(n_sector: int = 3) -> pd.DataFrame:
    """Three years. A stays; B joins in 2021; C is a member in 2019 only (leaves: not a member from
    2020); never-members N0.. in the members' sector."""
    spec = {
        "A": [1, 1, 1],
        "B": [0, 1, 1],
        "C": [1, 0, 0],
        **{f"N{i}": [0, 0, 0] for i in range(n_sector)},
    }
    rows = []
    for fid, mem in spec.items():
        my = 0
        for y, m in zip((2019, 2020, 2021), mem, strict=True):
            my += m
            rows.append(
                {
                    "firm_id": fid,
                    "year": y,
                    "sector": "10",
                    "member": m,
                    "member_years": my,
                    "ever_member": fid in "ABC",
                    "va": 100.0 + 10 * (y - 2019) + len(fid),
                    "emp": 10.0,
                }
            )
    return pd.DataFrame(rows)


def test_leaving_is_the_first_year_after_membership_in_table_and_figure():
    df = _panel()
    tab = members_status_table(df, thin=30).set_index("year")
    # C was a member in 2019 and is not in 2020: leaving in 2020 (not in 2019, its last member year)
    assert tab.loc[2019, "leaving: firms"] == 0
    assert tab.loc[2020, "leaving: firms"] == 1
    assert tab.loc[2021, "leaving: firms"] == 0  # only the first year after leaving
    assert tab.loc[2021, "new: firms"] == 0 and tab.loc[2020, "new: firms"] == 1  # B joins 2020
    assert tab.loc[2019, "staying: firms"] == 0  # first observed year: new when member_years == 1
    # the table holds exactly the figure's series (firms and medians)
    s = members_vs_sector_series(df, "va_per_fte")
    for r in s.itertuples():
        name = "sector (never-members)" if r.group == "sector" else r.group
        assert tab.loc[r.year, f"{name}: firms"] == r.n_firms
        assert_close(tab.loc[r.year, f"{name}: median VA per FTE"], r.value, rel=STORY_PERCENT_REL)
    assert "first year after leaving" in MEMBER_STATUS_DEFINITION
    assert "member in t−1, still observed in t and no longer a member" in MEMBER_STATUS_DEFINITION


def test_thin_groups_are_named_per_year():
    tab = members_status_table(_panel(n_sector=3), thin=3).set_index("year")
    # 2020: staying A (1 firm), new B (1), leaving C (1), sector 3 firms (not thin at 3)
    assert tab.loc[2020, "fewer than 3 firms"] == "staying, new, leaving"
    assert tab.loc[2019, "fewer than 3 firms"] == "new"  # A and C first observed as new
    big = members_status_table(_panel(n_sector=3), thin=1).set_index("year")
    assert (big["fewer than 1 firms"] == "").all()


@dataclass
class _Pre:
    pretest: dict[str, float]
    nobs: int = 1


def test_pretrend_note_quotes_the_findings_numbers():
    res = _Pre({"stat": 6.3141, "df": 5.0, "p_value": 0.27654})
    note = pretrend_note(res, "Callaway-Sant'Anna")
    assert note is not None and "χ²(5) = 6.31, p = 0.277." in note
    f = {x.key: x for x in key_findings({"cs:ln_tfp_acf": res}, "ln_tfp_acf")}
    assert "χ²(5) = 6.31, p = 0.277" in f["pretrend"].text
    assert f["pretrend"].anchor == "tab-event_study"
    assert "p < 0.001" in str(pretrend_note(_Pre({"stat": 99.0, "df": 3.0, "p_value": 1e-9}), "x"))
    assert (
        pretrend_note(_Pre({"stat": float("nan"), "df": 0.0, "p_value": float("nan")}), "x") is None
    )


def test_percent_tidy_adds_percent_beside_logs_except_the_slope():
    terms = ["member_years::1", "average", "slope"]
    res = EstimateResult(
        params=pd.Series([0.02, 0.03, 0.005], index=terms),
        std_errors=pd.Series([0.01, 0.01, 0.002], index=terms),
        nobs=10,
        method="duration",
        provenance=make_provenance("duration"),
    )
    t, notes = percent_tidy(res, "ln_tfp_acf")
    assert PERCENT_NOTE in notes and any("slope" in n for n in notes)
    assert_close(t["effect (%)"].iloc[0], 100 * (math.exp(0.02) - 1), rel=STORY_PERCENT_REL)
    ci = res.conf_int()
    assert_close(
        t["CI high (%)"].iloc[1],
        100 * (math.exp(ci.loc["average", "upper"]) - 1),
        rel=STORY_PERCENT_REL,
    )
    assert pd.isna(t["effect (%)"].iloc[2])
    assert_close(t["estimate"], [0.02, 0.03, 0.005], rel=STORED_REL)  # the log estimates stay
    assert list(t["term"]) == [
        "Year 1 of membership",
        "Average over years of membership",
        "Slope per year of membership",
    ]
    plain, no_notes = percent_tidy(res, "emp")
    assert "effect (%)" not in plain.columns and no_notes == []


def test_report_caption_table_and_figure_define_leaving_alike():
    import html as _html

    from _report_run import small_report_runs

    run = small_report_runs()[0]
    page = _html.unescape((run.out / "report.html").read_text(encoding="utf-8"))
    fig = page[page.index('<figure id="fig-members_vs_sector"') :]
    fig = fig[: fig.index("</figure>")]
    tab = page[page.index('<div class="table" id="tab-members_vs_sector"') :]
    tab = tab[: tab.index("</table>")]
    assert MEMBER_STATUS_DEFINITION in fig and MEMBER_STATUS_DEFINITION in tab
    # the table's counts are the figure's series on the study's frame (the frame the figure drew)
    shown = run.results["members_vs_sector"].set_index("year")
    s = members_vs_sector_series(run.panel.data, "va_per_fte")
    leaving = s[s["group"] == "leaving"].set_index("year")["n_firms"]
    assert (shown.loc[leaving.index, "leaving: firms"] == leaving).all()
    assert shown["leaving: firms"].sum() == leaving.sum()
