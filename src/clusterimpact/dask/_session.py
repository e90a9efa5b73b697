"""Starting (or joining) the Dask cluster a computation runs on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clusterimpact.dask._frames import require_dask
from clusterimpact.errors import SpecError

__all__ = ["session"]


@contextmanager
def session(
    scheduler: str | None = None, n_workers: int = 2, threads_per_worker: int = 1
) -> Iterator[Any]:
    """A ``distributed.Client`` for the ``with`` block: a new ``LocalCluster``, or a running scheduler.

    Parameters
    ----------
    scheduler : str, optional
        ``None`` or ``"local"``: start a ``LocalCluster`` of ``n_workers`` worker processes and close it
        (and its workers) when the block ends. Otherwise the address of a running scheduler
        (``tcp://host:8786``); credentials and TLS come from Dask's own configuration
        (``distributed.comm.tls.*``), never from a study spec. Only the client is closed at the end.
    n_workers, threads_per_worker : int
        Size of the local cluster (ignored for an address).

    Yields
    ------
    distributed.Client
        The client; computations in the block run on its cluster.

    Examples
    --------
    >>> from clusterimpact.dask import session
    >>> with session(n_workers=1) as client:
    ...     print(len(client.scheduler_info()["workers"]))
    1
    """
    require_dask()
    from distributed import Client, LocalCluster

    if n_workers < 1 or threads_per_worker < 1:
        raise SpecError(
            f"n_workers and threads_per_worker must be >= 1, got {n_workers}, {threads_per_worker}"
        )
    if scheduler is None or scheduler == "local":
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    client = Client(scheduler)
    try:
        yield client
    finally:
        client.close()
