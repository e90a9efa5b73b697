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
# # The premium and its growth with years of membership
#
# The question the cluster policy cares about: is the productivity premium larger the longer a firm
# has been a member? `duration_effects` estimates the premium for each number of membership years by
# imputation (untreated outcomes from firm and year effects fitted on not-yet and never-member
# firm-years), then the slope across durations and a test of no growth. The naive TWFE version with
# duration dummies is shown beside it.

# %%
import clusterimpact as ci
from clusterimpact.estimation.duration import duration_effects
from clusterimpact.estimation.twfe import binned_duration
from clusterimpact.plotting import plot_duration_premium
from clusterimpact.productivity import estimate_tfp

sd = ci.simulate(scenario="ecoom", seed=4, n_firms=2500)
panel = ci.build_panel(sd.accounts, sd.registry, deflators=sd.deflators)
frame = estimate_tfp(panel, method="wooldridge").join(panel, name="ln_tfp")

# %%
dur = duration_effects(frame, outcome="ln_tfp", bins=[1, 2, 3, 4, "5+"])
dur.tidy()

# %%
print("slope per year of membership:", dur.slope if hasattr(dur, "slope") else "n/a")
print("test of no growth:", dur.slope_test)

# %%
ax = plot_duration_premium(
    dur, truth=sd.truth["member_years"], truth_key="att", outcome_label="ln TFP"
)

# %% [markdown]
# Naive two-way fixed effects with duration dummies, for comparison (biased when effects differ by
# cohort):

# %%
naive = binned_duration(frame, outcome="ln_tfp", bins=[1, 2, 3, 4, "5+"])
naive.tidy()[["term", "estimate", "std_error"]]

# %% [markdown]
# **Reading the numbers.** The true premium grows from +1.0 % in the first year of membership to +4.3 %
# from the fifth year on (average +2.9 %). The estimates rise in step (+1.9 %, +4.0 %, +4.1 %, +5.9 %,
# +6.3 %; slope +0.7 % per year, SE 0.4 %, against a true slope of about +0.8 %) but sit 1 to 1.5 standard
# errors above the truth in every bin: the bins share the same comparison firms and baseline years, so
# their errors move together, and one noisy baseline shifts the whole profile. The average, +4.8 %
# (SE 1.5 %), is 1.3 SE above the true +2.9 %. Naive TWFE with duration dummies is close to the robust
# estimates here because in this scenario the effect depends on years of membership, not on the cohort.

