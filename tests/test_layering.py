"""The layering of docs/DESIGN.md holds: no source file imports a higher layer (#13).

Every top-level unit of the package (a module or sub-package directly under ``src/clusterimpact``) has a
rank in :data:`RANKS`, the data flow of DESIGN.md from the bottom up. Each source file is parsed with
``ast`` (nothing is imported or run) and every import of ``clusterimpact`` (at module level, inside
functions, under ``TYPE_CHECKING``; absolute or relative) must point to a unit of the same or a lower
rank. The one exception is presentation delegation: a *method* named ``plot``, ``_repr_html_``,
``table`` or ``to_latex`` may import the presentation layer (``plotting``, ``tables``, ``_table``) so
that ``result.plot()`` is part of the result vocabulary. A unit without a rank fails too, so a new
module has to be placed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "clusterimpact"

#: rank -> the units on that layer (a unit may import its own layer and every layer below)
LAYERS: dict[int, tuple[str, ...]] = {
    # base: shared helpers, the result vocabulary, the formula grammar (read by matching, estimation, spec)
    0: (
        "errors", "_validation", "_renamed", "provenance", "units", "labels", "results", "_progress",
        "_binary", "_cohort", "_textnum", "_outputs", "formula", "dask",
    ),
    # data: reading inputs, the panel, synthetic panels with known truth
    1: (
        "io", "_readers", "_io_values", "presets", "kbo", "ids", "panel", "_panel_rows", "panel_dask",
        "_panel_dask_parts", "_panel_dask_write", "_panel_facts",
        "_panel_members", "synthetic", "datasets",
    ),
    2: ("productivity",),
    3: ("balance", "descriptive", "matching"),
    4: ("estimation",),
    5: ("chain",),
    # presentation: figures and tables of results
    6: ("plotting", "tables", "_table"),
    7: ("spec", "_spec_sections", "_spec_compute"),
    # entry points: the report, the command line, the package's front door (lazy re-exports)
    8: ("report", "cli", "__main__", "__init__"),
}  # fmt: skip
RANKS: dict[str, int] = {unit: rank for rank, units in LAYERS.items() for unit in units}

#: methods that may import the presentation layer, and what they may import
DELEGATING_METHODS = frozenset({"plot", "_repr_html_", "table", "to_latex"})
PRESENTATION = frozenset({"plotting", "tables", "_table"})


@dataclass(frozen=True)
class Import:
    """One import of a package unit: where it is, what it reaches, the method it sits in."""

    line: int
    target: str
    method: str | None  # name of the enclosing method (a function defined in a class body)


def _unit_of(module: str) -> str:
    """``clusterimpact.a.b`` -> ``a``; ``clusterimpact`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module an ``from ... import`` reads (relative imports resolved), or None."""
    if node.level == 0:
        return node.module
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(node: ast.AST, module: str, is_package: bool, units: set[str]) -> list[str]:
    """The package units an import statement reaches (empty for imports of other packages)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return [
            _unit_of(n) for n in names if n == "clusterimpact" or n.startswith("clusterimpact.")
        ]
    if not isinstance(node, ast.ImportFrom):
        return []
    src = _absolute(node, module, is_package)
    if src is None or not (src == "clusterimpact" or src.startswith("clusterimpact.")):
        return []
    if src != "clusterimpact":
        return [_unit_of(src)]
    # ``from clusterimpact import plotting`` reaches the unit; other names come from __init__
    return [a.name if a.name in units else "__init__" for a in node.names]


def imports_of(
    source: str, module: str, units: set[str], *, is_package: bool = False
) -> list[Import]:
    """Every import of a package unit in ``source`` (the text of module ``module``), with its method."""
    found: list[Import] = []

    def visit(node: ast.AST, method: str | None, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                # a function nested in a method keeps no exception of its own: it is not the method
                visit(child, child.name if in_class else None, False)
            elif isinstance(child, ast.ClassDef):
                visit(child, None, True)
            else:
                for target in _targets(child, module, is_package, units):
                    found.append(Import(child.lineno, target, method))
                visit(child, method, in_class)

    visit(ast.parse(source), None, False)
    return found


def violations(
    source: str, module: str, ranks: dict[str, int], *, is_package: bool = False, label: str = ""
) -> list[str]:
    """``file:line`` messages for every import of ``source`` that reaches a higher or unranked unit."""
    me = _unit_of(module)
    out: list[str] = []
    for imp in imports_of(source, module, set(ranks), is_package=is_package):
        where = f"{label or module}:{imp.line}"
        if imp.target not in ranks:
            out.append(f"{where}: imports {imp.target!r}, which has no rank in RANKS")
        elif ranks[imp.target] > ranks[me]:
            if imp.method in DELEGATING_METHODS and imp.target in PRESENTATION:
                continue
            out.append(
                f"{where}: {me} (rank {ranks[me]}) imports {imp.target} (rank {ranks[imp.target]})"
            )
    return out


def _module_name(path: Path) -> tuple[str, bool]:
    """Dotted module name of a source file and whether it is a package's __init__."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _top_level_units() -> set[str]:
    """Every module and sub-package directly under src/clusterimpact."""
    units = {p.stem for p in PACKAGE.glob("*.py")}
    units |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    return units


def test_every_unit_has_a_rank():
    missing = sorted(_top_level_units() - set(RANKS))
    assert not missing, f"units without a layer in tests/test_layering.py RANKS: {missing}"
    gone = sorted(set(RANKS) - _top_level_units())
    assert not gone, f"RANKS names units that no longer exist: {gone}"


def test_no_import_reaches_a_higher_layer():
    problems: list[str] = []
    n_files = 0
    for path in sorted(PACKAGE.rglob("*.py")):
        module, is_package = _module_name(path)
        label = str(path.relative_to(PACKAGE.parent))
        problems += violations(
            path.read_text(encoding="utf-8"), module, RANKS, is_package=is_package, label=label
        )
        n_files += 1
    assert n_files > 100  # the walk found the package
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_delegation_exception_is_used_and_bounded():
    """The exception covers real code (results.plot, compare.table) and nothing beyond presentation."""
    delegated: set[tuple[str, str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module, is_package = _module_name(path)
        for imp in imports_of(
            path.read_text(encoding="utf-8"), module, set(RANKS), is_package=is_package
        ):
            if RANKS[imp.target] > RANKS[_unit_of(module)]:
                assert imp.method in DELEGATING_METHODS and imp.target in PRESENTATION
                delegated.add((module, imp.method, imp.target))
    assert ("clusterimpact.results", "plot", "plotting") in delegated
    assert ("clusterimpact.estimation.compare", "table", "tables") in delegated


SNIPPET = """
from clusterimpact.errors import DataError
from clusterimpact.estimation.matched import matched_did
import clusterimpact.report
from .. import plotting
from clusterimpact import tables, __version__

def helper():
    from clusterimpact.chain import chain_bootstrap

def plot():
    from clusterimpact import plotting

class Result:
    def plot(self):
        from clusterimpact import plotting
        def inner():
            from clusterimpact import tables
    def to_latex(self):
        from clusterimpact.report import report
    def summary(self):
        from clusterimpact.tables import regression_table

if TYPE_CHECKING:
    from clusterimpact.spec import StudySpec
"""


def test_the_check_fails_on_upward_imports():
    """A synthetic matching module: every upward import is named with its line; allowed ones are not."""
    found = violations(SNIPPET, "clusterimpact.matching.fake", RANKS, label="fake.py")
    lines = sorted(int(m.split(":")[1]) for m in found)
    # 3 estimation, 4 report, 5 plotting (relative), 6 tables and __init__, 9 chain in a function,
    # 12 plot() that is not a method, 18 nested in a method, 20 to_latex reaching report (not
    # presentation), 22 summary (not delegating), 25 under TYPE_CHECKING; line 2 (errors, lower) and
    # line 16 (Result.plot importing plotting: the delegation exception) are allowed
    assert lines == [3, 4, 5, 6, 6, 9, 12, 18, 20, 22, 25], found
    assert "fake.py:3: matching (rank 3) imports estimation (rank 4)" in found


def test_the_check_passes_downward_and_same_layer_imports():
    src = (
        "from clusterimpact.errors import DataError\nfrom clusterimpact.balance import pooled_sd\n"
    )
    assert violations(src, "clusterimpact.matching.fake", RANKS) == []
    assert violations(src, "clusterimpact.errors", RANKS) == [
        "clusterimpact.errors:2: errors (rank 0) imports balance (rank 3)"
    ]


def test_relative_imports_resolve():
    tree = ast.parse("from . import core\nfrom ..estimation import x\nfrom ._did import y\n")
    got = [_absolute(n, "clusterimpact.matching.panel", False) for n in tree.body]  # type: ignore[arg-type]
    assert got == [
        "clusterimpact.matching",
        "clusterimpact.estimation",
        "clusterimpact.matching._did",
    ]
    pkg = _absolute(tree.body[0], "clusterimpact.matching", True)  # type: ignore[arg-type]
    assert pkg == "clusterimpact.matching"


def test_each_unit_is_on_one_layer():
    listed = [unit for units in LAYERS.values() for unit in units]
    assert sorted(listed) == sorted(set(listed)), "a unit is listed on two layers"


def test_the_formula_grammar_keeps_its_earlier_paths():
    """formula/ moved below estimation; estimation.formula and .design re-export every public name."""
    import clusterimpact.estimation.design as old_design
    import clusterimpact.estimation.formula as old_formula
    import clusterimpact.formula.design as design
    import clusterimpact.formula.grammar as grammar

    for old, new in ((old_formula, grammar), (old_design, design)):
        assert sorted(old.__all__) == sorted(new.__all__)
        assert all(getattr(old, name) is getattr(new, name) for name in new.__all__)
