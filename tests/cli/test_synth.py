"""The ``clusterimpact synth`` command: files, determinism, JSON summary, bad input."""

from __future__ import annotations

import json

import pytest

from clusterimpact.cli import main


def test_synth_writes_files_and_json(tmp_path, capsys):
    out = tmp_path / "data"
    js = tmp_path / "synth.json"
    status = main(
        ["synth", "--scenario", "null", "--seed", "3", "--n-firms", "800", "--out", str(out),
         "--name", "toy", "--json", str(js)]
    )  # fmt: skip
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "toy.accounts.csv.gz",
        "toy.deflators.csv",
        "toy.registry.csv",
        "toy.truth.json",
    ]
    printed = capsys.readouterr().out
    assert "scenario null, seed 3" in printed and "toy.truth.json" in printed
    summary = json.loads(js.read_text())
    assert summary["command"] == "synth" and summary["options"]["n_firms"] == 800
    truth = json.loads((out / "toy.truth.json").read_text())
    assert truth["scenario"] == "null" and truth["seed"] == 3
    assert truth["att_overall"] == 0.0 == summary["att_overall"]


def test_synth_is_bit_identical(tmp_path):
    for d in ("a", "b"):
        assert main(["synth", "--seed", "5", "--n-firms", "600", "--out", str(tmp_path / d)]) == 0
    for p in (tmp_path / "a").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name


def test_synth_dirty_reports_counts(tmp_path, capsys):
    assert main(["synth", "--n-firms", "900", "--dirty", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "dirt:" in printed and "duplicate" in printed
    truth = json.loads((tmp_path / "synthetic.truth.json").read_text())
    assert truth["dirty"] is True and truth["dirt"]["duplicate"] > 0


def test_synth_bad_scenario_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--scenario", "rosy", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_synth_bad_size_exits_2(tmp_path, capsys):
    assert main(["synth", "--n-firms", "0", "--out", str(tmp_path / "x")]) == 2
    assert "n_firms" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written half-way
