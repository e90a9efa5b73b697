# Regenerates att_gt_csdid.csv with the MIT-licensed csdid 0.4.3 (drdid 1.1.7); test-only peer.
# .venv/bin/pip install csdid==0.4.3 && .venv/bin/python tests/reference/mpdta/make_csdid_reference.py
import warnings
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
warnings.simplefilter("ignore")
from csdid.att_gt import ATTgt  # noqa: E402

d = pd.read_csv(str(HERE / "mpdta.csv"))
rows = []
for spec, kw in [
    ("never_nocov_dr", dict(xformla="lemp~1", est_method="dr")),
    ("notyet_nocov_dr", dict(xformla="lemp~1", est_method="dr", control_group="notyettreated")),
    ("never_lpop_reg", dict(xformla="lemp~lpop", est_method="reg")),
    ("never_lpop_ipw", dict(xformla="lemp~lpop", est_method="ipw")),
    ("never_lpop_dr", dict(xformla="lemp~lpop", est_method="dr")),
]:
    est = kw.pop("est_method")
    cg = kw.pop("control_group", "nevertreated")
    o = ATTgt(
        yname="lemp",
        gname="first.treat",
        idname="countyreal",
        tname="year",
        data=d,
        control_group=cg,
        **kw,
    ).fit(est_method=est, bstrap=False)
    r = o.results
    for g, t, a, s in zip(r["group"], r["year"], r["att"], r["se"], strict=True):
        rows.append(
            dict(
                spec=spec,
                cohort=int(g),
                period=int(t),
                estimate=repr(float(a)),
                std_error=repr(float(s)),
            )
        )
pd.DataFrame(rows).to_csv(str(HERE / "att_gt_csdid.csv"), index=False)
print(pd.DataFrame(rows).to_string())
