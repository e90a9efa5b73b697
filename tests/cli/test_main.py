"""The CLI dispatcher: --help lists every command, --version, unknown input."""

from __future__ import annotations

import json

import pytest

from clusterimpact.cli import COMMANDS, main
from clusterimpact.cli._common import write_json


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2


def test_write_json_atomic_and_nan_to_null(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json(target, {"a": float("nan"), "b": [1.5, float("inf")]})
    assert json.loads(target.read_text()) == {"a": None, "b": [1.5, None]}
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
