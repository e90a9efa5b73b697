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
# # Quickstart: does joining a cluster make firms more productive?
#
# This notebook runs the package's core chain on a small synthetic panel whose true effects are
# known: simulate firms' annual accounts and cluster memberships, build the firm-year panel,
# estimate the static premium and the premium by years of membership, and compare with the truth.
# (`N_FIRMS` is kept small so the notebook runs in seconds; the default study uses 15,000 firms.)

# %%
import clusterimpact as ci
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.twfe import static_premium

N_FIRMS = 2000

# %% [markdown]
# ## 1. Synthetic accounts with known truth
# The `ecoom` scenario: about +3 % TFP on average, growing with years of membership; members are
# selected on size, age, capital intensity and productivity.

# %%
sd = ci.simulate(scenario="ecoom", seed=1, n_firms=N_FIRMS)
sd.accounts.head()

# %%
panel = ci.build_panel(sd.accounts, sd.registry, deflators=sd.deflators)
print(f"{len(panel.data):,} firm-years, {panel.data['firm_id'].nunique():,} firms")
print("excluded:", panel.exclusion_counts())
panel.data[["firm_id", "year", "ln_lp", "treat_year", "member", "member_years"]].head()

# %% [markdown]
# ## 2. The static premium (two-way fixed effects)

# %%
twfe = static_premium(panel, outcome="ln_lp")
print(twfe.summary())

# %% [markdown]
# ## 3. The premium by years of membership (imputation, robust to heterogeneous effects)

# %%
dur = duration_effects(panel, outcome="ln_lp", bins=[1, 2, 3, 4, "5+"])
dur.tidy()

# %%
truth = sd.truth
print("true average effect on ln labour productivity:", round(truth["att_overall_lp"], 4))
print("estimated (imputation, all member firm-years):", round(float(dur.params.iloc[0]), 4))

# %%
from clusterimpact.plotting import figure_caption, plot_duration_premium

ax = plot_duration_premium(
    dur, truth=truth["member_years"], truth_key="att_lp", outcome_label="ln VA per FTE"
)
print(figure_caption(ax))

# %% [markdown]
# **Reading the numbers.** The truth is a premium of about +2.0 % on labour productivity; the imputation
# estimate is +0.1 % with a standard error of 1.5 %, and static TWFE +0.3 % (SE 1.2 %): 1.2 and 1.5 SE
# below the truth, and neither can tell a 2 % effect from zero: this panel has 2,000 firms and
# about 165 members. That is the sample size, not a bias (the report's 15,000-firm default lands within
# about one SE on every outcome); with a panel this small, report the confidence interval, not the sign.
