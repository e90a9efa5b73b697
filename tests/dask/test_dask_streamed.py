"""``clusterimpact.dask.streamed()`` and ``[compute] persist = false``: the estimators that hold columns
between their passes hold none, and give the same numbers (#16: a worker's memory bounded by its
partitions, not by its share of the panel)."""

from __future__ import annotations

import numpy as np
import pytest

from clusterimpact.dask import FirmPartitions, streamed
from clusterimpact.errors import SpecError
from clusterimpact.spec import ComputeSpec

pytestmark = [pytest.mark.xdist_group("dask")]


@pytest.fixture
def persists(monkeypatch) -> list[int]:
    """Every ``FirmPartitions.persist`` call, counted (and still carried out)."""
    calls: list[int] = []
    original = FirmPartitions.persist

    def counted(self: FirmPartitions) -> FirmPartitions:
        calls.append(self.npartitions)
        return original(self)

    monkeypatch.setattr(FirmPartitions, "persist", counted)
    return calls


def _lazy(dask_panel) -> FirmPartitions:
    """A 1,500-firm slice of the shared panel, split lazily (not persisted) into 4 partitions by firm."""
    firms = dask_panel["firm_id"].drop_duplicates().iloc[:1500]
    small = dask_panel[dask_panel["firm_id"].isin(firms)]
    return FirmPartitions.from_pandas(small, "firm_id", "year", npartitions=4)


def _numbers(result) -> np.ndarray:
    tidy = result.tidy()
    return np.r_[tidy["estimate"].to_numpy(dtype=float), tidy["std_error"].to_numpy(dtype=float)]


def _fits(fp: FirmPartitions) -> dict[str, np.ndarray]:
    from clusterimpact.estimation.cs.api import att_gt
    from clusterimpact.estimation.imputation import imputation_did

    cs = att_gt(fp, "ln_tfp", control_group="notyettreated")
    imp = imputation_did(fp, "ln_tfp", horizons=[0, 1, 2], leads=2)
    return {"cs": _numbers(cs), "imputation": _numbers(imp)}


def test_streamed_holds_nothing_and_gives_the_same_numbers(
    dask_client, dask_panel, persists
) -> None:
    held = _fits(_lazy(dask_panel))
    assert len(persists) >= 2  # CS's wide panel, the imputation estimator's columns
    persists.clear()
    with streamed():
        got = _fits(_lazy(dask_panel))
    assert persists == []
    for name, ref in held.items():
        # the same partitions summed in the same order: the same bits
        assert np.isfinite(ref[: len(ref) // 2]).all(), name
        np.testing.assert_array_equal(got[name], ref, err_msg=name)


def test_compute_spec_persist_false_streams(dask_client) -> None:
    from clusterimpact.dask._context import _HOLD

    with ComputeSpec(engine="dask", scheduler="local", n_workers=1, persist=False).session():
        assert _HOLD.get() is False
    assert _HOLD.get() is True
    with pytest.raises(SpecError, match="persist=1 must be true or false"):
        ComputeSpec(engine="dask", persist=1)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match='persist apply to engine = "dask" only'):
        ComputeSpec(persist=False)


def test_cli_stream_flag_sets_persist_false() -> None:
    import argparse

    from clusterimpact.cli._common import add_engine_args, compute_of

    parser = argparse.ArgumentParser()
    add_engine_args(parser)
    assert compute_of(parser.parse_args(["--engine", "dask", "--stream"])).persist is False
    assert compute_of(parser.parse_args(["--engine", "dask"])).persist is True
    with pytest.raises(SpecError, match="persist apply"):
        compute_of(parser.parse_args(["--stream"]))
