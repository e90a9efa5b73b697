"""Rooms with one job (#13): no source file over 600 lines, no function over 120 lines.

A function's length is its lines without its docstring (numpydoc parameter lists of front doors such as
``match`` run to 100 lines and are wanted, and every public function carries a runnable Examples
section, #15); a file's length is likewise its lines without its module, class and function docstrings. The allow-lists name what is still to be split, with who owns it; the lead shrinks them as the work
merges. An entry that is no longer needed fails too, so the lists cannot go stale.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# its module fixtures are built once: all its tests on one pytest worker
pytestmark = pytest.mark.xdist_group("structure")

SRC = Path(__file__).resolve().parents[1] / "src"

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 120

#: file (relative to src/) -> why it may still be longer than MAX_FILE_LINES
FILE_ALLOW: dict[str, str] = {}

#: (file, function) -> why it may still be longer than MAX_FUNCTION_LINES
FUNCTION_ALLOW: dict[tuple[str, str], str] = {}


def _docstring_lines(
    node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
) -> int:
    """Lines taken by the module's, class's or function's docstring (0 without one)."""
    if not node.body:
        return 0
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def _measure() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Line counts of every source file and of every function (its docstring left out) under src/."""
    files: dict[str, int] = {}
    funcs: dict[tuple[str, str], int] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        docs = sum(_docstring_lines(n) for n in ast.walk(tree) if isinstance(n, documented))
        files[rel] = len(text.splitlines()) - docs
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1 - _docstring_lines(node)
                key = (rel, node.name)
                funcs[key] = max(funcs.get(key, 0), length)
    return files, funcs


@pytest.fixture(scope="module")
def measured() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    return _measure()


def test_no_file_over_the_limit_outside_the_allow_list(measured):
    files, _ = measured
    long = {f: n for f, n in files.items() if n > MAX_FILE_LINES and f not in FILE_ALLOW}
    assert not long, f"files over {MAX_FILE_LINES} lines (split them): {long}"


def test_no_function_over_the_limit_outside_the_allow_list(measured):
    _, funcs = measured
    long = {k: n for k, n in funcs.items() if n > MAX_FUNCTION_LINES and k not in FUNCTION_ALLOW}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them): {long}"


def test_allow_lists_hold_only_what_is_still_long(measured):
    files, funcs = measured
    stale = [f for f in FILE_ALLOW if files.get(f, 0) <= MAX_FILE_LINES]
    stale += [k for k in FUNCTION_ALLOW if funcs.get(k, 0) <= MAX_FUNCTION_LINES]
    assert not stale, f"allow-list entries no longer needed (remove them): {stale}"


def test_the_measure_sees_a_long_function(tmp_path, monkeypatch):
    """The check can fail: a 121-line function (def + 120, docstring aside) in a file of 601 lines
    without its docstring trips both limits."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    doc = ['    """Doc', "", '    more doc."""']
    lines = ["def f():", *doc] + ["    x = 1"] * 120 + ["", ""] + ["y = 2"] * 478
    body = "\n".join(lines)
    (pkg / "m.py").write_text(body + "\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    files, funcs = _measure()
    assert files["pkg/m.py"] == 601
    assert funcs[("pkg/m.py", "f")] == 121
