"""The Dask back end's foundation: every firm in one partition, map-reduce sums in partition order (#16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusterimpact.dask import FirmPartitions
from clusterimpact.errors import DataError


def _panel(n_firms: int = 500, years: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "firm": np.repeat(np.arange(n_firms), years),
            "year": np.tile(np.arange(2010, 2010 + years), n_firms),
            "y": rng.normal(size=n_firms * years),
        }
    ).sample(frac=1.0, random_state=3)


@pytest.mark.parametrize("n", [1, 4, 16])
def test_each_firm_in_one_partition_and_sums_agree(n: int) -> None:
    df = _panel()
    fp = FirmPartitions.from_pandas(df, "firm", "year", npartitions=n)
    assert fp.npartitions == n
    got = fp.map_reduce(
        lambda p: {"rows": len(p), "firms": p["firm"].nunique(), "y": p["y"].to_numpy().sum()},
    )
    assert got["rows"] == len(df)
    # a firm split over two partitions would be counted twice
    assert got["firms"] == df["firm"].nunique()
    assert abs(got["y"] - df["y"].sum()) <= 1e-12 * np.abs(df["y"]).sum()


def test_rows_sorted_by_firm_and_year_within_partitions() -> None:
    fp = FirmPartitions.from_pandas(_panel(), "firm", "year", npartitions=3)
    ok = fp.map_reduce(
        lambda p: int(p[["firm", "year"]].apply(tuple, axis=1).is_monotonic_increasing),
    )
    assert ok == 3


def test_missing_firm_column_is_named() -> None:
    with pytest.raises(DataError, match="firm_id"):
        FirmPartitions.from_pandas(_panel(), "firm_id", "year")


@pytest.mark.xdist_group("dask")
@pytest.mark.parametrize("n", [1, 4, 16])
def test_shared_parquet_panel_on_the_cluster(firm_partitions, dask_panel, n: int) -> None:
    fp = firm_partitions(n)
    got = fp.map_reduce(
        lambda p: {"rows": len(p), "firms": p["firm_id"].nunique(), "y": p["ln_va"].sum()}
    )
    assert got["rows"] == len(dask_panel)
    assert got["firms"] == dask_panel["firm_id"].nunique()
    assert abs(got["y"] - dask_panel["ln_va"].sum()) <= 1e-12 * dask_panel["ln_va"].abs().sum()


def test_backend_choice() -> None:
    from clusterimpact.dask import as_partitions, wants_dask
    from clusterimpact.errors import SpecError

    df = _panel(50, 3)
    assert not wants_dask(df, "memory")
    assert wants_dask(df, "dask")
    fp = as_partitions(df, "firm", "year", npartitions=2)
    assert wants_dask(fp, "memory")  # partitions stay on Dask
    assert as_partitions(fp, "firm") is fp
    with pytest.raises(SpecError, match="backend"):
        wants_dask(df, "spark")
    with pytest.raises(SpecError, match="firm_id"):
        as_partitions(fp, "firm_id")


def test_a_frame_with_split_firms_is_repartitioned_unless_declared_whole() -> None:
    import dask.dataframe as dd

    df = _panel(40, 4).sort_values("year")  # cut by year: every firm in every partition
    frame = dd.from_pandas(df, npartitions=4, sort=False)

    def firms(fp: FirmPartitions) -> int:
        return fp.map_reduce(lambda p: p["firm"].nunique())

    assert firms(FirmPartitions(frame, "firm", "year", whole_firms=True)) > 40  # the caller's word
    fixed = FirmPartitions(frame, "firm", "year")
    assert fixed.npartitions == 4 and firms(fixed) == 40
