"""build_panel / FirmPanel: contract columns, exclusions by reason, deflation, membership rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _asserts import assert_close
from clusterimpact.errors import DataError, DataWarning, PanelError, SpecError
from clusterimpact.panel import (
    EXCLUSION_COLUMNS,
    PANEL_COLUMNS,
    REASONS,
    FirmPanel,
    PanelSpec,
    build_panel,
)
from tolerances import ELEMENTWISE_REL, SYNTH_ROUNDING_LOG


def accounts(rows: list[tuple]) -> pd.DataFrame:
    """Small accounts frame from (firm_id, year, va, emp[, capital]) tuples."""
    out = []
    for r in rows:
        fid, year, va, emp = r[:4]
        cap = r[4] if len(r) > 4 else 10.0
        out.append(
            {
                "firm_id": fid,
                "year": year,
                "nace": "2511",
                "region": "Flanders",
                "founded": 2000,
                "va": va,
                "emp": emp,
                "capital": cap,
                "materials": 5.0,
                "wages": 3.0,
                "turnover": 20.0,
                "investment": 1.0,
            }
        )
    return pd.DataFrame(out)


def balanced(firms: list[str], years: range) -> pd.DataFrame:
    return accounts([(f, y, 10.0 + y - years.start, 2.0) for f in firms for y in years])


def registry(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["firm_id", "cluster", "join_date", "exit_date"])


def row_of(panel: FirmPanel, firm: str, year: int) -> pd.Series:
    d = panel.data
    sel = d[(d["firm_id"] == firm) & (d["year"] == year)]
    assert len(sel) == 1
    return sel.iloc[0]


def accounted(panel: FirmPanel) -> None:
    assert panel.rows_in == len(panel.data) + len(panel.exclusions)


# -- contract ----------------------------------------------------------------------------------------
def test_contract_columns_types_and_order():
    acc = balanced(["b", "a"], range(2010, 2014)).sample(frac=1, random_state=3)
    p = build_panel(acc, registry([("a", "X", 2012, None)]))
    d = p.data
    assert tuple(d.columns) == PANEL_COLUMNS
    assert tuple(p.exclusions.columns) == EXCLUSION_COLUMNS
    assert list(p.memberships.columns) == ["firm_id", "cluster", "join_year", "exit_year"]
    assert d["year"].dtype == np.int64
    assert str(d["treat_year"].dtype) == "Int64" and str(d["rel_year"].dtype) == "Int64"
    assert d["member"].dtype == np.int64 and d["member_years"].dtype == np.int64
    assert d["ever_member"].dtype == bool and d["has_pre_year"].dtype == bool
    assert pd.api.types.is_string_dtype(d["firm_id"])
    # sorted by firm, year and a fresh index
    assert list(zip(d["firm_id"], d["year"], strict=True)) == sorted(
        zip(d["firm_id"], d["year"], strict=True)
    )
    assert list(d.index) == list(range(len(d)))
    assert_close(d["ln_lp"], np.log(d["va"] / d["emp"]), rel=ELEMENTWISE_REL)
    assert_close(d["ln_kl"], np.log(d["capital"] / d["emp"]), rel=ELEMENTWISE_REL)
    assert (d["sector"] == "25").all() and (d["nace"] == "2511").all()
    np.testing.assert_array_equal(d["age"], d["year"] - 2000)
    accounted(p)


def test_inputs_not_modified():
    acc = balanced(["a", "b"], range(2010, 2013))
    reg = registry([("a", "X", 2011, None)])
    a0, r0 = acc.copy(deep=True), reg.copy(deep=True)
    build_panel(acc, reg)
    pd.testing.assert_frame_equal(acc, a0)
    pd.testing.assert_frame_equal(reg, r0)


def test_row_order_and_relabelling_do_not_matter():
    acc = balanced(["a", "b", "c"], range(2010, 2016))
    reg = registry([("a", "X", 2012, 2014), ("c", "Y", 2011, None)])
    p1 = build_panel(acc, reg)
    shuffled = acc.sample(frac=1, random_state=7).reset_index(drop=True)
    p2 = build_panel(shuffled, reg.iloc[::-1])
    pd.testing.assert_frame_equal(p1.data, p2.data)


def test_no_registry_means_no_members():
    p = build_panel(balanced(["a"], range(2010, 2012)))
    assert not p.data["ever_member"].any()
    assert p.data["treat_year"].isna().all() and (p.data["member_years"] == 0).all()
    assert p.data["cluster"].isna().all()


# -- exclusions -------------------------------------------------------------------------------------
def test_each_exclusion_reason_is_logged_with_rows():
    acc = accounts(
        [
            ("a", 2010, 10.0, 2.0),  # 0 kept
            (None, 2010, 10.0, 2.0),  # 1 missing_id
            ("a", None, 10.0, 2.0),  # 2 missing_year
            ("a", 2005, 10.0, 2.0),  # 3 outside_window
            ("a", 2011, np.nan, 2.0),  # 4 missing_va
            ("a", 2012, 10.0, np.nan),  # 5 missing_emp
            ("a", 2013, -1.0, 2.0),  # 6 nonpositive_va
            ("a", 2014, 10.0, 0.0),  # 7 nonpositive_emp
            ("a", 2010, 10.0, 2.0),  # 8 duplicate of 0
        ]
    )
    p = build_panel(acc, None, PanelSpec(start=2008, end=2020))
    ex = p.exclusions.set_index("row")
    assert ex.loc[1, "reason"] == "missing_id"
    assert ex.loc[2, "reason"] == "missing_year"
    assert ex.loc[3, "reason"] == "outside_window"
    assert ex.loc[4, "reason"] == "missing_va"
    assert ex.loc[5, "reason"] == "missing_emp"
    assert ex.loc[6, "reason"] == "nonpositive_va" and ex.loc[6, "detail"] == "va = -1"
    assert ex.loc[7, "reason"] == "nonpositive_emp"
    assert ex.loc[8, "reason"] == "duplicate" and "row 0" in ex.loc[8, "detail"]
    assert len(p.data) == 1
    counts = p.exclusion_counts()
    assert sum(counts.values()) == 8
    assert list(counts) == [r for r in REASONS if r in counts]  # documented order
    assert (p.exclusions["source"] == "data frame").all()
    accounted(p)


def test_rows_are_file_rows_when_read_from_a_file(tmp_path):
    acc = accounts([("a", 2010, 10.0, 2.0), ("a", 2011, -5.0, 2.0)])
    path = tmp_path / "acc.csv"
    acc.to_csv(path, index=False)
    p = build_panel(path)
    assert p.exclusions.loc[0, "row"] == 2  # 1-based data row (header not counted)
    assert p.exclusions.loc[0, "source"] == str(path)


def test_first_applicable_reason_wins():
    # outside the window AND non-positive va: the window comes first in REASONS
    p = build_panel(accounts([("a", 1999, -1.0, 2.0)]), None, PanelSpec(start=2000))
    assert p.exclusions["reason"].tolist() == ["outside_window"]


def test_nonpositive_capital_keeps_row_and_nans_the_log():
    acc = accounts([("a", 2010, 10.0, 2.0, 0.0), ("a", 2011, 10.0, 2.0, np.nan)])
    p = build_panel(acc)
    assert len(p.data) == 2 and p.exclusions.empty
    assert p.data["ln_capital"].isna().all() and p.data["ln_kl"].isna().all()
    assert p.data["ln_lp"].notna().all()
    assert p.flags["ln_undefined"]["ln_capital"] == 2


def test_conflicting_duplicates_raise_listing_rows():
    acc = accounts([("a", 2010, 10.0, 2.0), ("b", 2010, 1.0, 1.0), ("a", 2010, 11.0, 2.0)])
    with pytest.raises(PanelError, match=r"firm a year 2010: rows 0, 2") as exc:
        build_panel(acc)
    assert exc.value.rows == [0, 2]
    assert "duplicates='first'" in str(exc.value)


@pytest.mark.parametrize(("policy", "kept_va"), [("first", [10.0]), ("drop", [])])
def test_conflicting_duplicates_policies(policy, kept_va):
    acc = accounts([("a", 2010, 10.0, 2.0), ("a", 2010, 11.0, 2.0), ("a", 2010, 10.0, 2.0)])
    p = build_panel(acc, None, PanelSpec(duplicates=policy))
    assert p.data["va"].tolist() == kept_va
    reasons = p.exclusions.set_index("row")["reason"]
    assert reasons[2] == "duplicate"  # exact copy of row 0, always
    assert reasons[1] == "duplicate_conflict"
    assert p.flags["conflicting_duplicates"][0]["rows"] == [0, 1]
    accounted(p)


def test_min_years():
    acc = accounts([("a", 2010, 1.0, 1.0), ("a", 2011, 1.0, 1.0), ("b", 2010, 1.0, 1.0)])
    p = build_panel(acc, None, PanelSpec(min_years=2))
    assert p.data["firm_id"].unique().tolist() == ["a"]
    assert p.exclusions["reason"].tolist() == ["too_few_years"]


def test_spec_validation():
    with pytest.raises(SpecError, match="id_type"):
        PanelSpec(id_type="vat")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="after end"):
        PanelSpec(start=2020, end=2010)
    with pytest.raises(SpecError, match="min_years"):
        PanelSpec(min_years=0)
    with pytest.raises(SpecError, match="needs id_type='kbo'"):
        PanelSpec(exclude_bad_ids=True)
    with pytest.raises(SpecError, match="PanelSpec"):
        build_panel(balanced(["a"], range(2010, 2011)), None, spec={"start": 2010})  # type: ignore[arg-type]


# -- bad input --------------------------------------------------------------------------------------
def test_missing_required_column():
    acc = balanced(["a"], range(2010, 2012)).drop(columns="emp")
    with pytest.raises(DataError, match=r"missing required column\(s\) for accounts: emp"):
        build_panel(acc)


def test_non_numeric_values_name_column_and_rows():
    acc = balanced(["a"], range(2010, 2014)).astype({"va": object})
    acc.loc[[1, 3], "va"] = ["12,5", "n/a"]
    with pytest.raises(DataError, match=r"column 'va', rows 1, 3: non-numeric values") as exc:
        build_panel(acc, accounts_source="accounts.csv")
    assert str(exc.value).startswith("accounts.csv")


def test_years_out_of_range_and_fractional():
    acc = balanced(["a"], range(2010, 2012))
    acc.loc[1, "year"] = 20111
    with pytest.raises(DataError, match=r"column 'year', rows 1: years out of range"):
        build_panel(acc)
    acc2 = balanced(["a"], range(2010, 2012)).astype({"year": float})
    acc2.loc[0, "year"] = 2010.5
    with pytest.raises(DataError, match=r"rows 0: years must be whole numbers"):
        build_panel(acc2)


# -- deflation --------------------------------------------------------------------------------------
def test_deflation_by_sector_year():
    acc = accounts([("a", 2010, 100.0, 2.0), ("a", 2011, 110.0, 2.0)])
    defl = pd.DataFrame({"sector": ["25", "25"], "year": [2010, 2011], "deflator": [1.0, 1.1]})
    p = build_panel(acc, None, None, defl)
    assert_close(p.data["va"], [100.0, 100.0], rel=ELEMENTWISE_REL)
    assert_close(p.data["turnover"], [20.0, 20.0 / 1.1], rel=ELEMENTWISE_REL)
    assert_close(p.data["emp"], [2.0, 2.0], rel=ELEMENTWISE_REL)  # employment is not deflated
    assert p.flags["deflated"] and p.flags["deflator_base"] == 1.0
    # base 100 detected; variable-specific deflator used where given
    defl100 = defl.assign(deflator=[100.0, 110.0], deflator_capital=[100.0, np.nan])
    p100 = build_panel(acc, None, None, defl100)
    assert_close(p100.data["va"], [100.0, 100.0], rel=ELEMENTWISE_REL)
    assert_close(p100.data["capital"], [10.0, 10.0 / 1.1], rel=ELEMENTWISE_REL)
    # deflate=False keeps nominal values
    nominal = build_panel(acc, None, PanelSpec(deflate=False), defl)
    assert_close(nominal.data["va"], [100.0, 110.0], rel=ELEMENTWISE_REL)


def test_economy_wide_deflators():
    acc = accounts([("a", 2010, 100.0, 2.0), ("a", 2011, 110.0, 2.0)])
    acc.loc[1, "nace"] = "4711"
    year_only = pd.DataFrame({"year": [2010, 2011], "deflator": [1.0, 1.1]})
    p = build_panel(acc, None, None, year_only)
    assert_close(p.data["va"], [100.0, 100.0], rel=ELEMENTWISE_REL)
    # sector-specific first, the '*' rows as the fallback
    mixed = pd.DataFrame(
        {"sector": ["25", "*", "*"], "year": [2010, 2010, 2011], "deflator": [2.0, 1.0, 1.1]}
    )
    p2 = build_panel(acc, None, None, mixed)
    assert_close(p2.data["va"], [50.0, 100.0], rel=ELEMENTWISE_REL)


def test_missing_deflator_excludes_row():
    acc = accounts([("a", 2010, 100.0, 2.0), ("a", 2011, 110.0, 2.0)])
    acc.loc[1, "nace"] = None
    defl = pd.DataFrame({"sector": ["25"], "year": [2010], "deflator": [1.0]})
    p = build_panel(acc, None, None, defl)
    assert p.exclusions["reason"].tolist() == ["missing_deflator"]
    assert "no NACE code" in p.exclusions["detail"].iloc[0]


# -- membership -------------------------------------------------------------------------------------
def test_join_and_exit_member_years():
    acc = balanced(["a"], range(2010, 2018))
    p = build_panel(acc, registry([("a", "X", 2012, 2015)]))
    d = p.data.set_index("year")
    assert d["member"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert d["member_years"].tolist() == [0, 0, 1, 2, 3, 3, 3, 3]  # stops growing after exit
    assert d["rel_year"].tolist() == list(range(-2, 6))
    assert (d["treat_year"] == 2012).all() and (d["cluster"] == "X").all()
    assert d["has_pre_year"].all() and d["ever_member"].all()


def test_rejoin_continues_counting():
    acc = balanced(["a"], range(2010, 2018))
    p = build_panel(acc, registry([("a", "X", 2011, 2013), ("a", "X", 2015, None)]))
    d = p.data.set_index("year")
    assert d["member"].tolist() == [0, 1, 1, 0, 0, 1, 1, 1]
    assert d["member_years"].tolist() == [0, 1, 2, 2, 2, 3, 4, 5]
    assert p.flags["rejoining_firms"] == 1


def test_several_clusters_first_join_and_overlap_counted_once():
    acc = balanced(["a"], range(2010, 2016))
    reg = registry([("a", "Y", 2013, None), ("a", "X", 2011, 2014)])
    p = build_panel(acc, reg)
    d = p.data.set_index("year")
    assert (d["treat_year"] == 2011).all() and (d["cluster"] == "X").all()
    # overlapping spells in two clusters: a calendar year counts once
    assert d["member_years"].tolist() == [0, 1, 2, 3, 4, 5]
    assert p.memberships["cluster"].tolist() == ["X", "Y"]
    assert p.flags["multi_cluster_firms"] == 1
    m = p.members()
    assert m.loc[0, "clusters"] == "X;Y" and m.loc[0, "n_spells"] == 2
    assert len(p.members(cluster="Y")) == 1 and len(p.members(cluster="Z")) == 0


def test_same_year_tie_broken_by_date_then_name():
    acc = balanced(["a", "b"], range(2010, 2013))
    reg = registry(
        [
            ("a", "Z", "2011-02-01", None),
            ("a", "A", "2011-06-01", None),
            ("b", "Z", 2011, None),
            ("b", "A", 2011, None),
        ]
    )
    p = build_panel(acc, reg)
    assert row_of(p, "a", 2012)["cluster"] == "Z"
    assert row_of(p, "b", 2012)["cluster"] == "A"


def test_join_before_window_counts_years_from_join():
    acc = balanced(["a", "b"], range(2010, 2013))
    p = build_panel(acc, registry([("a", "X", 2005, None)]), PanelSpec(start=2010))
    r = row_of(p, "a", 2010)
    assert r["member_years"] == 6 and r["rel_year"] == 5 and r["member"] == 1
    assert not r["has_pre_year"]
    assert p.flags["members_without_pre_year"] == ["a"]
    assert p.flags["joins_before_window"] == 1


def test_join_after_window_is_not_yet_treated():
    acc = balanced(["a"], range(2010, 2013))
    p = build_panel(acc, registry([("a", "X", 2020, None)]))
    d = p.data
    assert (d["member"] == 0).all() and (d["member_years"] == 0).all()
    assert (d["treat_year"] == 2020).all() and d["ever_member"].all()
    assert p.flags["joins_after_window"] == 1


def test_gap_in_accounts_does_not_reset_member_years():
    acc = accounts([("a", 2010, 1.0, 1.0), ("a", 2011, 1.0, 1.0), ("a", 2014, 1.0, 1.0)])
    p = build_panel(acc, registry([("a", "X", 2011, None)]))
    assert p.data["member_years"].tolist() == [0, 1, 4]


def test_registry_ids_absent_and_all_excluded_are_reported():
    acc = accounts([("a", 2010, 1.0, 1.0), ("b", 2010, -1.0, 1.0)])
    reg = registry([("a", "X", 2010, None), ("b", "X", 2010, None), ("ghost", "X", 2010, None)])
    p = build_panel(acc, reg)
    assert p.flags["registry_ids_absent"] == ["ghost"]
    assert p.flags["registry_ids_all_excluded"] == ["b"]
    assert "ghost" in p.summary()


def test_join_after_exit_is_a_panel_error_naming_rows():
    reg = registry([("a", "X", 2012, 2014), ("b", "X", "2015-06-01", "2014-01-01")])
    with pytest.raises(PanelError, match=r"rows 1: join date after exit date"):
        build_panel(balanced(["a"], range(2010, 2012)), reg)


def test_same_year_spell_counts_its_join_year_and_is_reported():
    acc = balanced(["a"], range(2010, 2013))
    with pytest.warns(DataWarning, match=r"rows 0: 1 membership spell.*same calendar year"):
        p = build_panel(acc, registry([("a", "X", "2011-02-01", "2011-09-30")]))
    assert p.flags["same_year_spells"] == [0]
    assert p.data["member"].tolist() == [0, 1, 0]
    assert p.data["member_years"].tolist() == [0, 1, 1]
    assert p.data["treat_year"].tolist() == [2011] * 3
    assert "same_year_spells" in p.summary()


def test_registry_with_year_columns_and_no_exit():
    acc = balanced(["a"], range(2010, 2013))
    reg = pd.DataFrame({"firm_id": ["a"], "cluster": ["X"], "join_year": [2011]})
    p = build_panel(acc, reg)
    assert p.data["member_years"].tolist() == [0, 1, 2]


# -- enterprise numbers -----------------------------------------------------------------------------
def test_kbo_ids_normalised_and_matched_across_formats():
    acc = accounts(
        [("0403.170.701", 2010, 1.0, 1.0), ("0403170701", 2011, 1.0, 1.0), ("123", 2010, 1, 1)]
    )
    reg = registry([("BE0403170701", "X", 2011, None)])
    p = build_panel(acc, reg, PanelSpec(id_type="kbo"))
    a = p.data[p.data["firm_id"] == "0403170701"]
    assert len(a) == 2 and a["member_years"].tolist() == [0, 1]
    assert p.flags["bad_ids"] == ["123"] and p.flags["bad_id_rows"] == [2]
    assert "123" in p.data["firm_id"].tolist()  # reported, kept by default
    ex = build_panel(acc, reg, PanelSpec(id_type="kbo", exclude_bad_ids=True))
    assert ex.exclusions["reason"].tolist() == ["bad_id"]
    assert "fails the mod-97 check" in ex.exclusions["detail"].iloc[0]


def test_any_ids_are_not_checked():
    p = build_panel(accounts([("123", 2010, 1.0, 1.0)]))
    assert "bad_ids" not in p.flags


# -- FirmPanel helpers ------------------------------------------------------------------------------
def test_summary_to_dict_and_write(tmp_path):
    acc = balanced(["a", "b"], range(2010, 2014))
    acc.loc[0, "va"] = -1
    p = build_panel(acc, registry([("a", "X", 2012, None)]))
    text = p.summary()
    assert "nonpositive_va=1" in text and "Cohorts: 2012: 1" in text
    d = p.to_dict()
    assert d["exclusions"] == {"nonpositive_va": 1} and d["n_members"] == 1
    assert d["rows_in"] == 8 and d["nobs"] == 7
    p.write(tmp_path / "p.parquet", exclusions=tmp_path / "e.csv")
    back = pd.read_parquet(tmp_path / "p.parquet")
    assert list(back.columns) == list(PANEL_COLUMNS) and len(back) == 7
    assert repr(p).startswith("FirmPanel(7 firm-years")
    assert p.cohorts().to_dict() == {2012: 1}


# -- hypothesis: messy accounts are either fully accounted for or rejected clearly ------------------
_values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-5, 5),
    st.sampled_from(["", " 3 ", "1e3", "x"]),
)


@st.composite
def messy_accounts(draw):
    n = draw(st.integers(0, 30))
    firms = draw(st.lists(st.sampled_from(["a", "b", "c", None, " a "]), min_size=n, max_size=n))
    year_values = st.one_of(st.none(), st.integers(2005, 2015), st.just(99999))
    years = draw(st.lists(year_values, min_size=n, max_size=n))
    va = draw(st.lists(_values, min_size=n, max_size=n))
    emp = draw(st.lists(_values, min_size=n, max_size=n))
    cap = draw(st.lists(_values, min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "firm_id": pd.Series(firms, dtype=object),
            "year": pd.array(years, dtype="Int64"),
            "va": pd.Series(va, dtype=object),
            "emp": pd.Series(emp, dtype=object),
            "capital": pd.Series(cap, dtype=object),
        }
    )
    if n and draw(st.booleans()):  # exact duplicates
        df = pd.concat([df, df.iloc[: draw(st.integers(1, n))]], ignore_index=True)
    return df


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    acc=messy_accounts(),
    start=st.one_of(st.none(), st.integers(2004, 2012)),
    policy=st.sampled_from(["error", "first", "drop"]),
    join=st.integers(2000, 2020),
    deflate=st.booleans(),
    kbo=st.booleans(),
)
def test_every_row_accounted_for_or_clear_error(acc, start, policy, join, deflate, kbo):
    reg = registry([("a", "X", join, None), ("b", "Y", join, join + 2)])
    acc = acc.assign(nace="2511")
    # deflators that cover only part of the years: the rest is excluded as missing_deflator
    defl = pd.DataFrame({"sector": "25", "year": range(2005, 2012), "deflator": 1.05})
    spec = PanelSpec(
        start=start, duplicates=policy, id_type="kbo" if kbo else "any", exclude_bad_ids=kbo
    )
    try:
        p = build_panel(acc, reg, spec, defl if deflate else None)
    except PanelError as exc:
        assert policy == "error" and "more than once" in str(exc)
        return
    except DataError as exc:  # a clear error naming the column and the rows
        if exc.column == "firm_id":  # no registry firm in the accounts: the id-match error
            assert "none of the 2 registry firms is in the accounts" in str(exc)
            assert exc.rows == [0, 1]
            assert not {"a", "b"} & set(acc["firm_id"].dropna().astype(str).str.strip())
            return
        for problem in exc.problems:  # every bad column is reported, each with its own rows
            msg = str(problem)
            assert problem.column in ("va", "emp", "capital", "year") and problem.rows
            bad = acc[problem.column].astype(str).str.strip().isin(["x", "99999"])
            assert set(problem.rows) == set(acc.index[bad])
            assert ("non-numeric" in msg) or ("out of range" in msg)
        named = {p.column for p in exc.problems}
        if any("non-numeric" in str(p) for p in exc.problems):  # not only the first bad column
            for col in ("va", "emp", "capital"):
                if acc[col].astype(str).str.strip().eq("x").any():
                    assert col in named, (col, named)
        return
    assert p.rows_in == len(acc) == len(p.data) + len(p.exclusions)
    assert set(p.exclusions["reason"]) <= set(REASONS)
    assert sum(p.exclusion_counts().values()) == len(p.exclusions)
    d = p.data
    assert not d.duplicated(["firm_id", "year"]).any()
    assert (d["va"] > 0).all() and (d["emp"] > 0).all()
    assert np.isfinite(d["ln_lp"]).all()
    if start is not None:
        assert (d["year"] >= start).all()
    # member_years never decreases within a firm and grows by at most 1 per calendar year
    g = d.groupby("firm_id")
    dy = g["year"].diff()
    dm = g["member_years"].diff()
    ok = dy.isna() | ((dm >= 0) & (dm <= dy))
    assert ok.all()
    assert ((d["member"] == 1) <= (d["member_years"] >= 1)).all()


# -- on the synthetic generator (known truth) -------------------------------------------------------
@pytest.fixture(scope="module")
def synth():
    from clusterimpact.synthetic import simulate

    return simulate(seed=1, n_firms=2000, dirty=True)


def test_synthetic_dirt_is_excluded_by_reason(synth):
    p = synth.panel()
    accounted(p)
    kinds = synth.dirt["kind"].value_counts().to_dict()
    for reason, n in p.exclusion_counts().items():
        assert kinds.get(reason) == n, reason
    # faults that only undefine a log keep the row and are counted
    assert p.flags["ln_undefined"]["ln_capital"] >= kinds.get("missing_capital", 0)


def test_synthetic_membership_and_logs_match_the_latent_truth(synth):
    p = synth.panel()
    m = p.data.merge(synth.latent, on=["firm_id", "year"], suffixes=("", "_true"))
    assert len(m) == len(p.data)
    np.testing.assert_array_equal(m["member"], m["member_true"])
    np.testing.assert_array_equal(m["member_years"], m["member_years_true"])
    treat_true = pd.to_numeric(m["treat_year_true"]).replace(0, np.nan)
    np.testing.assert_array_equal(m["treat_year"].astype(float), treat_true.astype(float))
    same_cluster = m["cluster"].fillna("") == m["cluster_true"].fillna("").astype(str)
    assert same_cluster.all()
    for col in ("ln_va", "ln_emp", "ln_lp"):
        assert_close(m[col], m[f"{col}_true"], abs=SYNTH_ROUNDING_LOG)


# -- hypothesis: membership timing equals a brute-force reference -----------------------------------
@st.composite
def spells(draw):
    out = []
    for _ in range(draw(st.integers(0, 8))):
        firm = draw(st.sampled_from(["a", "b", "c"]))
        join = draw(st.integers(2000, 2016))
        exit_ = draw(st.one_of(st.none(), st.integers(join, 2018)))
        out.append((firm, draw(st.sampled_from(["X", "Y"])), join, exit_))
    return out


@settings(max_examples=40, deadline=None)
@given(
    reg_rows=spells(),
    years=st.lists(st.integers(2003, 2015), min_size=1, max_size=10, unique=True),
)
def test_membership_matches_brute_force(reg_rows, years):
    acc = accounts([(f, y, 1.0, 1.0) for f in ("a", "b", "c") for y in sorted(years)])
    reg = registry(reg_rows) if reg_rows else None
    p = build_panel(acc, reg)
    for firm in ("a", "b", "c"):
        # a spell joined and left in one year counts its join year (exit = join + 1)
        mine = [r for r in reg_rows if r[0] == firm]
        member_set = {
            t for _, _, j, e in mine for t in range(j, 3000 if e is None else max(e, j + 1))
        }
        first = min(mine, key=lambda r: (r[2], r[1])) if mine else None
        d = p.data[p.data["firm_id"] == firm]
        for _, row in d.iterrows():
            t = row["year"]
            assert row["member"] == int(t in member_set)
            assert row["member_years"] == sum(1 for s in member_set if s <= t)
            if first is None:
                assert pd.isna(row["treat_year"]) and not row["ever_member"]
            else:
                assert row["treat_year"] == first[2] and row["cluster"] == first[1]
                assert row["rel_year"] == t - first[2]
                assert row["has_pre_year"] == (min(years) < first[2])


def test_extra_columns_are_carried_through():
    acc = balanced(["a", "b"], range(2010, 2012)).assign(exporter=[1, 0, 1, 1])
    p = build_panel(acc, extra=["exporter"])
    assert list(p.data.columns) == [*PANEL_COLUMNS, "exporter"]
    assert p.data["exporter"].tolist() == [1, 0, 1, 1]
    with pytest.raises(DataError, match="missing required column"):
        build_panel(acc, extra=["importer"])
