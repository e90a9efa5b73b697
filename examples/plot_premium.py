"""
The membership premium: four estimators against the truth
==========================================================

Do firms that join a cluster become more productive? On a simulated panel whose true effect is known,
we estimate the average premium on labour productivity (ln value added per FTE) with static two-way
fixed effects (TWFE), Callaway-Sant'Anna, Sun-Abraham and the imputation estimator, and draw them
beside the truth. Static TWFE averages cohorts with weights that can be negative when effects grow with
time in membership; the heterogeneity-robust estimators target a well-defined average.
"""

import clusterimpact as ci

sim = ci.simulate(scenario="ecoom", seed=1, n_firms=5000)
panel = sim.panel().data

# %%
# One call runs the four estimators on the same event window.
comparison = ci.compare_estimators(
    panel, outcome="ln_lp", control="notyet", window=(-4, 4), bacon=False
)
overall = comparison.overall()
print(overall[["label", "estimate", "std_error"]].round(4).to_string(index=False))

# %%
# The overall estimates with their 95 % confidence intervals; the dashed line is the true average
# effect on labour productivity of member firm-years in this simulated sample.
truth = sim.truth["att_overall_lp"]
print(f"true effect: {100 * truth:+.1f} % ")
ax = comparison.plot(truth=truth)
