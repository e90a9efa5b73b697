"""Firm identifiers: the one linking rule, its announcements and the match rate; cluster names that
differ only in case or spacing; membership spells within one calendar year (API level)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from clusterimpact.errors import DataError, DataWarning
from clusterimpact.ids import MIN_MATCH_RATE, id_key
from clusterimpact.panel import PanelSpec, build_panel

# 0403.170.701 passes the mod-97 check by hand: 4031707 mod 97 = 96, 97 - 96 = 1 -> check digits 01.
# 0202.239.951: 2022399 mod 97 = 46 (97 * 20849 = 2022353), 97 - 46 = 51.
KBO_A = "0403170701"
KBO_B = "0202239951"


def accounts(ids, years=(2016, 2017, 2018)) -> pd.DataFrame:
    rows = [(i, y, 10.0 + k, 2.0) for i in ids for k, y in enumerate(years)]
    return pd.DataFrame(rows, columns=["firm_id", "year", "va", "emp"])


def registry(ids, join=2017) -> pd.DataFrame:
    return pd.DataFrame({"firm_id": list(ids), "cluster": "VIL", "join_date": join})


def accounted(panel) -> None:
    assert panel.rows_in == len(panel.data) + len(panel.exclusions)


def test_id_key_examples():
    keys = id_key(pd.Series(["BE 0403.170.701", "403170701", "0403-170-701", "be0403/170/701"]))
    assert keys.tolist() == [KBO_A] * 4
    assert id_key(pd.Series(["a-12", " x 7 ", "12345678901", "403170701.0"])).tolist() == [
        "A-12",  # not enterprise-number-like: compared as written (upper case, blanks normalised)
        "X 7",
        "12345678901",  # 11 digits: not padded
        KBO_A,
    ]
    assert id_key(pd.Series(["A", None], dtype="str")).isna().tolist() == [False, True]


@pytest.mark.parametrize(
    "registry_id",
    ["403170701", "0403.170.701", "BE 0403170701", "be0403.170.701", 403170701],
    ids=["excel-stripped", "dotted", "BE-prefix", "lower-prefix-dotted", "integer"],
)
@pytest.mark.parametrize("id_type", ["any", "kbo"])
def test_registry_ids_written_differently_are_linked_and_announced(registry_id, id_type):
    acc = accounts([KBO_A, KBO_B])
    reg = registry([registry_id])
    written_as_in_accounts = id_type == "kbo"
    if written_as_in_accounts:  # kbo rewrites every form as the same 10 digits: an exact link
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            p = build_panel(acc, reg, PanelSpec(id_type=id_type))
    else:
        with pytest.warns(
            DataWarning, match=r"1 registry firm id\(s\) match the accounts only after"
        ):
            p = build_panel(acc, reg, PanelSpec(id_type=id_type))
    accounted(p)
    assert p.rows_in == 6 and len(p.data) == 6
    a = p.data[p.data["firm_id"] == KBO_A]
    assert a["member"].tolist() == [0, 1, 1] and a["treat_year"].tolist() == [2017] * 3
    assert set(p.data["firm_id"]) == {KBO_A, KBO_B}  # the accounts' ids, never the registry's
    m = p.flags["id_match"]
    assert (m["registry_firms"], m["found"], m["match_rate"]) == (1, 1, 1.0)
    assert m["by_key"] == (0 if written_as_in_accounts else 1)
    assert "Registry firms found in the accounts: 1 of 1 (100.0 %)" in p.summary()


def test_integer_ids_from_parquet_accounts_match_a_text_registry(tmp_path):
    path = tmp_path / "acc.parquet"
    acc = accounts([403170701, 202239951])  # int64 column: both lost their leading zero
    acc.to_parquet(path)
    with pytest.warns(DataWarning, match=r"'0403\.170\.701' -> '403170701'"):
        p = build_panel(path, registry(["0403.170.701"]))
    accounted(p)
    assert p.data.loc[p.data["member"] == 1, "firm_id"].unique().tolist() == ["403170701"]
    # as enterprise numbers both sides become the canonical 10 digits, without a key link
    k = build_panel(path, registry(["0403.170.701"]), PanelSpec(id_type="kbo"))
    assert k.data.loc[k.data["member"] == 1, "firm_id"].unique().tolist() == [KBO_A]
    assert k.flags["accounts_ids_rewritten"]["count"] == 2
    assert ["403170701", KBO_A] in k.flags["accounts_ids_rewritten"]["examples"]
    assert "Accounts ids rewritten as 10-digit enterprise numbers: 2" in k.summary()


def test_low_match_rate_warns_with_examples_and_the_fix():
    acc = accounts(["f1", "f2", "f3"])
    reg = registry(["f1", "g7", "g8", "f2"])
    with pytest.warns(DataWarning) as rec:
        p = build_panel(acc, reg)
    msg = "\n".join(str(w.message) for w in rec)
    assert "only 2 of 4 registry firms (50.0 %) are in the accounts" in msg
    assert "e.g. 'g7', 'g8' (rows 1, 2)" in msg and "accounts ids look like 'f1', 'f2', 'f3'" in msg
    assert "Likely fix" in msg and "registry_columns={'firm_id'" in msg
    accounted(p)
    assert p.flags["id_match"]["match_rate"] == 0.5
    assert p.flags["id_match"]["unmatched"] == ["g7", "g8"]
    assert p.flags["registry_ids_absent"] == ["g7", "g8"]


def test_match_rate_at_the_threshold_does_not_warn():
    n = 10
    found = round(MIN_MATCH_RATE * n)  # 9 of 10 = 90 %: not below the threshold
    acc = accounts([f"f{i}" for i in range(found)], years=(2017,))
    reg = registry([f"f{i}" for i in range(found)] + ["ghost"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        p = build_panel(acc, reg)
    assert p.flags["id_match"]["match_rate"] == 0.9


def test_no_registry_firm_in_the_accounts_is_a_data_error(tmp_path):
    acc = accounts([KBO_A])
    path = tmp_path / "reg.csv"
    registry(["R-1", "R-2"]).to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"reg\.csv, column 'firm_id', rows 1, 2: none of the 2 registry firms is in the "
        r"accounts data frame \(registry ids such as 'R-1', 'R-2'; accounts ids such as "
        r"'0403170701'\).*Likely fix",
    ):
        build_panel(acc, path)


def test_ambiguous_key_is_not_linked_and_is_reported():
    acc = accounts(["0403170701", "403170701"])  # two accounts ids with the same key
    with pytest.warns(DataWarning) as rec:
        p = build_panel(acc, registry(["BE0403170701", "403170701"]))
    msg = "\n".join(str(w.message) for w in rec)
    assert "1 not linked as ambiguous ('BE0403170701')" in msg
    assert "rows 0: ambiguous firm ids: 1 registry id(s) whose key fits several accounts ids" in msg
    accounted(p)
    assert p.flags["id_match"]["ambiguous"] == ["BE0403170701"]
    # the registry id written exactly as an accounts id links to that one only
    members = p.data.loc[p.data["ever_member"], "firm_id"].unique().tolist()
    assert members == ["403170701"]


def test_exact_link_wins_over_the_key():
    acc = accounts(["0403170701", "403170701"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        p = build_panel(acc, registry(["0403170701", "403170701"]))
    assert p.flags["id_match"]["by_key"] == 0
    assert p.data.groupby("firm_id")["ever_member"].all().tolist() == [True, True]


# -- cluster names ------------------------------------------------------------------------------------
def test_cluster_names_differing_in_case_or_spacing_are_one_cluster():
    acc = accounts(["a", "b", "c", "d", "e"])
    reg = pd.DataFrame(
        {
            "firm_id": ["a", "b", "c", "d", "e"],
            "cluster": ["VIL", "vil", "Vil ", "VIL", "De  Blauwe Cluster"],
            "join_date": 2017,
        }
    )
    with pytest.warns(
        DataWarning,
        match=r"column 'cluster': cluster names that differ only in case or spacing are taken as "
        r"one cluster: 'VIL' \(rows 0, 3\), 'vil' \(rows 1\), 'Vil ' \(rows 2\) -> 'VIL'",
    ):
        p = build_panel(acc, reg)
    accounted(p)
    assert sorted(p.memberships["cluster"].unique()) == ["De Blauwe Cluster", "VIL"]
    assert p.flags["cluster_names_merged"] == {"VIL": ["vil", "Vil "]}
    assert p.members(cluster="VIL")["firm_id"].tolist() == ["a", "b", "c", "d"]
    assert "cluster_names_merged" in p.summary()


def test_a_tie_keeps_the_first_spelling():
    reg = pd.DataFrame({"firm_id": ["a", "b"], "cluster": ["medvia", "MedVia"], "join_date": 2017})
    with pytest.warns(DataWarning, match="-> 'medvia'"):
        p = build_panel(accounts(["a", "b"]), reg)
    assert set(p.memberships["cluster"]) == {"medvia"}


# -- spells within one calendar year ------------------------------------------------------------------
def test_same_year_spell_counts_one_year_next_to_a_normal_spell():
    acc = accounts(["a", "b"], years=(2015, 2016, 2017, 2018))
    reg = pd.DataFrame(
        {
            "firm_id": ["a", "b", "b"],
            "cluster": ["VIL", "VIL", "Flux50"],
            "join_date": ["2016-03-01", "2015-01-01", "2017-05-01"],
            "exit_date": ["2016-11-30", "2016-06-30", None],
        }
    )
    with pytest.warns(
        DataWarning, match=r"rows 0: 1 membership spell\(s\) start and end in the same"
    ):
        p = build_panel(acc, reg)
    accounted(p)
    a = p.data[p.data["firm_id"] == "a"]
    assert a["member"].tolist() == [0, 1, 0, 0] and a["member_years"].tolist() == [0, 1, 1, 1]
    b = p.data[
        p.data["firm_id"] == "b"
    ]  # normal spell 2015 (exit 2016 not a member year), rejoin 2017
    assert b["member"].tolist() == [1, 0, 1, 1] and b["member_years"].tolist() == [1, 1, 2, 3]
    assert p.flags["same_year_spells"] == [0]
