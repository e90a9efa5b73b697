"""The README's Python quickstart runs as written (on a smaller panel) and lands near the truth."""

from __future__ import annotations

import re
import warnings

from conftest import REPO
from tolerances import TRUTH_SE_MULTIPLE


def _quickstart() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python code block"
    return blocks[0]


def test_readme_quickstart_runs_and_estimates_near_truth(capsys):
    code = _quickstart()
    assert "n_firms=3000" in code  # the size the README promises is what we shrink below
    code = code.replace("n_firms=3000", "n_firms=2500")
    ns: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md", "exec"), ns)
    out = capsys.readouterr().out
    assert "dynamic:0" in out and "member_years::1" in out
    dur, truth = ns["dur"], ns["sim"].truth
    est, se = dur.params["average"], dur.std_errors["average"]
    # the average premium over member firm-years against the truth of that estimand: 3-SE rule
    assert abs(est - truth["estimands"]["duration:average"]["att"]) <= TRUTH_SE_MULTIPLE * se


def _section_blocks(heading: str, lang: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


def test_readme_cli_block_runs_as_written(tmp_path, monkeypatch, capsys):
    """Every line of the README's CLI block, exactly as written, through the `clusterimpact` entry
    point's function (in process), in an empty folder; then the plotting snippet under it."""
    import json
    import shlex
    import tomllib

    from clusterimpact.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"clusterimpact": "clusterimpact.cli:main"}
    (block,) = _section_blocks("Command line", "bash")
    lines = [ln for ln in block.splitlines() if ln.strip()]
    assert [ln.split()[1] for ln in lines] == ["synth", "build", "tfp", "match", "did", "fe"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for line in lines:
            argv = shlex.split(line)
            assert argv[0] == "clusterimpact"
            assert main(argv[1:]) == 0, line
    out = capsys.readouterr().out
    assert "Wild cluster bootstrap-t" in out and "bootstrap p-value" in out
    truth = json.loads((tmp_path / "demo" / "synthetic.truth.json").read_text())
    did = json.loads((tmp_path / "demo" / "did.json").read_text())
    assert did["estimates"] and (tmp_path / "demo" / "matched.parquet").is_file()
    assert truth  # the file names the README gives are the ones synth writes
    (snippet,) = _section_blocks("Command line", "python")
    import matplotlib.pyplot as plt

    try:
        exec(compile(snippet, "README.md", "exec"), {})
    finally:
        plt.close("all")
    assert (tmp_path / "demo" / "event_study.png").stat().st_size > 1000
    assert (tmp_path / "demo" / "event_study.pdf").is_file()
