"""Benchmark the Dask back end (#16): wall/CPU time, peak memory per worker, bytes shuffled.

Usage: ``python benchmarks/bench_dask.py [--quick] [--sizes 1e7,5e7] [--workers 2] [--partitions N]
[--sweep 8,32,128] [--memory-max 1e7] [--tmp DIR] [--out benchmarks/results]``; with ``--data DIR``
the data and each size's record are kept in ``DIR/<size>``, ``--stages`` reruns some stages (the
others are kept), ``--report-only`` writes the tables from the records. The figures in
docs/scaling.rst came from (D: the data folder; the 10^7 estimators from an earlier run)::

    bench_dask.py --sizes 1e7 --stages estimators,memory --data D
    bench_dask.py --sizes 5e7,1e7 --stages build,pass --data D
    bench_dask.py --sizes 5e7 --stages estimators --data D
    bench_dask.py --sizes 5e7 --stages estimators --only CS,imputation,duration_effects --streamed --data D
    bench_dask.py --data D --report-only

Per size (synthetic ``ecoom`` firm-years, about 9.9 observed years per firm):

1. ``generate``: :func:`clusterimpact.synthetic.write_parquet` writes the accounts as Parquet files of
   50,000 whole firms each, in a subprocess (its peak RSS is the generator's: one chunk, not the panel).
2. On a ``LocalCluster`` of ``--workers`` worker processes (1 thread each):

   * ``read + repartition``: ``FirmPartitions.from_parquet`` (the firm-hash shuffle, P2P) persisted;
   * ``panel build``: the package's streamed build, ``build_panel(..., backend="dask", out=...)``
     (each accounts file split into one bucket file per partition by a hash of the firm id, each
     partition read, built and written: one file per partition, the estimators' input);
   * ``build_panel(backend="dask")`` without ``out`` (the panel persisted in the workers' memory, then
     written: stage ``dpanel``, for sizes whose panel the workers can hold);
   * every estimator that has a ``backend`` option, on the built panel read back as
     ``FirmPartitions`` (one file = one partition, no shuffle, not persisted: each pass streams the
     partitions from disk, so a worker holds a partition at a time), with ``ln_tfp`` (ln VA net of
     the true elasticities) added to each partition as it is read;
   * ``--sweep``: the accounts repartitioned into P partitions and one map-reduce pass (the Gram
     matrix of a production-function OLS) without persisting, for several P at this size: peak worker
     memory against partition size (the first size only).

3. ``--memory-max``: up to this size the in-memory path runs on the same panel in a subprocess (read
   the panel, each estimator with ``backend="memory"``; the in-memory ``build_panel`` on the accounts):
   the Dask / in-memory ratios.

Measured per stage: wall time, CPU seconds (client + scheduler process and the workers), the peak RSS
of each worker (polled every 0.1 s), bytes moved by the P2P shuffle (the workers' ``p2p`` comm and disk
metrics), bytes moved between workers as task results and bytes the workers wrote to storage (the
streamed build's buckets and panel files, spills). Results go to
``<out>/bench_dask.json`` and ``<out>/bench_dask.md``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

YEARS_PER_FIRM = 9.9
FIRM, YEAR = "firm_id", "year"
TRUE_BETA = {"ln_emp": 0.65, "ln_capital": 0.30}  # the ecoom elasticities (SynthParams defaults)


# --- cases: the estimators, called the same way on both paths --------------------------------------
def _feols(data: Any, backend: str) -> Any:
    from clusterimpact.estimation.fe.model import feols

    return feols(
        "ln_tfp ~ member | firm_id + year", data, vcov={"CRV1": "firm_id"}, backend=backend
    )


def _event_study(data: Any, backend: str) -> Any:
    from clusterimpact.estimation.event_study import event_study

    return event_study(data, "ln_tfp", backend=backend)


def _membership(name: str) -> Callable[[Any, str], Any]:
    def run(data: Any, backend: str) -> Any:
        from clusterimpact.estimation.fe import membership

        return getattr(membership, name)(data, "ln_tfp", backend=backend)

    return run


def _duration(data: Any, backend: str) -> Any:
    from clusterimpact.estimation.duration import duration_effects

    return duration_effects(data, "ln_tfp", backend=backend)


def _att_gt(data: Any, backend: str) -> Any:
    from clusterimpact.estimation.cs.aggregate import aggte
    from clusterimpact.estimation.cs.api import att_gt

    res = att_gt(
        data, "ln_tfp", control="notyet", allow_unbalanced=True, est="reg", backend=backend
    )
    return aggte(res, "simple")


def _imputation(data: Any, backend: str) -> Any:
    from clusterimpact.estimation.imputation import imputation_did

    return imputation_did(data, "ln_tfp", backend=backend)


def _labour(data: Any, backend: str) -> Any:
    from clusterimpact.productivity.labour import labour_productivity

    return labour_productivity(data, backend=backend)


def _tfp(method: str) -> Callable[[Any, str], Any]:
    def run(data: Any, backend: str) -> Any:
        from clusterimpact.productivity.api import estimate_tfp

        return estimate_tfp(data, method=method, backend=backend)

    return run


CASES: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "feols TWFE (firm+year FE, CRV1)": ("clusterimpact.estimation.fe.model:feols", _feols),
    "event study": ("clusterimpact.estimation.event_study:event_study", _event_study),
    "static TWFE premium": (
        "clusterimpact.estimation.fe.membership:static_premium",
        _membership("static_premium"),
    ),
    "binned duration (TWFE)": (
        "clusterimpact.estimation.fe.membership:binned_duration",
        _membership("binned_duration"),
    ),
    "linear duration (TWFE)": (
        "clusterimpact.estimation.fe.membership:linear_duration",
        _membership("linear_duration"),
    ),
    "duration_effects": ("clusterimpact.estimation.duration:duration_effects", _duration),
    "CS att_gt (OR, not-yet) + simple": ("clusterimpact.estimation.cs.api:att_gt", _att_gt),
    "imputation": ("clusterimpact.estimation.imputation:imputation_did", _imputation),
    "labour productivity": ("clusterimpact.productivity.labour:labour_productivity", _labour),
    "production function OLS": ("clusterimpact.productivity.api:estimate_tfp", _tfp("ols")),
    "production function FE": ("clusterimpact.productivity.api:estimate_tfp", _tfp("fe")),
    "production function Wooldridge": (
        "clusterimpact.productivity.api:estimate_tfp",
        _tfp("wooldridge"),
    ),
}


def has_backend(target: str) -> bool:
    """Whether the function ``module:name`` takes a ``backend`` option (its Dask path exists)."""
    import importlib

    mod, name = target.split(":")
    try:
        fn = getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError):
        return False
    return "backend" in inspect.signature(fn).parameters


def gram(part: Any) -> Any:
    """One pass of sufficient statistics: [1, ln emp, ln capital, ln va] cross-products (from nominal),
    with the partition's rows and in-memory bytes."""
    import numpy as np

    X = np.column_stack(
        [
            np.ones(len(part)),
            np.log(part["emp"].to_numpy(dtype=float)),
            np.log(np.maximum(part["capital"].to_numpy(dtype=float), 1e-9)),
            np.log(np.maximum(part["va"].to_numpy(dtype=float), 1e-9)),
        ]
    )
    return {"gram": X.T @ X, **_part_stats(part)}


# --- measurement -----------------------------------------------------------------------------------
def _worker_counters(dask_worker: Any) -> dict[str, float]:
    """Bytes moved by this worker: P2P shuffle comms and disk, task results sent to other workers."""
    out = {"p2p_comm_bytes": 0.0, "p2p_disk_bytes": 0.0}
    for key, value in dask_worker.digests_total.items():
        if isinstance(key, tuple) and key[:1] == ("p2p",) and key[-1] == "bytes":
            if key[2] == "background-comms" and key[3] == "process":
                out["p2p_comm_bytes"] += value
            elif key[3] == "disk-write":
                out["p2p_disk_bytes"] += value
    out["transfer_bytes"] = float(dask_worker.transfer_outgoing_bytes_total)
    out["pid"] = float(os.getpid())
    try:  # bytes this worker wrote to storage (the streamed build's buckets and panel files; spills)
        import psutil

        out["disk_write_bytes"] = float(psutil.Process().io_counters().write_bytes)
    except (ImportError, AttributeError, OSError):  # no io counters on this platform
        out["disk_write_bytes"] = 0.0
    return out


def _import_stack() -> None:
    """Import what every stage imports on a worker (for a fresh worker's baseline RSS)."""
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import clusterimpact.panel  # noqa: F401


class Monitor:
    """Peak RSS of each worker process (polled), their CPU time and byte counters per stage.

    Each stage runs on a fresh ``LocalCluster`` of ``workers`` processes, so its peak is its own, not
    the high-water mark of an earlier stage; ``baseline_mb`` is a fresh worker's RSS (imports only).
    """

    def __init__(self, workers: int, after: Callable[[], None] = lambda: None) -> None:
        self.workers = workers
        self.after = after
        self.peaks: dict[str, int] = {}
        self.procs: dict[str, Any] = {}
        self.baseline_mb: list[float] = []
        self._stop = threading.Event()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for w, p in self.procs.items():
                try:
                    self.peaks[w] = max(self.peaks.get(w, 0), p.memory_info().rss)
                except Exception:  # a worker restarting
                    pass
            self._stop.wait(0.1)

    def _cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.procs.values())

    def stage(self, name: str, fn: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
        """Run ``fn`` on a fresh cluster and measure it."""
        import psutil

        from clusterimpact.dask import session

        with session(n_workers=self.workers, threads_per_worker=1) as client:
            pids = client.run(lambda: os.getpid())
            self.procs = {w: psutil.Process(pid) for w, pid in pids.items()}
            if not self.baseline_mb:
                client.run(_import_stack)
                self.baseline_mb = [p.memory_info().rss / 2**20 for p in self.procs.values()]
            before = client.run(_worker_counters)
            self.peaks = {}
            self._stop.clear()
            poller = threading.Thread(target=self._poll, daemon=True)
            poller.start()
            c0, w0, t0 = time.process_time(), self._cpu(), time.perf_counter()
            error = None
            try:
                value = fn()
            except Exception as exc:  # record and go on with the other stages
                value, error = None, f"{type(exc).__name__}: {exc}"[:300]
            wall = time.perf_counter() - t0
            cpu_client, cpu_workers = time.process_time() - c0, self._cpu() - w0
            self._stop.set()
            poller.join()
            after = client.run(_worker_counters)
        moved = {
            k: sum(after[w][k] - before[w][k] for w in after)
            for k in ("p2p_comm_bytes", "p2p_disk_bytes", "transfer_bytes", "disk_write_bytes")
            if k in after[next(iter(after))]
        }
        rec = {
            "stage": name,
            "wall_s": wall,
            "cpu_s": cpu_client + cpu_workers,
            "cpu_workers_s": cpu_workers,
            "peak_worker_mb": [v / 2**20 for v in self.peaks.values()],
            **moved,
        }
        if error:
            rec["error"] = error
        print(_line(rec), flush=True)
        self.after()
        return rec, value


def _line(rec: dict[str, Any]) -> str:
    peaks = "/".join(f"{v:.0f}" for v in rec.get("peak_worker_mb", [])) or "-"
    out = (
        f"  {rec['stage'][:44]:<44} wall {rec['wall_s']:8.1f} s  cpu {rec['cpu_s']:8.1f} s  "
        f"peak/worker {peaks:>11} MB  shuffled {rec.get('p2p_comm_bytes', 0) / 2**20:8.1f} MB  "
        f"transfers {rec.get('transfer_bytes', 0) / 2**20:7.1f} MB  "
        f"written {rec.get('disk_write_bytes', 0) / 2**20:8.1f} MB"
    )
    if "error" in rec:
        out += f"  ERROR {rec['error'][:120]}"
    return out


# --- the steps -------------------------------------------------------------------------------------
def generate(size: int, folder: Path) -> dict[str, Any]:
    """Write ``size`` firm-years as Parquet in a subprocess; its time and peak RSS (kept if present)."""
    done = folder / "generate.json"
    if done.exists():
        out_done: dict[str, Any] = json.loads(done.read_text())
        print(f"  reusing {out_done['firm_years']:,} firm-years generated earlier", flush=True)
        return out_done
    n_firms = max(100, round(size / YEARS_PER_FIRM))
    code = (
        "import json,resource,sys,time\n"
        "from clusterimpact.synthetic import write_parquet\n"
        "t0,c0=time.perf_counter(),time.process_time()\n"
        f"p=write_parquet({str(folder)!r},'ecoom',seed=16,n_firms={n_firms})\n"
        "t=json.load(open(p['truth']))\n"
        "print(json.dumps({'wall_s':time.perf_counter()-t0,'cpu_s':time.process_time()-c0,"
        "'peak_rss_mb':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,"
        "'firm_years':t['sample']['firm_years'],'firms':t['sample']['firms'],"
        "'members':t['sample']['members'],'att_overall':t['att_overall']}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    acc = folder / "synthetic.accounts"
    out["accounts_disk_mb"] = sum(f.stat().st_size for f in acc.glob("*.parquet")) / 2**20
    out["n_files"] = len(list(acc.glob("*.parquet")))
    done.write_text(json.dumps(out))
    print(
        f"  generate {out['firm_years']:,} firm-years ({out['firms']:,} firms, {out['n_files']} files, "
        f"{out['accounts_disk_mb']:.0f} MB): wall {out['wall_s']:.1f} s, cpu {out['cpu_s']:.1f} s, "
        f"peak RSS {out['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return out


SPEC_KW = {"id_type": "kbo", "exclude_bad_ids": True, "deflator_base": 1.0}


def build_on_dask(folder: Path, panel_dir: Path, npart: int) -> dict[str, Any]:
    """The package's streamed Dask build: accounts shuffled by firm, each partition built and written
    at once (``build_panel(..., backend="dask", out=panel_dir)``)."""
    from clusterimpact.panel import PanelSpec, build_panel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = build_panel(
            str(folder / "synthetic.accounts"),
            str(folder / "synthetic.registry.csv"),
            PanelSpec(**SPEC_KW),
            str(folder / "synthetic.deflators.csv"),
            backend="dask",
            npartitions=npart,
            out=panel_dir,
        )
    return {"n_obs": panel.n_obs, "n_firms": panel.n_firms, "exclusions": panel.exclusion_counts()}


def with_tfp(part: Any) -> Any:
    """``ln_tfp``: ln VA net of the true elasticities (the estimators' outcome), row by row."""
    return part.assign(
        ln_tfp=part["ln_va"].to_numpy()
        - TRUE_BETA["ln_emp"] * part["ln_emp"].to_numpy()
        - TRUE_BETA["ln_capital"] * part["ln_capital"].to_numpy()
    )


def panel_partitions(panel_dir: Path) -> Any:
    """The built panel as FirmPartitions: one file = one partition of whole firms (no shuffle)."""
    from clusterimpact.dask import FirmPartitions

    fp = FirmPartitions.from_parquet(str(panel_dir), FIRM, YEAR, whole_firms=True)
    n_files = len(list(panel_dir.glob("*.parquet")))
    if fp.npartitions != n_files:
        raise RuntimeError(f"{fp.npartitions} partitions from {n_files} files")
    return fp.map_partitions(with_tfp)


def _part_stats(part: Any) -> dict[str, Any]:
    import numpy as np

    b = float(part.memory_usage(deep=True).sum())
    return {"rows": np.array([len(part)]), "bytes": np.array([b])}


def _concat(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    return {k: a[k] + b[k] if k == "gram" else np.concatenate([a[k], b[k]]) for k in a}


def partition_sizes(fp: Any, st: dict[str, Any] | None = None) -> dict[str, float]:
    """Rows and in-memory bytes per partition (mean, max) and the panel's total."""
    if st is None:
        st = fp.map_reduce(_part_stats, combine=_concat)
    return {
        "npartitions": int(len(st["rows"])),
        "rows_total": float(st["rows"].sum()),
        "mb_total": float(st["bytes"].sum() / 2**20),
        "mb_mean": float(st["bytes"].mean() / 2**20),
        "mb_max": float(st["bytes"].max() / 2**20),
    }


def dask_run(
    folder: Path,
    size: int,
    args: argparse.Namespace,
    sweep: list[int],
    save: Callable[[dict[str, Any]], None] = lambda out: None,
) -> dict[str, Any]:
    """The Dask stages asked for (``--stages``) at one size, each on a fresh LocalCluster.

    ``save(out)`` is called after every stage (a checkpoint of the records so far).
    """
    from distributed import wait

    from clusterimpact.dask import FirmPartitions

    npart = args.partitions or max(2, round(size / 625_000))
    out: dict[str, Any] = {"npartitions": npart, "stages": []}
    panel_dir = folder / "panel"
    accounts = str(folder / "synthetic.accounts")
    mon = Monitor(args.workers, lambda: save(out))

    def read() -> None:
        fp = FirmPartitions.from_parquet(accounts, FIRM, YEAR, npartitions=npart).persist()
        wait(fp.frame)
        out["accounts_partitions"] = partition_sizes(fp)  # on the persisted partitions

    def build() -> None:
        out["panel"] = build_on_dask(folder, panel_dir, npart)

    def dask_build() -> None:
        """The package's Dask panel build persisted on the cluster (no ``out``), then written."""
        from clusterimpact.panel import PanelSpec, build_panel

        panel = build_panel(
            accounts,
            str(folder / "synthetic.registry.csv"),
            PanelSpec(**SPEC_KW),
            str(folder / "synthetic.deflators.csv"),
            backend="dask",
            npartitions=npart,
        )
        shutil.rmtree(folder / "panel_dask", ignore_errors=True)
        panel.write(folder / "panel_dask", exclusions=folder / "panel_dask.exclusions")
        out["dask_panel"] = {"n_obs": panel.n_obs, "exclusions": panel.exclusion_counts()}

    def one_pass() -> None:
        out["panel_partitions"] = partition_sizes(panel_partitions(panel_dir))

    want = set(args.stages.split(","))
    if "read" in want:
        out["stages"].append(mon.stage("read + repartition by firm (persist)", read)[0])
    if "build" in want or not panel_dir.exists():
        out["stages"].append(
            mon.stage("panel build, streamed (build_panel(backend='dask', out=...))", build)[0]
        )
    if "dpanel" in want and has_backend("clusterimpact.panel:build_panel"):
        out["stages"].append(
            mon.stage("build_panel(backend='dask'), persisted, + write", dask_build)[0]
        )
    if "pass" in want:
        out["stages"].append(mon.stage("one pass over the built panel (sizes)", one_pass)[0])
    fp = panel_partitions(panel_dir)
    for name, (target, fn) in CASES.items():
        if "estimators" not in want:
            break
        if args.only and not any(k in name for k in args.only.split(",")):
            continue
        if not has_backend(target):
            out["stages"].append({"stage": name, "skipped": "no backend option in this checkout"})
            print(f"  {name:<44} skipped: no Dask path in this checkout", flush=True)
            continue
        if args.streamed:  # nothing held between passes: clusterimpact.dask.streamed()
            from clusterimpact.dask import streamed

            def run_streamed(fn: Callable[[Any, str], Any] = fn) -> Any:
                with streamed():
                    return fn(fp, "dask")

            out["stages"].append(mon.stage(f"{name} (streamed)", run_streamed)[0])
            continue
        out["stages"].append(mon.stage(name, lambda fn=fn: fn(fp, "dask"))[0])
    for p in sweep:

        def sweep_pass(p: int = p) -> None:
            fpp = FirmPartitions.from_parquet(accounts, FIRM, YEAR, npartitions=p)
            st = fpp.map_reduce(gram, combine=_concat)
            out.setdefault("sweep_sizes", {})[p] = partition_sizes(fpp, st)

        rec, _ = mon.stage(f"sweep: P={p}, shuffle + 1 pass, no persist", sweep_pass)
        rec["sweep_partitions"] = p
        out["stages"].append(rec)
    if sweep and args.sweep_buffer:
        import dask

        p = max(sweep)
        with dask.config.set({"distributed.p2p.comm.buffer": args.sweep_buffer}):
            rec, _ = mon.stage(
                f"sweep: P={p}, P2P comm buffer {args.sweep_buffer}",
                lambda: FirmPartitions.from_parquet(accounts, FIRM, YEAR, npartitions=p).map_reduce(
                    gram, combine=_concat
                ),
            )
        rec["sweep_partitions"] = p
        rec["p2p_buffer"] = args.sweep_buffer
        out["stages"].append(rec)
    if mon.baseline_mb:
        out["baseline_worker_mb"] = mon.baseline_mb
    return out


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``: stages replaced by name, other stages kept (reruns of some stages)."""
    out = {**old, **{k: v for k, v in new.items() if k not in ("dask", "memory")}}
    for part in ("dask", "memory"):
        if part not in new:
            continue
        if part not in old or "stages" not in old[part]:
            out[part] = new[part]
            continue
        fresh = {s["stage"]: s for s in new[part].get("stages", [])}
        kept = [s for s in old[part]["stages"] if s["stage"] not in fresh]
        merged = {**old[part], **new[part]}
        merged["stages"] = kept + list(fresh.values())
        if part == "dask" and "sweep_sizes" in old[part]:
            merged["sweep_sizes"] = {**old[part]["sweep_sizes"], **new[part].get("sweep_sizes", {})}
        out[part] = merged
    return out


def _save_record(path: Path, rec: dict[str, Any]) -> dict[str, Any]:
    """Merge ``rec`` into the record saved at ``path`` (stages replaced by name); the merged record."""
    rec = json.loads(json.dumps(rec, default=str))
    if path.exists():
        rec = _merge(json.loads(path.read_text()), rec)
    path.write_text(json.dumps(rec, indent=1) + "\n")
    return rec


def memory_run(folder: Path, build: bool) -> dict[str, Any]:
    """The in-memory path on the same panel, in a subprocess (its own peak RSS)."""
    cmd = [sys.executable, __file__, "--memory-one", str(folder)] + (
        [] if build else ["--no-build"]
    )
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr[-2000:]}
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def memory_one(folder: Path, build_too: bool) -> dict[str, Any]:
    """(In the subprocess.) Time ``build_panel`` and each estimator with ``backend="memory"``."""
    import pandas as pd

    from clusterimpact.panel import PanelSpec, build_panel

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    stages = []

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        value, err = None, None
        try:
            value = fn()
        except Exception as exc:
            err = f"{type(exc).__name__}: {exc}"[:300]
        rec = {"stage": name, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
        rec["peak_rss_mb_so_far"] = rss()
        if err:
            rec["error"] = err
        stages.append(rec)
        return value

    def build() -> None:
        acc = pd.read_parquet(folder / "synthetic.accounts")
        reg = pd.read_csv(folder / "synthetic.registry.csv", dtype={FIRM: str})
        defl = pd.read_csv(folder / "synthetic.deflators.csv", dtype={"sector": str})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_panel(acc, reg, PanelSpec(**SPEC_KW), defl)

    if build_too:
        timed("panel build (in memory)", build)
    panel = timed(
        "read the built panel",
        lambda: with_tfp(
            pd.read_parquet(folder / "panel")
            .sort_values([FIRM, YEAR], kind="stable")
            .reset_index(drop=True)
        ),
    )
    for name, (target, fn) in CASES.items():
        if has_backend(target):
            timed(name, lambda fn=fn: fn(panel, "memory"))
    return {"stages": stages, "peak_rss_mb": rss()}


# --- report ----------------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    """The results as markdown tables (one per size, and the partition sweep)."""
    lines = [
        "# Dask back end benchmark (`benchmarks/bench_dask.py`)",
        "",
        f"{results['workers']} worker processes x 1 thread (LocalCluster) on {results['cpus']} shared "
        f"CPUs; {results['started']}. CPU = client/scheduler process + workers. Shuffled = bytes the "
        "P2P shuffle sent between workers; transfers = task results moved between workers.",
    ]
    for size in results["sizes"]:
        g = size["generate"]
        mem = {s["stage"]: s for s in size.get("memory", {}).get("stages", [])}
        lines += [
            "",
            f"## {g['firm_years']:,} firm-years ({g['firms']:,} firms, {size['dask']['npartitions']} "
            f"partitions)",
            "",
            f"Generate: {g['n_files']} Parquet files, {g['accounts_disk_mb']:.0f} MB on disk, wall "
            f"{g['wall_s']:.0f} s, CPU {g['cpu_s']:.0f} s, generator peak RSS {g['peak_rss_mb']:.0f} MB.",
            "",
            "| stage | wall s | CPU s | peak RSS per worker (MB) | shuffled MB | transfers MB | "
            "in-memory CPU s | Dask / memory (CPU) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in size["dask"]["stages"]:
            if "skipped" in s:
                lines.append(f"| {s['stage']} | skipped: {s['skipped']} | | | | | | |")
                continue
            peaks = " / ".join(f"{v:.0f}" for v in s["peak_worker_mb"])
            m = mem.get(s["stage"])
            mcpu = f"{m['cpu_s']:.1f}" if m and "error" not in m else ""
            ratio = f"{s['cpu_s'] / m['cpu_s']:.2f}" if mcpu and m["cpu_s"] > 0 else ""
            err = f" (error: {s['error'][:80]})" if "error" in s else ""
            lines.append(
                f"| {s['stage']}{err} | {s['wall_s']:.1f} | {s['cpu_s']:.1f} | {peaks} | "
                f"{s['p2p_comm_bytes'] / 2**20:.0f} | {s['transfer_bytes'] / 2**20:.1f} | {mcpu} | "
                f"{ratio} |"
            )
        pp = size["dask"].get("panel_partitions")
        if pp:
            lines += [
                "",
                f"Built panel: {pp['mb_total']:.0f} MB in memory in {pp['npartitions']} partitions "
                f"(mean {pp['mb_mean']:.0f} MB, max {pp['mb_max']:.0f} MB).",
            ]
        base = size["dask"].get("baseline_worker_mb", [])
        lines.append(
            "A fresh worker's RSS (pandas, pyarrow, dask, clusterimpact imported; no data): "
            + " / ".join(f"{v:.0f}" for v in base)
            + " MB; each stage runs on a fresh cluster."
        )
        sweep = [s for s in size["dask"]["stages"] if "sweep_partitions" in s]
        if sweep:
            lines += [
                "",
                "Per-worker memory against partition size (the same accounts, not persisted: shuffle "
                "by firm into P partitions and one map-reduce pass):",
                "",
                "| P | P2P comm buffer | mean partition MB | max partition MB | peak RSS per worker "
                "(MB) | peak minus fresh worker (MB) | wall s | CPU s |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for s in sweep:
                sizes = size["dask"].get("sweep_sizes", {})
                p = s["sweep_partitions"]
                sz = sizes.get(p, sizes.get(str(p), {}))
                peaks = " / ".join(f"{v:.0f}" for v in s["peak_worker_mb"])
                extra = " / ".join(
                    f"{v - b:.0f}" for v, b in zip(s["peak_worker_mb"], base, strict=False)
                )
                lines.append(
                    f"| {s['sweep_partitions']} | {s.get('p2p_buffer', '1 GiB (default)')} | "
                    f"{sz.get('mb_mean', float('nan')):.1f} | "
                    f"{sz.get('mb_max', float('nan')):.1f} | {peaks} | {extra} | {s['wall_s']:.1f} | "
                    f"{s['cpu_s']:.1f} |"
                )
        if "memory" in size:
            lines.append("")
            lines.append(
                f"In-memory subprocess peak RSS: {size['memory'].get('peak_rss_mb', float('nan')):.0f} MB."
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run at 1e5 firm-years")
    ap.add_argument("--sizes", default=None, help="comma-separated firm-years (default 2e5)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=None, help="default: one per 625,000 rows")
    ap.add_argument("--sweep", default=None, help="partition counts for the memory sweep")
    ap.add_argument(
        "--sweep-buffer",
        default=None,
        help="also the largest sweep P with this P2P comm buffer (e.g. 128MiB; Dask's default 1 GiB)",
    )
    ap.add_argument("--memory-max", type=float, default=1e7, help="in-memory comparison up to")
    ap.add_argument("--tmp", default=None, help="folder for the generated data (deleted after)")
    ap.add_argument(
        "--data", default=None, help="keep the data in DIR/<size> and reuse it when present"
    )
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument(
        "--stages",
        default="read,build,dpanel,pass,estimators,sweep,memory",
        help="stages to run (default all; with --data the others are kept from earlier runs); "
        "dpanel: build_panel(backend='dask'), which persists the panel (skip it when the panel "
        "does not fit in the workers' memory)",
    )
    ap.add_argument("--report-only", action="store_true", help="with --data: only write the tables")
    ap.add_argument("--only", default=None, help="estimators whose name holds one of these (a,b)")
    ap.add_argument(
        "--streamed",
        action="store_true",
        help="the estimators inside clusterimpact.dask.streamed() (nothing persisted between passes)",
    )
    ap.add_argument("--memory-one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_one:
        print(json.dumps(memory_one(Path(args.memory_one), not args.no_build)))
        return 0
    sizes = [int(float(s)) for s in (args.sizes or ("1e5" if args.quick else "2e5")).split(",")]
    sweep = (
        [int(s) for s in args.sweep.split(",")] if args.sweep else ([2, 8] if args.quick else [])
    )
    results: dict[str, Any] = {
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "sizes": [],
    }
    for i, size in enumerate([] if args.report_only else sizes):
        if args.data:
            tmp = Path(args.data) / str(size)
            tmp.mkdir(parents=True, exist_ok=True)
        else:
            tmp = Path(tempfile.mkdtemp(prefix="bench_dask_", dir=args.tmp))
        print(f"=== {size:,} firm-years in {tmp}", flush=True)
        try:
            rec: dict[str, Any] = {"size": size, "generate": generate(size, tmp)}
            want = set(args.stages.split(","))

            def save(partial: dict[str, Any], rec: dict[str, Any] = rec, tmp: Path = tmp) -> None:
                if args.data:
                    _save_record(tmp / "record.json", {**rec, "dask": partial})

            rec["dask"] = dask_run(
                tmp, size, args, sweep if i == 0 and "sweep" in want else [], save
            )
            if size <= args.memory_max and "memory" in want:
                rec["memory"] = memory_run(tmp, "build" in want)
                for s in rec["memory"].get("stages", []):
                    print(f"  in memory: {s['stage'][:40]:<40} wall {s['wall_s']:7.1f} s  cpu "
                          f"{s['cpu_s']:7.1f} s  {s.get('error', '')}", flush=True)  # fmt: skip
            if args.data:
                rec = _save_record(tmp / "record.json", rec)
            results["sizes"].append(rec)
        finally:
            if not args.data:
                shutil.rmtree(tmp, ignore_errors=True)
    if args.data:  # every size recorded in the data folder, smallest first
        recs = [json.loads(f.read_text()) for f in Path(args.data).glob("*/record.json")]
        results["sizes"] = sorted(recs, key=lambda r: r["size"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_dask_quick" if args.quick else "bench_dask"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(results))
    print(f"wrote {out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
