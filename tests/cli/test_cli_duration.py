"""`clusterimpact duration`: JSON with profile, slope and tests; bad input exits 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "estimation"))
from fe_helpers import make_panel

from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.estimation.duration import duration_effects
from tolerances import STORED_REL


@pytest.fixture
def panel_csv(tmp_path):
    df = make_panel(n_firms=200, seed=2)
    p = tmp_path / "panel.parquet"
    df.to_parquet(p)
    return p, df


def test_duration_json(panel_csv, tmp_path):
    p, df = panel_csv
    out = tmp_path / "d.json"
    assert (
        main(
            [
                "duration",
                "--data",
                str(p),
                "--outcome",
                "ln_lp",
                "--bins",
                "1,2,3+",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    js = json.loads(out.read_text())
    res = duration_effects(df, "ln_lp", bins=["1", "2", "3+"])
    terms = [e["term"] for e in js["estimates"]]
    assert terms == ["average", "member_years::1", "member_years::2", "member_years::3+", "slope"]
    est = {e["term"]: e["estimate"] for e in js["estimates"]}
    assert_close(est["slope"], res.params["slope"], rel=STORED_REL)
    assert js["command"] == "duration" and js["slope_test"]["df_num"] == 1
    assert js["equal_effects"]["df_num"] == 2 and js["pretrend"] is not None
    assert js["n_units"] == 200 and js["options"]["bins"] == ["1", "2", "3+"]


def test_duration_bad_input(panel_csv, tmp_path, capsys):
    p, _ = panel_csv
    assert main(["duration", "--data", str(p), "--outcome", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["duration", "--data", str(p), "--outcome", "ln_lp", "--bins", "1,1-2"]) == 2
    assert "overlap" in capsys.readouterr().err
