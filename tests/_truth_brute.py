"""Brute-force estimands from the simulated firm-year effects (the tests' independent check).

Plain Python loops over the latent firm-years, written from each estimator's definition (see
``clusterimpact.synthetic._estimands`` for the wording), sharing no code with the package: firms are
collected into dictionaries, cells and bins are summed by hand. Every value is a triple (effect on log
TFP, effect on log labour productivity, number of firm-years, cells or firms behind it, as the package
counts them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import pandas as pd

Pair = tuple[float, float]
Triple = tuple[float, float, int]


def _mean(pairs: list[Pair]) -> Triple:
    n = len(pairs)
    return (sum(p[0] for p in pairs) / n, sum(p[1] for p in pairs) / n, n)


def _wmean(values: list[Triple], weights: list[float], n: int) -> Triple:
    s = sum(weights)
    return (
        sum(w * v[0] for v, w in zip(values, weights, strict=True)) / s,
        sum(w * v[1] for v, w in zip(values, weights, strict=True)) / s,
        n,
    )


def _pairs(values: list[Triple]) -> list[Pair]:
    return [(v[0], v[1]) for v in values]


def _in_bin(m: int, label: str) -> bool:
    if label.endswith("+"):
        return m >= int(label[:-1])
    return m == int(label)


def firm_records(latent: pd.DataFrame) -> dict[str, dict]:
    """firm_id -> {"g", "cluster", "years": {year: (member, member_years, tau, dlp)}} for members."""
    firms: dict[str, dict] = {}
    cols = ["firm_id", "year", "treat_year", "cluster", "member", "member_years", "effect"]
    dlp = (latent["ln_lp"] - latent["ln_lp0"]).tolist()
    for rec, d in zip(latent[cols].itertuples(index=False), dlp, strict=True):
        if int(rec.treat_year) <= 0:
            continue
        f = firms.setdefault(
            str(rec.firm_id), {"g": int(rec.treat_year), "cluster": rec.cluster, "years": {}}
        )
        f["years"][int(rec.year)] = (int(rec.member), int(rec.member_years), float(rec.effect), d)
    return firms


def brute_estimands(
    latent: pd.DataFrame,
    window: tuple[int, int] = (-5, 5),
    bins: Sequence[str] = ("1", "2", "3", "4", "5+"),
) -> tuple[dict[str, Triple], dict[str, Triple]]:
    """Every estimand by name, and each member's mean effect over event times 0..window[1]."""
    hi = window[1]
    firms = firm_records(latent)
    size: dict[int, int] = defaultdict(int)
    cells: dict[tuple[int, int], list[Pair]] = defaultdict(list)
    sa: dict[int, list[Pair]] = defaultdict(list)
    imp: dict[int, list[Pair]] = defaultdict(list)
    clus: dict[str, list[Pair]] = defaultdict(list)
    dur: dict[str, list[tuple[int, Pair]]] = defaultdict(list)
    treated, member = [], []
    per_firm: dict[str, Triple] = {}
    for fid, f in firms.items():
        g = f["g"]
        size[g] += 1
        pre_obs = min(f["years"]) < g
        has_base = (g - 1) in f["years"]
        window_pairs = []
        for t, (mem, m, tau, d) in f["years"].items():
            e = t - g
            if mem == 1:
                member.append((tau, d))
                if pre_obs:
                    for b in bins:
                        if _in_bin(m, b):
                            dur[b].append((m, (tau, d)))
            if e < 0:
                continue
            treated.append((tau, d))
            if has_base:
                cells[(g, t)].append((tau, d))
                if e <= hi:
                    window_pairs.append((tau, d))
            if e <= hi:
                sa[e].append((tau, d))
            if pre_obs:
                imp[e].append((tau, d))
                clus[str(f["cluster"])].append((tau, d))
        if window_pairs:
            per_firm[fid] = _mean(window_pairs)
    out: dict[str, Triple] = {}
    cm = {k: _mean(v) for k, v in cells.items()}
    keys = sorted(cm)

    def cs_avg(ks: list[tuple[int, int]]) -> Triple:
        return _wmean([cm[k] for k in ks], [size[k[0]] for k in ks], sum(cm[k][2] for k in ks))

    out["cs:simple"] = cs_avg(keys)
    for e in sorted({t - g for g, t in keys}):
        out[f"cs:dynamic:{e}"] = cs_avg([k for k in keys if k[1] - k[0] == e])
    dyn = [out[f"cs:dynamic:{e}"] for e in range(hi + 1) if f"cs:dynamic:{e}" in out]
    out["cs:dynamic"] = _mean(_pairs(dyn))
    groups = sorted({g for g, _ in keys})
    for g in groups:
        out[f"cs:group:{g}"] = _mean(_pairs([cm[k] for k in keys if k[0] == g]))
    out["cs:group"] = _wmean(
        [out[f"cs:group:{g}"] for g in groups], [size[g] for g in groups], len(groups)
    )
    years = sorted({t for _, t in keys})
    for t in years:
        out[f"cs:calendar:{t}"] = cs_avg([k for k in keys if k[1] == t])
    out["cs:calendar"] = _mean(_pairs([out[f"cs:calendar:{t}"] for t in years]))
    out["sa:simple"] = _mean([p for v in sa.values() for p in v])
    for e, v in sa.items():
        out[f"sa:dynamic:{e}"] = _mean(v)
    out["imputation:simple"] = _mean([p for v in imp.values() for p in v])
    for e, v in imp.items():
        out[f"imputation:dynamic:{e}"] = _mean(v)
    for c, v in clus.items():
        out[f"imputation:cluster:{c}"] = _mean(v)
    xs, ys = [], []
    for b in bins:
        out[f"duration:member_years::{b}"] = _mean([p for _, p in dur[b]])
        xs.append(sum(m for m, _ in dur[b]) / len(dur[b]))
        ys.append(out[f"duration:member_years::{b}"])
    out["duration:average"] = _mean([p for b in bins for _, p in dur[b]])
    # OLS slope of the bin means on the bins' mean duration: cov(x, y) / var(x)
    xbar = sum(xs) / len(xs)
    sxx = sum((x - xbar) ** 2 for x in xs)
    slope = [
        sum(
            (x - xbar) * (y[j] - sum(v[j] for v in ys) / len(ys))
            for x, y in zip(xs, ys, strict=True)
        )
        / sxx
        for j in (0, 1)
    ]
    out["duration:slope"] = (slope[0], slope[1], out["duration:average"][2])
    out["twfe:treated"] = _mean(treated)
    out["twfe:member"] = _mean(member)
    out["matched_did:ATT"] = _mean(_pairs(list(per_firm.values())))
    assert all(math.isfinite(v[0]) and math.isfinite(v[1]) for v in out.values())
    return out, per_firm
