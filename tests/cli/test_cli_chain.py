"""`clusterimpact chain`: JSON with chain and plug-in SEs equal to the API's, bad input exits 2."""

from __future__ import annotations

import json
import warnings

import pytest

from _asserts import assert_close
from clusterimpact import PanelSpec, build_panel, simulate
from clusterimpact.chain import chain_bootstrap
from clusterimpact.cli import main
from tolerances import CHAIN_SAME_REL


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory):
    sd = simulate("ecoom", seed=2, n_firms=300)
    df = build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators).data
    path = tmp_path_factory.mktemp("chain") / "panel.csv"
    df.to_csv(path, index=False)
    return path


def test_json_equals_the_api(panel_csv, tmp_path, capsys):
    out = tmp_path / "chain.json"
    argv = ["chain", "--data", str(panel_csv), "--reps", "3", "--seed", "4"]
    argv += ["--estimators", "cs,duration", "--json", str(out)]
    assert main(argv) == 0
    js = json.loads(out.read_text())
    assert js["command"] == "chain" and js["chain"]["reps"] == 3
    from clusterimpact.cli._common import load_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = chain_bootstrap(
            load_data(str(panel_csv)), n_boot=3, seed=4, estimators=("cs", "duration")
        )
    t = api.tidy().set_index("term")
    for row in js["estimates"]:
        ref = t.loc[row["term"]]
        for key, col in (("estimate", "estimate"), ("std_error", "std_error")):
            assert_close(row[key], ref[col], rel=CHAIN_SAME_REL)
        if row["plugin_std_error"] is not None:
            assert_close(row["plugin_std_error"], ref["plugin_std_error"], rel=CHAIN_SAME_REL)
    assert {r["term"] for r in js["estimates"]} >= {"cs:simple", "duration:average"}


def test_summary_to_stdout(panel_csv, capsys):
    argv = ["chain", "--data", str(panel_csv), "--reps", "2", "--estimators", "duration"]
    assert main(argv) == 0
    assert "chain SE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--window", "-5"], "--window takes LOW,HIGH"),
        (["--estimators", "cs,bogus"], "bogus"),
        (["--reps", "1"], "at least 2 replications"),
        (["--cohort", "joined"], "joined"),
    ],
)
def test_bad_input_exits_2(panel_csv, capsys, extra, match):
    assert main(["chain", "--data", str(panel_csv), *extra]) == 2
    assert match in capsys.readouterr().err
