"""Synthetic firm-years written as partitioned Parquet, chunk by chunk (the Dask back end's input, #16).

:func:`write_parquet` runs the same simulation as :func:`clusterimpact.synthetic.simulate` (the same seed
tree, chunks of :data:`~clusterimpact.synthetic.CHUNK_FIRMS` firms, the same enterprise numbers,
deflators and registry), but writes each chunk's accounts to Parquet files as soon as it is simulated,
so memory is bounded by one chunk plus 8 bytes per firm (the enterprise numbers) plus the registry.

Relation to :func:`simulate`: the rows of all accounts files, sorted by ``(firm_id, year)``, equal
``simulate(...).accounts`` for the same arguments; the registry and deflators files are identical.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError
from clusterimpact.synthetic._output import kbo_numbers, kbo_text, make_deflators, write_csv
from clusterimpact.synthetic._output import write_json as _write_json
from clusterimpact.synthetic._params import Scenario, SynthParams

__all__ = ["parquet_files", "write_parquet"]


def parquet_files(out_dir: str | Path, name: str = "synthetic") -> dict[str, Path]:
    """Paths :func:`write_parquet` writes: the accounts folder, registry, deflators, truth.

    Examples
    --------
    >>> from clusterimpact.synthetic import parquet_files
    >>> parquet_files("eu", name="orbis")["accounts"].as_posix()
    'eu/orbis.accounts'
    """
    d = Path(out_dir)
    return {
        "accounts": d / f"{name}.accounts",
        "registry": d / f"{name}.registry.csv",
        "deflators": d / f"{name}.deflators.csv",
        "truth": d / f"{name}.truth.json",
    }


def write_parquet(
    out_dir: str | Path,
    scenario: Scenario = "ecoom",
    seed: int = 1,
    n_firms: int = 15_000,
    start_year: int = 2008,
    end_year: int = 2023,
    *,
    firms_per_file: int | None = None,
    name: str = "synthetic",
    **overrides: Any,
) -> dict[str, Path]:
    """Simulate firms chunk by chunk and write the accounts as a folder of Parquet files.

    Parameters
    ----------
    out_dir
        Output folder (created). The accounts go to ``<name>.accounts/part-00000.parquet``, ...;
        beside them ``<name>.registry.csv``, ``<name>.deflators.csv`` and ``<name>.truth.json``.
    scenario, seed, n_firms, start_year, end_year, **overrides
        As in :func:`~clusterimpact.synthetic.simulate` (``dirty`` is not offered: the faults are drawn
        on the whole panel).
    firms_per_file
        Firms per Parquet file (default and maximum :data:`~clusterimpact.synthetic.CHUNK_FIRMS`). Each
        file holds whole firms, rows sorted by ``(firm_id, year)``.
    name
        File name stem.

    Returns
    -------
    dict
        Role -> path (``accounts`` is the folder).

    Raises
    ------
    SpecError
        Invalid arguments (as :func:`simulate`), ``firms_per_file`` out of range, or an accounts folder
        that already holds files (stale parts would be read with the new ones).

    Notes
    -----
    The rows of all files sorted by ``(firm_id, year)`` equal ``simulate(...).accounts``; the registry
    and deflators equal ``simulate(...).registry`` and ``.deflators``. The truth JSON holds what is
    additive over chunks: the parameters, ``elasticities``, ``att_overall`` (and ``_lp``), ``att_gt``,
    ``event_time`` and ``sample`` counts (firm_years, firms, members), equal to :func:`simulate`'s up
    to summation order; the estimator-specific ``estimands`` need the whole latent panel and are left
    out (``truth["omitted"]`` lists them).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from clusterimpact.synthetic import write_parquet
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_parquet(tmp, n_firms=300, seed=2, firms_per_file=100)
    ...     print(len(list(paths["accounts"].glob("*.parquet"))), pd.read_parquet(paths["accounts"]).shape[1])
    3 12
    """
    from clusterimpact.synthetic import CHUNK_FIRMS, check_args

    params = check_args(scenario, seed, n_firms, start_year, end_year, overrides)
    fpf = CHUNK_FIRMS if firms_per_file is None else firms_per_file
    if (
        not isinstance(fpf, (int, np.integer))
        or isinstance(fpf, bool)
        or not 1 <= fpf <= CHUNK_FIRMS
    ):
        raise SpecError(f"firms_per_file must be an integer in 1..{CHUNK_FIRMS}, got {fpf!r}")
    paths = parquet_files(out_dir, name)
    folder = paths["accounts"]
    if folder.exists() and any(folder.iterdir()):
        raise SpecError(
            f"the accounts folder {folder} already holds files; remove it or write elsewhere"
        )
    folder.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(int(seed))
    s_defl, s_ids, _s_dirt, s_chunks = ss.spawn(4)
    n_chunks = -(-int(n_firms) // CHUNK_FIRMS)
    numbers = kbo_numbers(np.random.default_rng(s_ids), int(n_firms) + 3)[: int(n_firms)]
    deflators = make_deflators(
        np.random.default_rng(s_defl), start_year, end_year, params.base_year, params.sd_inflation
    )
    sums = _TruthSums()
    joins, leaves = _write_chunks(
        folder,
        s_chunks.spawn(n_chunks),
        numbers,
        deflators,
        params,
        (start_year, end_year),
        fpf,
        sums,
    )
    registry = _member_registry(joins, leaves, numbers, np.random.default_rng(s_ids.spawn(1)[0]))
    truth = sums.truth(params, scenario, int(seed), int(n_firms), (start_year, end_year))
    write_csv(registry, paths["registry"], compress=False)
    write_csv(deflators, paths["deflators"], compress=False)
    _write_json(truth, paths["truth"])
    return paths


def _write_chunks(
    folder: Path,
    chunk_seeds: list[np.random.SeedSequence],
    numbers: np.ndarray,
    deflators: pd.DataFrame,
    params: SynthParams,
    years: tuple[int, int],
    fpf: int,
    sums: _TruthSums,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate and write every chunk; the joins and leaves (global firm index, cluster, year)."""
    from clusterimpact.synthetic import CHUNK_FIRMS, _accounts_frame
    from clusterimpact.synthetic._engine import simulate_chunk

    join_parts, leave_parts = [], []
    offset, file_no = 0, 0
    for seed in chunk_seeds:
        n = min(CHUNK_FIRMS, len(numbers) - offset)
        ch = simulate_chunk(np.random.default_rng(seed), n, params, *years)
        ids = kbo_text(numbers[offset : offset + n])
        accounts, _, _ = _accounts_frame(ch.rows, ch.code, ch.region, ch.founded, ids, deflators)
        sums.add(ch.rows)
        # rows are sorted by firm_id now: cut them into files of ``fpf`` whole firms
        new_firm = np.r_[True, ch.rows["firm"][1:] != ch.rows["firm"][:-1]]
        file_of_row = (np.cumsum(new_firm) - 1) // fpf
        cuts = np.searchsorted(file_of_row, np.arange(1, file_of_row[-1] + 1))
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(accounts)], strict=True):
            _write_table(accounts.iloc[lo:hi], folder / f"part-{file_no:05d}.parquet")
            file_no += 1
        join_parts.append(ch.joins + np.array([offset, 0, 0]))
        leave_parts.append(ch.leaves + np.array([offset, 0, 0]))
        offset += n
        del ch, accounts
    return np.concatenate(join_parts), np.concatenate(leave_parts)


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write one Parquet file under a temporary name, then rename it (no half-written parts)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _member_registry(
    joins: np.ndarray, leaves: np.ndarray, numbers: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """:func:`simulate`'s registry, formatting only the members' enterprise numbers."""
    from clusterimpact.synthetic import _registry

    members = np.unique(joins[:, 0])
    # a monotone relabelling of the firm index keeps _registry's row order (and its date draws)
    j = np.column_stack([np.searchsorted(members, joins[:, 0]), joins[:, 1:]])
    lv = np.column_stack([np.searchsorted(members, leaves[:, 0]), leaves[:, 1:]])
    return _registry(j, lv, kbo_text(numbers[members]), rng)


class _TruthSums:
    """Cell sums of the membership effect over chunks (firms are disjoint across chunks)."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []
        self.firm_years = 0
        self.firms = 0
        self.members = 0

    def add(self, rows: dict[str, np.ndarray]) -> None:
        """Add one chunk's firm-year arrays (realised sample)."""
        self.firm_years += len(rows["year"])
        self.firms += len(np.unique(rows["firm"]))
        treated = rows["cohort"] > 0
        self.members += len(np.unique(rows["firm"][treated]))
        dlp = (rows["ln_va"] - rows["ln_emp"]) - (rows["ln_va0"] - rows["ln_emp0"])
        d = pd.DataFrame(
            {
                "firm": rows["firm"][treated],
                "cohort": rows["cohort"][treated],
                "year": rows["year"][treated],
                "effect": rows["effect"][treated],
                "dlp": dlp[treated],
            }
        )
        d["e"] = d["year"] - d["cohort"]
        g = d.groupby(["cohort", "year", "e"], sort=True)
        cells = g[["effect", "dlp"]].sum()
        cells["n"] = g.size()
        cells["n_firms"] = g["firm"].nunique()
        self.parts.append(cells.reset_index())

    def truth(
        self, params: SynthParams, scenario: str, seed: int, n_firms: int, years: tuple[int, int]
    ) -> dict[str, Any]:
        """The truth keys that add up over chunks, in :func:`simulate`'s format."""
        from clusterimpact.synthetic import CLUSTER_START
        from clusterimpact.synthetic._truth import round_floats

        allc = pd.concat(self.parts, ignore_index=True)
        gt = allc.groupby(["cohort", "year"], sort=True)[["effect", "dlp", "n"]].sum()
        ev = allc.groupby("e", sort=True)[["effect", "dlp", "n", "n_firms"]].sum()
        post = allc[allc["e"] >= 0][["effect", "dlp", "n"]].sum()
        n_post = int(post["n"])
        truth: dict[str, Any] = {
            "att_overall": float(post["effect"] / n_post) if n_post else 0.0,
            "att_overall_lp": float(post["dlp"] / n_post) if n_post else 0.0,
            "att_gt": [
                {
                    "cohort": int(r["cohort"]),
                    "year": int(r["year"]),
                    "att": r["effect"] / r["n"],
                    "att_lp": r["dlp"] / r["n"],
                    "n": int(r["n"]),
                }
                for r in gt.reset_index().to_dict("records")
            ],
            "event_time": {
                str(int(r["e"])): {
                    "att": r["effect"] / r["n"],
                    "att_lp": r["dlp"] / r["n"],
                    "n": int(r["n"]),
                    "n_firms": int(r["n_firms"]),
                }
                for r in ev.reset_index().to_dict("records")
            },
            "scenario": scenario,
            "seed": seed,
            "n_firms": n_firms,
            "start_year": years[0],
            "end_year": years[1],
            "params": params.to_dict(),
            "elasticities": {"ln_emp": params.beta_l, "ln_capital": params.beta_k},
            "rho": params.rho,
            "cluster_start": dict(CLUSTER_START),
            "sample": {
                "firm_years": self.firm_years,
                "firms": self.firms,
                "members": self.members,
            },
            "dirty": False,
            "omitted": [
                "estimands",
                "member_years",
                "member_years_bins",
                "by_cluster",
                "by_cohort",
            ],
        }
        out: dict[str, Any] = round_floats(truth)
        return out
