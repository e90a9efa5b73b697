"""The report's call helper never drops an option silently (a dropped option was a wiring bug)."""

from __future__ import annotations

import pytest

from clusterimpact.report._estimation_steps import call


def _f(a, *, b=1):
    return a + b


def _g(a, **kw):
    return a + sum(kw.values())


def test_call_passes_accepted_options():
    assert call(_f, 1, b=2) == 3
    assert call(_g, 1, x=2, y=3) == 6


def test_call_rejects_unknown_options_by_name():
    with pytest.raises(TypeError, match=r"_f does not accept c, window"):
        call(_f, 1, window=(0, 1), c=2)
