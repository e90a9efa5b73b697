"""HonestDiD on the imputation estimator: the joint covariance of its leads and lags from per-firm
influence scores, checked against the reported variances and a firm-block bootstrap of both."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.errors import SpecError
from clusterimpact.estimation.honest import (
    event_study_coefficients,
    honest_did,
    honest_did_arrays,
)
from clusterimpact.estimation.imputation import imputation_did
from clusterimpact.synthetic import simulate
from conftest import slow_scale
from tolerances import EXACT_FLOOR, EXACT_REL, HONEST_IMPUTATION_BOOT_Z

LEADS, HORIZONS = 3, range(0, 4)


def _fit(df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return imputation_did(df, "ln_lp", leads=LEADS, horizons=HORIZONS, **kw)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate("ecoom", seed=3, n_firms=250).panel().data


@pytest.fixture(scope="module")
def res(panel):
    return _fit(panel)


def test_scores_reproduce_the_reported_variances(res):
    """Lag block = the BJS covariance; lead diagonal = the lead regression's cluster variances, with
    one common small-sample factor (so the lead scores are right up to that scalar)."""
    psi = res.influence
    V = psi.T @ psi
    lags = list(res.params.index)
    assert_close(
        V.loc[lags, lags].to_numpy(), res.vcov.to_numpy(), rel=EXACT_REL, floor=EXACT_FLOOR
    )
    pre = res.pretrend_estimates.set_index("term")
    leads = list(pre.index)
    assert leads == [f"rel_year::{e}" for e in range(-LEADS, 0)]
    assert_close(np.diag(V.loc[leads, leads]), pre["std_error"] ** 2, rel=EXACT_REL)
    es = event_study_coefficients(res)
    assert (
        es.terms == (*leads, "dynamic:0", "dynamic:1", "dynamic:2", "dynamic:3") and es.n_pre == 3
    )
    assert_close(es.betahat[:3], pre["estimate"].to_numpy(), rel=EXACT_REL)


@pytest.mark.slow
def test_joint_covariance_matches_a_firm_bootstrap(panel, res):
    """Firm-block bootstrap of the whole estimator (leads and lags re-estimated on each resample): the
    bootstrap covariance of every lead with every lag agrees with the scores' cross block within
    HONEST_IMPUTATION_BOOT_Z Monte Carlo standard errors of a sample covariance. 300 draws at full
    size (about 40 s CPU), 60 at make test's scale 0.2."""
    es = event_study_coefficients(res)
    firms = panel["firm_id"].unique()
    rng = np.random.default_rng(5)
    groups = dict(tuple(panel.groupby("firm_id")))
    draws = []
    for _ in range(max(60, int(300 * slow_scale()))):
        pick = rng.choice(firms, size=len(firms))
        parts = [groups[f].assign(firm_id=i) for i, f in enumerate(pick)]
        es_b = event_study_coefficients(_fit(pd.concat(parts, ignore_index=True)))
        draws.append(es_b.betahat)
    B = np.asarray(draws)
    X = B - B.mean(axis=0)
    cov = X.T @ X / (len(B) - 1)
    n_pre = es.n_pre
    for i in range(n_pre):
        for j in range(n_pre, len(es.terms)):
            prod = X[:, i] * X[:, j]
            mc = prod.std(ddof=1) / np.sqrt(len(B))
            assert abs(cov[i, j] - es.sigma[i, j]) <= HONEST_IMPUTATION_BOOT_Z * mc, (
                es.terms[i],
                es.terms[j],
                cov[i, j],
                es.sigma[i, j],
                mc,
            )
    # and the cross block is not negligible: it moves the sets (else the test above says little)
    corr = es.sigma / np.sqrt(np.outer(np.diag(es.sigma), np.diag(es.sigma)))
    assert np.abs(corr[:n_pre, n_pre:]).max() > 0.05


def test_honest_did_runs_on_imputation_and_equals_the_array_route(res):
    es = event_study_coefficients(res)
    for restriction in ("rm", "sd"):
        h = honest_did(res, restriction=restriction, target="average", breakdown=False)
        raw = honest_did_arrays(
            es.betahat,
            es.sigma,
            es.n_pre,
            l_vec=np.full(es.n_post, 1 / es.n_post),
            restriction=restriction,
            breakdown=False,
        )
        pd.testing.assert_frame_equal(h.sets, raw.sets)
        assert h.pre_times == (-3.0, -2.0, -1.0) and h.post_times == (0.0, 1.0, 2.0, 3.0)


def test_imputation_without_leads_or_dynamic_is_refused(panel):
    with pytest.raises(SpecError, match="aggregation='dynamic' and leads > 0"):
        honest_did(_fit(panel, aggregation="group"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        no_leads = imputation_did(panel, "ln_lp", leads=0, horizons=HORIZONS)
    assert no_leads.influence is None
    with pytest.raises(SpecError, match="leads > 0"):
        honest_did(no_leads)
    with pytest.raises(SpecError, match="consecutive leads"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            honest_did(imputation_did(panel, "ln_lp", leads=LEADS, horizons=[0, 2]))
