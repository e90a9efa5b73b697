"""#15: progress lines inside long steps: counts and ETA on a terminal, silent otherwise."""

from __future__ import annotations

import io

import numpy as np
import pytest

from clusterimpact import _progress
from clusterimpact._progress import Progress, inner, progress_enabled, track


class _Clock:
    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_is_silent():
    out = io.StringIO()  # isatty() is False
    bar = Progress("boot", 5, stream=out, interval=0)
    for i in range(1, 6):
        bar(i)
    assert out.getvalue() == ""


def test_a_terminal_gets_counts_and_eta():
    out = _Tty()
    bar = Progress("boot", 4, stream=out, interval=0, clock=_Clock(1.0))
    for i in range(1, 5):
        bar(i)
    lines = out.getvalue().splitlines()
    # the clock ticks 1 s per call: started at 1, first update at 2 (1 s for 1 item, 3 to go)
    assert lines[0] == "boot: 1/4 (25 %), 1 s elapsed, ETA 3 s"
    assert lines[-1] == "boot: 4/4 (100 %), 4 s elapsed"
    assert len(lines) == 4


def test_lines_are_spaced_by_the_interval_and_a_short_loop_prints_nothing():
    out = _Tty()
    bar = Progress("boot", 10, stream=out, interval=3.0, clock=_Clock(1.0))
    for i in range(1, 11):
        bar(i)
    counts = [line.split(":")[1].split()[0] for line in out.getvalue().splitlines()]
    assert counts == ["3/10", "6/10", "9/10", "10/10"]
    quick = _Tty()
    bar = Progress("boot", 3, stream=quick, interval=60.0, clock=_Clock(1.0))
    for i in range(1, 4):
        bar(i)
    assert quick.getvalue() == ""


def test_switches_override_the_terminal(monkeypatch):
    out = _Tty()
    with progress_enabled(False):
        Progress("boot", 1, stream=out, interval=0)(1)
    assert out.getvalue() == ""
    plain = io.StringIO()
    with progress_enabled(True):
        Progress("boot", 2, stream=plain, interval=0)(1)
    assert plain.getvalue().startswith("boot: 1/2")
    monkeypatch.setenv("CLUSTERIMPACT_PROGRESS", "0")
    Progress("boot", 2, stream=out, interval=0)(1)
    assert out.getvalue() == ""


def test_only_the_outermost_loop_reports():
    out = _Tty()
    seen = []
    for _g in track([1, 2], "cohorts", stream=out, interval=0):
        inner_out = _Tty()
        for _ in track(range(3), "inside", stream=inner_out, interval=0):
            pass
        seen.append(inner_out.getvalue())
        with inner():
            nested = _Tty()
            Progress("deeper", 1, stream=nested, interval=0)(1)
            seen.append(nested.getvalue())
    assert seen == ["", "", "", ""]
    assert out.getvalue().splitlines()[0].startswith("cohorts: 1/2 (50 %)")


def test_the_bootstraps_report_when_switched_on(monkeypatch, capsys):
    from clusterimpact.productivity.bootstrap import firm_bootstrap

    monkeypatch.setattr(_progress, "DEFAULT_INTERVAL", 0.0)

    def stat(arr):
        return np.array([float(np.mean(arr))])

    arr = np.arange(10.0)

    def resample(a, rng):
        return a[rng.integers(0, len(a), len(a))]

    with progress_enabled(True):
        draws, errors = firm_bootstrap(stat, arr, reps=3, k=1, seed=1, resample=resample, label="X")
    err = capsys.readouterr().err
    assert "X: 1/3 (33 %)" in err and "X: 3/3 (100 %)" in err
    assert draws.shape == (3, 1) and not errors
    with progress_enabled(False):
        firm_bootstrap(stat, arr, reps=3, k=1, seed=1, resample=resample, label="X")
    assert capsys.readouterr().err == ""


@pytest.mark.filterwarnings("ignore::clusterimpact.errors.EstimationWarning")
def test_multiplier_bootstrap_and_matching_report_when_switched_on(monkeypatch, capsys):
    from clusterimpact.estimation.staggered import att_gt
    from clusterimpact.matching import match_panel
    from clusterimpact.synthetic import simulate

    monkeypatch.setattr(_progress, "DEFAULT_INTERVAL", 0.0)
    panel = simulate(scenario="ecoom", seed=3, n_firms=300).panel()
    with progress_enabled(True):
        att_gt(panel, "ln_lp", n_boot=20, seed=1, allow_unbalanced=True)
        match_panel(panel, covariates=["ln_emp"], outcome="ln_lp", seed=1)
    err = capsys.readouterr().err
    assert "multiplier bootstrap: 20/20 (100 %)" in err
    assert "matching cohorts: 1/" in err
