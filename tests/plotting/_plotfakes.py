"""Small fake panels and results for the plotting and table tests (no estimator needed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult, PreTrendTest, ProfileResult


def fake_panel(seed: int = 3, n_firms: int = 240) -> pd.DataFrame:
    """A FirmPanel-shaped frame: staggered joining 2013-2016, some members leave after 3 years."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2021)
    rows = []
    for i in range(n_firms):
        fid = f"F{i:04d}"
        sector = ["10", "25", "62"][i % 3]
        founded = int(rng.integers(1980, 2009))
        size = float(np.exp(rng.normal(1.5 + (0.6 if i < 80 else 0.0), 0.8)))
        prod = rng.normal(3.5 + (0.2 if i < 80 else 0.0), 0.3)
        treat = int(2013 + i % 4) if i < 80 else None
        exit_ = treat + 3 if (treat is not None and i % 5 == 0) else None
        my = 0
        for y in years:
            member = int(treat is not None and treat <= y and (exit_ is None or y < exit_))
            my += member
            emp = size * np.exp(rng.normal(0, 0.1))
            lp = prod + 0.02 * (y - 2010) + 0.05 * member + rng.normal(0, 0.1)
            va = emp * np.exp(lp)
            cap = emp * np.exp(rng.normal(3 + (0.3 if i < 80 else 0), 0.5))
            rows.append(
                {
                    "firm_id": fid,
                    "year": int(y),
                    "sector": sector,
                    "founded": founded,
                    "age": int(y - founded),
                    "va": va,
                    "emp": emp,
                    "capital": cap,
                    "ln_emp": np.log(emp),
                    "ln_lp": np.log(va / emp),
                    "ln_kl": np.log(cap / emp),
                    "treat_year": treat,
                    "member": member,
                    "member_years": my,
                    "ever_member": treat is not None,
                }
            )
    df = pd.DataFrame(rows)
    df["treat_year"] = df["treat_year"].astype("Int64")
    df["rel_year"] = (df["year"] - df["treat_year"]).astype("Int64")
    return df


@dataclass(frozen=True, kw_only=True)
class PretrendProfile(ProfileResult):
    """A profile carrying a pre-trend test (``pretrend``) with this p-value, as the staggered-DiD
    results do."""

    pretrend_pvalue: float | None = None

    @property
    def pretrend(self) -> PreTrendTest | None:
        if self.pretrend_pvalue is None:
            return None
        return PreTrendTest(
            statistic=1.0,
            df=1,
            df_denom=None,
            p_value=self.pretrend_pvalue,
            method="wald",
            terms=(),
        )


def profile_result(
    xs, est, se, *, method="cs", prefix="dynamic:", crit=None, reference=None, extra=None, **kw
) -> ProfileResult:
    terms = [f"{prefix}{x}" for x in xs]
    params = pd.Series(est, index=terms, dtype=float)
    ses = pd.Series(se, index=terms, dtype=float)
    if extra:
        for k, (e, s) in extra.items():
            params[k] = e
            ses[k] = s
    cls = PretrendProfile if "pretrend_pvalue" in kw else ProfileResult
    return cls(
        params=params,
        std_errors=ses,
        nobs=1234,
        method=method,
        provenance=make_provenance(method),
        x=pd.Series([float(str(x).rstrip("+")) for x in xs], index=terms),
        x_label=kw.pop("x_label", "Years since joining"),
        reference=reference,
        crit_value=crit,
        **kw,
    )


def estimate_result(terms, est, se, *, method="twfe", nobs=500, **kw) -> EstimateResult:
    return EstimateResult(
        params=pd.Series(est, index=terms, dtype=float),
        std_errors=pd.Series(se, index=terms, dtype=float),
        nobs=nobs,
        method=method,
        provenance=make_provenance(method),
        **kw,
    )
