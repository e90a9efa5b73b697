"""A control-function estimate without a bootstrap says how to get standard errors."""

from __future__ import annotations

import warnings

import numpy as np

from clusterimpact.productivity import estimate_tfp
from clusterimpact.synthetic import simulate


def test_summary_says_how_to_get_standard_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = simulate(seed=2, n_firms=800).panel()
        kw = dict(output="ln_va", free=["ln_emp"], state=["ln_capital"], proxy="ln_materials")
        lp = estimate_tfp(panel, method="lp", seed=1, **kw)
        ols = estimate_tfp(panel, method="ols", **kw)
    assert np.isnan(lp.std_errors).all()
    assert "set n_boot=B (CLI: --bootstrap B)" in lp.summary()
    assert np.isfinite(ols.std_errors).all() and (ols.std_errors > 0).all()
    assert "set n_boot=B" not in ols.summary()
