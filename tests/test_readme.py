"""The README's Python quickstart runs as written (on a smaller panel) and lands near the truth."""

from __future__ import annotations

import re
import warnings

from conftest import REPO


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
    assert abs(est - truth["estimands"]["duration:average"]["att"]) <= 3 * se
