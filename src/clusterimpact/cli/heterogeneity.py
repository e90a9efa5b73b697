"""``clusterimpact heterogeneity``: subgroup effects with a joint test and adjusted p-values.

``clusterimpact heterogeneity --data P --outcome Y [--by cluster,cohort,size,age,sector,region | COL
[--bins a,b,c] [--at pre|join|fixed|cohort] [--window N]] [--comparison auto|within|pooled]
[--cohort G] [--control never|notyet] [--n-boot B] [--seed N] [--json P]``

Terms: ``<by>:<class>`` (``size:<10 FTE``, ``cohort:2017``). The JSON adds, per estimate, ``n_firms``,
``p_holm`` and ``p_romano_wolf``, and a ``tests`` list with each split's joint Wald test of equal
effects, its rule and the pooled ATT.
"""

from __future__ import annotations

import argparse
from typing import Any

from clusterimpact.cli._common import (
    add_command,
    add_level_arg,
    add_staggered_args,
    check_columns,
    check_level,
    load_data,
    panel_keys,
    split_list,
    write_json,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``heterogeneity`` subcommand."""
    p = add_command(
        sub,
        "heterogeneity",
        help="effects by subgroup (cluster, cohort, size, age, sector, region) with a joint test of "
        "equal effects and Holm / Romano-Wolf adjusted p-values",
        description="Callaway-Sant'Anna ATT by subgroup of treated firms against the same "
        "comparison firms, their joint covariance, a Wald test of equal effects and family-wise "
        "adjusted p-values. Classes are measured before joining (or are fixed traits).",
    )
    p.add_argument("--outcome", required=True, help="outcome column")
    p.add_argument(
        "--by",
        default="cluster,cohort,size,age,sector,region",
        help="comma-separated splits: cluster, cohort, size, age, sector, region or any column",
    )
    p.add_argument("--bins", default=None, help="class edges for a numeric --by column: a,b,c")
    p.add_argument("--at", choices=("pre", "join", "fixed", "cohort"), default=None)
    p.add_argument("--window", type=int, default=None, help="periods before joining averaged")
    add_staggered_args(p)
    p.add_argument(
        "--comparison",
        choices=("auto", "within", "pooled"),
        default="auto",
        help="within: each class against comparison firms of its class (auto: size, age, sector, "
        "region); pooled: every subgroup against the same comparison firms",
    )
    p.add_argument("--min-treated", dest="min_treated", type=int, default=20)
    p.add_argument("--n-boot", dest="n_boot", type=int, default=999, help="bootstrap draws")
    add_level_arg(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from clusterimpact.errors import SpecError
    from clusterimpact.estimation.heterogeneity import PRESETS, subgroup_effects

    check_level(args.level)
    by = split_list(args.by)
    if not by:
        raise SpecError("--by needs at least one split")
    bins = [float(b) for b in split_list(args.bins)] if args.bins else None
    if (bins or args.at or args.window) and len(by) != 1:
        raise SpecError("--bins, --at and --window apply to a single --by split")
    df = load_data(args.data)
    covs = split_list(args.covariates)
    class_cols = [PRESETS[b].column if b in PRESETS else b for b in by]
    check_columns(
        df,
        args.data,
        required=[args.unit, args.cohort, args.cluster, *[c for c in class_cols if c]],
        numeric=[args.time, args.outcome, *covs],
    )
    results = [
        subgroup_effects(
            df,
            args.outcome,
            b,
            bins=bins,
            at=args.at,
            window=args.window,
            **panel_keys(args),
            control=args.control,
            covariates=covs or None,
            est=args.est,
            anticipation=args.anticipation,
            allow_unbalanced=args.allow_unbalanced,
            cluster=args.cluster,
            comparison=args.comparison,
            min_treated=args.min_treated,
            n_boot=args.n_boot,
            seed=args.seed,
            level=args.level,
        )
        for b in by
    ]
    first = results[0]
    estimates: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for res in results:
        d = res.to_dict(args.level)
        estimates += d["estimates"]
        tests.append(
            {
                "by": d["by"],
                "comparison": d["comparison"],
                "rule": d["rule"],
                "equal_effects": d["equal_effects"],
                "pooled": d.get("pooled"),
                "bootstrap": d["bootstrap"],
            }
        )
    payload = {
        "command": "heterogeneity",
        "method": "cs",
        "nobs": int(first.nobs),
        "n_units": len(first.firm_ids) if first.firm_ids is not None else 0,
        "options": {
            k: getattr(args, k)
            for k in (
                "data",
                "outcome",
                "by",
                "bins",
                "at",
                "window",
                "cohort",
                "unit",
                "time",
                "control",
                "covariates",
                "est",
                "anticipation",
                "allow_unbalanced",
                "cluster",
                "comparison",
                "min_treated",
                "n_boot",
                "seed",
                "level",
            )
        },
        "estimates": estimates,
        "tests": tests,
        "warnings": list(dict.fromkeys(w for r in results for w in r.warnings)),
        "exclusions": {k: int(v) for r in results for k, v in r.exclusions.items()},
        "provenance": first.provenance.to_dict(),
    }
    if args.json_path:
        write_json(args.json_path, payload)
        print(f"heterogeneity: {len(estimates)} estimates written to {args.json_path}")
    else:
        print("\n\n".join(r.summary(args.level) for r in results))
    return 0
