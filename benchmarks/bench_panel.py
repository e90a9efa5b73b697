"""Benchmark build_panel: time and peak memory at 1e5, 1e6 and 5e6 firm-years.

Usage: ``python benchmarks/bench_panel.py [--quick] [--sizes 100000,1000000]``.

Each size runs in its own subprocess so the peak resident memory (``ru_maxrss``) belongs to that size
alone. The raw accounts come from a small random generator in this file (not synthetic.py): an
unbalanced panel over 2008-2023 with ~8 years per firm, 8 % members in 1-2 clusters with exits and
re-joins, 1 % dirty rows (missing or non-positive value added, exact duplicates) and a sector x year
deflator table. Target (issue #2): 1e6 firm-years in under 10 s and under 2 GB on 2 cores.

Reported per size: build wall time and CPU time (the CPU time is the better guide on a shared, loaded
machine), peak RSS of the process (inputs included), the increase of the peak over
the RSS just before the build, and the ratio to a floor: one ``sort_values(["firm_id", "year"])`` of the
same input (there is no peer package that builds such panels).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

TARGET = {"n": 1_000_000, "seconds": 10.0, "gb": 2.0}


def make_inputs(n_rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Random raw accounts (about ``n_rows`` rows), registry and deflators."""
    rng = np.random.default_rng(seed)
    years = np.arange(2008, 2024)
    n_firms = max(10, n_rows // 6)
    first = rng.integers(2008, 2020, n_firms)
    length = np.minimum(rng.integers(4, 17, n_firms), 2024 - first)
    total = int(length.sum())
    firm = np.repeat(np.arange(n_firms), length)
    offs = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    year = np.repeat(first, length) + offs
    # trim / pad to n_rows
    if total > n_rows:
        firm, year = firm[:n_rows], year[:n_rows]
    ids = np.char.add("F", firm.astype(str))
    m = len(firm)
    emp = np.exp(rng.normal(1.5, 1.2, n_firms))[firm] * np.exp(rng.normal(0, 0.1, m))
    va = emp * np.exp(rng.normal(4.0, 0.4, m))
    sector = rng.integers(10, 83, n_firms)
    acc = pd.DataFrame(
        {
            "firm_id": ids,
            "year": year.astype("int64"),
            "nace": (sector * 100 + rng.integers(0, 99, n_firms)).astype(str)[firm],
            "region": np.array(["Flanders", "Wallonia", "Brussels"])[rng.integers(0, 3, n_firms)][
                firm
            ],
            "founded": (first - rng.integers(0, 30, n_firms))[firm],
            "va": va,
            "emp": emp,
            "capital": va * np.exp(rng.normal(0.5, 0.5, m)),
            "materials": va * np.exp(rng.normal(0.3, 0.3, m)),
            "wages": 0.6 * va,
            "turnover": 2.5 * va,
            "investment": np.where(rng.random(m) < 0.2, 0.0, 0.1 * va),
        }
    )
    dirty = rng.random(m)
    acc.loc[dirty < 0.003, "va"] = np.nan
    acc.loc[(dirty >= 0.003) & (dirty < 0.006), "va"] = -1.0
    dup = acc[dirty > 0.996]
    acc = pd.concat([acc, dup], ignore_index=True)
    members = rng.choice(n_firms, size=max(1, n_firms // 12), replace=False)
    join = rng.integers(2011, 2024, members.size)
    exit_ = np.where(rng.random(members.size) < 0.15, join + rng.integers(1, 5, members.size), -1)
    reg = pd.DataFrame(
        {
            "firm_id": np.char.add("F", members.astype(str)),
            "cluster": np.array(list("ABCDEF"))[rng.integers(0, 6, members.size)],
            "join_date": join,
            "exit_date": pd.array(np.where(exit_ > 0, exit_, 0), dtype="Int64"),
        }
    )
    reg.loc[exit_ < 0, "exit_date"] = pd.NA
    second = reg.sample(frac=0.1, random_state=1).assign(
        cluster="G", join_date=lambda d: d["join_date"] + 1, exit_date=pd.NA
    )
    reg = pd.concat([reg, second], ignore_index=True)
    defl = pd.DataFrame(
        [(f"{s:02d}", y, 1.0 + 0.02 * (y - 2015)) for s in range(1, 100) for y in years],
        columns=["sector", "year", "deflator"],
    )
    return acc, reg, defl


def run_one(n_rows: int) -> dict[str, float]:
    from clusterimpact.panel import PanelSpec, build_panel

    acc, reg, defl = make_inputs(n_rows)
    t0 = time.perf_counter()
    acc.sort_values(["firm_id", "year"])
    t_sort = time.perf_counter() - t0
    rss_before = _rss_now()
    t0, c0 = time.perf_counter(), time.process_time()
    panel = build_panel(acc, reg, PanelSpec(start=2008, end=2023), defl)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert panel.rows_in == len(panel.data) + len(panel.exclusions)
    return {
        "rows": len(acc),
        "kept": len(panel.data),
        "seconds": t_build,
        "cpu_seconds": c_build,
        "peak_gb": peak / 1e9,
        "increase_gb": max(0.0, peak - rss_before) / 1e9,
        "sort_seconds": t_sort,
        "ratio_to_sort": t_build / max(t_sort, 1e-9),
    }


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    ap.add_argument("--sizes", default=None, help="comma-separated firm-year counts")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one)))
        return 0
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    elif args.quick:
        sizes = [10_000, 100_000]
    else:
        sizes = [100_000, 1_000_000, 5_000_000]
    print(
        f"{'rows':>10} {'kept':>10} {'build s':>9} {'cpu s':>7} {'peak GB':>8} {'+GB':>6} "
        f"{'x sort':>7}"
    )
    status = 0
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True
        )
        if out.returncode != 0:
            print(f"{n:>10} failed:\n{out.stderr}")
            status = 1
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['rows']:>10,} {r['kept']:>10,} {r['seconds']:>9.2f} {r['cpu_seconds']:>7.2f} "
            f"{r['peak_gb']:>8.2f} "
            f"{r['increase_gb']:>6.2f} {r['ratio_to_sort']:>7.1f}",
            flush=True,
        )
        if n == TARGET["n"]:
            ok = r["seconds"] < TARGET["seconds"] and r["peak_gb"] < TARGET["gb"]
            print(
                f"target 1e6 firm-years < {TARGET['seconds']:.0f} s and < {TARGET['gb']:.0f} GB: "
                f"{'met' if ok else 'NOT met'}"
            )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
