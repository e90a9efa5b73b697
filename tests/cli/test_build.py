"""`clusterimpact build` and `clusterimpact validate`: outputs, JSON, exit status 2 on bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clusterimpact.cli import main
from clusterimpact.panel import PANEL_COLUMNS


@pytest.fixture
def inputs(tmp_path):
    acc = pd.DataFrame(
        {
            "firm_id": ["0403.170.701"] * 4 + ["0202239951"] * 4,
            "year": [2010, 2011, 2012, 2013] * 2,
            "nace": ["2511"] * 8,
            "va": [10.0, 11.0, -1.0, 12.0, 5.0, 5.0, 6.0, 6.0],
            "emp": [2.0] * 8,
        }
    )
    reg = pd.DataFrame(
        {"firm_id": ["BE0403170701"], "cluster": ["X"], "join_date": [2012], "exit_date": [None]}
    )
    defl = pd.DataFrame({"sector": ["25"] * 4, "year": [2010, 2011, 2012, 2013], "deflator": 1.0})
    paths = {
        "accounts": tmp_path / "acc.csv",
        "registry": tmp_path / "reg.csv",
        "deflators": tmp_path / "defl.csv",
    }
    acc.to_csv(paths["accounts"], index=False)
    reg.to_csv(paths["registry"], index=False)
    defl.to_csv(paths["deflators"], index=False)
    return paths


def args_for(p, *extra):
    return [
        "--accounts",
        str(p["accounts"]),
        "--registry",
        str(p["registry"]),
        "--deflators",
        str(p["deflators"]),
        "--id-type",
        "kbo",
        *extra,
    ]


def test_build_writes_panel_exclusions_and_json(inputs, tmp_path, capsys):
    out = tmp_path / "out" / "panel.parquet"
    js = tmp_path / "build.json"
    rc = main(["build", *args_for(inputs), "--out", str(out), "--json", str(js)])
    assert rc == 0
    panel = pd.read_parquet(out)
    assert list(panel.columns) == list(PANEL_COLUMNS) and len(panel) == 7
    excl = pd.read_csv(tmp_path / "out" / "panel.exclusions.csv")
    assert excl["reason"].tolist() == ["nonpositive_va"] and excl["row"].tolist() == [3]
    payload = json.loads(js.read_text())
    assert payload["command"] == "build" and payload["nobs"] == 7 and payload["n_units"] == 2
    assert payload["exclusions"] == {"nonpositive_va": 1}
    assert payload["options"]["id_type"] == "kbo"
    printed = capsys.readouterr().out
    assert "nonpositive_va" in printed and "Wrote 7 firm-years" in printed


def test_build_csv_output_and_window(inputs, tmp_path):
    out = tmp_path / "panel.csv"
    rc = main(["build", *args_for(inputs, "--start", "2011", "--end", "2013"), "--out", str(out)])
    assert rc == 0
    panel = pd.read_csv(out, dtype={"firm_id": str})
    assert panel["year"].min() == 2011
    excl = pd.read_csv(tmp_path / "panel.exclusions.csv")
    assert (excl["reason"] == "outside_window").sum() == 2


def test_build_bad_input_exits_2_and_writes_nothing(inputs, tmp_path, capsys):
    bad = pd.read_csv(inputs["accounts"])
    bad["va"] = bad["va"].astype(object)
    bad.loc[5, "va"] = "lots"
    bad.to_csv(inputs["accounts"], index=False)
    out = tmp_path / "res" / "panel.parquet"
    rc = main(["build", *args_for(inputs), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "acc.csv" in err and "column 'va'" in err and "rows 6" in err
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_build_conflicting_duplicates_exit_2_then_first(inputs, tmp_path, capsys):
    acc = pd.read_csv(inputs["accounts"], dtype={"firm_id": str})
    acc = pd.concat([acc, acc.iloc[[0]].assign(va=99.0)], ignore_index=True)
    acc.to_csv(inputs["accounts"], index=False)
    out = tmp_path / "p.parquet"
    assert main(["build", *args_for(inputs), "--out", str(out)]) == 2
    assert "rows 1, 9" in capsys.readouterr().err
    assert not out.exists()
    assert main(["build", *args_for(inputs, "--duplicates", "first"), "--out", str(out)]) == 0


def test_build_unknown_output_type(inputs, tmp_path, capsys):
    assert main(["build", *args_for(inputs), "--out", str(tmp_path / "p.json")]) == 2
    assert "unknown file type" in capsys.readouterr().err
    assert main(["build", *args_for(inputs), "--out", str(tmp_path / "p.xlsx")]) == 2
    assert "not as Excel or Stata" in capsys.readouterr().err
    assert not list(tmp_path.glob("p.*"))


def test_build_missing_file(inputs, tmp_path, capsys):
    args = args_for(inputs)
    args[1] = str(tmp_path / "nope.csv")
    assert main(["build", *args, "--out", str(tmp_path / "p.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_build_column_map_flag(inputs, tmp_path):
    acc = pd.read_csv(inputs["accounts"], dtype={"firm_id": str}).rename(
        columns={"firm_id": "vat", "emp": "fte"}
    )
    acc.to_csv(inputs["accounts"], index=False)
    out = tmp_path / "p.parquet"
    rc = main(["build", *args_for(inputs, "--columns", "firm_id=vat,emp=fte"), "--out", str(out)])
    assert rc == 0 and len(pd.read_parquet(out)) == 7


def test_build_keep_and_exclude_bad_ids_implies_kbo(inputs, tmp_path):
    acc = pd.read_csv(inputs["accounts"], dtype={"firm_id": str}).assign(exporter=1)
    acc.loc[0, "firm_id"] = "0403170702"  # fails mod 97
    acc.to_csv(inputs["accounts"], index=False)
    out = tmp_path / "p.parquet"
    args = [a for a in args_for(inputs) if a not in ("--id-type", "kbo")]
    rc = main(["build", *args, "--exclude-bad-ids", "--keep", "exporter", "--out", str(out)])
    assert rc == 0
    panel = pd.read_parquet(out)
    assert list(panel.columns) == [*PANEL_COLUMNS, "exporter"]
    excl = pd.read_csv(tmp_path / "p.exclusions.csv")
    assert "bad_id" in excl["reason"].tolist()


def test_validate_ok_writes_nothing(inputs, tmp_path, capsys):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["validate", *args_for(inputs)]) == 0
    assert "OK" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_validate_reports_problems_in_several_files(inputs, tmp_path, capsys):
    acc = pd.read_csv(inputs["accounts"]).drop(columns="emp")
    acc.to_csv(inputs["accounts"], index=False)
    pd.DataFrame(
        {"firm_id": ["a"], "cluster": ["X"], "join_date": [2015], "exit_date": [2012]}
    ).to_csv(inputs["registry"], index=False)
    js = tmp_path / "v.json"
    assert main(["validate", *args_for(inputs), "--json", str(js)]) == 2
    err = capsys.readouterr().err
    assert "missing required column(s) for accounts: emp" in err
    assert "reg.csv" in err and "join date after exit date" in err
    payload = json.loads(js.read_text())
    assert payload["ok"] is False and len(payload["errors"]) == 2
