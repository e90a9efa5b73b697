"""The chain standard errors: not materially below the plug-in ones, and covering the truth.

**Chain SE vs plug-in SE** (CS simple and dynamic on ln TFP from ACF; ``ecoom``, 600 firms, 100
replications). A chain replication's DiD error is the DiD's own sampling error (which the CS
influence-function plug-in variance estimates) plus the error the production-function estimate adds:
an elasticity error d(beta) moves the DiD on ln TFP by -d(beta)' DiD(inputs). Its variance is
plug-in variance + Var(added term) + 2 Cov(sampling error, added term), and the covariance need not be
zero or positive: the same firms' data drive both errors. So there is no theorem that the chain SE is
at least the plug-in SE; the claim here is empirical. Measured: the ratio is about 1.0 (bench_chain.py;
80 replications on 2,000 firms: 0.96-1.09 for the CS terms). The check is a guard against a chain that
loses the DiD's sampling variance (which would give a ratio far below 1), not a test of ">=": with B
replications, if the true chain SD were at least the plug-in SE, (B - 1) S^2 / sigma^2 ~ chi2(B - 1)
for normal draws, and S >= q P with q = sqrt(chi2.ppf(0.0005, B - 1) / (B - 1)) = 0.77 at B = 100
fails with probability <= 0.001 over the two terms. A true ratio somewhat below 1 (a negative
covariance) can also pass; one below about 0.77 is detected. The duration profile is left out: its
plug-in SE (Borusyak-Jaravel-Spiess with the leave-out correction) is conservative by design (measured
chain/plug-in 0.84-1.02 over its terms).

**Chain SE vs the fixed-TFP bootstrap SE** (same run). The comparison that can be tested as ">=" holds
the firm draws fixed: every replication also re-runs the DiD on the same resampled firms (and matching
seed) with ln TFP held at its full-sample values. Then the chain SE exceeds the fixed-TFP SE only by
what estimating TFP adds, and may fall below it only by Monte Carlo error, which the paired draws
measure (``se_ratio_fixed_mc_se``, delta method, checked by simulation in test_chain_fixed_tfp.py):
``log(chain / fixed) >= -3 MC SE`` for cs:simple, cs:dynamic and every dynamic event time (each fails
with probability <= 0.00135 when the true ratio is >= 1). Measured (ecoom, 2,000 firms, 100
replications, cs + duration + matched DiD): chain / fixed 0.994-1.004 on every DiD term with MC SE of
the log ratio 0.003-0.009, i.e. estimating TFP adds almost nothing here (the elasticities' SEs are
about 0.005); chain / plug-in 0.83-1.30 on the same run is the bootstrap vs the analytic variance.

**Coverage** of the truth by ``estimate +- t(0.975, B - 1) * chain SE`` for the duration profile's
``average`` (the mean effect on log TFP over identified member firm-years, computed exactly from the
simulated ``effect`` of each firm-year), one interval per seed, 30 seeds of ``ecoom`` with 600 firms
(about 50 members) and B = 12 replications each (the t quantile accounts for the SD estimated from 12
draws). ``assert_coverage`` at 0.0005 a side passes 23..30 covering intervals: a correct 95 % interval
fails with probability <= 0.001. With 30 seeds the count is coarse and one-sided in practice: the upper
bound is 30, so an interval that is too wide can never fail it, and an 85 % interval still passes with
probability 0.93. So the same 30 intervals also go through a two-sided scale check that uses more than
hit or miss: under a correct chain SE, z_i = (estimate - truth) / chain SE is about t(B - 1), so
p_i = 2 t.sf(|z_i|, B - 1) is about uniform and Fisher's F = -2 sum(ln p_i) ~ chi2(60); it must lie in
[chi2.ppf(0.0005, 60), chi2.ppf(0.9995, 60)] = [30.3, 102.7] (a correct SE fails with probability
0.001). Its power, computed in the test by simulating z ~ t(11) scaled (20,000 draws, a fraction of a
second): about 0.95 against a chain SE of half the right size (F too large) and about 0.86 against one
of twice the right size (F too small); against 1.5x too small or too wide it is only about 0.4 and 0.2.
Measured for this design (B = 12, seeds 100-129): 28 of 30 intervals cover, Fisher statistic 59.3,
mean z -0.05, SD of z 1.12 (t(11) has SD 1.10); with B = 25 on seeds 100-159: 56 of 60. About 25-30 s
CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from _stats import assert_coverage, binomial_min_hits
from clusterimpact import PanelSpec, build_panel, simulate
from clusterimpact.chain import chain_bootstrap
from tolerances import CHAIN_FIXED_MC_Z

CS_TERMS = ("cs:simple", "cs:dynamic")
GE_REPS = 100
COVER_SEEDS = range(100, 130)
COVER_REPS = 12


def _panel(seed: int, n_firms: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    sd = simulate("ecoom", seed=seed, n_firms=n_firms)
    panel = build_panel(sd.accounts, sd.registry, PanelSpec(), sd.deflators).data
    return panel, sd.latent


def _q_lower(reps: int, alpha: float) -> float:
    return float(np.sqrt(stats.chi2.ppf(alpha, reps - 1) / (reps - 1)))


def test_chain_se_not_below_plugin_for_cs():
    panel, _ = _panel(21)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = chain_bootstrap(panel, n_boot=GE_REPS, seed=21, estimators=("cs",))
    assert res.n_failed == 0
    q = _q_lower(GE_REPS, 0.001 / len(CS_TERMS))
    assert 0.76 < q < 0.78  # the margin stated in the docstring
    for t in CS_TERMS:
        s, p = res.std_errors[t], res.plugin_se[t]
        assert np.isfinite(p) and p > 0
        assert s >= q * p, f"{t}: chain SE {s:.5f} < {q:.2f} x plug-in {p:.5f}"
    # the meaningful ">=": the chain vs the DiD bootstrap with ln TFP held fixed, on the same draws
    mc = res.se_ratio_fixed_mc_se()
    for t in (*CS_TERMS, *[c for c in res.fixed_draws.columns if c.startswith("cs:dynamic:")]):
        log_ratio = float(np.log(res.se_ratio_fixed[t]))
        assert log_ratio >= -CHAIN_FIXED_MC_Z * mc[t], (t, log_ratio, mc[t])


def _true_average(panel: pd.DataFrame, latent: pd.DataFrame) -> float:
    """Mean simulated effect over member firm-years of firms with a pre-joining year (identified)."""
    d = panel[["firm_id", "year", "treat_year", "member"]].merge(
        latent[["firm_id", "year", "effect"]], on=["firm_id", "year"], how="left"
    )
    has_pre = d.loc[d["year"] < d["treat_year"], "firm_id"].unique()
    sel = (d["member"] == 1) & d["firm_id"].isin(has_pre)
    return float(d.loc[sel, "effect"].mean())


def test_chain_interval_covers_the_truth():
    n = len(COVER_SEEDS)
    assert binomial_min_hits(n, 0.95, 0.0005) == 23
    q = float(stats.t.ppf(0.975, COVER_REPS - 1))
    hits = 0
    fisher = 0.0
    for seed in COVER_SEEDS:
        panel, latent = _panel(seed)
        truth = _true_average(panel, latent)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = chain_bootstrap(panel, n_boot=COVER_REPS, seed=seed, estimators=("duration",))
        est, se = res.params["duration:average"], res.std_errors["duration:average"]
        hits += int(abs(est - truth) <= q * se)
        fisher += -2.0 * float(np.log(2 * stats.t.sf(abs(est - truth) / se, COVER_REPS - 1)))
    assert_coverage(hits, n, "chain duration:average, est +- t * chain SE")
    lo, hi = _fisher_bounds(n)
    assert fisher <= hi, f"Fisher -2 sum ln p = {fisher:.1f} > {hi:.1f}: chain SE too small"
    assert fisher >= lo, f"Fisher -2 sum ln p = {fisher:.1f} < {lo:.1f}: chain SE too large"


def _fisher_bounds(n: int, alpha: float = 0.001) -> tuple[float, float]:
    return (
        float(stats.chi2.ppf(alpha / 2, 2 * n)),
        float(stats.chi2.ppf(1 - alpha / 2, 2 * n)),
    )


def _fisher_power(scale: float, n: int, reps: int, draws: int = 20_000) -> float:
    """Probability that the two-sided Fisher check fails when every z is ``scale`` times a t(reps-1)
    draw (``scale`` 2: chain SE half the right size; 0.5: twice)."""
    z = scale * stats.t.rvs(reps - 1, size=(draws, n), random_state=np.random.default_rng(7))
    f = -2.0 * np.log(2 * stats.t.sf(np.abs(z), reps - 1)).sum(axis=1)
    lo, hi = _fisher_bounds(n)
    return float(((f < lo) | (f > hi)).mean())


def test_the_scale_check_can_fail_on_both_sides():
    """The power stated in the module docstring (Monte-Carlo error of each figure <= 0.004)."""
    n = len(COVER_SEEDS)
    lo, hi = _fisher_bounds(n)
    assert (round(lo, 1), round(hi, 1)) == (30.3, 102.7)
    assert _fisher_power(1.0, n, COVER_REPS) < 0.002  # size: 0.001
    assert _fisher_power(2.0, n, COVER_REPS) > 0.93  # SE half the right size
    assert _fisher_power(0.5, n, COVER_REPS) > 0.84  # SE twice the right size
