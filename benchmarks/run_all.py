"""Run every benchmark script in this folder, one after the other, in one process tree.

Usage: ``python benchmarks/run_all.py [--quick]``. Each ``bench_*.py`` prints its own table (times, peak
memory, ratios against the peer package measured in the same run). ``--quick`` passes through to each
script and uses small sizes (a smoke run, not the targets).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    extra = sys.argv[1:]
    status = 0
    for script in sorted(here.glob("bench_*.py")):
        print(f"\n=== {script.name} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *extra])
        print(f"=== {script.name}: exit {rc}, {time.perf_counter() - t0:.1f} s", flush=True)
        status = status or rc
    return status


if __name__ == "__main__":
    raise SystemExit(main())
