"""The within (FE) production function's clustered standard errors equal pyfixest's (issue #10, item 6c).

The firm effects are nested in the firm clusters: fixest/pyfixest count them as one parameter in the
small-sample factor (``K`` = slopes + 1), and so must we. pyfixest is run at test time.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _prod_dgp import make_production

from _asserts import assert_close
from clusterimpact.productivity import estimate_tfp
from tolerances import FE_PROPERTY_COEF_REL, FE_PROPERTY_SE_REL


@pytest.mark.parametrize("controls", [(), ("ln_materials",)])
def test_fe_production_function_se_equals_pyfixest(controls):
    import pyfixest as pf

    panel = make_production(300, seed=4)
    # one firm observed once: a singleton both sides drop
    panel = panel.loc[~((panel["firm_id"] == "F00007") & (panel["year"] > panel["year"].min()))]
    res = estimate_tfp(panel, "fe", controls=list(controls))
    rhs = " + ".join(["ln_emp", "ln_capital", *controls])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pf.feols(f"ln_va ~ {rhs} | firm_id", panel, vcov={"CRV1": "firm_id"}, fixef_tol=1e-14)
    names = ["ln_emp", "ln_capital", *controls]
    want_b = m.coef()[names].to_numpy()
    want_se = m.se()[names].to_numpy()
    assert_close(
        res.params[names].to_numpy(),
        want_b,
        rel=FE_PROPERTY_COEF_REL,
        abs=FE_PROPERTY_COEF_REL * np.abs(want_b).max(),
    )
    assert_close(res.std_errors[names].to_numpy(), want_se, rel=FE_PROPERTY_SE_REL)
    assert res.nobs == m._N
    # the old count (K = slopes only) is detectably different at this tolerance
    n, k = m._N, len(names)
    assert abs(np.sqrt((n - k - 1) / (n - k)) - 1) > 10 * FE_PROPERTY_SE_REL
