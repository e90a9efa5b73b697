"""Benchmark the production-function estimators (clusterimpact.productivity).

Times each estimator's point estimate and a firm-block bootstrap at 10^5 and 10^6 firm-years on an
ACF-style simulated panel (Cobb-Douglas value added, AR(1) productivity, labour chosen at t-1/2 with a
wage shock and partial adjustment, capital from investment, a materials proxy), and prints times, peak
memory (process maximum resident set size) and, where a permissive peer exists, the ratio to it
(OLS: statsmodels OLS with firm-clustered SEs; FE: linearmodels PanelOLS with entity effects).
There is no permissive Python peer for OP/LP/ACF/Wooldridge.

Targets (2-core machine): ACF point estimate on 10^6 firm-years < 30 s; 50-replication bootstrap
< 10 minutes.

Usage::

    python benchmarks/bench_productivity.py [--quick] [--sizes 100000,1000000] [--reps 50]
        [--methods ols,fe,op,lp,acf,wooldridge] [--boot-methods acf] [--boot-sizes 1000000]
        [--n-jobs 2] [--threads N]

``--quick`` runs 10^4 and 10^5 firm-years with 5 replications.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes (10^4, 10^5), 5 replications")
    p.add_argument("--sizes", default="100000,1000000", help="firm-years, comma-separated")
    p.add_argument("--reps", type=int, default=50, help="bootstrap replications")
    p.add_argument("--methods", default="ols,fe,op,lp,acf,wooldridge")
    p.add_argument("--boot-methods", default=None, help="methods to bootstrap (default: all)")
    p.add_argument("--boot-sizes", default=None, help="sizes to bootstrap (default: all)")
    p.add_argument("--n-jobs", type=int, default=2, help="bootstrap worker processes")
    p.add_argument(
        "--threads", type=int, default=None, help="BLAS threads (set before numpy loads)"
    )
    p.add_argument(
        "--no-peers", action="store_true", help="skip the statsmodels/linearmodels peers"
    )
    return p.parse_args()


def simulate(n_rows: int, seed: int = 1, n_years: int = 10):
    """An ACF-style panel with about ``n_rows`` firm-years (balanced, ``n_years`` years per firm)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = max(n_rows // n_years, 10)
    bl, bk, rho, burn = 0.6, 0.3, 0.8, 15
    sr = np.sqrt(rho)
    sd_half = 0.15 / np.sqrt(1 + rho)
    omega = rng.normal(0, 0.15 / np.sqrt(1 - rho**2), n)
    kscale = rng.normal(0, 1.0, n)
    K = np.exp(kscale + 2.0)
    wage = rng.normal(0, 0.15, n)
    lnL = np.zeros(n)
    cols: dict[str, list] = {
        c: [] for c in ("year", "ln_va", "ln_emp", "ln_capital", "ln_materials", "ln_investment")
    }
    for t in range(n_years + burn):
        inv = 0.12 * np.exp(kscale + 2.0) * np.exp(1.5 * omega)
        om_half = sr * omega + rng.normal(0, sd_half, n)
        omega = sr * om_half + rng.normal(0, sd_half, n)
        K = 0.88 * K + inv
        k = np.log(K)
        wage = 0.3 * wage + rng.normal(0, 0.15, n)
        lstar = (np.log(bl) + sr * om_half + bk * k - wage) / (1 - bl)
        lnL = lstar if t == 0 else 0.6 * lstar + 0.4 * lnL
        lnL = lnL + rng.normal(0, 0.05, n)
        if t >= burn:
            cols["year"].append(np.full(n, 2000 + t - burn))
            cols["ln_va"].append(bl * lnL + bk * k + omega + rng.normal(0, 0.1, n))
            cols["ln_emp"].append(lnL)
            cols["ln_capital"].append(k)
            cols["ln_materials"].append(0.5 + 1.5 * omega + 0.8 * k)
            cols["ln_investment"].append(np.log(inv))
    firm = np.tile(np.arange(n), n_years)
    df = pd.DataFrame({"firm_id": firm, **{c: np.concatenate(v) for c, v in cols.items()}})
    return df.sort_values(["firm_id", "year"], kind="mergesort").reset_index(drop=True)


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (bootstrap workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_peer(method: str, df) -> float | None:
    import numpy as np

    t0 = time.perf_counter()
    if method == "ols":
        import statsmodels.api as sm

        X = sm.add_constant(df[["ln_emp", "ln_capital"]].to_numpy())
        sm.OLS(df["ln_va"].to_numpy(), X).fit(
            cov_type="cluster", cov_kwds={"groups": df["firm_id"].to_numpy()}
        )
    elif method == "fe":
        from linearmodels.panel import PanelOLS

        d = df.set_index(["firm_id", "year"])
        PanelOLS(d["ln_va"], d[["ln_emp", "ln_capital"]], entity_effects=True).fit(
            cov_type="clustered", cluster_entity=True
        )
    else:
        return None
    del np
    return time.perf_counter() - t0


def main() -> int:
    a = _args()
    if a.threads:
        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = str(a.threads)
    from clusterimpact.errors import EstimationWarning
    from clusterimpact.productivity import estimate_tfp

    warnings.simplefilter("ignore", EstimationWarning)
    sizes = [10_000, 100_000] if a.quick else [int(s) for s in a.sizes.split(",")]
    reps = 5 if a.quick else a.reps
    methods = a.methods.split(",")
    boot_methods = (
        methods if a.boot_methods is None else [m for m in a.boot_methods.split(",") if m]
    )
    boot_sizes = sizes if a.boot_sizes is None else [int(s) for s in a.boot_sizes.split(",") if s]
    print(
        f"clusterimpact productivity benchmark (python {sys.version.split()[0]}, "
        f"BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, n_jobs={a.n_jobs})"
    )
    print(
        f"# load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times "
        "on a shared machine; CPU seconds do not depend on the load)"
    )
    print(
        f"{'method':<11}{'rows':>10}{'point s':>10}{'cpu s':>8}{'peer s':>9}{'ratio':>8}"
        f"{'boot reps':>10}{'boot s':>10}{'cpu s':>9}{'peak MB':>9}  estimates"
    )
    for n in sizes:
        t0 = time.perf_counter()
        df = simulate(n)
        gen = time.perf_counter() - t0
        print(f"# simulated {len(df):,} firm-years in {gen:.1f} s")
        for m in methods:
            t0, c0 = time.perf_counter(), cpu_s()
            res = estimate_tfp(df, m)
            point, point_cpu = time.perf_counter() - t0, cpu_s() - c0
            peer = None if a.no_peers else time_peer(m, df)
            ratio = f"{point / peer:8.2f}" if peer else f"{'-':>8}"
            peer_s = f"{peer:9.2f}" if peer else f"{'-':>9}"
            boot_s, b_reps, boot_cpu = "-", "-", "-"
            if m in boot_methods and n in boot_sizes and reps > 0:
                t0, c0 = time.perf_counter(), cpu_s()
                estimate_tfp(df, m, bootstrap=reps, seed=1, n_jobs=a.n_jobs)
                boot_s, b_reps = f"{time.perf_counter() - t0:.1f}", str(reps)
                boot_cpu = f"{cpu_s() - c0:.1f}"
            est = ", ".join(f"{k}={v:.3f}" for k, v in res.params.items())
            print(
                f"{m:<11}{len(df):>10,}{point:>10.2f}{point_cpu:>8.1f}{peer_s}{ratio}{b_reps:>10}"
                f"{boot_s:>10}{boot_cpu:>9}{peak_mb():>9.0f}  {est}",
                flush=True,
            )
    print(
        "targets: acf point estimate at 1e6 < 30 s; 50-rep bootstrap < 600 s (truth: ln_emp=0.6, ln_capital=0.3)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
