"""Progress of long loops (bootstraps, matching over cohorts): periodic lines with counts and ETA.

One helper for every long step: :class:`Progress` is a ``progress(done, total)`` callback (the shape
the bootstraps already take) and :func:`track` wraps a loop's iterable. A line such as::

    TFP bootstrap (ACF): 120/200 (60 %), 31 s elapsed, ETA 21 s

goes to stderr at most every ``interval`` seconds, the first after ``interval`` seconds (a loop that
ends sooner prints nothing), and a last one at the end when an earlier one was printed.

Shown only where someone watches: when stderr is a terminal, unless switched off by
``progress_enabled(False)`` (what ``report(progress=False)`` and ``clusterimpact report --quiet`` do)
or the environment variable ``CLUSTERIMPACT_PROGRESS=0`` (``=1`` forces it on). Only the outermost
loop of the main process reports: a matching inside a chain-bootstrap replication, or a worker
process, stays silent. Library code never prints otherwise.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO, TypeVar

__all__ = ["Progress", "inner", "progress_enabled", "track"]

T = TypeVar("T")

#: Seconds between two progress lines (and before the first).
DEFAULT_INTERVAL = 2.0

_ENABLED: ContextVar[bool | None] = ContextVar("clusterimpact_progress", default=None)
_ACTIVE: ContextVar[bool] = ContextVar("clusterimpact_progress_active", default=False)


@contextmanager
def progress_enabled(flag: bool | None) -> Iterator[None]:
    """Switch progress lines on (True), off (False) or back to automatic (None) inside the block."""
    token = _ENABLED.set(flag)
    try:
        yield
    finally:
        _ENABLED.reset(token)


@contextmanager
def inner() -> Iterator[None]:
    """Mark the block as the body of a reported loop: loops inside it stay silent."""
    prev = _ACTIVE.get()
    _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.set(prev)


def _automatic(stream: TextIO) -> bool:
    flag = _ENABLED.get()
    if flag is not None:
        return flag
    env = os.environ.get("CLUSTERIMPACT_PROGRESS", "").strip()
    if env in ("0", "1"):
        return env == "1"
    if multiprocessing.parent_process() is not None:  # a worker process: its parent reports
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class Progress:
    """A ``progress(done, total)`` callback that writes periodic lines (see the module docstring).

    Parameters
    ----------
    desc
        What is counted, e.g. ``"TFP bootstrap (ACF)"``.
    total
        Number of items expected.
    enabled
        True or False forces the lines on or off; None (default) decides automatically. A loop
        inside another tracked loop is always silent.
    stream
        Where the lines go (default: ``sys.stderr``).
    interval
        Seconds between lines (0: a line at every update; default :data:`DEFAULT_INTERVAL`).
    clock
        Monotonic clock in seconds (for tests).
    """

    def __init__(
        self,
        desc: str,
        total: int,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.desc = desc
        self.total = int(total)
        self.stream = stream if stream is not None else sys.stderr
        nested = _ACTIVE.get()
        self.enabled = (
            False if nested else (_automatic(self.stream) if enabled is None else enabled)
        )
        self.interval = float(DEFAULT_INTERVAL if interval is None else interval)
        self.clock = clock
        self.start = self.last = clock()
        self.done = 0
        self.printed = False

    def __call__(self, done: int, total: int | None = None) -> None:
        """Record that ``done`` of ``total`` items are finished."""
        if total is not None:
            self.total = int(total)
        self.done = int(done)
        if not self.enabled:
            return
        now = self.clock()
        due = now - self.last >= self.interval
        if (self.done >= self.total and self.printed) or due:
            self._write(now)
            self.last = now

    def _write(self, now: float) -> None:
        elapsed = now - self.start
        pct = 100.0 * self.done / self.total if self.total else 100.0
        line = f"{self.desc}: {self.done}/{self.total} ({pct:.0f} %), {elapsed:.0f} s elapsed"
        if self.done < self.total:
            eta = elapsed * (self.total - self.done) / self.done if self.done else math.nan
            line += ", ETA " + (f"{eta:.0f} s" if math.isfinite(eta) else "unknown")
        self.stream.write(line + "\n")
        self.stream.flush()
        self.printed = True


def track(
    items: Iterable[T],
    desc: str,
    total: int | None = None,
    *,
    enabled: bool | None = None,
    stream: TextIO | None = None,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """Iterate over ``items``, reporting each finished item to a :class:`Progress` (same options);
    loops run inside the body are silent (only the outermost loop reports). ``total`` defaults to
    ``len(items)``."""
    n = total if total is not None else (len(items) if isinstance(items, Sized) else 0)
    bar = Progress(desc, n, enabled=enabled, stream=stream, interval=interval, clock=clock)
    for i, item in enumerate(items, start=1):
        prev = _ACTIVE.get()
        _ACTIVE.set(True)
        try:
            yield item
        finally:
            _ACTIVE.set(prev)
        bar(i)
