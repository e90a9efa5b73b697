"""Random firm-year panels and fixed-effect specifications for the property tests against pyfixest.

Every draw comes from a seeded ``numpy.random.Generator``; a failing case is reproduced from its seed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from _asserts import assert_close as _assert_close

# fixed effects the specs draw from: nested in the firm (sector), crossed with it (region: some firms
# move; grp: varies by row), and interactions (a^b)
FE_POOL = (
    "firm_id",
    "year",
    "sector",
    "region",
    "grp",
    "sector^year",
    "region^year",
    "grp^year",
    "firm_id^grp",
)


def random_panel(rng: np.random.Generator, *, n_firms: tuple[int, int] = (25, 80)) -> pd.DataFrame:
    """An unbalanced firm-year panel with staggered membership, movers and row-level groups.

    Columns: ``firm_id`` (int), ``year``, ``sector`` (firm-level), ``region`` (firm-level, a share of
    firms move once), ``grp`` (varies by row), ``treat_year`` (0 = never), ``member``, ``member_years``,
    ``x1``, ``x2``, ``w`` (positive weights) and the outcome ``y``. Random row deletion leaves some
    firms with a single row (singletons).
    """
    nf = int(rng.integers(*n_firms))
    T = int(rng.integers(4, 9))
    firm = np.repeat(np.arange(nf), T)
    year = np.tile(np.arange(2010, 2010 + T), nf)
    sector = rng.integers(0, int(rng.integers(2, 6)), nf)[firm]
    r0 = rng.integers(0, 5, nf)
    moves = rng.random(nf) < 0.3
    region = np.where(moves[firm] & (year > 2010 + T // 2), (r0[firm] + 1) % 5, r0[firm])
    grp = rng.integers(0, int(rng.integers(2, 7)), len(firm))
    cohort = rng.choice(np.r_[0, 0, np.arange(2011, 2010 + T)], size=nf)[firm]
    member = ((cohort > 0) & (year >= cohort)).astype(np.int64)
    member_years = np.where(member == 1, year - cohort + 1, 0)
    keep = rng.random(len(firm)) > rng.uniform(0.0, 0.35)
    df = pd.DataFrame(
        {
            "firm_id": firm,
            "year": year,
            "sector": sector,
            "region": region,
            "grp": grp,
            "treat_year": cohort,
            "member": member,
            "member_years": member_years,
        }
    ).loc[keep]
    df = df.reset_index(drop=True)
    n = len(df)
    df["x1"] = rng.normal(size=n) + 0.3 * df["sector"]
    df["x2"] = rng.normal(size=n) + 0.1 * (df["year"] - 2010)
    df["w"] = rng.uniform(0.2, 3.0, n)
    firm_eff = rng.normal(size=nf)[df["firm_id"].to_numpy()]
    df["y"] = (
        df["x1"]
        - 0.5 * df["x2"]
        + 0.1 * df["member_years"]
        + firm_eff
        + 0.2 * df["region"]
        + 0.1 * df["grp"]
        + rng.normal(size=n)
    )
    return df


def random_fes(rng: np.random.Generator, *, k: tuple[int, int] = (2, 5)) -> list[str]:
    """Two to four distinct fixed effects from :data:`FE_POOL`."""
    n = int(rng.integers(*k))
    return [str(s) for s in rng.choice(FE_POOL, size=n, replace=False)]


@dataclass(frozen=True)
class VcovCase:
    """One covariance type: our ``feols`` arguments and pyfixest's."""

    ours: str
    cluster: str | list[str] | None
    pf: str | dict[str, str]
    pf_kwargs: dict[str, object] | None = None


def vcov_cases(df: pd.DataFrame) -> list[VcovCase]:
    """Every covariance type ``feols`` exposes, with the pyfixest call that computes the same."""
    panel = {"time_id": "year", "panel_id": "firm_id", "lag": 2}
    return [
        VcovCase("iid", None, "iid"),
        VcovCase("hetero", None, "hetero"),
        VcovCase("cluster", "firm_id", {"CRV1": "firm_id"}),
        VcovCase("cluster", "region", {"CRV1": "region"}),
        VcovCase("twoway", ["firm_id", "year"], {"CRV1": "firm_id+year"}),
        VcovCase("driscoll_kraay", None, "DK", panel),
    ]


def pf_fit(fml: str, df: pd.DataFrame, vcov: object, **kw: object):
    """pyfixest at a tight demeaning tolerance, its warnings silenced."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, df, vcov=vcov, fixef_tol=1e-14, **kw)


def assert_close(
    actual, expected, rel: float = 0.0, what: object = "", *, floor=None, abs=0.0, msg=""
) -> None:
    """``|a - e| <= rel |e| + rel max|e|``: relative, with an absolute floor scaled to the fit
    (``tests/_asserts.assert_close`` with ``floor = rel`` unless given, so the tolerance audit sees it)."""
    if floor is None:
        _assert_close(actual, expected, rel=rel, floor=rel, abs=abs, msg=msg or what)
    else:
        _assert_close(actual, expected, rel=rel, floor=floor, abs=abs, msg=msg or what)
