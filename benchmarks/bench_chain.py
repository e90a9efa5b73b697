"""Benchmark the whole-chain bootstrap (clusterimpact.chain.chain_bootstrap).

Target (issue #14): at the default study size (``data/synthetic/``: 15,000 firms, about 148,000
firm-years) 200 chain replications (ACF -> ln TFP -> matching -> CS simple/dynamic, duration, matched
DiD) in under 5 minutes on 2 cores.

The machine is shared, so the script runs only a few replications in one worker process and
extrapolates: CPU seconds per replication (the CPU time between consecutive progress callbacks, so the
full-sample pass is not counted in it) x 200 / 2 workers, plus the full-sample pass (run once, before
the replications). The floor it is compared with is one full-sample pass of the same chain (the
multi-start ACF search and every estimator with its plug-in SEs). ``--cold N`` also times N
replications without the warm start (the multi-start search in every replication), the cost the warm
start saves. ``--n-jobs 2`` also runs the same replications in two worker processes (wall time, CPU
including the workers, and whether the draws equal the one-process run's).

Usage::

    python benchmarks/bench_chain.py [--quick] [--reps 4] [--cold 1] [--n-jobs 1] [--target-reps 200]
        [--no-fixed-tfp]

``--quick`` simulates 2,000 firms in memory instead of reading the default data.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYNTH = REPO / "data" / "synthetic"


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="2,000 simulated firms, 3 replications")
    p.add_argument(
        "--no-fixed-tfp",
        dest="fixed_tfp",
        action="store_false",
        help="without the fixed-TFP bootstrap beside the chain (default: with it, as the report)",
    )
    p.add_argument("--reps", type=int, default=4, help="replications measured (>= 3)")
    p.add_argument("--cold", type=int, default=1, help="replications without warm start (0: skip)")
    p.add_argument("--n-jobs", type=int, default=1, help="worker processes for the measured run")
    p.add_argument("--target-reps", type=int, default=200, help="replications extrapolated to")
    p.add_argument("--cores", type=int, default=2, help="cores extrapolated to")
    return p.parse_args()


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (bootstrap workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_panel(quick: bool):
    from clusterimpact import PanelSpec, build_panel, simulate

    if quick or not (SYNTH / "synthetic.accounts.csv.gz").exists():
        sd = simulate("ecoom", seed=1, n_firms=2000 if quick else 15000)
        return build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators), "simulated"
    panel = build_panel(
        SYNTH / "synthetic.accounts.csv.gz",
        SYNTH / "synthetic.registry.csv",
        PanelSpec(),
        SYNTH / "synthetic.deflators.csv",
    )
    return panel, "data/synthetic"


FIXED_TFP = True  # --no-fixed-tfp: leave out the fixed-TFP bootstrap (the cost it adds)


def timed_run(panel, reps: int, n_jobs: int, warm: bool) -> tuple[object, list[float], float]:
    """Run the chain; CPU time at each progress callback, and the wall time."""
    from clusterimpact.chain import chain_bootstrap

    marks: list[float] = []
    t0 = time.perf_counter()
    res = chain_bootstrap(
        panel,
        reps=reps,
        seed=1,
        n_jobs=n_jobs,
        warm_start=warm,
        fixed_tfp=FIXED_TFP,
        progress=lambda done, total: marks.append(cpu_s()),
    )
    return res, marks, time.perf_counter() - t0


def main() -> int:
    global FIXED_TFP
    args = _args()
    FIXED_TFP = args.fixed_tfp
    reps = 3 if args.quick else max(args.reps, 3)
    warnings.simplefilter("ignore")
    c0 = cpu_s()
    panel, where = load_panel(args.quick)
    print(
        f"panel ({where}): {len(panel.data):,} firm-years, {panel.data['firm_id'].nunique():,} firms"
    )
    print(f"  built in {cpu_s() - c0:.1f} s CPU")

    c1 = cpu_s()
    res, marks, wall = timed_run(panel, reps, 1, warm=True)
    total = cpu_s() - c1
    per_rep = (marks[-1] - marks[0]) / (len(marks) - 1)
    full_pass = total - per_rep * reps
    est = full_pass + args.target_reps * per_rep / args.cores
    print(
        f"warm start: {reps} replications in one process: {total:.1f} s CPU ({wall:.1f} s wall), "
        f"{res.n_failed} failed"  # type: ignore[attr-defined]
    )
    print(f"  full-sample pass (floor): {full_pass:.2f} s CPU")
    print(
        f"  per replication: {per_rep:.2f} s CPU = {per_rep / full_pass:.2f} x the full-sample pass"
    )
    print(
        f"  extrapolated: {args.target_reps} replications on {args.cores} cores = "
        f"{full_pass:.1f} + {args.target_reps} x {per_rep:.2f} / {args.cores} = {est:.0f} s "
        f"({est / 60:.1f} min; target < 5 min: {'met' if est < 300 else 'NOT met'})"
    )
    if args.n_jobs > 1:
        c3 = cpu_s()
        par, _, pwall = timed_run(panel, reps, args.n_jobs, warm=True)
        same = par.draws.equals(res.draws)  # type: ignore[attr-defined]
        print(
            f"n_jobs={args.n_jobs}: {reps} replications {pwall:.1f} s wall, {cpu_s() - c3:.1f} s CPU "
            f"(workers included); draws identical to one process: {same}"
        )
    if args.cold:
        c2 = cpu_s()
        _, cmarks, _ = timed_run(panel, max(args.cold, 1) + 1, 1, warm=False)
        cold = (cmarks[-1] - cmarks[0]) / (len(cmarks) - 1)
        print(
            f"without warm start: {cold:.2f} s CPU per replication = {cold / per_rep:.1f} x warm "
            f"({cpu_s() - c2:.1f} s CPU for the run)"
        )
    print(f"peak memory (this process): {peak_mb():.0f} MB")
    t = res.tidy()  # type: ignore[attr-defined]
    show = t[t["term"].isin(["cs:simple", "cs:dynamic", "duration:average", "matched_did:ATT"])]
    print(
        show[["term", "estimate", "plugin_std_error", "std_error", "se_ratio"]].to_string(
            index=False
        )
    )
    print("(SEs from a handful of replications: timing run, not an inference)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
