"""io: reading tables (CSV, gzipped CSV, Parquet), role mapping, coercion errors naming file/column/rows."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import pytest

from clusterimpact.errors import DataError, PanelError
from clusterimpact.io import (
    read_accounts,
    read_deflators,
    read_registry,
    read_table,
    table_format,
    write_table,
)
from clusterimpact.presets import ACCOUNT_ROLES, ColumnMap

CSV = "firm_id,year,va,emp\n0403170701,2010,10,2\n0403170701,2011,12.5,2\n"


def test_read_table_csv_gz_parquet_roundtrip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for name in ("t.csv", "t.csv.gz", "t.parquet"):
        write_table(df, tmp_path / name)
        back = read_table(tmp_path / name)
        pd.testing.assert_frame_equal(back, df, check_dtype=False)
        assert back.attrs["source"] == str(tmp_path / name)
    # nothing left behind by the atomic writer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.csv.gz", "t.parquet"]


def test_csv_roundtrip_keeps_leading_zeros_of_ids_and_codes(tmp_path):
    df = pd.DataFrame({"firm_id": ["0403170701"], "nace": ["0111"], "sector": ["01"], "x": ["007"]})
    path = tmp_path / "panel.tsv"
    df.to_csv(path, sep="\t", index=False)
    back = read_table(path)
    assert back.loc[0, "firm_id"] == "0403170701" and back.loc[0, "sector"] == "01"
    assert back.loc[0, "x"] == 7  # other columns are parsed as usual
    assert read_table(path, dtype={})["firm_id"].iloc[0] == 403170701


def test_read_table_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.csv.*file not found"):
        read_table(tmp_path / "missing.csv")
    bad = tmp_path / "data.json"
    bad.write_text("x")
    with pytest.raises(DataError, match=r"data\.json.*unknown file type"):
        read_table(bad)
    broken_book = tmp_path / "data.xlsx"
    broken_book.write_text("x")
    with pytest.raises(DataError, match=r"data\.xlsx.*cannot read workbook"):
        read_table(broken_book)
    with pytest.raises(DataError, match="unknown file type"):
        table_format("out.json")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet.*cannot read file"):
        read_table(broken)


def test_read_table_does_not_modify_the_file(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text(CSV)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    read_accounts(path)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_semicolon_delimiter_is_detected(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text(CSV.replace(",", ";"))
    acc = read_accounts(path)
    assert acc["va"].tolist() == [10.0, 12.5]


def test_read_accounts_keeps_leading_zeros_and_file_rows(tmp_path):
    path = tmp_path / "acc.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(CSV)
    acc = read_accounts(path)
    assert list(acc.columns) == list(ACCOUNT_ROLES)
    assert acc["firm_id"].tolist() == ["0403170701"] * 2
    assert list(acc.index) == [1, 2]  # 1-based data rows
    assert acc["nace"].isna().all() and np.isnan(acc["capital"]).all()


def test_column_map_role_to_column_old_direction_warns_and_classmethod():
    df = pd.DataFrame({"vat": ["a"], "jaar": [2010], "tw": [1.0], "fte": [1.0]})
    new = {"firm_id": "vat", "year": "jaar", "va": "tw", "emp": "fte"}
    for m in (new, ColumnMap.from_roles(firm_id="vat", year="jaar", va="tw", emp="fte")):
        acc = read_accounts(df, columns=m)
        assert acc.loc[0, "firm_id"] == "a" and acc.loc[0, "year"] == 2010
    old = {v: k for k, v in new.items()}
    with pytest.warns(FutureWarning, match=r"old direction.*firm_id=vat"):
        acc = read_accounts(df, columns=old)
    assert acc.loc[0, "firm_id"] == "a" and acc.loc[0, "va"] == 1.0
    with pytest.raises(Exception, match="unknown role"):
        read_accounts(df, columns={"enterprise": "vat"})


def test_mapped_column_not_found_and_double_mapping():
    df = pd.DataFrame({"firm_id": ["a"], "year": [2010], "va": [1.0], "emp": [1.0], "x": [1]})
    with pytest.raises(DataError, match=r"not in the data: 'fte' \(for emp\), 'nope'"):
        read_accounts(df, columns={"emp": "fte", "capital": "nope"})
    with pytest.raises(Exception, match="given more than one role"):
        read_accounts(df.assign(y=1), columns={"capital": "x", "wages": "x"})


def test_nace_codes_normalised():
    df = pd.DataFrame(
        {
            "firm_id": list("abcde"),
            "year": 2010,
            "va": 1.0,
            "emp": 1.0,
            "nace": ["62.01", "0111", "111", "62010", None],
        }
    )
    assert read_accounts(df)["nace"].tolist()[:4] == ["6201", "0111", "0111", "6201"]
    ints = df.assign(nace=[6201, 111, 2511, 4711, 4711])
    assert read_accounts(ints)["nace"].tolist() == ["6201", "0111", "2511", "4711", "4711"]


def test_year_from_dates_and_blank_cells(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("firm_id,year,va,emp\na,2015-12-31,1,\nb,,2,1\n")
    acc = read_accounts(path)
    assert acc["year"].tolist()[0] == 2015 and np.isnan(acc["year"].tolist()[1])
    assert np.isnan(acc.loc[1, "emp"])


def test_non_numeric_in_file_names_file_column_and_rows(tmp_path):
    path = tmp_path / "acc.csv"
    path.write_text("firm_id,year,va,emp\na,2010,1,1\na,2011,abc,1\nb,2010,3,x\n")
    with pytest.raises(DataError, match=r"acc\.csv: 2 problems") as exc:  # every bad column
        read_accounts(path)
    assert "column 'va', rows 2: non-numeric" in str(exc.value)
    assert "column 'emp', rows 3: non-numeric" in str(exc.value)
    path.write_text("firm_id,year,va,emp\na,2010,1,1\na,twenty,1,1\n")
    with pytest.raises(DataError, match=r"column 'year', rows 2: not a year"):
        read_accounts(path)


def test_mapped_column_named_in_errors():
    df = pd.DataFrame({"vat": ["a"], "jaar": [2010], "tw": ["oops"], "fte": [1.0]})
    with pytest.raises(DataError, match="column 'tw'"):
        read_accounts(df, columns={"firm_id": "vat", "year": "jaar", "va": "tw", "emp": "fte"})


def test_read_registry_dates_and_years(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(
        "firm_id,cluster,join_date,exit_date\n0403170701,X,2017-03-01,\n1,Y,2015,2019-06-30\n"
    )
    reg = read_registry(path)
    assert reg["firm_id"].tolist() == ["0403170701", "1"]
    assert reg["join_year"].tolist() == [2017, 2015]
    assert np.isnan(reg["exit_year"].iloc[0]) and reg["exit_year"].iloc[1] == 2019
    assert list(reg.index) == [1, 2]


def test_dates_are_iso_or_day_first():
    reg = read_registry(
        pd.DataFrame(
            {
                "firm_id": ["a", "b", "c"],
                "cluster": "X",
                "join_date": ["02/03/2017", "2017-03-02", "1.3.2016"],
                "exit_date": [None, "31/12/2019", None],
            }
        )
    )
    assert reg["join_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2017-03-02",
        "2017-03-02",
        "2016-03-01",
    ]
    assert reg["exit_year"].tolist()[1] == 2019
    acc = read_accounts(
        pd.DataFrame({"firm_id": ["a"], "year": ["31/12/2015"], "va": [1.0], "emp": [1.0]})
    )
    assert acc["year"].tolist() == [2015.0]


def test_read_registry_errors(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text("firm_id,cluster,join_date\na,X,2017\nb,,2018\n")
    with pytest.raises(DataError, match=r"column 'cluster', rows 2: blank values"):
        read_registry(path)
    path.write_text("firm_id,cluster,join_date\na,X,\n")
    with pytest.raises(DataError, match=r"rows 1: blank join dates"):
        read_registry(path)
    path.write_text("firm_id,cluster,join_date\na,X,someday\n")
    with pytest.raises(DataError, match=r"rows 1: not a date or year"):
        read_registry(path)
    path.write_text("firm_id,cluster,join_date,exit_date\na,X,2018,2016\na,Y,2012,2014\n")
    with pytest.raises(PanelError, match=r"rows 1: join date after exit date"):
        read_registry(path)
    path.write_text("firm_id,join_date\na,2018\n")
    with pytest.raises(DataError, match=r"missing required column\(s\).*cluster"):
        read_registry(path)


def test_read_deflators():
    d = pd.DataFrame({"sector": [25, 1], "year": [2010, 2010], "deflator": [1.0, 1.1]})
    out = read_deflators(d)
    assert out["sector"].tolist() == ["25", "01"]
    with pytest.raises(DataError, match=r"rows 1: deflators must be positive"):
        read_deflators(d.assign(deflator=[1.0, 0.0]))
    with pytest.raises(DataError, match=r"rows 0, 1: duplicate sector-years"):
        read_deflators(d.assign(sector=[25, 25]))


def test_read_accounts_rejects_other_objects():
    with pytest.raises(DataError, match="expected a file path or a pandas DataFrame"):
        read_accounts(42)  # type: ignore[arg-type]
