"""Regenerate moderndid_medicaid.csv: moderndid's HonestDiD port on the Medicaid event study.

Run once by hand (not in the test suite: moderndid needs cvxpy and polars, and takes ~2.5 CPU minutes):

    pip install "moderndid[didhonest]==0.2.0"
    PYTHONPATH=src python tests/reference/honestdid/make_moderndid.py

betahat and sigma come from our own TWFE event study on ehec_data.csv (the same call as the test,
tests/estimation/test_honest.py::medicaid_event_study), so the comparison isolates the sensitivity step.
"""

from __future__ import annotations

from pathlib import Path

import moderndid.didhonest as md
import numpy as np
import pandas as pd

from clusterimpact.estimation.event_study import event_study

HERE = Path(__file__).parent


def coefficients() -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(HERE / "ehec_data.csv")
    d = df[(df.year < 2016) & (df.yexp2.isna() | (df.yexp2 != 2015))].copy()
    d["cohort"] = np.where(d.yexp2 == 2014, 2014, np.nan)
    es = event_study(
        d, "dins", cohort="cohort", window=(-6, 1), bin_endpoints=False, unit="stfips", time="year"
    )
    return es.params.to_numpy(), es.vcov.to_numpy()


def main() -> None:
    b, V = coefficients()
    rows = []
    calls = [
        ("rm", "e0", [0.5, 1.0, 1.5, 2.0], None),
        ("sd", "e0", [0.0, 0.01, 0.02, 0.03, 0.04, 0.05], None),
        ("rm", "average", [0.0, 0.5, 1.0, 1.5, 2.0], np.array([0.5, 0.5])),
    ]
    for restriction, target, grid, l_vec in calls:
        if restriction == "rm":
            out = md.create_sensitivity_results_rm(b, V, 5, 2, m_bar_vec=grid, l_vec=l_vec)
            bounds = out["Mbar"].to_list()
        else:
            out = md.create_sensitivity_results_sm(b, V, 5, 2, m_vec=grid, l_vec=l_vec)
            bounds = out["m"].to_list()
        for m, lo, hi in zip(bounds, out["lb"].to_list(), out["ub"].to_list(), strict=True):
            rows.append(
                {
                    "restriction": restriction,
                    "target": target,
                    "bound": m,
                    "conf_low": lo,
                    "conf_high": hi,
                }
            )
    pd.DataFrame(rows).to_csv(HERE / "moderndid_medicaid.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
