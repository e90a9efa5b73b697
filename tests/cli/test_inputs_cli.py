"""The CLI route for inputs: Belgian-format files, Excel and Stata, role=column maps, the id match rate
and its warnings/errors, same-year spells, absurd values; bad input exits 2 naming file, column, rows."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.cli import main
from tolerances import ELEMENTWISE_REL

ACC = (
    "ondernemingsnummer;boekjaar;nace;gemeente;va;vte\n"
    "0403.170.701;2016;2511;Liège;1.000,0;2,5\n"
    "0403.170.701;2017;2511;Liège;1.100,0;2,5\n"
    "0202.239.951;2016;2511;Gent;500,5;1\n"
    "0202.239.951;2017;2511;Gent;-3,0;1\n"
)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "acc.csv").write_bytes(gzip.compress(ACC.encode("cp1252")))
    pd.DataFrame(
        {"KBO": ["BE 0403170701", "202239951"], "cluster": ["VIL", "VIL"], "start": [2017, 2016]}
    ).to_csv(tmp_path / "reg.csv", index=False)
    pd.DataFrame({"nace2": ["25", "25"], "jaar": [2016, 2017], "ppi": [100.0, 110.0]}).to_csv(
        tmp_path / "defl.csv", index=False
    )
    return tmp_path


def build(files, *extra):
    return [
        "build",
        "--accounts",
        str(files / "acc.csv"),
        "--registry",
        str(files / "reg.csv"),
        "--columns",
        "firm_id=ondernemingsnummer,year=boekjaar,emp=vte",
        "--registry-columns",
        "firm_id=KBO,join_date=start",
        *extra,
    ]


def test_build_on_belgian_files_with_maps_and_match_rate(files, capsys):
    out, js = files / "panel.parquet", files / "build.json"
    argv = build(
        files,
        "--deflators",
        str(files / "defl.csv"),
        "--deflator-columns",
        "sector=nace2,year=jaar,deflator=ppi",
        "--id-type",
        "kbo",
        "--out",
        str(out),
        "--json",
        str(js),
    )
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "Registry firms found in the accounts: 2 of 2 (100.0 %)" in cap.out
    assert "warning:" in cap.err and "read it as cp1252" in cap.err
    panel = pd.read_parquet(out)
    assert sorted(panel["firm_id"].unique()) == ["0202239951", "0403170701"]
    assert_close(
        panel.set_index(["firm_id", "year"]).loc[("0403170701", 2017), "va"],
        1100.0 / 1.1,
        rel=ELEMENTWISE_REL,
    )
    report = json.loads(js.read_text())
    assert report["rows_in"] == report["nobs"] + sum(report["exclusions"].values()) == 4
    assert report["exclusions"] == {"nonpositive_va": 1}
    assert report["id_match"]["match_rate"] == 1.0 and report["id_match"]["found"] == 2
    assert any("cp1252" in w for w in report["warnings"])


def test_explicit_reading_options(files, capsys):
    out = files / "p.csv"
    argv = build(files, "--decimal", ",", "--encoding", "cp1252", "--out", str(out))
    assert main(argv) == 0
    assert "cp1252" not in capsys.readouterr().err
    assert pd.read_csv(out)["va"].tolist()[:2] == [500.5, 1000.0]


def test_undecodable_with_a_wrong_encoding_exits_2(files, capsys):
    argv = build(files, "--encoding", "utf-8", "--out", str(files / "p.csv"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    offset = ACC.encode("cp1252").index("è".encode("cp1252"))
    assert f"acc.csv: cannot decode byte 0xe8 at byte offset {offset}, line 2 (data row 1)" in err
    assert "--encoding cp1252" in err
    assert not (files / "p.csv").exists()


def test_old_map_direction_still_works_with_a_warning(files, capsys):
    argv = build(files, "--out", str(files / "p.csv"))
    argv[argv.index("--columns") + 1] = "ondernemingsnummer=firm_id,boekjaar=year,vte=emp"
    assert main(argv) == 0
    assert "old direction; write role = column instead (firm_id=ondernemingsnummer" in (
        capsys.readouterr().err
    )


def test_map_naming_an_absent_column_exits_2(files, capsys):
    argv = build(files, "--out", str(files / "p.csv"))
    argv[argv.index("--columns") + 1] = "firm_id=ondernemingsnummer,year=jaar,emp=vte"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "acc.csv, column 'jaar'" in err and "'jaar' (for year; did you mean 'boekjaar'?)" in err


def test_duplicate_header_exits_2(files, capsys):
    (files / "acc.csv").write_text("ondernemingsnummer;boekjaar;va;vte;va\nA;2016;1;1;2\n")
    assert main(build(files, "--out", str(files / "p.csv"))) == 2
    assert "column 'va': duplicate column names: 'va' (columns 3, 5)" in capsys.readouterr().err


def test_no_registry_firm_found_exits_2_and_writes_nothing(files, capsys):
    pd.DataFrame({"KBO": ["X1", "X2"], "cluster": "VIL", "start": 2017}).to_csv(
        files / "reg.csv", index=False
    )
    out = files / "p.parquet"
    assert main(build(files, "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert "reg.csv, column 'firm_id', rows 1, 2: none of the 2 registry firms" in err
    assert "Likely fix" in err
    assert not out.exists()


def test_low_match_rate_warns_and_reports(files, capsys):
    pd.DataFrame({"KBO": ["0403.170.701", "0999.999.999"], "cluster": "VIL", "start": 2017}).to_csv(
        files / "reg.csv", index=False
    )
    js = files / "b.json"
    assert main(build(files, "--out", str(files / "p.csv"), "--json", str(js))) == 0
    cap = capsys.readouterr()
    assert "only 1 of 2 registry firms (50.0 %) are in the accounts" in cap.err
    assert "Registry firms found in the accounts: 1 of 2 (50.0 %)" in cap.out
    report = json.loads(js.read_text())
    assert report["id_match"]["match_rate"] == 0.5
    assert report["id_match"]["unmatched"] == ["0999.999.999"]
    assert any("only 1 of 2" in w for w in report["warnings"])


def test_same_year_spell_and_cluster_spellings_are_reported(files, capsys):
    pd.DataFrame(
        {
            "KBO": ["0403.170.701", "0202.239.951"],
            "cluster": ["VIL", "Vil"],
            "start": ["2017-02-01", "2016-03-01"],
            "end": [None, "2016-10-31"],
        }
    ).to_csv(files / "reg.csv", index=False)
    js = files / "b.json"
    argv = build(files, "--out", str(files / "p.csv"), "--json", str(js))
    argv[argv.index("--registry-columns") + 1] = "firm_id=KBO,join_date=start,exit_date=end"
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "rows 2: 1 membership spell(s) start and end in the same calendar year" in err
    assert "'VIL' (rows 1), 'Vil' (rows 2) -> 'VIL'" in err
    report = json.loads(js.read_text())
    assert report["flags"]["same_year_spells"] == [2]
    assert report["flags"]["cluster_names_merged"] == {"VIL": ["Vil"]}
    panel = pd.read_csv(files / "p.csv", dtype={"firm_id": str})
    b = panel[panel["firm_id"] == "0202.239.951"]  # its 2017 row is excluded (va < 0)
    assert b[["year", "member", "member_years"]].values.tolist() == [[2016, 1, 1]]


def test_validate_reads_excel_and_reports(files, capsys):
    book = files / "book.xlsx"
    acc = pd.DataFrame(
        {"firm_id": [403170701, 403170701], "year": [2016, 2017], "va": [1.5, 2.5], "emp": [1, 1]}
    )
    with pd.ExcelWriter(book) as w:
        acc.to_excel(w, sheet_name="accounts", index=False)
        pd.DataFrame({"firm_id": ["0403170701"], "cluster": ["VIL"], "join_date": [2017]}).to_excel(
            w, sheet_name="registry", index=False
        )
    js = files / "v.json"
    argv = [
        "validate",
        "--accounts",
        f"{book}#accounts",
        "--registry",
        str(book),
        "--sheet",
        "registry",
        "--json",
        str(js),
    ]
    assert main(argv) == 0
    report = json.loads(js.read_text())
    assert report["ok"] and report["id_match"]["by_key"] == 1
    assert report["rows_in"] == report["nobs"] == 2


# -- analysis commands read every format; outcomes checked ------------------------------------------
@pytest.fixture
def small_panel():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40).round(6)
    y = (1.0 + 0.5 * x + rng.normal(scale=0.1, size=40)).round(6)
    return pd.DataFrame(
        {
            "firm_id": np.repeat(np.arange(10), 4),
            "year": 2000 + np.tile(range(4), 10),
            "x": x,
            "y": y,
        }
    )


def _fe(path, tmp_path, *extra):
    js = tmp_path / f"{path.name}.json"
    argv = ["fe", "--data", str(path), "--formula", "y ~ x", "--vcov", "hetero", "--json", str(js)]
    assert main([*argv, *extra]) == 0
    return json.loads(js.read_text())["estimates"]


def test_analysis_commands_read_csv_decimal_comma_excel_and_stata_alike(small_panel, tmp_path):
    csv = tmp_path / "p.csv"
    small_panel.to_csv(csv, index=False)
    semi = tmp_path / "p_be.csv"
    semi.write_text(small_panel.to_csv(index=False, sep=";", decimal=","))
    book, dta = tmp_path / "p.xlsx", tmp_path / "p.dta"
    small_panel.to_excel(book, index=False)
    small_panel.to_stata(dta, write_index=False)
    ref = _fe(csv, tmp_path)
    for path in (semi, book, dta):
        assert _fe(path, tmp_path) == ref, path.name  # the same numbers, read from each format
    assert _fe(semi, tmp_path, "--decimal", ",") == ref


def test_constant_and_overflowing_outcomes_warn_on_the_cli(small_panel, tmp_path, capsys):
    const = tmp_path / "c.csv"
    small_panel.assign(y=2.0).to_csv(const, index=False)
    main(["fe", "--data", str(const), "--formula", "y ~ x", "--vcov", "hetero"])
    err = capsys.readouterr().err
    assert "c.csv, column 'y': constant (all 40 non-missing rows are 2)" in err
    assert err.count("column 'y': constant") == 1  # printed once per run
    huge = tmp_path / "h.csv"
    small_panel.assign(y=np.where(np.arange(40) == 4, 1e200, small_panel["y"])).to_csv(
        huge, index=False
    )
    main(["fe", "--data", str(huge), "--formula", "y ~ x", "--vcov", "hetero"])
    # CLI rows are 1-based data rows of the file: the 5th data row holds the 1e200
    assert "h.csv, column 'y', rows 5: implausibly large values (1e+200" in capsys.readouterr().err
