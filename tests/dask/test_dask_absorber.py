"""The fixed-effect absorber over firm partitions equals the in-memory Absorber (#16).

Small hand-made panels, the synchronous scheduler (no cluster): the statistics, the solve and the
within transform are those of ``estimation/fe/_demean.py``, summed over partitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.dask import FirmPartitions
from clusterimpact.errors import DataError, SpecError
from clusterimpact.estimation.fe import _dask_absorber as dab
from clusterimpact.estimation.fe._dask_absorber import DaskAbsorber, demean
from clusterimpact.estimation.fe._demean import Absorber, factorize, interact_codes
from tolerances import DASK_FLOOR, DASK_REL

pytestmark = [pytest.mark.xdist_group("dask")]


def _by_firm(df: pd.DataFrame, firm: str, n: int) -> FirmPartitions:
    """``n`` partitions holding whole firms (firm codes modulo ``n``), without a shuffle: the
    constructors' hash repartition is tested in tests/test_dask_frames.py; here it would only cost."""
    import dask.dataframe as dd

    code = pd.factorize(df[firm], sort=True)[0] % n
    parts = [df[code == i].reset_index(drop=True) for i in range(n)]
    return FirmPartitions(
        dd.from_map(lambda p: p, parts, meta=df.head(0)), firm, "year", whole_firms=True
    )


def _panel(seed: int = 0, n: int = 2500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"firm": rng.integers(0, 300, n), "year": rng.integers(2000, 2010, n)})
    df = df.drop_duplicates(["firm", "year"]).sort_values(["firm", "year"]).reset_index(drop=True)
    df["sector"] = np.asarray(["a", "b", "c", "d"])[df["firm"].to_numpy() % 4]
    df["grp"] = rng.integers(0, 3, len(df))  # varies by row: crossed with the firm
    df["y"] = rng.normal(size=len(df)) + 0.1 * df["year"]
    df["x"] = rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df["s"] = rng.random(len(df)) > 0.2
    return df.sample(frac=1.0, random_state=seed)  # rows in no particular order


def _memory(df: pd.DataFrame, effects: list[str], w: str | None) -> tuple[np.ndarray, Absorber]:
    codes = [factorize(df["firm"])[0]]
    for e in effects:
        parts = e.split("^")
        codes.append(interact_codes([factorize(df[p])[0] for p in parts])[0])
    ab = Absorber(codes, None if w is None else df[w].to_numpy())
    return ab.demean(df[["y", "x"]].to_numpy()), ab


def _dask_within(fp: FirmPartitions, da: DaskAbsorber, delta: np.ndarray) -> pd.DataFrame:
    def part_within(part: pd.DataFrame, spec: dab.AbsorbSpec, delta: np.ndarray) -> pd.DataFrame:
        sub = part.loc[dab.sample_mask(part, spec.rows)]
        Z = demean(part, spec, ["y", "x"], delta)
        return pd.DataFrame(Z, index=pd.MultiIndex.from_frame(sub[["firm", "year"]]))

    return fp.map_reduce(
        part_within, da.spec, delta, combine=lambda a, b: pd.concat([a, b]), scheduler="sync"
    )


CASES = [
    (["year"], None),
    (["year"], "w"),
    (["sector^year"], None),
    (["year", "sector^year"], "w"),  # year is a coarsening of sector^year: dropped
    (["year", "sector"], None),  # sector is constant within firms: dropped
    (["year", "grp"], "w"),  # two crossed secondary effects
    ([], None),  # the firm sweep alone
]


@pytest.mark.parametrize(
    ("effects", "w", "n"),
    [(*CASES[3], 1), (*CASES[3], 4)] + [(*c, 16) for c in CASES],
)
def test_within_transform_equals_memory(effects: list[str], w: str | None, n: int) -> None:
    df = _panel()
    ref, ab = _memory(df, effects, w)
    fp = _by_firm(df, "firm", n)
    da = DaskAbsorber(fp, effects, weights=w, scheduler="sync")
    # the same effects left out (memory indexes the firm as effect 0) and the same rank
    assert [i + 1 for i in da.spec.dropped] == ab.dropped
    assert da.rank_secondary == ab.rank_secondary
    assert da.n_firms == df["firm"].nunique() and da.nobs == len(df)
    got = _dask_within(fp, da, da.solve(["y", "x"]))
    got = got.reindex(pd.MultiIndex.from_frame(df[["firm", "year"]])).to_numpy()
    assert_close(got, ref, rel=DASK_REL, floor=DASK_FLOOR)


def test_sample_rows_and_empty_partitions() -> None:
    """A boolean sample column restricts every statistic; partitions without a sample row add zero."""
    df = _panel(seed=1)
    df = df[df["firm"] < 6]  # 6 firms in 16 partitions: some are empty
    sub = df[df["s"]]
    ref, _ = _memory(sub, ["year"], "w")
    fp = _by_firm(df, "firm", 16)
    sizes = fp.map_reduce(lambda p: [len(p)], combine=lambda a, b: a + b, scheduler="sync")
    assert min(sizes) == 0
    da = DaskAbsorber(fp, ["year"], weights="w", rows="s", scheduler="sync")
    assert da.nobs == len(sub)
    got = _dask_within(fp, da, da.solve(["y", "x"]))
    got = got.reindex(pd.MultiIndex.from_frame(sub[["firm", "year"]])).to_numpy()
    assert_close(got, ref, rel=DASK_REL, floor=DASK_FLOOR)


def test_level_codes_are_global_and_sorted() -> None:
    """Partitions see different years; the codes come from the union of levels over partitions."""
    df = pd.DataFrame(
        {"firm": [1, 1, 2, 2, 3, 3], "year": [2003, 2001, 2002, 2004, 2001, 2004], "y": 1.0}
    )
    fp = _by_firm(df, "firm", 3)
    da = DaskAbsorber(fp, ["year"], scheduler="sync")
    assert da.spec.levels[0].tolist() == [2001, 2002, 2003, 2004]
    assert da.n_levels == [4]


def test_bad_input_is_loud() -> None:
    df = _panel(seed=2, n=300)
    fp = _by_firm(df, "firm", 4)
    with pytest.raises(DataError, match="'nope'"):
        DaskAbsorber(fp, ["nope"], scheduler="sync")
    with pytest.raises(SpecError, match="primary effect"):
        DaskAbsorber(fp, ["firm"], scheduler="sync")
    bad = df.assign(year=df["year"].astype(float))
    bad.loc[bad.index[5], "year"] = np.nan
    with pytest.raises(DataError, match="missing values in fixed effect 'year'"):
        DaskAbsorber(_by_firm(bad, "firm", 2), ["year"], scheduler="sync")
    neg = df.assign(w=-df["w"])
    with pytest.raises(DataError, match="non-negative"):
        DaskAbsorber(
            _by_firm(neg, "firm", 2),
            ["year"],
            weights="w",
            scheduler="sync",
        )


def test_too_many_secondary_levels_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dab, "MAX_SECONDARY_LEVELS", 5)
    fp = _by_firm(_panel(seed=3, n=300), "firm", 2)
    with pytest.raises(SpecError, match="at most 5 levels"):
        DaskAbsorber(fp, ["year"], scheduler="sync")
