"""Files as economists hold them: decimal comma, thousands separators, cp1252/Latin-1, gzip under any
name, duplicate headers, Excel workbooks, Stata files, and the one column-map syntax (API level; the
CLI and TOML routes are in tests/cli/test_inputs_cli.py and tests/test_spec_inputs.py)."""

from __future__ import annotations

import codecs
import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from clusterimpact.errors import DataError, DataWarning, SpecError
from clusterimpact.io import read_accounts, read_deflators, read_registry, read_table
from clusterimpact.panel import build_panel


def accounted(panel) -> None:
    assert panel.rows_in == len(panel.data) + len(panel.exclusions)


def write(path, text: str, encoding: str = "utf-8") -> None:
    path.write_bytes(text.encode(encoding))


# -- decimal comma and thousands separators ------------------------------------------------------
BELGIAN = "firm_id;year;va;emp\nA;2017;1.234,5;3,5\nA;2018;1.234.567;12\nB;2017;-0,25;1\n"


def test_decimal_comma_and_dot_thousands_are_detected(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, BELGIAN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # decisive values: no guess, no warning
        acc = read_accounts(path)
    assert acc["va"].tolist() == [1234.5, 1234567.0, -0.25]
    assert acc["emp"].tolist() == [3.5, 12.0, 1.0]
    assert read_table(path).attrs["decimal"] == ","


def test_quoted_decimal_comma_in_a_comma_separated_file(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, 'firm_id,year,va,emp\nA,2017,7,2\nA,2018,"12,5","0,5"\n')
    acc = read_accounts(path)
    assert acc["va"].tolist() == [7.0, 12.5] and acc["emp"].tolist() == [2.0, 0.5]


def test_comma_thousands_with_decimal_point(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, 'firm_id,year,va,emp\nA,2017,"1,234.5",2\nA,2018,"2,000,000",1\n')
    assert read_accounts(path)["va"].tolist() == [1234.5, 2000000.0]


def test_space_thousands_separator(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, "firm_id;year;va;emp\nA;2017;1 234,5;2\nA;2018;12\u00a0345;1\n")
    assert read_accounts(path)["va"].tolist() == [1234.5, 12345.0]


def test_ambiguous_values_warn_and_follow_the_delimiter(tmp_path):
    semi = tmp_path / "semi.csv"
    write(semi, "firm_id;year;va;emp\nA;2017;1.234;3\n")
    with pytest.warns(DataWarning, match=r"'1\.234' \(column 'va', row 1\) fit both"):
        assert read_accounts(semi)["va"].tolist() == [1234.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_accounts(semi, decimal=".")["va"].tolist() == [1.234]
    comma = tmp_path / "comma.csv"
    write(comma, 'firm_id,year,va,emp\nA,2017,"1,234",3\n')
    with pytest.warns(DataWarning, match="fit both"):
        assert read_accounts(comma)["va"].tolist() == [1234.0]
    assert read_accounts(comma, decimal=",")["va"].tolist() == [1.234]


def test_mixed_decimal_marks_are_an_error_naming_both(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, "firm_id;year;va;emp\nA;2017;1,5;3\nA;2018;2;3.5\n")
    with pytest.raises(
        DataError, match=r"'1,5' \(column 'va', row 1\).*'3\.5' \(column 'emp', row 2\)"
    ):
        read_accounts(path)
    # told the mark, the cell that does not fit is named with its row
    with pytest.raises(DataError, match=r"column 'emp', rows 2: non-numeric values \('3\.5'\)"):
        read_accounts(path, decimal=",")


def test_decimal_comma_is_never_read_as_thousands_silently(tmp_path):
    """pandas' thousands='.' turns '12.5' into 125; the strict parser refuses it instead."""
    path = tmp_path / "acc.csv"
    write(path, "firm_id;year;va;emp\nA;2017;1.234,5;1\nA;2018;12.5;1\n")
    with pytest.raises(DataError, match=r"decimal marks"):
        read_accounts(path)


def test_decimal_comma_through_build_panel_rows_accounted(tmp_path):
    acc, reg = tmp_path / "acc.csv", tmp_path / "reg.csv"
    write(acc, BELGIAN)
    write(reg, "firm_id;cluster;join_date\nA;VIL;2018\n")
    p = build_panel(acc, reg)
    accounted(p)
    assert p.rows_in == 3 and len(p.data) == 2
    assert p.exclusions[["row", "reason"]].values.tolist() == [[3, "nonpositive_va"]]
    assert p.exclusions["detail"].tolist() == ["va = -0.25"]
    assert p.data["va"].tolist() == [1234.5, 1234567.0] and p.data["member"].tolist() == [0, 1]


# -- encodings and gzip -----------------------------------------------------------------------------
def test_cp1252_is_detected_with_a_warning_and_encoding_option(tmp_path):
    path = tmp_path / "reg.csv"
    write(path, "firm_id;cluster;join_date\nA;Flanders’ FOOD;2017\nB;Société;2018\n", "cp1252")
    with pytest.warns(DataWarning, match=r"not valid UTF-8 .*data row 1.*read it as cp1252"):
        reg = read_registry(path)
    assert reg["cluster"].tolist() == ["Flanders’ FOOD", "Société"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_registry(path, encoding="cp1252")["cluster"].iloc[1] == "Société"


def test_latin1_when_a_byte_is_undefined_in_cp1252(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_bytes(b"firm_id,cluster,join_date\nA,Caf\xe9\x81,2017\n")
    with pytest.warns(DataWarning, match="read it as latin-1"):
        assert read_registry(path)["cluster"].iloc[0] == "Caf\xe9\x81"


def test_undecodable_with_explicit_encoding_names_offset_row_and_fix(tmp_path):
    path = tmp_path / "acc.csv"
    text = "firm_id,year,va,emp\nA,2017,1,1\nCafé,2018,1,1\n"
    write(path, text, "cp1252")
    offset = text.encode("cp1252").index(b"\xe9")
    with pytest.raises(
        DataError,
        match=rf"acc\.csv: cannot decode byte 0xe9 at byte offset {offset}, line 3 \(data row 2\)"
        r" as utf-8; pass the file's encoding, e\.g\. encoding='cp1252'",
    ):
        read_accounts(path, encoding="utf-8")


def test_bom_utf16_and_binary_files(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + b"firm_id,year,va,emp\nA,2017,1,1\n")
    assert list(read_accounts(bom)["firm_id"]) == ["A"]
    u16 = tmp_path / "u16.csv"
    u16.write_bytes("firm_id\tyear\tva\temp\nÉ\t2017\t1,5\t1\n".encode("utf-16"))
    acc = read_accounts(u16)
    assert acc["firm_id"].tolist() == ["É"] and acc["va"].tolist() == [1.5]
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"firm_id,year\n\x00\x01\x02")
    with pytest.raises(DataError, match=r"bin\.csv: NUL byte at byte offset 13.*not a text file"):
        read_table(binary)


@pytest.mark.parametrize("name", ["acc.csv", "acc.txt", "acc.csv.gz", "acc.gz"])
def test_gzip_is_recognised_whatever_the_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(BELGIAN.encode()))
    assert read_accounts(path)["va"].tolist() == [1234.5, 1234567.0, -0.25]


def test_corrupt_gzip_and_plain_text_named_gz(tmp_path):
    bad = tmp_path / "acc.csv.gz"
    bad.write_bytes(gzip.compress(BELGIAN.encode())[:30])
    with pytest.raises(DataError, match=r"acc\.csv\.gz: corrupt or truncated gzip"):
        read_table(bad)
    plain = tmp_path / "plain.csv.gz"
    write(plain, BELGIAN)
    assert len(read_table(plain)) == 3


# -- headers ----------------------------------------------------------------------------------------
def test_duplicate_headers_are_an_error(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, "firm_id,year,va,emp,va \nA,2017,1,1,2\n")
    with pytest.raises(
        DataError, match=r"acc\.csv, column 'va': duplicate column names: 'va' \(columns 3, 5\)"
    ):
        read_accounts(path)
    frame = pd.DataFrame(
        [["A", 2017, 1.0, 1.0, 2.0]], columns=["firm_id", "year", "va", "emp", "va"]
    )
    with pytest.raises(DataError, match=r"column 'va': duplicate column names"):
        read_accounts(frame)
    book = tmp_path / "acc.xlsx"
    frame.to_excel(book, index=False)
    with pytest.raises(DataError, match=r"acc\.xlsx, column 'va': duplicate column names"):
        read_table(book)


def test_trailing_delimiters_and_unnamed_extra_fields(tmp_path):
    trail = tmp_path / "trail.csv"
    write(trail, "firm_id;year;va;emp\nA;2017;1,5;1;\nB;2017;2;1;\n")
    acc = read_accounts(trail)  # pandas alone would shift every column by one
    assert acc["firm_id"].tolist() == ["A", "B"] and acc["va"].tolist() == [1.5, 2.0]
    extra = tmp_path / "extra.csv"
    write(extra, "firm_id,year,va,emp\nA,2017,1,1,5\nB,2017,2,1,9\n")
    with pytest.raises(DataError, match=r"extra\.csv: the data rows have one field more than"):
        read_table(extra)


def test_header_blanks_are_stripped(tmp_path):
    path = tmp_path / "acc.csv"
    write(path, " firm_id , year,va ,emp\nA,2017,1,1\n")
    assert read_accounts(path)["va"].tolist() == [1.0]


# -- Excel ------------------------------------------------------------------------------------------
@pytest.fixture
def workbook(tmp_path):
    path = tmp_path / "study.xlsx"
    acc = pd.DataFrame(
        {
            "ondernemingsnummer": [403170701, 403170701, 202239951],  # Excel dropped the leading 0
            "jaar": [2016, 2017, 2017],
            "va": [10.0, 12.5, 7.0],
            "fte": [2, 2, 1],
            "nace": [2511, 2511, 111],
        }
    )
    reg = pd.DataFrame(
        {
            "KBO": ["0403.170.701"],
            "cluster": ["VIL"],
            "join_date": [pd.Timestamp("2017-03-01")],
        }
    )
    with pd.ExcelWriter(path) as w:
        acc.to_excel(w, sheet_name="accounts", index=False)
        reg.to_excel(w, sheet_name="registry", index=False)
    return path


def test_excel_sheets_by_option_and_by_name_suffix(workbook):
    cols = {"firm_id": "ondernemingsnummer", "year": "jaar", "emp": "fte"}
    with pytest.warns(DataWarning, match=r"first sheet 'accounts' of 2"):
        first = read_accounts(workbook, cols)
    by_name = read_accounts(f"{workbook}#accounts", cols)
    pd.testing.assert_frame_equal(first, by_name, check_like=True, check_exact=True)
    assert first["nace"].tolist() == ["2511", "2511", "0111"]
    reg = read_registry(workbook, {"firm_id": "KBO"}, sheet="registry")
    assert reg["join_year"].tolist() == [2017]
    with pytest.raises(
        DataError, match=r"no sheet named 'members'; the sheets are 'accounts', 'registry'"
    ):
        read_registry(workbook, sheet="members")


def test_excel_accounts_and_registry_build_a_panel(workbook):
    with pytest.warns(DataWarning, match=r"study\.xlsx#registry: 1 registry firm id.*normalising"):
        p = build_panel(
            f"{workbook}#accounts",
            f"{workbook}#registry",
            columns={"firm_id": "ondernemingsnummer", "year": "jaar", "emp": "fte"},
            registry_columns={"firm_id": "KBO"},
        )
    accounted(p)
    assert p.rows_in == 3 and len(p.data) == 3
    m = p.data[p.data["member"] == 1]
    assert m[["firm_id", "year"]].values.tolist() == [["403170701", 2017]]
    assert p.flags["id_match"]["found"] == 1 and p.flags["id_match"]["by_key"] == 1


def test_excel_numbers_stored_as_text_follow_the_decimal_rules(tmp_path):
    path = tmp_path / "acc.xlsx"
    pd.DataFrame(
        {"firm_id": ["A", "B"], "year": [2017, 2017], "va": ["12,5", "3"], "emp": [1, 1]}
    ).to_excel(path, index=False)
    assert read_accounts(path)["va"].tolist() == [12.5, 3.0]


def test_old_excel_and_mismatched_content(tmp_path):
    with pytest.raises(DataError, match=r"old Excel format \(\.xls\) is not supported"):
        read_table(tmp_path / "acc.xls")
    disguised = tmp_path / "acc.csv"
    pd.DataFrame({"firm_id": ["A"], "year": [2017], "va": [1.0], "emp": [1.0]}).to_parquet(
        disguised
    )
    with pytest.warns(DataWarning, match=r"content is parquet although its name says text"):
        assert read_accounts(disguised)["va"].tolist() == [1.0]


# -- Stata ------------------------------------------------------------------------------------------
def test_stata_value_labels_are_categories_and_codes_stay_codes(tmp_path):
    path = tmp_path / "acc.dta"
    pd.DataFrame(
        {
            "firm_id": [403170701.0, 403170701.0, 202239951.0],
            "year": [2016, 2017, 2017],
            "va": [10.0, 12.5, 7.0],
            "emp": [2.0, 2.0, 1.0],
            "region": [1, 1, 2],
            "nace": [2511, 2511, 111],
        }
    ).to_stata(
        path,
        write_index=False,
        value_labels={
            "region": {1: "Antwerpen", 2: "Gent"},
            "nace": {2511: "Metal", 111: "Cereals"},
        },
    )
    raw = read_table(path)
    assert isinstance(raw["region"].dtype, pd.CategoricalDtype)
    assert raw["nace"].tolist() == ["Metal", "Metal", "Cereals"]  # labels, as Stata shows them
    acc = read_accounts(path)
    assert acc["region"].tolist() == ["Antwerpen", "Antwerpen", "Gent"]  # names: the labels
    assert acc["nace"].tolist() == ["2511", "2511", "0111"]  # codes: the codes
    assert acc["firm_id"].tolist() == ["403170701", "403170701", "202239951"]
    reg = pd.DataFrame({"firm_id": ["BE 0403.170.701"], "cluster": ["VIL"], "join_date": [2017]})
    with pytest.warns(DataWarning, match=r"'BE 0403\.170\.701' -> '403170701'"):
        p = build_panel(path, reg)
    accounted(p)
    assert p.data["member"].tolist() == [0, 0, 1] and p.flags["id_match"]["match_rate"] == 1.0


# -- column maps ------------------------------------------------------------------------------------
def test_map_entry_naming_an_absent_column_is_an_error_with_a_suggestion():
    df = pd.DataFrame({"vat": ["a"], "year": [2010], "va": [1.0], "FTE": [1.0]})
    with pytest.raises(
        DataError, match=r"column 'fte'.*not in the data: 'fte' \(for emp; did you mean 'FTE'\?\)"
    ):
        read_accounts(df, {"firm_id": "vat", "emp": "fte"})
    # a column named after its role does not rescue a wrong map entry any more
    df2 = pd.DataFrame({"firm_id": ["a"], "year": [2010], "va": [1.0], "emp": [1.0]})
    with pytest.raises(DataError, match=r"'employees' \(for emp\)"):
        read_accounts(df2, {"emp": "employees"})


def test_map_syntax_errors():
    df = pd.DataFrame({"firm_id": ["a"], "year": [2010], "va": [1.0], "emp": [1.0]})
    with pytest.raises(
        SpecError, match=r"unknown role\(s\) in column map: 'salary'.*role = column"
    ):
        read_accounts(df, {"salary": "loon"})
    with pytest.raises(SpecError, match=r"'va' given more than one role"):
        read_accounts(df, {"turnover": "va", "wages": "va"})
    with pytest.warns(FutureWarning, match=r"old direction; write role = column instead \(va=tw\)"):
        read_accounts(df.rename(columns={"va": "tw"}), {"tw": "va"})


def test_deflator_columns_can_be_mapped():
    defl = pd.DataFrame(
        {
            "nace2": ["25", "25"],
            "jaar": [2010, 2011],
            "ppi": [100.0, 125.0],
            "ppi_k": [100.0, 200.0],
        }
    )
    out = read_deflators(
        defl, {"sector": "nace2", "year": "jaar", "deflator": "ppi", "deflator_capital": "ppi_k"}
    )
    assert out["deflator"].tolist() == [100.0, 125.0]
    assert out["deflator_capital"].tolist() == [100.0, 200.0]
    acc = pd.DataFrame(
        {
            "firm_id": ["a", "a"],
            "year": [2010, 2011],
            "nace": ["2511", "2511"],
            "va": [10.0, 10.0],
            "emp": [1.0, 1.0],
            "capital": [8.0, 8.0],
        }
    )
    p = build_panel(
        acc,
        deflators=defl,
        deflator_columns={
            "sector": "nace2",
            "year": "jaar",
            "deflator": "ppi",
            "deflator_capital": "ppi_k",
        },
    )
    accounted(p)
    # base 100 (median > 10): va 10 / 1.25 = 8 in 2011; capital 8 / 2.0 = 4
    assert p.data["va"].tolist() == [10.0, 8.0]
    assert p.data["capital"].tolist() == [8.0, 4.0]
    with pytest.raises(DataError, match=r"'price' \(for deflator\)"):
        read_deflators(defl, {"deflator": "price"})
    with pytest.raises(SpecError, match="unknown role"):
        read_deflators(defl, {"deflator_foo": "ppi"})


def test_read_options_are_validated():
    with pytest.raises(SpecError, match=r"decimal=';' is not valid"):
        read_table("x.csv", decimal=";")
    with pytest.raises(SpecError, match=r"encoding='klingon' is not a known text encoding"):
        read_table("x.csv", encoding="klingon")


def test_reading_does_not_change_the_file(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_bytes(gzip.compress(BELGIAN.encode("cp1252")))
    before = path.read_bytes()
    read_accounts(path)
    assert path.read_bytes() == before
    assert np.isfinite(read_accounts(path)["va"]).all()
