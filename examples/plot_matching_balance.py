"""
Matching members to comparable firms: balance
=============================================

Members are larger, older and more productive before joining. ``match_panel`` matches each joining
cohort, in the year before joining, to firms not (yet) members, on pre-joining means and trends
(``design="trends"``), within sector. The love plot shows the standardised mean differences before
and after matching; after matching they should sit inside the +-0.1 band.
"""

import clusterimpact as ci

sim = ci.simulate(scenario="ecoom", seed=1, n_firms=5000)
panel = sim.panel().data

# %%
matched = ci.match_panel(
    panel,
    design="trends",
    exact=["sector"],
    control="notyet",
    caliper=0.2,
    replace=True,
    outcome="ln_lp",
    seed=1,
)
print(
    f"matched DiD: {float(matched.params['ATT']):+.4f} (SE {float(matched.std_errors['ATT']):.4f})"
)
print(f"true effect on ln labour productivity: {sim.truth['att_overall_lp']:+.4f}")

# %%
# Pooled balance: standardised mean differences before and after matching, by covariate.
pooled = matched.balance[matched.balance["stack"].isna()]
print(pooled.pivot(index="covariate", columns="stage", values="smd")[["before", "after"]].round(3))

# %%
# The love plot (``clusterimpact.plotting.plot_love``), pooled over cohorts.
ax = matched.plot()
