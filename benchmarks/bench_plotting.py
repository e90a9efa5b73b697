"""Benchmark the figures and tables: time to compute, draw and save each at report size.

Usage: ``python benchmarks/bench_plotting.py [--quick] [--firms 15000]``.

Workload: the descriptive series (members vs sector, selection table) on a synthetic firm panel of the
report's default size (15,000 firms x 16 years), then every ``plot_*`` drawn and saved as PNG + PDF with
:func:`clusterimpact.plotting.save_figure`, and the three table renderers on a regression table. The
figure budget matters for ``make report`` (< 3 minutes in total, issue #7). There is no peer package:
the reference point is matplotlib's own ``savefig`` of the same figure, so the ratio shows what our
drawing and deterministic-metadata handling add. Prints wall and CPU seconds and peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _raw_save(fig, stem: Path) -> None:
    """matplotlib's own savefig of the same figure (no style context, default metadata)."""
    fig.savefig(stem.with_suffix(".png"), dpi=150)
    fig.savefig(stem.with_suffix(".pdf"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small panel (2,000 firms)")
    ap.add_argument("--firms", type=int, default=15_000)
    args = ap.parse_args()
    n = 2_000 if args.quick else args.firms

    from clusterimpact import plotting as P
    from clusterimpact import tables as T
    from clusterimpact.provenance import make_provenance
    from clusterimpact.results import ProfileResult
    from clusterimpact.synthetic import simulate

    (sd, w, c) = _timed(lambda: simulate("ecoom", seed=1, n_firms=n))
    panel = sd.panel()
    df = panel.data
    print(f"panel: {n:,} firms, {len(df):,} firm-years (simulate {w:.1f} s)")

    rows = []
    (_, w, c) = _timed(lambda: P.members_vs_sector_series(df, "va_per_fte"))
    rows.append(("members_vs_sector_series", w, c))
    (_, w, c) = _timed(lambda: P.selection_table(df))
    rows.append(("selection_table", w, c))

    xs = list(range(-5, 9))
    xs.remove(-1)
    terms = [f"dynamic:{x}" for x in xs]
    prof = ProfileResult(
        params=pd.Series(np.linspace(-0.01, 0.05, len(xs)), index=terms),
        std_errors=pd.Series(0.01, index=terms),
        nobs=len(df),
        method="cs",
        provenance=make_provenance("cs"),
        x=pd.Series([float(x) for x in xs], index=terms),
        reference=-1.0,
        crit_value=2.8,
    )
    figures = {
        "members_vs_sector": lambda: P.plot_members_vs_sector(df, "va_per_fte"),
        "selection": lambda: P.plot_selection(df),
        "event_study": lambda: P.plot_event_study({"CS": prof, "SA": prof, "Imputation": prof}),
        "truth": lambda: P.plot_truth_vs_estimate(prof, {str(x): 0.01 * x for x in xs}),
    }
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in figures.items():
            (ax, w_draw, c_draw) = _timed(make)
            (_, w_save, c_save) = _timed(partial(P.save_figure, ax, Path(tmp) / name))
            (_, w_raw, _) = _timed(partial(_raw_save, ax.figure, Path(tmp) / f"raw_{name}"))
            plt.close("all")
            rows.append((f"plot_{name} draw", w_draw, c_draw))
            rows.append(
                (
                    f"plot_{name} save png+pdf (raw savefig {w_raw:.2f} s, ratio {w_save / w_raw:.2f})",
                    w_save,
                    c_save,
                )
            )
        tab_res = {"CS": prof, "SA": prof}
        (_, w, c) = _timed(lambda: [T.regression_table(tab_res, fmt=f) for f in T.FORMATS])
        rows.append(("regression_table x3 formats", w, c))

    print(f"{'step':<80} {'wall s':>8} {'cpu s':>8}")
    for name, w, c in rows:
        print(f"{name:<80} {w:8.3f} {c:8.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MB; load average {os.getloadavg()[0]:.1f} (shared machine)")


if __name__ == "__main__":
    sys.exit(main())
