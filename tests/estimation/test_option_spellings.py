"""One spelling of every option (#13): ``level`` (not ``alpha``) and ``n_boot`` (not ``bootstrap`` +
``n_boot``); each old spelling still maps onto the new one, with a FutureWarning naming it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _asserts import assert_close
from clusterimpact.estimation.staggered import CallawaySantAnna, aggte, att_gt
from conftest import REFERENCE
from tolerances import EXACT_FLOOR, EXACT_REL

MP = dict(cohort="first.treat", unit="countyreal", time="year")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "mpdta" / "mpdta.csv")


def _same(a, b) -> None:
    assert_close(a.params, b.params, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert_close(a.std_errors, b.std_errors, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert a.se_type == b.se_type and a.band_level == b.band_level
    assert (a.crit_value is None) == (b.crit_value is None)
    if a.crit_value is not None:
        assert_close(a.crit_value, b.crit_value, rel=EXACT_REL)


def test_att_gt_alpha_is_level(mpdta: pd.DataFrame) -> None:
    new = att_gt(mpdta, "lemp", **MP, n_boot=99, seed=1, level=0.9)
    with pytest.warns(FutureWarning, match=r"'alpha' is now spelled 'level' \(level = 1 - alpha\)"):
        old = att_gt(mpdta, "lemp", **MP, n_boot=99, seed=1, alpha=0.1)
    _same(old, new)
    assert new.level == 0.9 and new.band_level == 0.9


def test_att_gt_bootstrap_is_n_boot(mpdta: pd.DataFrame) -> None:
    new = att_gt(mpdta, "lemp", **MP, n_boot=99, seed=2)
    with pytest.warns(FutureWarning, match="'bootstrap' is now spelled 'n_boot'"):
        old = att_gt(mpdta, "lemp", **MP, bootstrap=True, n_boot=99, seed=2)
    _same(old, new)
    assert new.se_type == "bootstrap" and new.n_boot == 99
    with pytest.warns(FutureWarning, match="'bootstrap' is now spelled 'n_boot'"):
        off = att_gt(mpdta, "lemp", **MP, bootstrap=False, n_boot=99)
    _same(off, att_gt(mpdta, "lemp", **MP))
    assert off.se_type == "analytic" and off.n_boot == 0
    with pytest.warns(FutureWarning):  # bootstrap=True alone: the old default of 999 draws
        assert CallawaySantAnna("lemp", bootstrap=True).n_boot == 999


def test_aggte_old_spellings(mpdta: pd.DataFrame) -> None:
    gt = att_gt(mpdta, "lemp", **MP, n_boot=99, seed=3)
    with pytest.warns(FutureWarning, match="'bootstrap' is now spelled 'n_boot'"):
        old = aggte(gt, "dynamic", bootstrap=False)
    _same(old, aggte(gt, "dynamic", n_boot=0))
    assert old.se_type == "analytic"
    with pytest.warns(FutureWarning, match="'alpha' is now spelled 'level'"):
        old = aggte(gt, "group", alpha=0.2)
    _same(old, aggte(gt, "group", level=0.8))
    # None: as the ATT(g,t) result did (its bootstrap draws)
    assert aggte(gt, "simple").se_type == "bootstrap"


def test_both_spellings_at_once_is_an_error(mpdta: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match="pass level only"), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        att_gt(mpdta, "lemp", **MP, alpha=0.1, level=0.9)


def test_r_did_names_still_map(mpdta: pd.DataFrame) -> None:
    new = att_gt(mpdta, "lemp", **MP, n_boot=49, seed=4, level=0.9)
    with pytest.warns(FutureWarning):
        old = att_gt(mpdta, "lemp", **MP, bstrap=True, biters=49, seed=4, alp=0.1)
    _same(old, new)


def test_n_boot_checked(mpdta: pd.DataFrame) -> None:
    from clusterimpact.errors import SpecError

    for bad in (1, -5, 2.5):
        with pytest.raises(SpecError, match="n_boot must be 0"):
            att_gt(mpdta, "lemp", **MP, n_boot=bad)


def test_subgroup_effects_alpha_is_level() -> None:
    from _did_dgp import make_staggered

    from clusterimpact.estimation.heterogeneity import subgroup_effects

    df, _ = make_staggered(
        n_units=300,
        years=(2010, 2015),
        cohorts=(2012, 2014),
        shares=(0.3, 0.3),
        base=(0.1, 0.05),
        seed=5,
    )
    grp = np.random.default_rng(5).choice(np.array(["A", "B"]), size=300)
    df["grp"] = np.repeat(grp, 6)
    kw = dict(min_treated=5, n_boot=99, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        new = subgroup_effects(df, "y", "grp", level=0.9, **kw)
        with pytest.warns(FutureWarning, match="'alpha' is now spelled 'level'"):
            old = subgroup_effects(df, "y", "grp", alpha=0.1, **kw)
    _same_sub = (old.band_level, old.crit_value) == (new.band_level, new.crit_value)
    assert _same_sub and new.band_level == pytest.approx(0.9, abs=1e-15)


def test_estimate_tfp_bootstrap_is_n_boot() -> None:
    from clusterimpact.productivity import estimate_tfp
    from clusterimpact.synthetic import simulate

    panel = simulate(seed=2, n_firms=300).panel()
    new = estimate_tfp(panel, "ols", n_boot=3, seed=1)
    with pytest.warns(FutureWarning, match="'bootstrap' is now spelled 'n_boot'"):
        old = estimate_tfp(panel, "ols", bootstrap=3, seed=1)
    assert_close(old.std_errors, new.std_errors, rel=EXACT_REL, floor=EXACT_FLOOR)
    assert old.provenance.options == new.provenance.options


def test_chain_bootstrap_reps_is_n_boot() -> None:
    from clusterimpact.chain import chain_bootstrap
    from clusterimpact.errors import SpecError

    # the old spelling reaches the check of the new option (no estimation needed to see it map)
    with pytest.warns(FutureWarning, match="'reps' is now spelled 'n_boot'"):
        with pytest.raises(SpecError, match=r"n_boot=1: the chain bootstrap needs at least 2"):
            chain_bootstrap(pd.DataFrame(), reps=1)
