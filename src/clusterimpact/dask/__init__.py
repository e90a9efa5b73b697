"""The Dask back end: firm-year panels too large for one machine, as partitions with each firm in one.

Nothing here imports Dask at import time; :func:`require_dask` does, with a clear error naming the
``dask`` extra (``pip install clusterimpact[dask]``) when it is missing.

* :class:`FirmPartitions` wraps a ``dask.dataframe.DataFrame`` whose partitions each hold whole firms
  (rows hashed on the firm id), with :meth:`FirmPartitions.map_reduce`: the one way estimators compute
  on it (a per-partition function returning additive sufficient statistics, summed over partitions in
  partition order, so a result depends on the data and the number of partitions only through roundoff).
* ``backend="dask"`` in an estimator: :func:`wants_dask` decides, :func:`as_partitions` splits an
  in-memory frame, :func:`compute_context` uses the running client or starts a ``LocalCluster``.
* :func:`streamed`: a block in which no estimator persists data between its passes (a worker's
  memory bounded by its partitions); :func:`hold` is how estimators persist otherwise.
* :func:`session` starts and closes a ``LocalCluster`` (no address) or connects to a running scheduler.
"""

from __future__ import annotations

from clusterimpact.dask._context import (
    BACKENDS,
    as_partitions,
    check_backend,
    compute_context,
    hold,
    streamed,
    wants_dask,
)
from clusterimpact.dask._frames import FirmPartitions, require_dask
from clusterimpact.dask._session import session

__all__ = [
    "BACKENDS",
    "FirmPartitions",
    "as_partitions",
    "check_backend",
    "compute_context",
    "hold",
    "require_dask",
    "session",
    "streamed",
    "wants_dask",
]
