"""The panel build on Dask equals the in-memory build_panel: rows, values, exclusions and flags (#16).

The build is row-wise arithmetic (deflation, logs) and firm-wise bookkeeping, no long sums: the
comparisons are exact (``check_exact``), not within a tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusterimpact.errors import DataError, OutputError, PanelError, SpecError
from clusterimpact.panel import PanelSpec, build_panel
from clusterimpact.panel_dask import build_panel_dask, list_inputs
from clusterimpact.synthetic import simulate

pytestmark = [pytest.mark.xdist_group("dask")]

N_FILES = 3


def _dirty_accounts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """simulate(dirty=True) plus the dirt it does not make, so every exclusion reason occurs."""
    sim = simulate("ecoom", seed=5, n_firms=800, dirty=True)
    acc = sim.accounts.copy()
    acc["year"] = acc["year"].astype(float)
    rng = np.random.default_rng(7)
    pos = rng.choice(len(acc), size=60, replace=False)
    acc.loc[acc.index[pos[:5]], "firm_id"] = None  # missing_id
    acc.loc[acc.index[pos[5:10]], "year"] = np.nan  # missing_year
    acc.loc[acc.index[pos[10:15]], "firm_id"] = "0123456789"  # fails mod 97: bad_id
    acc.loc[acc.index[pos[15:20]], "nace"] = "9911"  # sector 99 has no deflator
    conflict = acc.iloc[pos[20:30]].copy()
    conflict["va"] = conflict["va"] * 1.5 + 1.0  # same firm-year, other values
    acc = pd.concat([acc, conflict], ignore_index=True)
    return acc, sim.registry, sim.deflators


SPEC = PanelSpec(start=2010, end=2022, min_years=3, id_type="kbo", exclude_bad_ids=True,
                 duplicates="first")  # fmt: skip


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> dict:
    """The dirty accounts as one Parquet file (the in-memory input) and as 3 files (the Dask input)."""
    acc, reg, defl = _dirty_accounts()
    folder = tmp_path_factory.mktemp("dirty")
    whole = folder / "whole.parquet"
    acc.to_parquet(whole, index=False)
    parts = folder / "parts"
    parts.mkdir()
    cuts = np.array_split(np.arange(len(acc)), N_FILES)
    for i, c in enumerate(cuts):
        acc.iloc[c].to_parquet(parts / f"part-{i}.parquet", index=False)
    memory = build_panel(whole, reg, SPEC, defl)
    return {"memory": memory, "parts": parts, "reg": reg, "defl": defl,
            "offsets": np.array([c[0] for c in cuts])}  # fmt: skip


def _labels(offsets: np.ndarray, files: list[str], rows) -> list[str]:
    """In-memory row numbers (of the whole file) as the Dask build names them (file:row)."""
    r = np.asarray(rows, dtype=np.int64) - 1
    f = np.searchsorted(offsets, r, side="right") - 1
    return [f"{files[i]}:{k - offsets[i] + 1}" for i, k in zip(f, r, strict=True)]


@pytest.mark.parametrize("stream", [False, True], ids=["persisted", "streamed"])
@pytest.mark.parametrize("n", [1, 4, 16])
def test_dirty_build_equals_memory(dask_client, dirty, n: int, stream: bool, tmp_path) -> None:
    """Persisted, or streamed (each partition built and written to ``out`` as it comes)."""
    memory = dirty["memory"]
    counts = memory.exclusion_counts()
    assert set(counts) == set(__import__("clusterimpact").panel.REASONS)  # every reason exercised
    out = {"out": tmp_path / "panel.parquet"} if stream else {}
    panel = build_panel_dask(
        dirty["parts"], dirty["reg"], SPEC, dirty["defl"], npartitions=n, **out
    )
    assert panel.data.npartitions == n
    if stream:  # one file per partition, the exclusion log beside the panel
        assert len(list((tmp_path / "panel.parquet").glob("part.*.parquet"))) == n
        assert len(list((tmp_path / "panel.exclusions.parquet").glob("part.*.parquet"))) == n
    assert panel.exclusion_counts() == counts
    assert panel.rows_in == memory.rows_in
    got = panel.to_memory()
    pd.testing.assert_frame_equal(got.data, memory.data, check_exact=True)
    pd.testing.assert_frame_equal(got.memberships, memory.memberships)
    files, _ = list_inputs(dirty["parts"])
    # exclusion log: the same rows, named by their file and row there
    exp = memory.exclusions.copy()
    r = exp["row"].to_numpy() - 1
    f = np.searchsorted(dirty["offsets"], r, side="right") - 1
    exp["source"] = pd.array(np.asarray(files, dtype=object)[f], dtype="str")
    exp["row"] = r - dirty["offsets"][f] + 1
    key = ["source", "row"]
    got_x = got.exclusions.sort_values(key).reset_index(drop=True)
    exp = exp.sort_values(key).reset_index(drop=True)
    same = ["source", "row", "firm_id", "year", "reason"]
    pd.testing.assert_frame_equal(got_x[same], exp[same])
    plain = ~exp["reason"].isin(["duplicate", "duplicate_conflict"]).to_numpy()
    assert (got_x["detail"][plain] == exp["detail"][plain]).all()
    # the duplicates' details name the first copy as file:row
    dup = ~plain
    first_rows = exp.loc[dup, "detail"].str.extract(r"row (\d+)")[0].astype(int)
    want = _labels(dirty["offsets"], files, first_rows)
    assert [w in d for w, d in zip(want, got_x.loc[dup, "detail"], strict=True)] == [True] * len(
        want
    )
    _same_flags(panel.flags, memory.flags, dirty["offsets"], files)
    assert panel.summary().splitlines()[1:] == memory.summary().splitlines()[1:]


def _same_flags(got: dict, exp: dict, offsets: np.ndarray, files: list[str]) -> None:
    assert set(got) == set(exp)
    for k in exp:
        if k == "accounts_ids_rewritten":
            assert got[k]["count"] == exp[k]["count"]
        elif k == "bad_id_rows":
            assert got[k] == _labels(offsets, files, exp[k])
        elif k == "conflicting_duplicates":
            assert [(c["firm_id"], c["year"]) for c in got[k]] == [
                (c["firm_id"], c["year"]) for c in exp[k]
            ]
            assert [c["rows"] for c in got[k]] == [
                _labels(offsets, files, c["rows"]) for c in exp[k]
            ]
        else:
            assert got[k] == exp[k], k


def _sorted(part: pd.DataFrame) -> int:
    """1 if the rows are sorted by firm, then year (strictly: one row per firm-year)."""
    f = part["firm_id"].to_numpy(dtype=object)
    y = part["year"].to_numpy()
    return int(bool(np.all((f[1:] > f[:-1]) | ((f[1:] == f[:-1]) & (y[1:] > y[:-1])))))


def _registry_of(panel: pd.DataFrame) -> pd.DataFrame:
    firms = panel[panel["ever_member"]].drop_duplicates("firm_id")
    return pd.DataFrame({"firm_id": firms["firm_id"], "cluster": firms["cluster"],
                         "join_date": firms["treat_year"].astype("int64")})  # fmt: skip


@pytest.fixture(scope="module")
def shared_memory(dask_parquet, dask_panel) -> tuple:
    """The registry of the shared panel and the in-memory build of its Parquet files, in file order."""
    reg = _registry_of(dask_panel)
    files, _ = list_inputs(dask_parquet)
    whole = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return reg, build_panel(whole, reg)


@pytest.mark.parametrize("n, stream", [(1, False), (4, False), (16, False), (4, True)])
def test_shared_parquet_build_equals_memory(
    dask_client, dask_parquet, dask_panel, shared_memory, n: int, stream: bool, tmp_path
) -> None:
    reg, memory = shared_memory
    out = {"out": tmp_path / "panel"} if stream else {}
    panel = build_panel_dask(dask_parquet, reg, npartitions=n, **out)
    assert panel.exclusion_counts() == memory.exclusion_counts()
    assert panel.n_obs == memory.n_obs == len(dask_panel)
    got = panel.data.frame.compute().sort_values(["firm_id", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, memory.data, check_exact=True)
    # each firm in one partition, rows sorted by firm and year inside it
    per = panel.data.map_reduce(lambda p: {"firms": p["firm_id"].nunique(), "sorted": _sorted(p)})
    assert per == {"firms": memory.n_firms, "sorted": n}
    assert panel.flags == memory.flags


def _by_key_inputs(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Accounts in 3 files and a registry that links partly by key (ids written with BE, dots and
    blanks; a firm with several spells is then written both ways: ambiguous), with an id no accounts
    hold and one whose every row is excluded."""
    sim = simulate("ecoom", seed=11, n_firms=400)
    acc = sim.accounts.copy()
    reg = sim.registry.copy()
    ids = reg["firm_id"].astype(str)
    odd = np.arange(len(reg)) % 2 == 1  # every other row written as on a membership form
    reg.loc[odd, "firm_id"] = [f"BE {i[:4]}.{i[4:7]}.{i[7:]}" for i in ids[odd]]
    gone = str(acc["firm_id"].iloc[0])  # a member whose every row is excluded (value added <= 0)
    acc.loc[acc["firm_id"] == gone, "va"] = -1.0
    extra = pd.DataFrame({"firm_id": ["BE 0999.999.999", gone], "cluster": ["VIL", "VIL"],
                          "join_date": ["2015-03-01", "2016-03-01"]})  # fmt: skip
    reg = pd.concat([reg, extra], ignore_index=True)
    folder = tmp_path / "acc"
    folder.mkdir()
    for i, c in enumerate(np.array_split(np.arange(len(acc)), 3)):
        acc.iloc[c].to_parquet(folder / f"part-{i}.parquet", index=False)
    return folder, reg


@pytest.mark.parametrize("n, stream", [(1, True), (4, True), (16, True), (4, False)])
def test_registry_linked_by_key_equals_memory(
    dask_client, n: int, stream: bool, tmp_path: Path
) -> None:
    """Read tasks find the accounts ids a registry id or its key can link from hashes of the registry
    (not the registry itself), and each partition gets the registry slice of its own firms: the
    linking, the membership columns and every registry flag are the in-memory build's."""
    folder, reg = _by_key_inputs(tmp_path)
    spec = PanelSpec(id_type="any")
    files, _ = list_inputs(folder)
    whole = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    memory = build_panel(whole, reg, spec)
    m = memory.flags["id_match"]
    # the cases are exercised: links by key, an id nobody holds, ids written two ways (ambiguous)
    assert m["by_key"] >= 10 and "BE 0999.999.999" in m["unmatched"] and m["ambiguous"]
    assert memory.flags["registry_ids_all_excluded"]
    out = {"out": tmp_path / "panel"} if stream else {}
    panel = build_panel_dask(folder, reg, spec, npartitions=n, **out)
    got = panel.data.frame.compute().sort_values(["firm_id", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, memory.data, check_exact=True)
    pd.testing.assert_frame_equal(panel.memberships, memory.memberships)
    assert panel.flags == memory.flags


def test_registry_hash_lookup_and_slices() -> None:
    """The read tasks' lookup equals set membership; every linked spell goes to exactly one slice, the
    partition its firm's rows are hashed to."""
    from clusterimpact._panel_dask_parts import FID, hashed_in, string_hashes
    from clusterimpact._panel_dask_write import bucket_of, registry_slices
    from clusterimpact._panel_members import link_registry
    from clusterimpact.io import read_registry

    rng = np.random.default_rng(4)
    pool = np.array([f"{x:010d}" for x in rng.integers(0, 10**10, size=3000)], dtype=object)
    table = np.unique(string_hashes(pool[:1000]))
    probe = np.concatenate([pool[500:2000], np.array(["", "é", "0"], dtype=object)])
    assert (hashed_in(probe, table) == np.isin(probe, pool[:1000])).all()
    assert not hashed_in(probe, np.empty(0, dtype=np.uint64)).any()
    sim = simulate("ecoom", seed=2, n_firms=300)
    funiq = pd.Index(sorted(sim.accounts["firm_id"].astype(str).unique()))
    linked = link_registry(read_registry(sim.registry), funiq, PanelSpec(), {})
    for n in (1, 4, 16):
        parts = registry_slices(linked, n)
        assert sum(len(p.frame) for p in parts) == len(linked.frame)
        for b, p in enumerate(parts):
            # the accounts' _fid column as the read tasks make it
            fid = pd.Series(pd.array(p.frame["firm_id"].to_numpy(), dtype="str"), name=FID)
            assert (bucket_of(fid, n) == b).all()
            whole = linked.frame["firm_id"].isin(p.frame["firm_id"]).to_numpy()
            assert (linked.join_years[whole] == p.join_years).all()
            assert (linked.exit_years[whole] == p.exit_years).all()


# -- loud the same way as in memory ----------------------------------------------------------------


def _small(tmp_path: Path) -> pd.DataFrame:
    sim = simulate("ecoom", seed=2, n_firms=200)
    return sim.accounts


def _same_error(tmp_path: Path, frame: pd.DataFrame, error: type, **kw) -> None:
    path = tmp_path / "one.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(error) as memory:
        build_panel(path, **kw)
    with pytest.raises(error) as dask:
        build_panel_dask(path, npartitions=2, **kw)
    assert str(dask.value) == str(memory.value)
    with pytest.raises(
        error
    ) as streamed:  # the streamed build: the same error, nothing left behind
        build_panel_dask(path, npartitions=2, out=tmp_path / "out", **kw)
    assert str(streamed.value) == str(memory.value)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".out", "out"))]


def test_missing_column_is_the_same_error(tmp_path: Path) -> None:
    _same_error(tmp_path, _small(tmp_path).drop(columns=["va"]), DataError)


def test_non_numeric_values_are_the_same_error(tmp_path: Path) -> None:
    acc = _small(tmp_path)
    acc["emp"] = acc["emp"].astype(str)
    acc.loc[[3, 40], "emp"] = "n/a"
    _same_error(tmp_path, acc, DataError)


def test_conflicting_duplicates_are_the_same_error(tmp_path: Path) -> None:
    acc = _small(tmp_path)
    copy = acc.iloc[[5, 500]].copy()
    copy["va"] += 1.0
    _same_error(tmp_path, pd.concat([acc, copy], ignore_index=True), PanelError)


def test_registry_matching_no_firm_is_the_same_error(tmp_path: Path) -> None:
    reg = pd.DataFrame(
        {"firm_id": ["X1", "X2"], "cluster": ["VIL", "VIL"], "join_date": [2017, 2018]}
    )
    _same_error(tmp_path, _small(tmp_path), DataError, registry=reg)


def test_errors_of_every_file_at_once(tmp_path: Path) -> None:
    acc = _small(tmp_path)
    acc.iloc[:100].drop(columns=["emp"]).to_parquet(tmp_path / "a.parquet", index=False)
    acc.iloc[100:].drop(columns=["va"]).to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(DataError) as err:
        build_panel_dask(tmp_path)
    text = str(err.value)
    assert "2 problems" in text and "a.parquet" in text and "b.parquet" in text
    assert "emp" in text and "va" in text


def test_bad_options_and_no_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no accounts file found"):
        build_panel_dask(tmp_path / "nothing-here")
    with pytest.raises(SpecError, match="npartitions"):
        build_panel_dask(tmp_path, npartitions=0)
    with pytest.raises(SpecError, match="PanelSpec"):
        build_panel_dask(tmp_path, spec={"start": 2010})  # type: ignore[arg-type]


def test_csv_glob_and_exclusions_written(tmp_path: Path) -> None:
    acc = _small(tmp_path)
    acc.loc[[2, 9], "va"] = -1.0
    for i, c in enumerate(np.array_split(np.arange(len(acc)), 2)):
        acc.iloc[c].to_csv(tmp_path / f"acc-{i}.csv", index=False)
    whole = tmp_path / "whole.csv"
    acc.to_csv(whole, index=False)
    memory = build_panel(whole)
    panel = build_panel_dask(str(tmp_path / "acc-*.csv"), npartitions=3)
    assert panel.exclusion_counts() == memory.exclusion_counts() == {"nonpositive_va": 2}
    panel.write(tmp_path / "panel", exclusions=tmp_path / "excluded")
    back = pd.read_parquet(tmp_path / "excluded")
    assert sorted(back["row"].tolist()) == [3, 10]  # 1-based rows of acc-0.csv
    assert set(back["source"]) == {str(tmp_path / "acc-0.csv")}
    data = (
        pd.read_parquet(tmp_path / "panel").sort_values(["firm_id", "year"]).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(data, memory.data, check_dtype=False)
    # a folder this package wrote is replaced in one swap; a user's own Parquet folder never is
    panel.write(tmp_path / "panel")
    assert len(pd.read_parquet(tmp_path / "panel")) == len(memory.data)
    users = tmp_path / "users"
    users.mkdir()
    memory.data.head(3).to_parquet(users / "part.0.parquet")
    with pytest.raises(OutputError, match="not a Parquet folder this package wrote"):
        panel.write(users)
    assert len(pd.read_parquet(users)) == 3
    assert not [p for p in tmp_path.iterdir() if "ci-tmp" in p.name]  # no staging left behind


def test_streamed_build_is_loud_and_leaves_no_staging(tmp_path: Path) -> None:
    """A build that fails after its partitions were written swaps nothing in; a user's folder, a URL
    and exclusions_out without out are refused before any work."""
    acc = _small(tmp_path)
    copy = acc.iloc[[5, 500]].copy()
    copy["va"] += 1.0
    path = tmp_path / "dup.parquet"
    pd.concat([acc, copy], ignore_index=True).to_parquet(path, index=False)
    with pytest.raises(PanelError, match="occur more than once with different values"):
        build_panel_dask(path, npartitions=3, out=tmp_path / "p")
    assert not (tmp_path / "p").exists() and not (tmp_path / "p.exclusions.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if "ci-tmp" in p.name]
    good = tmp_path / "good.parquet"
    acc.to_parquet(good, index=False)
    users = tmp_path / "users"
    users.mkdir()
    (users / "mine.txt").write_text("keep")
    with pytest.raises(OutputError, match="not a Parquet folder this package wrote"):
        build_panel_dask(good, npartitions=2, out=tmp_path / "q", exclusions_out=users)
    assert (users / "mine.txt").read_text() == "keep" and not (tmp_path / "q").exists()
    with pytest.raises(SpecError, match="local or shared-filesystem folder"):
        build_panel_dask(good, npartitions=2, out="s3://bucket/panel")
    with pytest.raises(SpecError, match="with out= "):
        build_panel_dask(good, npartitions=2, exclusions_out=tmp_path / "x")
    # written twice: the second build replaces the first (a folder this package wrote)
    first = build_panel_dask(good, npartitions=2, out=tmp_path / "q")
    again = build_panel(good, backend="dask", npartitions=5, out=tmp_path / "q")
    assert again.data.npartitions == 5 and len(list((tmp_path / "q").glob("*.parquet"))) == 5
    assert again.n_obs == first.n_obs == len(pd.read_parquet(tmp_path / "q"))
    with pytest.raises(SpecError, match="backend='dask' only"):
        build_panel(good, out=tmp_path / "r")


def test_build_panel_backend_option(tmp_path: Path) -> None:
    acc = _small(tmp_path)
    path = tmp_path / "one.parquet"
    acc.to_parquet(path, index=False)
    via_option = build_panel(path, backend="dask", npartitions=2)
    direct = build_panel_dask(path, npartitions=2)
    assert type(via_option).__name__ == "DaskFirmPanel"
    assert via_option.facts == direct.facts and via_option.flags == direct.flags
    with pytest.raises(SpecError, match="backend='dask' only"):
        build_panel(path, npartitions=2)
    with pytest.raises(SpecError, match="sheet"):
        build_panel(path, backend="dask", sheet="Sheet1")
    with pytest.raises(SpecError, match="backend='spark' is not valid"):
        build_panel(path, backend="spark")  # type: ignore[call-overload]


def test_fsspec_url_input(tmp_path: Path) -> None:
    """Parquet at an fsspec URL (the in-process ``memory://`` file system, so the threaded scheduler)."""
    import fsspec

    import dask

    acc = _small(tmp_path)
    acc.loc[[4], "emp"] = 0.0
    fs = fsspec.filesystem("memory")
    for i, c in enumerate(np.array_split(np.arange(len(acc)), 2)):
        with fs.open(f"/ci-test-{tmp_path.name}/part-{i}.parquet", "wb") as fh:
            acc.iloc[c].to_parquet(fh, index=False)
    url = f"memory://ci-test-{tmp_path.name}/"
    try:
        files, remote = list_inputs(url)
        assert remote and [f.rsplit("/", 1)[1] for f in files] == [
            "part-0.parquet",
            "part-1.parquet",
        ]
        with dask.config.set({"scheduler": "threads", "dataframe.shuffle.method": "tasks"}):
            panel = build_panel_dask(url, npartitions=2, storage_options={})
            excl = panel.exclusions.compute()
        memory = build_panel(acc)
        assert panel.exclusion_counts() == memory.exclusion_counts() == {"nonpositive_emp": 1}
        assert excl["source"].tolist() == [files[0]] and excl["row"].tolist() == [5]
        assert panel.n_obs == memory.n_obs
    finally:
        fs.rm(f"/ci-test-{tmp_path.name}", recursive=True)


def test_remote_csv_is_refused(tmp_path: Path) -> None:
    import fsspec

    import dask

    fs = fsspec.filesystem("memory")
    with fs.open(f"/ci-csv-{tmp_path.name}/a.csv", "wb") as fh:
        fh.write(b"firm_id,year,va,emp\nA,2010,1,1\n")
    try:
        with (
            dask.config.set({"scheduler": "threads", "dataframe.shuffle.method": "tasks"}),
            pytest.raises(DataError, match="Parquet only"),
        ):
            build_panel_dask(f"memory://ci-csv-{tmp_path.name}/")
    finally:
        fs.rm(f"/ci-csv-{tmp_path.name}", recursive=True)


def test_streamed_build_refuses_disagreeing_files_and_overlapping_outputs(tmp_path: Path) -> None:
    """Files whose columns are read with different types are not cast silently; the two output
    folders must be apart; a rerun of a finished build never loses rows (the bucket counts are checked)."""
    acc = _small(tmp_path)
    folder = tmp_path / "acc"
    folder.mkdir()
    a, b = acc.iloc[:1000].copy(), acc.iloc[1000:].copy()
    a["code"], b["code"] = 1.5, "0012"  # an extra column: numbers in one file, text in the other
    a.to_parquet(folder / "a.parquet", index=False)
    b.to_parquet(folder / "b.parquet", index=False)
    with pytest.raises(DataError, match="disagree on column 'code'"):
        build_panel_dask(folder, npartitions=2, extra=["code"], out=tmp_path / "p")
    assert not [p for p in tmp_path.iterdir() if "ci-tmp" in p.name or p.name.startswith("p")]
    good = tmp_path / "good.parquet"
    acc.to_parquet(good, index=False)
    for excl in (tmp_path / "p", tmp_path / "p" / "x"):
        with pytest.raises(SpecError, match="two separate folders"):
            build_panel_dask(good, npartitions=2, out=tmp_path / "p", exclusions_out=excl)


def test_a_partition_that_misses_bucket_rows_raises(tmp_path: Path) -> None:
    """build_bucket counts the rows it reads against what the input files sent it (a bucket file a
    worker cannot see must not become a silently smaller panel); a second run reads the same files."""
    from clusterimpact._panel_dask_parts import ReadArgs, build_part
    from clusterimpact._panel_dask_write import arrow_schemas, build_bucket, split_file

    acc = _small(tmp_path)
    buckets = tmp_path / "buckets"
    for b in range(2):
        (buckets / str(b)).mkdir(parents=True)
    args = ReadArgs(None, None, (), None, None, "any", *([np.empty(0, dtype=np.uint64)] * 2))
    stats, counts = split_file(0, acc, False, args, str(buckets), 2)
    assert counts.sum() == len(acc) and (counts > 0).all()
    spec = PanelSpec()
    empty = build_part(stats.empty, None, spec, None, (), ["data frame"], "data frame")
    out = (tmp_path / "panel", tmp_path / "excl")
    for f in out:
        f.mkdir()
    rest = (str(buckets), stats.empty, tuple(map(str, out)), arrow_schemas(*empty[:2]), None, spec,
            None, (), ["data frame"], "data frame")  # fmt: skip
    with pytest.raises(OutputError, match=r"partition 1 found [\d,]+ of the [\d,]+ rows"):
        build_bucket(1, int(counts[1]) + 1, *rest)
    first = build_bucket(0, int(counts[0]), *rest)
    again = build_bucket(0, int(counts[0]), *rest)  # a task run twice: the same partition
    assert first["nobs"] == again["nobs"] > 0


def test_the_two_folders_are_swapped_in_together(tmp_path: Path, monkeypatch) -> None:
    """A failure while renaming the second new folder in puts both old folders back."""
    from clusterimpact._panel_dask_write import WRITTEN_MARK, staged_folders

    targets = [tmp_path / "panel", tmp_path / "excl"]
    for t in targets:
        t.mkdir()
        (t / WRITTEN_MARK).write_text("x")
        (t / "old.txt").write_text("old")
    real = Path.rename

    def failing(self: Path, target):  # the second new folder cannot be renamed in
        if self.name == "data" and Path(target) == targets[1]:
            raise OSError("disk full")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="disk full"):
        with staged_folders(*targets) as staged:
            for s in staged:
                (s / "new.txt").write_text("new")
    assert [sorted(p.name for p in t.iterdir()) for t in targets] == [[WRITTEN_MARK, "old.txt"]] * 2
    assert not [p for p in tmp_path.iterdir() if "ci-tmp" in p.name]


# -- columns of Python objects (a Parquet decimal, bytes) ------------------------------------------


def _with_note(acc: pd.DataFrame, values) -> pd.DataFrame:
    out = acc.copy()
    out["note"] = pd.Series(values, index=out.index, dtype=object)
    return out


@pytest.mark.parametrize("kind", ["decimal", "bytes", "none"])
def test_object_columns_keep_their_values(dask_client, kind: str, tmp_path: Path) -> None:
    """An extra column read as Python objects is kept as the in-memory build keeps it, on both Dask
    paths (Dask would turn it into text, and the streamed build had no Parquet type for it); files
    whose decimals differ in precision are written with the wider type."""
    from decimal import Decimal

    acc = _small(tmp_path)
    n = len(acc)
    cut = n // 3  # file 0 holds decimal(2, 1) values only, file 1 decimal(4, 2) ones as well
    values = {
        "decimal": [Decimal("1.5") if i < cut or i % 3 else Decimal("12.25") for i in range(n)],
        "bytes": [b"ab" if i % 2 else b"c" for i in range(n)],
        "none": [None] * n,
    }[kind]
    acc = _with_note(acc, values)
    folder = tmp_path / "acc"
    folder.mkdir()
    acc.iloc[:cut].to_parquet(folder / "part-0.parquet", index=False)
    acc.iloc[cut:].to_parquet(folder / "part-1.parquet", index=False)
    files, _ = list_inputs(folder)
    whole = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    memory = build_panel(whole, extra=["note"])
    assert memory.data["note"].dtype == object
    for out in (None, tmp_path / "panel"):
        panel = build_panel_dask(folder, npartitions=4, extra=["note"], out=out)
        got = panel.to_memory().data
        pd.testing.assert_frame_equal(got, memory.data)
        assert [type(v) for v in got["note"]] == [type(v) for v in memory.data["note"]]


def test_object_columns_of_no_one_type_are_refused(dask_client, tmp_path: Path) -> None:
    """A column mixing numbers and text (a data frame can, Parquet cannot) is a DataError naming the
    column on both Dask paths, not a failure inside the shuffle; so are files whose types of a column
    cannot be merged, and whole numbers with missing values (Arrow would return floats)."""
    acc = _small(tmp_path)
    mixed = _with_note(acc, [1 if i % 2 else "x" for i in range(len(acc))])
    build_panel(mixed, extra=["note"])  # in memory: kept as it is
    for out in (None, tmp_path / "panel"):
        with pytest.raises(DataError, match=r"column 'note': the values have no one type") as e:
            build_panel_dask(mixed, npartitions=2, extra=["note"], out=out)
        assert e.value.column == "note"
    assert not (tmp_path / "panel").exists()
    from decimal import Decimal

    folder = tmp_path / "acc"
    folder.mkdir()
    half = len(acc) // 2
    _with_note(acc.iloc[:half], [Decimal("1.5")] * half).to_parquet(folder / "part-0.parquet")
    _with_note(acc.iloc[half:], [b"x"] * (len(acc) - half)).to_parquet(folder / "part-1.parquet")
    for out in (None, tmp_path / "p2"):
        with pytest.raises(DataError, match=r"column 'note': the accounts files disagree.*decimal"):
            build_panel_dask(folder, npartitions=2, extra=["note"], out=out)
    # whole numbers with missing values as objects would come back as floats: refused by name
    ints = _with_note(acc, [i if i % 3 else None for i in range(len(acc))])
    for out in (None, tmp_path / "p3"):
        with pytest.raises(
            DataError, match=r"column 'note': whole numbers or booleans with missing"
        ):
            build_panel_dask(ints, npartitions=2, extra=["note"], out=out)


def test_staging_folders_follow_the_umask(tmp_path: Path) -> None:
    """Not mkdtemp's 0700: workers running as another user of a shared file system must write there."""
    import os

    from clusterimpact._panel_dask_write import _staging_dir

    mask = os.umask(0o022)
    os.umask(mask)
    got = _staging_dir(tmp_path / "panel")
    assert got.parent == tmp_path and got.name.startswith(".panel.ci-tmp-")
    assert got.stat().st_mode & 0o777 == 0o777 & ~mask
    assert _staging_dir(tmp_path / "panel") != got


def test_a_read_result_holds_no_rows(tmp_path: Path) -> None:
    """What a read task returns (it waits on the worker until every file is read) keeps none of the
    file's data alive: an empty slice of a text column would hold all of its Arrow buffers."""
    from clusterimpact._panel_dask_parts import ReadArgs, read_part

    acc = _small(tmp_path)
    path = tmp_path / "one.parquet"
    acc.to_parquet(path, index=False)
    args = ReadArgs(None, None, (), None, None, "kbo", *([np.empty(0, dtype=np.uint64)] * 2))
    frame, stats = read_part(0, str(path), False, args)
    assert frame is not None and stats.empty is not None and len(stats.empty) == 0
    assert stats.empty.dtypes.to_dict() == frame.dtypes.to_dict()
    held = {}
    for c in stats.empty.columns:
        arr = getattr(stats.empty[c].array, "_pa_array", None)
        if arr is not None:
            held[c] = sum(b.size for ch in arr.chunks for b in ch.buffers() if b is not None)
    assert held and max(held.values()) < 64, held  # the text columns (firm_id, nace, region, _fid)
