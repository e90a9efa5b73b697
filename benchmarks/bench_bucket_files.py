"""The CPU a bucket file costs in the streamed Dask build (#16): the figure behind the 10^9 sizing.

The streamed build (``build_panel(..., backend="dask", out=...)``) writes one bucket file per input
file and partition, so their number is input files x partitions, which grows with the square of the
panel when both files and partitions keep their size. This script splits one accounts file of
``--firms`` synthetic firms (about 10 firm-years each) into ``P`` buckets for two values of ``P``, with
the package's own ``split_file`` (Arrow IPC, LZ4), reads every bucket back as a partition task does,
and reports the bucketing's CPU (the split and read-back less reading the input file itself) and
the CPU per extra bucket file: (bucketing at the larger P - at the smaller) / (extra files). The same
slices written and read as Parquet files (the format the build used before) give the ratio.

Usage: ``python benchmarks/bench_bucket_files.py [--quick] [--firms 50000] [--buckets 80,800] [--repeat 3]``
(CPU seconds of this process; the best of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any


def _split_and_read(path: Path, n: int, work: Path) -> float:
    """CPU seconds to split ``path`` into ``n`` IPC bucket files and read each bucket back."""
    import numpy as np

    from clusterimpact._panel_dask_parts import ReadArgs
    from clusterimpact._panel_dask_write import BUCKET_SUFFIX, _read_buckets, split_file

    none = np.empty(0, dtype=np.uint64)
    args = ReadArgs(None, None, (), None, None, "kbo", none, none, None)
    for b in range(n):
        (work / str(b)).mkdir(parents=True)
    t = time.process_time()
    split_file(0, str(path), False, args, str(work), n)
    for b in range(n):
        files = sorted((work / str(b)).glob(f"*{BUCKET_SUFFIX}"))
        if files:
            _read_buckets(files).to_pandas()
    return time.process_time() - t


def _read_only(path: Path) -> float:
    """CPU seconds of the read task's own reading (``read_part``: read, check, ids), without buckets."""
    import numpy as np

    from clusterimpact._panel_dask_parts import ReadArgs, read_part

    none = np.empty(0, dtype=np.uint64)
    args = ReadArgs(None, None, (), None, None, "kbo", none, none, None)
    t = time.process_time()
    read_part(0, str(path), False, args)
    return time.process_time() - t


def _parquet_read(path: Path) -> float:
    import pandas as pd

    t = time.process_time()
    pd.read_parquet(path)
    return time.process_time() - t


def _parquet_buckets(path: Path, n: int, work: Path) -> float:
    """The same split written and read as one Parquet file per bucket (the earlier format)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clusterimpact._panel_dask_write import bucket_of

    work.mkdir(parents=True)
    t = time.process_time()
    frame = pd.read_parquet(path)
    where = bucket_of(frame["firm_id"].astype("str"), n)
    for b, rows in frame.groupby(where, sort=True):
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), str(work / f"{b}.parquet"))
    for f in sorted(work.glob("*.parquet")):
        pd.read_parquet(f)
    return time.process_time() - t


def measure(firms: int, buckets: tuple[int, int], repeat: int) -> dict[str, Any]:
    """Per-file CPU (ms) of IPC and Parquet bucket files, from the best of ``repeat`` runs."""
    from clusterimpact.synthetic import write_parquet

    root = Path(tempfile.mkdtemp(prefix="bench-buckets-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            paths = write_parquet(root / "data", n_firms=firms, firms_per_file=firms)
        files = sorted(Path(paths["accounts"]).glob("*.parquet"))
        src = files[0]
        best: dict[tuple[str, int], float] = {}
        for r in range(repeat):
            best["ipc", 0] = min(_read_only(src), best.get(("ipc", 0), float("inf")))
            best["parquet", 0] = min(_parquet_read(src), best.get(("parquet", 0), float("inf")))
            for n in buckets:
                for kind, fn in (("ipc", _split_and_read), ("parquet", _parquet_buckets)):
                    work = root / f"{kind}-{n}-{r}"
                    cpu = fn(src, n, work)
                    shutil.rmtree(work)
                    best[kind, n] = min(cpu, best.get((kind, n), float("inf")))
        lo, hi = buckets
        kinds = ("ipc", "parquet")
        # the bucketing alone: the whole split and read-back less reading the input file itself
        io = {(k, n): best[k, n] - best[k, 0] for k in kinds for n in buckets}
        per = {k: (io[k, hi] - io[k, lo]) / (hi - lo) * 1e3 for k in kinds}
        return {
            "firms": firms,
            "buckets": buckets,
            "cpu_s": best,
            "bucketing_s": io,
            "ms_per_file": per,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--firms", type=int, default=50_000)
    ap.add_argument("--buckets", default="80,800")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10,000 firms, one run (run_all --quick)")
    a = ap.parse_args(argv)
    if a.quick:
        a.firms, a.repeat = 10_000, 1
    lo, hi = (int(x) for x in a.buckets.split(","))
    out = measure(a.firms, (lo, hi), a.repeat)
    for kind in ("ipc", "parquet"):
        print(f"{kind:8s} reading the input file: {out['cpu_s'][kind, 0]:.2f} CPU s")
        for n in (lo, hi):
            print(f"{kind:8s} {n:5d} buckets: {out['bucketing_s'][kind, n]:.2f} CPU s to bucket, "
                  "write and read back")  # fmt: skip
    ipc, pq_ = out["ms_per_file"]["ipc"], out["ms_per_file"]["parquet"]
    print(f"CPU per extra bucket file: Arrow IPC {ipc:.2f} ms, Parquet {pq_:.2f} ms")
    for n in (lo, hi):
        ipc_n, pq_n = out["bucketing_s"]["ipc", n], out["bucketing_s"]["parquet", n]
        if min(ipc_n, pq_n) < 0.05:  # a difference of two timings: below this it is noise
            print(
                f"bucketing one file into {n} partitions: too quick to compare (use more --firms)"
            )
        else:
            print(
                f"bucketing one file into {n} partitions: Parquet / Arrow IPC CPU = {pq_n / ipc_n:.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
