"""Benchmark matching: cross-sectional 1-NN on the propensity score and cohort-wise panel matching.

Usage: ``python benchmarks/bench_matching.py [--quick] [--only cross|panel]``.

1. Cross-section (issue #4 target: under 1 s): 5,000 treated against 10^6 controls, four covariates,
   20 sectors; logit propensity score, 1-NN on the logit index with replacement and a 0.2-SD caliper,
   exact on sector; also greedy 1:1 without replacement. The floor it is compared with is the bare
   minimum any implementation does: one statsmodels Logit fit plus one ``np.searchsorted`` of the treated
   scores into the sorted control scores (no cells, no caliper, no bookkeeping).
2. Panel (target: under 30 s): ``match_panel`` on the synthetic ``ecoom`` panel of about 10^6 firm-years
   (``simulate(n_firms=100_000)``), every joining cohort matched to never-members with
   ``design="trends"`` (age, 4-year means of ln_emp and ln_kl, ln_lp growth g-4..g-1), exact on
   sector, 0.2-SD caliper, with the stacked panel built and the matched DiD on ln_lp.

Cross-section times are the best of three calls (wall and CPU separately). Each part runs in its own subprocess so the peak resident memory (``ru_maxrss``) is its own. Wall time
and process CPU time are both printed: on a shared machine the CPU time is the fairer measure.
``--quick`` divides the sizes by 20.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

TARGETS = {"cross": 1.0, "panel": 30.0}


REPEAT = 3


def _best(fn: Callable[[], None]) -> tuple[float, float]:
    """Best wall and best CPU time of REPEAT calls."""
    walls, cpus = [], []
    for _ in range(REPEAT):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def cross(quick: bool) -> dict[str, float]:
    from clusterimpact.matching import match

    n_t, n_c = (250, 50_000) if quick else (5_000, 1_000_000)
    rng = np.random.default_rng(0)
    n = n_t + n_c
    d = np.r_[np.ones(n_t, np.int8), np.zeros(n_c, np.int8)]
    X = rng.normal(size=(n, 4)) + 0.5 * d[:, None]
    df = pd.DataFrame(X, columns=["x1", "x2", "x3", "x4"])
    df["d"] = d
    df["sector"] = rng.integers(0, 20, n)
    df["y"] = X.sum(axis=1) + 0.3 * d + rng.normal(size=n)
    out: dict[str, float] = {"n_treated": n_t, "n_control": n_c}
    warnings.simplefilter("ignore")
    # floor: one logit + one searchsorted (imports done before the clock starts)
    import statsmodels.api as sm

    match(
        df.iloc[max(0, n_t - 1000) : n_t + 1000], "d", ["x1"], method="nearest"
    )  # warm-up: imports

    def floor() -> None:
        Z = np.column_stack([np.ones(n), X])
        res = sm.Logit(d.astype(float), Z).fit(disp=0, method="newton")
        idx = Z @ res.params
        sc = np.sort(idx[d == 0])
        np.searchsorted(sc, idx[d == 1])

    # best of REPEAT on the shared machine (first calls also pay page faults on fresh memory)
    out["floor_s"], out["floor_cpu_s"] = _best(floor)
    for name, kw in (
        ("nn_replace_caliper_exact_s", {"replace": True, "caliper": 0.2, "exact": "sector"}),
        ("nn_greedy_caliper_exact_s", {"replace": False, "caliper": 0.2, "exact": "sector"}),
        (
            "nn_replace_caliper_exact_outcome_s",
            {"replace": True, "caliper": 0.2, "exact": "sector", "outcome": "y"},
        ),
    ):
        box: dict[str, Any] = {}

        def run(kw: dict[str, Any] = kw, box: dict[str, Any] = box) -> None:
            box["r"] = match(df, "d", ["x1", "x2", "x3", "x4"], method="nearest", **kw)

        out[name], out[name.replace("_s", "_cpu_s")] = _best(run)
        out[name.replace("_s", "_matched")] = int(box["r"].counts.loc[0, "n_matched"])
    out["ratio_vs_floor"] = out["nn_replace_caliper_exact_s"] / out["floor_s"]
    out["cpu_ratio_vs_floor"] = out["nn_replace_caliper_exact_cpu_s"] / out["floor_cpu_s"]
    out["peak_gb"] = _peak_gb()
    return out


def panel(quick: bool) -> dict[str, float]:
    from clusterimpact.matching import match_panel
    from clusterimpact.synthetic import simulate

    n_firms = 5_000 if quick else 100_000
    t0 = time.perf_counter()
    data = simulate("ecoom", seed=1, n_firms=n_firms).panel().data
    out: dict[str, float] = {"simulate_and_build_s": time.perf_counter() - t0, "rows": len(data)}
    warnings.simplefilter("ignore")
    t0, c0 = time.perf_counter(), time.process_time()
    r = match_panel(
        data, design="trends", exact="sector", method="nearest", caliper=0.2, outcome="ln_lp"
    )
    out["match_panel_s"] = time.perf_counter() - t0
    out["match_panel_cpu_s"] = time.process_time() - c0
    out["cohorts"] = int(r.balance["stack"].nunique())
    out["stacked_rows"] = 0 if r.matched_panel is None else len(r.matched_panel)
    out["max_abs_smd_pooled_after"] = float(
        r.balance.loc[(r.balance["stage"] == "after") & r.balance["stack"].isna(), "smd"]
        .abs()
        .max()
    )
    out["peak_gb"] = _peak_gb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["cross", "panel"], default=None)
    ap.add_argument("--child", choices=["cross", "panel"], default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        res = cross(a.quick) if a.child == "cross" else panel(a.quick)
        print(json.dumps(res))
        return
    for part in ("cross", "panel"):
        if a.only and part != a.only:
            continue
        cmd = [sys.executable, __file__, "--child", part] + (["--quick"] if a.quick else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{part}: failed\n{proc.stderr}")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"== {part} (target {TARGETS[part]:g} s at full size{', QUICK sizes' if a.quick else ''})"
        )
        for k, v in res.items():
            print(f"  {k:40s} {v:,.3f}" if isinstance(v, float) else f"  {k:40s} {v:,}")


if __name__ == "__main__":
    main()
