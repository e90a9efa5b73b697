"""``synthetic.write_parquet``: the same data as ``simulate``, written chunk by chunk (issue #16)."""

from __future__ import annotations

import json
import tracemalloc

import pandas as pd
import pytest

import clusterimpact.synthetic as synthetic
from _asserts import assert_close
from clusterimpact.cli import main
from clusterimpact.errors import SpecError
from clusterimpact.synthetic import simulate, write_parquet
from tolerances import PARQUET_PEAK_GROWTH_10X, SYNTH_TRUTH_ABS_SCALE, SYNTH_TRUTH_REL

N_FIRMS = 2500


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Both outputs with 4 chunks of 700 firms (the last one short) and files of 300 firms."""
    out = tmp_path_factory.mktemp("parquet")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synthetic, "CHUNK_FIRMS", 700)
        paths = write_parquet(out / "pq", "ecoom", seed=11, n_firms=N_FIRMS, firms_per_file=300)
        sim = simulate("ecoom", seed=11, n_firms=N_FIRMS)
    sim.write(out / "csv")
    return paths, sim, out


def test_accounts_equal_simulate(written):
    paths, sim, _ = written
    files = sorted(paths["accounts"].glob("*.parquet"))
    # chunks of 700 firms cut into files of <= 300 firms: 3 files per full chunk, 2 for the last 400
    assert len(files) == 3 * 3 + 2
    parts = [pd.read_parquet(f) for f in files]
    seen: set[str] = set()
    for part in parts:
        ids = set(part["firm_id"])
        assert len(ids) <= 300 and not ids & seen  # whole firms, each in one file
        seen |= ids
        keys = part[["firm_id", "year"]]
        assert keys.equals(keys.sort_values(["firm_id", "year"]))
    both = pd.concat(parts).sort_values(["firm_id", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, sim.accounts)


@pytest.mark.parametrize("role", ["registry", "deflators"])
def test_registry_and_deflators_are_the_same_bytes(written, role):
    paths, sim, out = written
    assert paths[role].read_bytes() == sim.files(out / "csv")[role].read_bytes()


def test_truth_equals_simulate_on_the_additive_keys(written):
    paths, sim, _ = written
    got = json.loads(paths["truth"].read_text())
    want = sim.truth
    for key in ("params", "elasticities", "rho", "scenario", "seed", "n_firms", "cluster_start"):
        assert got[key] == want[key], key
    for key in ("firm_years", "firms", "members"):
        assert got["sample"][key] == want["sample"][key], key
    exp = pd.DataFrame(want["att_gt"])
    act = pd.DataFrame(got["att_gt"])
    pd.testing.assert_frame_equal(act[["cohort", "year", "n"]], exp[["cohort", "year", "n"]])
    for col in ("att", "att_lp"):
        e = exp[col].to_numpy()
        assert_close(
            act[col].to_numpy(), e, rel=SYNTH_TRUTH_REL, abs=SYNTH_TRUTH_ABS_SCALE * max(abs(e))
        )
    assert got["event_time"].keys() == want["event_time"].keys()
    for k, cell in want["event_time"].items():
        assert (
            got["event_time"][k]["n"] == cell["n"]
            and got["event_time"][k]["n_firms"] == cell["n_firms"]
        )
        assert_close(got["event_time"][k]["att"], cell["att"], rel=SYNTH_TRUTH_REL, abs=1e-15)
    assert_close(got["att_overall"], want["att_overall"], rel=SYNTH_TRUTH_REL)
    assert_close(got["att_overall_lp"], want["att_overall_lp"], rel=SYNTH_TRUTH_REL)
    assert "estimands" not in got and "estimands" in got["omitted"]


def _peak_bytes(tmp_path, n_firms: int) -> int:
    tracemalloc.start()
    try:
        write_parquet(tmp_path / str(n_firms), "ecoom", seed=3, n_firms=n_firms)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_the_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "CHUNK_FIRMS", 500)
    small = _peak_bytes(tmp_path, 1_000)
    large = _peak_bytes(tmp_path, 10_000)
    assert large < PARQUET_PEAK_GROWTH_10X * small, (small, large)
    # the contrast: simulate() holds the panel, so its peak grows with the firms
    tracemalloc.start()
    try:
        simulate("ecoom", seed=3, n_firms=10_000)
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert held > 5 * large


def test_bad_arguments_are_loud(tmp_path):
    with pytest.raises(SpecError, match="firms_per_file must be an integer in 1..50000, got 0"):
        write_parquet(tmp_path, n_firms=10, firms_per_file=0)
    with pytest.raises(SpecError, match="firms_per_file must be an integer in 1..50000, got 50001"):
        write_parquet(tmp_path, n_firms=10, firms_per_file=50_001)
    with pytest.raises(SpecError, match="n_firms must be at most 6,999,997"):
        write_parquet(tmp_path, n_firms=7_000_000)
    with pytest.raises(SpecError, match="n_firms must be at most 6,999,997"):
        simulate(n_firms=10**8)
    with pytest.raises(SpecError, match="unknown synthetic parameter"):
        write_parquet(tmp_path, n_firms=10, rhoo=0.5)
    stale = tmp_path / "synthetic.accounts"
    stale.mkdir()
    (stale / "part-00000.parquet").write_bytes(b"old")
    with pytest.raises(SpecError, match=r"synthetic.accounts already holds files"):
        write_parquet(tmp_path, n_firms=10)


def test_cli_synth_parquet(tmp_path, capsys):
    out = tmp_path / "eu"
    js = tmp_path / "s.json"
    argv = ["synth", "--format", "parquet", "--n-firms", "400", "--firms-per-file", "150",
            "--seed", "2", "--out", str(out), "--json", str(js)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "(3 Parquet files)" in printed and "synthetic.truth.json" in printed
    acc = pd.read_parquet(out / "synthetic.accounts")
    sim = simulate("ecoom", seed=2, n_firms=400)
    pd.testing.assert_frame_equal(
        acc.sort_values(["firm_id", "year"]).reset_index(drop=True), sim.accounts
    )
    summary = json.loads(js.read_text())
    assert summary["options"]["format"] == "parquet"
    assert summary["sample"]["firm_years"] == len(sim.accounts)
    assert_close(summary["att_overall"], sim.truth["att_overall"], rel=SYNTH_TRUTH_REL)


def test_cli_synth_parquet_refuses_dirty_and_csv_file_option(tmp_path, capsys):
    assert main(["synth", "--format", "parquet", "--dirty", "--out", str(tmp_path)]) == 2
    assert "--dirty needs --format csv" in capsys.readouterr().err
    assert main(["synth", "--firms-per-file", "9", "--out", str(tmp_path)]) == 2
    assert "--firms-per-file needs --format parquet" in capsys.readouterr().err
