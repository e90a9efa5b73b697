"""Enterprise numbers, deflators, nominal accounts, registry, dirt and deterministic files."""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.presets import ACCOUNT_ROLES
from clusterimpact.synthetic._catalogue import DIVISIONS

__all__ = [
    "ACCOUNT_COLUMNS",
    "KBO_CAPACITY",
    "add_dirt",
    "kbo_ids",
    "kbo_numbers",
    "kbo_text",
    "make_deflators",
    "write_csv",
    "write_json",
]

#: Columns of the accounts file, in the order written (the roles of an accounts file).
ACCOUNT_COLUMNS: tuple[str, ...] = ACCOUNT_ROLES

# common inflation shocks (log points) on top of each sector's drift; energy and food in 2022
_COMMON = {2009: -0.02, 2010: 0.005, 2015: -0.01, 2016: -0.005, 2021: 0.02, 2022: 0.06, 2023: 0.02}
_SECTOR_SHOCK = {("35", 2022): 0.25, ("35", 2023): -0.10, ("10", 2022): 0.05, ("11", 2022): 0.04}


#: How many distinct enterprise numbers :func:`kbo_ids` can draw (bases 2,000,000 to 8,999,999).
KBO_CAPACITY = 7_000_000


def kbo_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid Belgian enterprise numbers as int64 (the draws of :func:`kbo_ids`)."""
    if n > KBO_CAPACITY:
        raise ValueError(f"at most {KBO_CAPACITY} distinct enterprise numbers, asked for {n}")
    out = np.zeros(0, dtype=np.int64)
    while len(out) < n:
        draw = rng.integers(2_000_000, 9_000_000, size=int(1.1 * (n - len(out))) + 16)
        both = np.concatenate([out, draw])
        _, first = np.unique(both, return_index=True)
        out = both[np.sort(first)]
    base = out[:n]
    number: np.ndarray = base * 100 + (97 - base % 97)  # eight digits, then the two check digits
    return number


def kbo_text(numbers: np.ndarray) -> np.ndarray:
    """Enterprise numbers as 10-character strings with the leading 0 (object array)."""
    text = pd.Series(np.asarray(numbers, dtype=np.int64)).astype(str).str.zfill(10)
    return text.to_numpy(dtype=object)


def kbo_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid Belgian enterprise numbers (10 digits, leading 0, mod-97 check)."""
    return kbo_text(kbo_numbers(rng, n))


def break_kbo(ids: np.ndarray) -> np.ndarray:
    """The same numbers with wrong check digits (so they fail the mod-97 check)."""
    out = []
    for s in ids:
        c = int(s[8:])
        out.append(f"{s[:8]}{c % 97 + 1:02d}")
    return np.array(out, dtype=object)


def make_deflators(
    rng: np.random.Generator, start_year: int, end_year: int, base_year: int, sd: float
) -> pd.DataFrame:
    """Sector (NACE division) x year price index, 1.0 in ``base_year`` (or the first year)."""
    years = np.arange(start_year, end_year + 1)
    base = base_year if start_year <= base_year <= end_year else start_year
    frames = []
    for div, (_, _, drift) in DIVISIONS.items():
        infl = drift + sd * rng.standard_normal(len(years))
        infl += np.array(
            [_COMMON.get(int(y), 0.0) + _SECTOR_SHOCK.get((div, int(y)), 0.0) for y in years]
        )
        infl[0] = 0.0
        lp = np.cumsum(infl)
        lp -= lp[years == base][0]
        frames.append(
            pd.DataFrame({"sector": div, "year": years, "deflator": np.round(np.exp(lp), 6)})
        )
    out = pd.concat(frames, ignore_index=True)
    out["sector"] = out["sector"].astype(str)
    return out


def add_dirt(
    accounts: pd.DataFrame,
    registry: pd.DataFrame,
    rng: np.random.Generator,
    new_ids: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Realistic faults on disjoint rows; returns dirty accounts, registry, the dirt log and counts.

    Faults: whole firms with a bad enterprise number (accounts and registry), missing value added,
    employment, capital or materials, value added <= 0, employment = 0, exact duplicate rows, and
    registry entries whose firm files no accounts.
    """
    acc = accounts.copy()
    reg = registry.copy()
    n = len(acc)
    firms = acc["firm_id"].unique()
    n_bad = max(1, round(0.004 * len(firms)))
    bad_firms = rng.choice(firms, size=n_bad, replace=False)
    bad_rows = acc["firm_id"].isin(bad_firms).to_numpy()
    broken = dict(zip(bad_firms, break_kbo(np.asarray(bad_firms)), strict=True))
    free = np.flatnonzero(~bad_rows)
    perm = rng.permutation(free)
    sizes = {
        "missing_va": round(0.002 * n),
        "missing_emp": round(0.002 * n),
        "nonpositive_va": round(0.003 * n),
        "nonpositive_emp": round(0.001 * n),
        "missing_capital": round(0.003 * n),
        "missing_materials": round(0.002 * n),
        "duplicate": round(0.003 * n),
    }
    picks: dict[str, np.ndarray] = {}
    at = 0
    for kind, k in sizes.items():
        picks[kind] = np.sort(perm[at : at + max(k, 1)])
        at += max(k, 1)
    cols = {c: acc.columns.get_loc(c) for c in acc.columns}
    va = acc["va"].to_numpy(dtype=float).copy()
    emp = acc["emp"].to_numpy(dtype=float).copy()
    cap = acc["capital"].to_numpy(dtype=float).copy()
    mat = acc["materials"].to_numpy(dtype=float).copy()
    va[picks["missing_va"]] = np.nan
    emp[picks["missing_emp"]] = np.nan
    cap[picks["missing_capital"]] = np.nan
    mat[picks["missing_materials"]] = np.nan
    npv = picks["nonpositive_va"]
    shrink = rng.uniform(0.02, 0.5, size=len(npv))
    zero = rng.random(len(npv)) < 0.2
    va[npv] = np.where(zero, 0.0, -np.round(np.abs(va[npv]) * shrink, 1))
    emp[picks["nonpositive_emp"]] = 0.0
    acc["va"], acc["emp"], acc["capital"], acc["materials"] = va, emp, cap, mat
    del cols
    acc["firm_id"] = acc["firm_id"].map(lambda s: broken.get(s, s)).astype(str)
    reg["firm_id"] = reg["firm_id"].map(lambda s: broken.get(s, s)).astype(str)
    dup = acc.iloc[picks["duplicate"]]
    acc = pd.concat([acc, dup], ignore_index=True)
    acc = acc.sort_values(["firm_id", "year"], kind="stable").reset_index(drop=True)
    # members that file no accounts (e.g. foreign or non-profit members)
    extra = pd.DataFrame(
        {
            "firm_id": list(new_ids),
            "cluster": ["Catalisti", "VIL", "Medvia"][: len(new_ids)],
            "join_date": ["2018-03-01", "2019-06-15", "2020-01-20"][: len(new_ids)],
            "exit_date": [None] * len(new_ids),
        }
    )
    reg = pd.concat([reg, extra], ignore_index=True)
    reg = reg.sort_values(["firm_id", "cluster", "join_date"], kind="stable").reset_index(drop=True)
    log_parts = []
    src = accounts
    for kind, rows in picks.items():
        log_parts.append(
            pd.DataFrame(
                {
                    "firm_id": src["firm_id"].to_numpy()[rows],
                    "year": src["year"].to_numpy()[rows],
                    "kind": kind,
                }
            )
        )
    log_parts.append(
        pd.DataFrame(
            {
                "firm_id": [broken[f] for f in src["firm_id"].to_numpy()[bad_rows]],
                "year": src["year"].to_numpy()[bad_rows],
                "kind": "bad_id",
            }
        )
    )
    dirt_log = pd.concat(log_parts, ignore_index=True)
    counts: dict[str, Any] = {kind: int(len(rows)) for kind, rows in picks.items()}
    counts["bad_id"] = int(bad_rows.sum())
    counts["bad_id_firms"] = sorted(broken.values())
    counts["registry_without_accounts"] = sorted(map(str, new_ids))
    counts["registry_bad_id_rows"] = int(reg["firm_id"].isin(list(broken.values())).sum())
    counts["rows_clean"] = int(n)
    counts["rows_dirty"] = int(len(acc))
    counts["expected_exclusions"] = {
        "bad_id": counts["bad_id"],
        "duplicate": counts["duplicate"],
        "missing_va": counts["missing_va"],
        "missing_emp": counts["missing_emp"],
        "nonpositive_va": counts["nonpositive_va"],
        "nonpositive_emp": counts["nonpositive_emp"],
    }
    return acc, reg, dirt_log, counts


def _atomic_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(frame: pd.DataFrame, path: Path, *, compress: bool) -> Path:
    """Write CSV deterministically (``\\n`` line ends; gzip with mtime 0 and no file name).

    Arrow's writer: floats in shortest round-trip form (``88`` for 88.0), missing values blank, no
    quoting (no value of ours contains a comma or a quote).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    sink.write((",".join(map(str, frame.columns)) + "\n").encode("utf-8"))
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    data = sink.getvalue()
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
            gz.write(data)
        data = buf.getvalue()
    _atomic_bytes(path, data)
    return path


def write_json(obj: dict[str, Any], path: Path) -> Path:
    """Write JSON with sorted keys, 1-space indent and a final newline."""
    text = json.dumps(obj, sort_keys=True, indent=1, allow_nan=False) + "\n"
    _atomic_bytes(path, text.encode("utf-8"))
    return path
