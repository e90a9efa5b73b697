"""A panel split into partitions that each hold whole firms, and map-reduce over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from clusterimpact.errors import DataError, SpecError

__all__ = ["FirmPartitions", "require_dask"]


def require_dask() -> None:
    """Import Dask and distributed, or raise an ``ImportError`` naming the ``dask`` extra.

    Examples
    --------
    >>> from clusterimpact.dask import require_dask
    >>> require_dask()  # silent when ``pip install 'clusterimpact[dask]'`` has been run
    """
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Dask back end needs the 'dask' extra: pip install 'clusterimpact[dask]'"
        ) from exc


def _sort_firm_year(part: pd.DataFrame, firm: str, time: str | None) -> pd.DataFrame:
    keys = [firm] if time is None or time not in part.columns else [firm, time]
    return part.sort_values(keys, kind="stable").reset_index(drop=True)


def _tree_sum(stats: Sequence[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """Sum in partition order (left fold): the same partitions give the same bits."""
    out = stats[0]
    for s in stats[1:]:
        out = combine(out, s)
    return out


def _add(a: Any, b: Any) -> Any:
    """``a + b`` for arrays and numbers, key by key for dicts, item by item for tuples/lists."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise ValueError("partition statistics have different keys")
        return {k: _add(a[k], b[k]) for k in a}
    if isinstance(a, (tuple, list)):
        return type(a)(_add(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def _by_firm(frame: Any, firm: str, time: str | None, npartitions: int | None) -> Any:
    """``frame`` shuffled by a hash of ``firm`` into ``npartitions`` (default: as many as it has), rows
    sorted by firm and year within each partition."""
    n = int(npartitions or frame.npartitions)
    if n < 1:
        raise SpecError(f"npartitions must be >= 1, got {n}")
    shuffled = frame.shuffle(on=firm, npartitions=n)
    return shuffled.map_partitions(_sort_firm_year, firm, time, meta=frame._meta)


class _Sealed:
    """A task function with its arguments, passed through by Dask untouched."""

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def __dask_tokenize__(self) -> int:
        return id(self)


def _apply_sealed(part: pd.DataFrame, sealed: _Sealed) -> Any:
    return sealed.fn(part, *sealed.args, **sealed.kwargs)


class FirmPartitions:
    """A firm-year panel as a Dask DataFrame whose partitions each hold whole firms.

    Build one with :meth:`from_pandas` or :meth:`from_dask` (rows are hashed on the firm id, so every
    firm lands in exactly one partition; rows are sorted by firm and year inside each partition), or
    :meth:`from_parquet`.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        The panel. Unless ``whole_firms`` is true it is repartitioned by a hash of the firm id (same
        number of partitions), so that no firm is split over two partitions.
    firm : str
        The firm id column.
    time : str, optional
        The year column (rows are kept sorted by firm, then year, within a partition).
    whole_firms : bool, default False
        The caller guarantees that every firm's rows are in one partition (a frame derived partition by
        partition from a :class:`FirmPartitions`). A firm split over partitions would give wrong
        fixed effects and clustered SEs without an error, so this is never inferred.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.dask import FirmPartitions
    >>> df = pd.DataFrame({"firm": [1, 1, 2, 2, 3], "year": [1, 2, 1, 2, 1], "y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> fp = FirmPartitions.from_pandas(df, "firm", "year", npartitions=2)
    >>> fp.map_reduce(lambda part: float(part["y"].sum()))
    15.0
    """

    def __init__(
        self, frame: Any, firm: str, time: str | None = None, *, whole_firms: bool = False
    ) -> None:
        require_dask()
        if firm not in frame.columns:
            raise DataError(
                f"firm id column {firm!r} is not in the data (columns: {list(frame.columns)})"
            )
        self.frame = frame if whole_firms else _by_firm(frame, firm, time, None)
        self.firm = firm
        self.time = time

    @property
    def npartitions(self) -> int:
        """Number of partitions."""
        return int(self.frame.npartitions)

    @property
    def columns(self) -> list[str]:
        """Column names."""
        return list(self.frame.columns)

    @classmethod
    def from_dask(
        cls, frame: Any, firm: str, time: str | None = None, npartitions: int | None = None
    ) -> FirmPartitions:
        """Repartition a Dask DataFrame by a hash of the firm id (each firm in one partition)."""
        require_dask()
        if firm not in frame.columns:
            raise DataError(
                f"firm id column {firm!r} is not in the data (columns: {list(frame.columns)})"
            )
        return cls(_by_firm(frame, firm, time, npartitions), firm, time, whole_firms=True)

    @classmethod
    def from_pandas(
        cls, df: pd.DataFrame, firm: str, time: str | None = None, npartitions: int = 4
    ) -> FirmPartitions:
        """Split an in-memory panel into ``npartitions`` partitions by a hash of the firm id."""
        require_dask()
        import dask.dataframe as dd

        if firm not in df.columns:
            raise DataError(
                f"firm id column {firm!r} is not in the data (columns: {list(df.columns)})"
            )
        frame = dd.from_pandas(
            df.reset_index(drop=True), npartitions=max(1, min(npartitions, len(df) or 1))
        )
        return cls.from_dask(frame, firm, time, npartitions=npartitions)

    @classmethod
    def from_parquet(
        cls,
        path: str,
        firm: str,
        time: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        npartitions: int | None = None,
        storage_options: dict[str, Any] | None = None,
        whole_firms: bool = False,
    ) -> FirmPartitions:
        """Read a partitioned Parquet data set lazily (folder, glob or fsspec URL) and partition by firm.

        With ``whole_firms=True`` the files are taken as they are, one partition per file, without a
        shuffle: the caller guarantees that each file holds whole firms sorted by firm and year (a
        folder written by this package, e.g. ``build_panel_dask(..., out=...)`` or
        :meth:`~clusterimpact.panel_dask.DaskFirmPanel.write`); ``npartitions`` must then be left out.
        """
        require_dask()
        import dask.dataframe as dd

        if whole_firms and (npartitions is not None or columns):
            # Dask merges the files of a column selection into fewer partitions (still whole firms,
            # but no longer one per file nor sorted by firm and year within one)
            raise SpecError(
                "whole_firms=True reads one partition per file, all columns: leave npartitions and "
                "columns out (select columns after reading)"
            )
        frame = dd.read_parquet(
            path,
            columns=list(columns) if columns else None,
            storage_options=storage_options,
            **({"split_row_groups": False} if whole_firms else {}),
        )
        if whole_firms:
            return cls(frame, firm, time, whole_firms=True)
        return cls.from_dask(frame, firm, time, npartitions=npartitions)

    def persist(self) -> FirmPartitions:
        """Hold the partitions in the workers' memory (for several passes over the same panel)."""
        return FirmPartitions(self.frame.persist(), self.firm, self.time, whole_firms=True)

    def map_partitions(
        self, fn: Callable[..., pd.DataFrame], *args: Any, meta: Any = None, **kwargs: Any
    ) -> FirmPartitions:
        """A firm-local transform of every partition (rows of one firm stay together)."""
        kw = {"meta": meta} if meta is not None else {}
        return FirmPartitions(
            self.frame.map_partitions(fn, *args, **kw, **kwargs),
            self.firm,
            self.time,
            whole_firms=True,
        )

    def map_reduce(
        self,
        fn: Callable[..., Any],
        *args: Any,
        combine: Callable[[Any, Any], Any] | None = None,
        scheduler: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``combine``-sum (default ``+``, key by key for dicts) of ``fn(partition, *args, **kwargs)``.

        ``scheduler`` (e.g. ``"sync"`` for debugging) suits partitions that need no shuffle: a frame
        repartitioned while a distributed client runs uses its P2P shuffle, which only that client can
        compute.

        ``fn`` gets one pandas partition (whole firms, sorted by firm and year) and returns additive
        statistics. Partial results are summed on the client in partition order, so the result does not
        depend on which worker ran what. ``args`` are sent to every task (keep them small: coefficient
        vectors, the solved secondary effects).
        """
        import dask

        parts = self.frame.to_delayed()
        if any(dask.is_dask_collection(a) for a in (*args, *kwargs.values())):
            tasks = [dask.delayed(fn)(p, *args, **kwargs) for p in parts]
        else:
            # the arguments as one opaque task: serialised once per pass, and not walked once per
            # partition looking for collections (costly for coefficient dataclasses and long lists)
            sealed = dask.delayed(_Sealed(fn, args, kwargs), traverse=False)
            tasks = [dask.delayed(_apply_sealed)(p, sealed) for p in parts]
        kw = {"scheduler": scheduler} if scheduler else {}
        stats = dask.compute(*tasks, **kw)
        return _tree_sum(list(stats), combine or _add)

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first rows of the first partition (for a look, not for statistics)."""
        return self.frame.head(n)
