"""Benchmark the synthetic generator: time and peak memory at 1e5, 1e6 and 5e6 firm-years.

Usage: ``python benchmarks/bench_synthetic.py [--quick] [--sizes 100000,1000000] [--write]``.

Each size runs in its own subprocess so the peak resident memory (``ru_maxrss``) belongs to that size
alone. The number of firms is chosen from the target number of firm-years (about 9.9 observed years per
firm over 2008-2023). Reported per size: ``simulate()`` wall and CPU time, peak RSS of the process, the
increase of the peak over the RSS after imports, and the ratio to a floor: drawing the same number of
standard normals as the model uses (16 years x 12 draws per firm), the pure random-number cost with no
economics. With ``--write`` the time to write the files is reported too. The generator is vectorised
across firms and loops over years only, in fixed chunks of 50,000 firms, so memory grows with the
output, not with the chunking; 1e7 firm-years run in the same way (``--sizes 10000000``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

YEARS_PER_FIRM = 9.9


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(firm_years: int, write: bool) -> dict[str, float]:
    """Time one size in this process (called in a subprocess)."""
    import numpy as np

    from clusterimpact.synthetic import simulate

    n_firms = max(100, round(firm_years / YEARS_PER_FIRM))
    simulate("ecoom", seed=1, n_firms=200)  # warm up imports and caches
    base = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    sim = simulate("ecoom", seed=1, n_firms=n_firms)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _rss_mb()
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(16):
        for _ in range(12):
            rng.standard_normal(n_firms)
    floor = time.perf_counter() - t0
    out = {
        "firm_years": len(sim.accounts),
        "n_firms": n_firms,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
        "peak_increase_mb": peak - base,
        "floor_s": floor,
        "members": sim.truth["sample"]["members"],
    }
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            sim.write(tmp)
            out["write_s"] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (1e4, 1e5)")
    ap.add_argument("--sizes", default=None, help="comma-separated firm-year counts")
    ap.add_argument("--write", action="store_true", help="also time writing the files")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.write)))
        return 0
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    else:
        sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000, 5_000_000]
    print(
        f"{'firm-years':>11} {'firms':>9} {'wall s':>8} {'cpu s':>8} {'peak MB':>9} "
        f"{'+MB':>8} {'floor s':>8} {'ratio':>7}" + (f" {'write s':>8}" if args.write else "")
    )
    for n in sizes:
        cmd = [sys.executable, __file__, "--one", str(n)] + (["--write"] if args.write else [])
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        ratio = res["wall_s"] / max(res["floor_s"], 1e-9)
        line = (
            f"{res['firm_years']:>11,} {res['n_firms']:>9,} {res['wall_s']:>8.2f} {res['cpu_s']:>8.2f} "
            f"{res['peak_rss_mb']:>9.0f} {res['peak_increase_mb']:>8.0f} {res['floor_s']:>8.3f} "
            f"{ratio:>7.1f}"
        )
        if args.write:
            line += f" {res['write_s']:>8.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
