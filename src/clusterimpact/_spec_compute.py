"""The ``[compute]`` section of a study spec: where the study runs (in memory, or on a Dask cluster).

Shared by the study TOML and the command line (``--engine``, ``--scheduler``, ``--n-workers``,
``--npartitions`` build a :class:`ComputeSpec`, so both are validated by the same rules). Credentials
never belong here: keys that look like secrets, and addresses carrying a user or password, are refused
with a pointer to Dask's own configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from clusterimpact.errors import SpecError

__all__ = ["ENGINES", "ComputeSpec", "compute_from"]

#: Where a study runs: ``memory`` (one machine, the default) or ``dask`` (a Dask cluster).
ENGINES: tuple[str, ...] = ("memory", "dask")
_KEYS = ("engine", "scheduler", "n_workers", "npartitions", "persist")
_SECRET = re.compile(r"pass|secret|token|credential|key|cert|tls|auth|ssl|user|login", re.I)
_SCHEMES = ("tcp://", "tls://", "ucx://", "ws://", "wss://", "inproc://")
DASK_CONFIG_HINT = (
    "credentials and TLS come from Dask's own configuration (~/.config/dask/*.yaml, or environment "
    "variables such as DASK_DISTRIBUTED__COMM__TLS__CA_FILE), never from the study spec"
)


@dataclass(frozen=True)
class ComputeSpec:
    """Where the study runs.

    Attributes
    ----------
    engine
        ``"memory"`` (default) or ``"dask"``: the panel is built on Dask and every step with a Dask
        path runs there (the others in memory; the report says which ran where).
    scheduler
        ``"local"``: a ``LocalCluster`` of ``n_workers`` processes, started and closed by the package;
        else the address of a running scheduler (``tcp://host:8786``, ``tls://host:8786``).
    n_workers
        Worker processes of the local cluster (ignored for an address).
    npartitions
        Partitions of the panel (firms hashed on their id); None: one per input file.
    persist
        ``True`` (default): an estimator that passes over the panel many times holds the columns it
        reads in the workers' memory for the call; ``False``: every pass reads the partitions again
        (:func:`clusterimpact.dask.streamed`), so a worker's memory is bounded by its partitions
        whatever the panel's size. The numbers are the same.

    Examples
    --------
    >>> from clusterimpact.spec import ComputeSpec
    >>> ComputeSpec(engine="dask", scheduler="tcp://10.0.0.5:8786").engine
    'dask'
    >>> ComputeSpec(engine="dask", scheduler="tcp://me:pw@10.0.0.5:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clusterimpact.errors.SpecError: [compute] scheduler ... credentials and TLS come from Dask's own configuration ...
    """

    engine: str = "memory"
    scheduler: str = "local"
    n_workers: int = 2
    npartitions: int | None = None
    persist: bool = True

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            choices = ", ".join(repr(e) for e in ENGINES)
            raise SpecError(
                f"[compute] engine={self.engine!r} is not valid; choose one of {choices}"
            )
        s = self.scheduler
        if not isinstance(s, str) or not (s == "local" or s.startswith(_SCHEMES)):
            raise SpecError(
                f"[compute] scheduler={s!r} must be 'local' or a scheduler address such as "
                "'tcp://host:8786'"
            )
        if "@" in s.split("://", 1)[-1]:
            raise SpecError(
                "[compute] scheduler holds a user or password (user:password@host); "
                + DASK_CONFIG_HINT
            )
        for name in ("n_workers", "npartitions"):
            v = getattr(self, name)
            if v is None and name == "npartitions":
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SpecError(f"[compute] {name}={v!r} must be an integer >= 1")
        if not isinstance(self.persist, bool):
            raise SpecError(f"[compute] persist={self.persist!r} must be true or false")
        if self.engine == "memory" and (
            s != "local" or self.npartitions is not None or not self.persist
        ):
            raise SpecError(
                '[compute] scheduler, npartitions and persist apply to engine = "dask" only; '
                'add engine = "dask" (CLI: --engine dask)'
            )

    @property
    def address(self) -> str | None:
        """The scheduler address, None for a local cluster."""
        return None if self.scheduler == "local" else self.scheduler

    def session(self) -> AbstractContextManager[Any]:
        """A context holding the Dask client the study runs on (``engine = "dask"``), else nothing.

        A local cluster is started and closed with the block; for an address only the client is.

        Examples
        --------
        >>> from clusterimpact.spec import ComputeSpec
        >>> with ComputeSpec().session() as client:  # engine = "memory": no cluster
        ...     print(client)
        None
        """
        if self.engine != "dask":
            return nullcontext(None)
        return self._dask_session()

    @contextmanager
    def _dask_session(self) -> Iterator[Any]:
        from clusterimpact.dask import session, streamed

        with session(self.address, n_workers=self.n_workers) as client:
            with streamed() if not self.persist else nullcontext():
                yield client


def compute_from(section: Any) -> ComputeSpec:
    """A :class:`ComputeSpec` from the TOML ``[compute]`` table (keys checked, secrets refused)."""
    if not isinstance(section, Mapping):
        raise SpecError(f"[compute] must be a table, got {section!r}")
    secret = [k for k in section if k not in _KEYS and _SECRET.search(str(k))]
    if secret:
        raise SpecError(
            f"[compute] {', '.join(map(repr, secret))}: the study spec holds no credentials; "
            + DASK_CONFIG_HINT
        )
    unknown = [k for k in section if k not in _KEYS]
    if unknown:
        raise SpecError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in [compute] of the study spec; "
            f"valid keys: {', '.join(_KEYS)}"
        )
    return ComputeSpec(**{str(k): v for k, v in section.items()})
