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
# # Matching members to comparable firms, cohort by cohort
#
# Members are larger, older, more capital-intensive and more productive before they join. For each
# joining cohort g we match members, in the year before joining (g-1), to firms that are not (yet)
# members, on levels and trends, then follow both groups through event time.

# %%
import clusterimpact as ci
from clusterimpact.matching import match_panel
from clusterimpact.plotting import plot_selection, selection_table

sd = ci.simulate(scenario="ecoom", seed=3, n_firms=2500)
panel = ci.build_panel(sd.accounts, sd.registry, deflators=sd.deflators)

# %% [markdown]
# ## Who joins

# %%
sel = selection_table(panel)
sel[["label", "mean_members", "mean_nonmembers", "smd"]]

# %%
ax = plot_selection(panel)

# %% [markdown]
# ## Cohort-wise nearest-neighbour matching on the propensity score

# %%
# design="trends" matches on age, multi-year means of size and capital intensity and the pre-joining
# productivity trend. Matching on productivity *levels* in g-1 (design="levels") would pick controls
# with high transitory shocks that mean-revert after g: an upward bias when firms select on permanent
# productivity, as in this scenario (see match_panel's Notes and the comparison at the end).
res = match_panel(
    panel,
    design="trends",
    exact=["sector"],
    control="notyet",
    caliper=0.2,
    replace=True,
    outcome="ln_lp",
    seed=1,
)
print(res.summary())

# %%
# pooled balance (the rows without a cohort stack): SMD before and after matching, by covariate
pooled = res.balance[res.balance["stack"].isna()]
pooled.pivot(index="covariate", columns="stage", values="smd")[["before", "after"]].round(3)

# %%
from clusterimpact.plotting import plot_love, plot_trajectories

ax = res.plot()  # the love plot: plot_love(res)

# %%
ax = plot_trajectories(res.matched_panel, outcome="ln_lp", weight="weight")

# %% [markdown]
# The matched DiD (`res.params["ATT"]`) against the true average effect on labour productivity:

# %%
print(
    "matched DiD:",
    round(float(res.params["ATT"]), 4),
    "+/-",
    round(float(res.std_errors["ATT"]), 4),
)
print("truth (all member firm-years):", round(sd.truth["att_overall_lp"], 4))

# %% [markdown]
# **Reading the numbers.** Members are larger (SMD 0.79 on ln FTE), older (0.41), more capital intensive
# (0.49) and more productive (0.47) than other firms, but not on a different productivity trend (0.01).
# After matching, the pooled |SMD| is below 0.1 on every matching variable (age 0.09, size -0.05,
# capital intensity 0.10, trend -0.05); single cohorts with a handful of members stay unbalanced (age in
# 2014 and 2018), which the love plot shows as small markers. The matched DiD, +0.8 % (SE 2.1 %) against a
# true +2.0 %, is within one standard error: matching cost precision (159 of 187 members matched, two
# cohorts too small to match at all) but not accuracy.
