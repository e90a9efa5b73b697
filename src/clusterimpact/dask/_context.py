"""What an estimator's ``backend="dask"`` path runs on, and how its data becomes firm partitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pandas as pd

from clusterimpact.dask._frames import FirmPartitions, require_dask
from clusterimpact.dask._session import session
from clusterimpact.errors import SpecError

__all__ = [
    "BACKENDS",
    "as_partitions",
    "check_backend",
    "compute_context",
    "hold",
    "streamed",
    "wants_dask",
]

#: the accepted values of every estimator's ``backend`` option
BACKENDS = ("memory", "dask")
# rows per partition when an in-memory frame is split for backend="dask" without a partition count
_ROWS_PER_PARTITION = 250_000
# whether estimators keep the columns they pass over several times in the workers' memory
_HOLD: ContextVar[bool] = ContextVar("clusterimpact_dask_hold", default=True)


@contextmanager
def streamed() -> Iterator[None]:
    """Within the block, no estimator keeps data in the workers' memory between its passes.

    By default an estimator that passes over the panel many times (Callaway-Sant'Anna's wide panel,
    the imputation estimator's columns, ACF's and Olley-Pakes's model columns, the CLI's input) holds
    the few columns it reads on the workers (``persist``) for the duration of the call: each worker then
    holds its share of those columns, the panel's size over the number of workers. Inside ``streamed()``
    every pass reads the partitions again from their source, so a worker's memory is bounded by the
    partitions it is working on, whatever the panel's size, at the cost of reading them at every pass.
    The numbers are the same either way. The setting belongs to the calling thread's context: an
    estimator started in another thread (``threading``, an executor, ``client.submit``) does not see it.

    Examples
    --------
    >>> from clusterimpact.dask import hold, streamed
    >>> from clusterimpact.dask._context import _HOLD
    >>> with streamed():
    ...     print(_HOLD.get())
    False
    """
    token = _HOLD.set(False)
    try:
        yield
    finally:
        _HOLD.reset(token)


def hold(fp: FirmPartitions) -> FirmPartitions:
    """``fp`` persisted for an estimator's repeated passes, or as it is inside :func:`streamed`.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.dask import FirmPartitions, hold, session, streamed
    >>> df = pd.DataFrame({"firm": [1, 1, 2], "year": [1, 2, 1], "y": [1.0, 2.0, 3.0]})
    >>> with session(n_workers=1):
    ...     fp = FirmPartitions.from_pandas(df, "firm", "year", npartitions=2)
    ...     with streamed():
    ...         print(hold(fp) is fp)  # as it is: every pass reads the partitions again
    True
    """
    return fp.persist() if _HOLD.get() else fp


def check_backend(backend: str) -> None:
    """Raise a :class:`~clusterimpact.errors.SpecError` unless ``backend`` is ``"memory"`` or ``"dask"``.

    Examples
    --------
    >>> from clusterimpact.dask import check_backend
    >>> check_backend("dask")
    >>> check_backend("spark")
    Traceback (most recent call last):
    ...
    clusterimpact.errors.SpecError: backend must be one of ('memory', 'dask'), got 'spark'
    """
    if backend not in BACKENDS:
        raise SpecError(f"backend must be one of {BACKENDS}, got {backend!r}")


def wants_dask(data: Any, backend: str) -> bool:
    """Whether a call runs on the Dask path: ``backend="dask"``, or the data already are partitions.

    A :class:`FirmPartitions` (or a Dask DataFrame) with ``backend="memory"`` stays on Dask: it would not
    fit in memory, which is why it is partitioned.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.dask import wants_dask
    >>> wants_dask(pd.DataFrame({"firm": [1]}), "memory"), wants_dask(pd.DataFrame({"firm": [1]}), "dask")
    (False, True)
    """
    check_backend(backend)
    if backend == "dask" or isinstance(data, FirmPartitions):
        return True
    return type(data).__module__.startswith("dask.")


def as_partitions(
    data: Any, firm: str, time: str | None = None, npartitions: int | None = None
) -> FirmPartitions:
    """``data`` as :class:`FirmPartitions`: kept if it is one, else repartitioned by a hash of ``firm``.

    An in-memory frame gets ``npartitions`` partitions (default: one per 250,000 rows); a Dask DataFrame
    is shuffled by firm into ``npartitions`` (default: its own count).

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.dask import as_partitions
    >>> df = pd.DataFrame({"firm": [1, 1, 2, 3], "year": [1, 2, 1, 1], "y": [1.0, 2.0, 3.0, 4.0]})
    >>> as_partitions(df, "firm", "year", npartitions=2).npartitions
    2
    """
    if isinstance(data, FirmPartitions):
        if data.firm != firm:
            raise SpecError(
                f"the partitions are by {data.firm!r}, the estimator asks for firm column {firm!r}"
            )
        return data
    require_dask()
    if isinstance(data, pd.DataFrame):
        n = npartitions or max(1, -(-len(data) // _ROWS_PER_PARTITION))
        return FirmPartitions.from_pandas(data, firm, time, npartitions=n)
    return FirmPartitions.from_dask(data, firm, time, npartitions=npartitions)


@contextmanager
def compute_context() -> Iterator[Any]:
    """The running ``distributed.Client`` if there is one, else a ``LocalCluster`` for the block.

    Examples
    --------
    >>> from clusterimpact.dask import compute_context, session
    >>> with session(n_workers=1) as client:
    ...     with compute_context() as running:
    ...         print(running is client)
    True
    """
    require_dask()
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        client = None
    if client is not None:
        yield client
        return
    with session() as new:
        yield new
