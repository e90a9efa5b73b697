"""Time `make report` end to end (the same command, in a fresh process) and each of its steps.

Usage: ``python benchmarks/bench_report.py [--quick] [--spec study.toml] [--keep DIR]``.

Runs ``python -m clusterimpact report --out <tmp>`` (the default study on ``data/synthetic/``, the
bootstraps at their default sizes) and prints the wall time of the whole command (imports included),
its peak memory, and every step's time from the report's ``timings.json``, slowest first. The target
is under 3 minutes on the 2-core reference machine (printed as a ratio to 180 s). There is no peer
package for this: the reference is the target. ``--quick`` runs a 2,000-firm simulated study with 49
bootstrap draws instead (a smoke run, not the target).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 180.0
REPO = Path(__file__).resolve().parents[1]

QUICK_SPEC = """
title = "Quick benchmark study"
[data]
source = "simulate"
n_firms = 2000
[bootstrap]
did_draws = 49
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small simulated study (smoke run)")
    ap.add_argument("--spec", default=None, help="study spec to time instead of the default")
    ap.add_argument("--keep", default=None, help="write the report here and keep it")
    args = ap.parse_args()
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    cmd = [sys.executable, "-m", "clusterimpact", "report", "--out", str(out), "--quiet"]
    spec = args.spec
    if args.quick and spec is None:
        spec = str(out.parent / f"{out.name}-quick.toml")
        Path(spec).write_text(QUICK_SPEC, encoding="utf-8")
    if spec:
        cmd += ["--spec", spec]
    env = dict(os.environ, MPLBACKEND="Agg")
    print(f"command: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode not in (0, 1):
        print(proc.stderr[-3000:])
        return proc.returncode
    timings = json.loads((out / "timings.json").read_text())
    steps = sorted(timings["steps"], key=lambda s: -s["seconds"])
    print(f"\n{'step':<15}{'status':<15}{'seconds':>9}{'firms':>9}")
    for s in steps:
        firms = f"{s['firms']:,}" if s["firms"] is not None else "-"
        print(f"{s['name']:<15}{s['status']:<15}{s['seconds']:9.1f}{firms:>9}")
    print(f"\nsteps total      {timings['total_seconds']:8.1f} s")
    print(f"command wall time {wall:7.1f} s (imports and writing included)")
    print(f"peak memory       {peak_mb:7.0f} MB")
    print(f"slowest step      {timings['slowest_step']}")
    label = "quick smoke run" if args.quick else "target 180 s"
    print(f"ratio to target   {wall / TARGET_SECONDS:7.2f} ({label})")
    failed = [s["name"] for s in timings["steps"] if s["status"] == "failed"]
    if failed:
        print(f"FAILED steps: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
