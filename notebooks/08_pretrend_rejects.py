# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What to do when the pre-trend test rejects
#
# The leads of an event study (the years before joining) should be zero if members and controls
# were on parallel paths. When the joint test rejects, the post-joining estimates are not the
# effect of membership. This notebook builds a panel where it fails on purpose: firms that are
# growing faster join the cluster, and membership itself does **nothing** (the true effect is 0).
# Then it goes through what to do: look at the size of the violation, compare with an estimator
# that does not lean on the long pre-period, match on the pre-joining trend, and report honestly.

# %%
import numpy as np
import pandas as pd

import clusterimpact as ci
from clusterimpact.plotting import plot_event_study

rng = np.random.default_rng(8)
n_firms, years = 1500, np.arange(2008, 2020)
firm = np.repeat(np.arange(n_firms), len(years))
year = np.tile(years, n_firms)
growth = rng.normal(0.0, 0.02, n_firms)  # each firm's own productivity trend
# the faster a firm grows, the likelier it joins (in 2013, 2015 or 2017)
p_join = 1 / (1 + np.exp(-(growth / 0.02 - 1.0)))
joins = rng.random(n_firms) < p_join
cohort = np.where(joins, rng.choice([2013, 2015, 2017], n_firms), 0)
ln_lp = (
    rng.normal(0, 0.5, n_firms)[firm]
    + 0.01 * (year - 2008)
    + growth[firm] * (year - 2008)
    + rng.normal(0, 0.05, firm.size)
)  # no membership effect at all
df = pd.DataFrame(
    {"firm_id": firm, "year": year, "treat_year": cohort[firm], "ln_lp": ln_lp,
     "growth_pre": growth[firm]}
)
print(f"{joins.sum()} members; mean trend {growth[joins].mean():+.4f} (members) vs {growth[~joins].mean():+.4f}")

# %% [markdown]
# ## 1. The symptom

# %%
es = ci.event_study(df, outcome="ln_lp", window=(-5, 5))
print(es.pretrend)
ax = es.plot(outcome_label="ln VA per FTE")

# %% [markdown]
# The leads fall on a straight line: -9.2 % five years before joining, then -5.4, -4.3 and -2.1 %:
# members' productivity grew about 2 % a year faster than other firms' before they joined (their own
# trends average +1.2 % against -0.6 %), and the joint test rejects (F = 48.8 on 4 leads, p < 1e-30).
# The post-joining "effects", +1.8 % in the year of joining rising to +12.2 % five years on, continue
# the same line. They are the trend, not membership, whose true effect here is zero.
#
# ## 2. Match members to controls on the pre-joining trend
# `match_panel` matches each cohort at g-1 on the productivity growth over g-4..g-1
# (`trends=["ln_lp"], trend_window=3`: what `design="trends"` does, with size and age added when the
# panel has them); the matched DiD then compares firms that were on the same path before joining.

# %%
matched = ci.match_panel(
    df, covariates=[], trends=["ln_lp"], trend_window=3, outcome="ln_lp", control="notyet",
    caliper=0.2, replace=True, seed=1,
)
matched.tidy()

# %% [markdown]
# ## 3. Side by side

# %%
cs = ci.aggte(ci.att_gt(df, outcome="ln_lp", control="notyet"), "simple")
ci.regression_table(
    {"TWFE event study": es, "Callaway-Sant'Anna": cs, "Matched on pre-trend": matched},
    {"rel_year::2": "e=2 (TWFE)", "simple": "Average (CS)", "ATT": "Average (matched)"},
)

# %% [markdown]
# Neither another estimator nor matching fixes it. Callaway-Sant'Anna (+5.5 %, SE 0.5 %) compares the
# same diverging paths. Matching on the measured growth over g-4..g-1 balances it perfectly (SMD 0.57
# before, 0.00 after) yet still gives +4.4 % (SE 0.6 %): three years of growth measured with year-to-year
# noise (0.05 a year here) are a poor proxy for a firm's underlying trend, so the matched controls share
# the members' *measured* past growth, not their future growth. Matching on pre-trends helps when the
# trends are measured precisely; it is not a cure by itself.
#
# ## 4. Take the trend out explicitly
# If the violation looks like a linear trend (here it does: the leads fall on a straight line), estimate
# each firm's trend on the years it was *not* a member (every year for firms that never join, the
# years before joining for members), subtract it, and rerun the event study on the detrended outcome.

# %%
pre = df[(df["treat_year"] == 0) | (df["year"] < df["treat_year"])]
t = pre["year"] - 2008
moments = pre.assign(t=t, ty=t * pre["ln_lp"], tt=t * t).groupby("firm_id")[["t", "ln_lp", "ty", "tt"]].mean()
slope = (moments["ty"] - moments["t"] * moments["ln_lp"]) / (moments["tt"] - moments["t"] ** 2)
df["ln_lp_detrended"] = df["ln_lp"] - slope.reindex(df["firm_id"]).to_numpy() * (df["year"] - 2008)
es_dt = ci.event_study(df, outcome="ln_lp_detrended", window=(-5, 5))
cs_dt = ci.aggte(ci.att_gt(df, outcome="ln_lp_detrended", control="notyet"), "simple")
print(es_dt.pretrend)
ax = plot_event_study({"raw": es, "detrended": es_dt}, outcome_label="ln VA per FTE")
cs_dt.tidy()

# %% [markdown]
# With each firm's own trend taken out, the leads are flat (pre-test p = 0.10) and Callaway-Sant'Anna
# gives -0.3 % (SE 0.5 %), consistent with the true zero. This worked because the violation here *is* a
# firm-specific linear trend, and that is an assumption you add, not a fact the data prove: the
# post-joining years are judged against a line extrapolated from the years before. What to report when
# the pre-test rejects: the event-study figure with its leads, the estimate under the assumption you
# chose (here: linear trends) beside the one without it, and how far the conclusion moves between them.
# Never drop the leads from the figure to make the problem disappear.
#
# ## 5. How far the conclusion moves: Rambachan-Roth sensitivity sets
# `honest_did` (Rambachan & Roth 2023) makes step 4's assumption explicit and lets it bend: under the
# smoothness restriction the trend gap may change its slope by at most `M` per year after joining;
# `M = 0` is the linear extrapolation of step 4. The event study is refitted with exact event times
# (`bin_endpoints=False`), which the bounds need.

# %%
from clusterimpact.estimation.honest import honest_did

es_exact = ci.event_study(df, outcome="ln_lp", window=(-5, 5), bin_endpoints=False)
sens = honest_did(es_exact, restriction="sd", target=0)
ax = sens.plot()
sens.tidy().head(4).round(4)

# %% [markdown]
# Under exact parallel trends (`original`) the effect on impact is +1.7 % with a 95 % interval of
# [+1.0 %, +2.5 %]: "significant", and wrong. Extrapolating the pre-joining trend linearly (`M = 0`)
# gives [-0.4 %, +1.0 %], which contains the true zero, as step 4 found; letting the trend's slope bend
# by up to 1.8 % a year widens it to [-3.3 %, +2.4 %]. The figure shows the whole path: the conclusion
# "membership raised productivity" survives only the assumption that the pre-trend test just rejected.
