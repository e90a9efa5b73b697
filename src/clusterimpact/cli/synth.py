"""``clusterimpact synth``: write a synthetic data set with known truth.

``clusterimpact synth --scenario ecoom --seed 1 --out data/synthetic`` writes
``synthetic.accounts.csv.gz``, ``synthetic.registry.csv``, ``synthetic.deflators.csv`` and
``synthetic.truth.json`` (bit-identical for the same seed and options). With ``--format parquet`` the
accounts go to a folder of Parquet files ``synthetic.accounts/part-*.parquet`` written chunk by chunk
(memory bounded by one chunk of firms: EU-scale panels for the Dask back end).
"""

from __future__ import annotations

import argparse
from typing import Any

from clusterimpact.synthetic import SCENARIOS


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``synth`` subcommand."""
    p = sub.add_parser(
        "synth",
        help="write a synthetic accounts file, registry, deflators and *.truth.json",
        description="Simulate Flemish firms and cluster membership with known truth "
        "(see clusterimpact.synthetic).",
    )
    p.add_argument(
        "--scenario", choices=SCENARIOS, default="ecoom", help="scenario (default ecoom)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument(
        "--n-firms", dest="n_firms", type=int, default=15_000, help="firms (default 15000)"
    )
    p.add_argument("--start-year", dest="start_year", type=int, default=2008)
    p.add_argument("--end-year", dest="end_year", type=int, default=2023)
    p.add_argument("--dirty", action="store_true", help="add realistic data faults (csv only)")
    p.add_argument(
        "--format",
        dest="file_format",
        choices=("csv", "parquet"),
        default="csv",
        help="csv (default: one gzipped accounts file) or parquet (a folder of files, written "
        "chunk by chunk without holding the panel in memory)",
    )
    p.add_argument(
        "--firms-per-file",
        dest="firms_per_file",
        type=int,
        default=None,
        help="parquet: firms per accounts file (default and maximum 50000)",
    )
    p.add_argument("--name", default="synthetic", help="file name stem (default 'synthetic')")
    p.add_argument("--json", dest="json_path", default=None, help="write a JSON summary here")
    p.set_defaults(func=_run, out_kind="folder")


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.errors import SpecError
    from clusterimpact.synthetic import simulate

    if args.file_format == "parquet":
        if args.dirty:
            raise SpecError("--dirty needs --format csv (the faults are drawn on the whole panel)")
        return _run_parquet(args)
    if args.firms_per_file is not None:
        raise SpecError("--firms-per-file needs --format parquet")
    sim = simulate(
        args.scenario,
        seed=args.seed,
        n_firms=args.n_firms,
        start_year=args.start_year,
        end_year=args.end_year,
        dirty=args.dirty,
    )
    paths = sim.write(args.out, args.name)
    extra = []
    if args.dirty:
        d = sim.truth["dirt"]["expected_exclusions"]
        extra.append("dirt: " + ", ".join(f"{k} {v}" for k, v in sorted(d.items())))
    extra += [f"wrote {p}" for p in paths.values()]
    _report(args, sim.truth, paths, {"dirty": args.dirty}, extra)
    return 0


def _report(
    args: argparse.Namespace,
    truth: dict[str, Any],
    paths: dict[str, Any],
    options: dict[str, Any],
    extra: list[str],
) -> None:
    """The summary lines (and the ``--json`` record) of a written synthetic study, either format."""
    from clusterimpact.cli._common import write_json

    sample = truth["sample"]
    lines = [
        f"scenario {args.scenario}, seed {args.seed}: {sample['firms']} firms, "
        f"{sample['firm_years']} firm-years, {sample['members']} members",
        f"true ATT on log TFP {truth['att_overall']:+.4f}, "
        f"on ln(VA/FTE) {truth['att_overall_lp']:+.4f}",
        *extra,
    ]
    print("\n".join(lines))
    if args.json_path:
        write_json(
            args.json_path,
            {
                "command": "synth",
                "scenario": args.scenario,
                "seed": args.seed,
                "options": {
                    "n_firms": args.n_firms,
                    "start_year": args.start_year,
                    "end_year": args.end_year,
                    **options,
                    "name": args.name,
                },
                "files": {k: str(v) for k, v in paths.items()},
                "sample": sample,
                "att_overall": truth["att_overall"],
                "att_overall_lp": truth["att_overall_lp"],
                "elasticities": truth["elasticities"],
            },
        )


def _run_parquet(args: argparse.Namespace) -> int:
    import json

    from clusterimpact.synthetic import write_parquet

    paths = write_parquet(
        args.out,
        args.scenario,
        seed=args.seed,
        n_firms=args.n_firms,
        start_year=args.start_year,
        end_year=args.end_year,
        firms_per_file=args.firms_per_file,
        name=args.name,
    )
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    n_files = len(list(paths["accounts"].glob("*.parquet")))
    extra = [f"wrote {paths['accounts']} ({n_files} Parquet files)"]
    extra += [f"wrote {p}" for k, p in paths.items() if k != "accounts"]
    options = {"format": "parquet", "firms_per_file": args.firms_per_file}
    _report(args, truth, paths, options, extra)
    return 0
