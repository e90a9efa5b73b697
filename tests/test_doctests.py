"""Every public callable has an Examples section, and every docstring example in the package runs.

The examples are doctests: each module's docstrings run with :mod:`doctest` (ELLIPSIS and
NORMALIZE_WHITESPACE), on the Agg backend. They share the small cached panel of
:mod:`clusterimpact.datasets`, so the whole set costs a few seconds.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import warnings

import matplotlib.pyplot as plt
import pytest

import clusterimpact


def _module_names(public_only: bool) -> list[str]:
    names = ["clusterimpact"] + [
        m.name for m in pkgutil.walk_packages(clusterimpact.__path__, "clusterimpact.")
    ]
    names = [n for n in names if not n.endswith(".__main__")]  # importing it runs the CLI
    if public_only:
        names = [n for n in names if not any(p.startswith("_") for p in n.split(".")[1:])]
    return sorted(names)


def _resolve(module: object, name: str) -> object:
    obj = getattr(module, name)
    if inspect.ismodule(obj) and callable(getattr(obj, name, None)):
        obj = getattr(obj, name)  # `clusterimpact.report`: the function, not its module
    return obj


def public_callables() -> dict[str, object]:
    """``home.name -> object`` for every class and function in a public module's ``__all__``."""
    found: dict[int, tuple[str, object]] = {}
    for modname in _module_names(public_only=True):
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = _resolve(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            home = getattr(obj, "__module__", modname)
            qual = f"{home}.{obj.__qualname__}"
            found.setdefault(id(obj), (qual, obj))
    return dict(found.values())


def _has_examples(obj: object) -> bool:
    doc = inspect.getdoc(obj) or ""
    return "\nExamples\n--------\n" in doc and ">>> " in doc.split("\nExamples\n--------\n", 1)[1]


def test_every_public_callable_has_an_examples_section():
    missing = sorted(q for q, obj in public_callables().items() if not _has_examples(obj))
    assert not missing, f"{len(missing)} public callables without an Examples section: {missing}"


def test_examples_check_sees_a_missing_section():
    def documented():
        """Do nothing.

        Examples
        --------
        >>> documented()
        """

    def undocumented():
        """Do nothing."""

    assert _has_examples(documented) and not _has_examples(undocumented)


@pytest.mark.parametrize("modname", _module_names(public_only=False))
def test_docstring_examples_run(modname):
    module = importlib.import_module(modname)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, modname)
    tests = [t for t in tests if t.examples]
    if not tests:
        return
    skipped = [t.name for t in tests for ex in t.examples if ex.options.get(doctest.SKIP)]
    assert not skipped, f"examples that never run (doctest: +SKIP): {skipped}"
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    report: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for test in tests:
            runner.run(test, out=report.append, clear_globs=True)
            plt.close("all")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
