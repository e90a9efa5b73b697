"""The suite's own guard: grouped tests must be tagged by pytest-xdist, or the run stops (#16 CI time)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import _groups_are_honoured


class _Item:
    def __init__(self, nodeid: str, group: str | None) -> None:
        self.nodeid, self.group = nodeid, group

    def get_closest_marker(self, name: str):
        return object() if name == "xdist_group" and self.group else None


def _config(loadgroup: bool) -> SimpleNamespace:
    return SimpleNamespace(option=SimpleNamespace(loadgroup=loadgroup))


def test_untagged_groups_stop_the_run() -> None:
    items = [_Item("tests/a.py::t", "dask"), _Item("tests/b.py::u", None)]
    with pytest.raises(pytest.UsageError, match="ignored xdist_group on 1 test"):
        _groups_are_honoured(_config(True), items)


def test_tagged_groups_and_other_modes_pass() -> None:
    _groups_are_honoured(_config(True), [_Item("tests/a.py::t@dask", "dask"), _Item("b", None)])
    _groups_are_honoured(_config(False), [_Item("tests/a.py::t", "dask")])
    _groups_are_honoured(SimpleNamespace(option=SimpleNamespace()), [_Item("t", "dask")])


@pytest.mark.xdist_group("guard")
def test_this_run_is_grouped(request) -> None:
    """Under ``make test`` (xdist, loadgroup) this test's own id carries its group."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under --dist loadgroup")
    assert request.node.nodeid.endswith("@guard")
