"""Benchmark staggered DiD (Callaway-Sant'Anna): clusterimpact vs csdid in the same run.

Usage: ``python benchmarks/bench_did.py [--quick] [--sizes 20000,1000000] [--no-peer]``.

Workload (issue #6): ATT(g,t) with never-treated controls and no covariates, all four aggregations
(simple, dynamic, group, calendar) with analytic standard errors, and a 999-draw multiplier bootstrap with
uniform bands. clusterimpact runs ``att_gt(..., n_boot=999)`` then
``aggte(type)`` for the four types (the aggregations reuse the ATT(g,t) draws of the
basis functions: one pass over the data). csdid 0.4.3 (MIT, a test-only peer: ``pip install csdid``)
runs ``ATTgt(...).fit(est_method="dr", bstrap=True)`` with ``biters=999`` and ``aggte`` for the four types.

Data: a balanced panel of N firms x 15 years (2008-2022), cohorts 2010-2022 (13 cohorts, 60 % of firms
treated) and never-treated firms, outcome with firm and year effects plus a growing effect.

Targets on this 2-core machine: at 20,000 firms our time <= 0.1 x csdid's; at 1,000,000 firms < 60 s
with peak memory < 4 GB. Each (size, package) runs in its own subprocess so peak RSS (``ru_maxrss``,
inputs included) belongs to that case alone. CPU time is printed next to wall time (the machine is
shared; CPU time is the steadier guide).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd

TARGET_RATIO = 0.1
TARGET_BIG = {"n": 1_000_000, "seconds": 60.0, "gb": 4.0}


def make_panel(n_firms: int, n_years: int = 15, seed: int = 0) -> pd.DataFrame:
    """Balanced staggered-adoption panel with integer ids (as the peers require numbers)."""
    rng = np.random.default_rng(seed)
    years = np.arange(2008, 2008 + n_years)
    cohorts = years[2:]
    treated = rng.random(n_firms) < 0.6
    g = np.where(treated, rng.choice(cohorts, size=n_firms), 0)
    unit = np.repeat(np.arange(1, n_firms + 1), n_years)
    year = np.tile(years, n_firms)
    gg = np.repeat(g, n_years)
    a = np.repeat(rng.normal(size=n_firms), n_years)
    eff = np.where((gg > 0) & (year >= gg), 0.05 + 0.01 * (year - gg), 0.0)
    y = a + 0.02 * (year - years[0]) + eff + rng.normal(scale=0.3, size=unit.size)
    return pd.DataFrame({"firm_id": unit, "year": year, "treat_year": gg, "y": y})


def run_ours(df: pd.DataFrame) -> dict[str, float]:
    from clusterimpact.estimation.staggered import aggte, att_gt

    t0, c0 = time.perf_counter(), time.process_time()
    res = att_gt(df, "y", n_boot=999, seed=1)
    out = {"simple": float("nan")}
    for ty in ("simple", "dynamic", "group", "calendar"):
        agg = aggte(res, ty)
        out[ty] = float(agg.params[ty])
        _ = agg.analytic_std_errors  # analytic SEs are computed too
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall": wall, "cpu": cpu, "cells": float(len(res.params)), **out}


def run_csdid(df: pd.DataFrame) -> dict[str, float]:
    from csdid.att_gt import ATTgt

    warnings.simplefilter("ignore")
    t0, c0 = time.perf_counter(), time.process_time()
    m = ATTgt(
        yname="y", gname="treat_year", idname="firm_id", tname="year", data=df, biters=999
    ).fit(est_method="dr", bstrap=True)
    out = {}
    for ty in ("simple", "dynamic", "group", "calendar"):
        m.aggte(typec=ty, bstrap=True, biters=999)
        r = m.atte if hasattr(m, "atte") else None
        out[ty] = float(r["overall_att"]) if isinstance(r, dict) and "overall_att" in r else np.nan
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall": wall, "cpu": cpu, **out}


def _case(n: int, which: str) -> None:
    # import before timing: the timings measure estimation, not module loading
    if which == "ours":
        import clusterimpact.estimation.staggered  # noqa: F401
    else:
        import csdid.att_gt  # noqa: F401
    df = make_panel(n)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = run_ours(df) if which == "ours" else run_csdid(df)
    out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    out["input_peak_gb"] = rss0 / 1024**2
    print(json.dumps(out))


def _sub(n: int, which: str) -> dict[str, float] | None:
    p = subprocess.run(
        [sys.executable, __file__, "--case", str(n), which], capture_output=True, text=True
    )
    if p.returncode != 0:
        print(f"  {which} at n={n} failed:\n{p.stderr[-2000:]}")
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--sizes", default=None, help="comma-separated firm counts")
    ap.add_argument("--no-peer", action="store_true", help="skip csdid")
    ap.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        _case(int(args.case[0]), args.case[1])
        return 0
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [2_000, 20_000] if args.quick else [20_000, 1_000_000]
    try:
        import csdid  # noqa: F401

        have_peer = not args.no_peer
    except ImportError:
        have_peer = False
        print("csdid not installed (pip install csdid): peer timings skipped")
    print(f"{'firms':>10} {'pkg':>7} {'wall s':>8} {'cpu s':>8} {'peak GB':>8}  simple")
    status = 0
    for n in sizes:
        ours = _sub(n, "ours")
        if ours:
            print(
                f"{n:>10,} {'ours':>7} {ours['wall']:8.2f} {ours['cpu']:8.2f} "
                f"{ours['peak_gb']:8.2f}  {ours['simple']:.5f}  ({int(ours['cells'])} cells)"
            )
        peer = None
        if have_peer and n <= 50_000:
            peer = _sub(n, "csdid")
            if peer:
                print(
                    f"{n:>10,} {'csdid':>7} {peer['wall']:8.2f} {peer['cpu']:8.2f} "
                    f"{peer['peak_gb']:8.2f}  {peer['simple']:.5f}"
                )
        if ours and peer:
            ratio = ours["wall"] / peer["wall"]
            ok = ratio <= TARGET_RATIO
            print(f"{'':>10} ratio ours/csdid = {ratio:.3f} (target <= {TARGET_RATIO}): "
                  f"{'OK' if ok else 'MISSED'}")  # fmt: skip
            status = status or (0 if ok or args.quick else 1)
        if ours and n >= TARGET_BIG["n"]:
            ok = ours["wall"] < TARGET_BIG["seconds"] and ours["peak_gb"] < TARGET_BIG["gb"]
            print(f"{'':>10} target {TARGET_BIG['seconds']:.0f} s / {TARGET_BIG['gb']:.0f} GB: "
                  f"{'OK' if ok else 'MISSED'}")  # fmt: skip
    return status


if __name__ == "__main__":
    raise SystemExit(main())
