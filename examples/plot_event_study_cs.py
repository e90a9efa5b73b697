"""
Callaway-Sant'Anna event study
==============================

``att_gt`` estimates one ATT(g, t) per joining cohort g and year t against firms that have not yet
joined; ``aggte(..., "dynamic")`` averages them by event time (years since joining). Pre-joining
coefficients near zero support parallel trends; the event-study pre-test is in ``.pretest``.
"""

import clusterimpact as ci

sim = ci.simulate(scenario="ecoom", seed=1, n_firms=5000)
panel = sim.panel().data

# %%
cs = ci.att_gt(panel, outcome="ln_lp", cohort="treat_year", control="notyet", allow_unbalanced=True)
dynamic = ci.aggte(cs, "dynamic", min_e=-5, max_e=5)
print(dynamic.tidy().round(4).to_string(index=False))
print("pre-test p-value:", round(dynamic.pretest["p_value"], 3))

# %%
# ``result.plot()`` draws the event study (``clusterimpact.plotting.plot_event_study``).
ax = dynamic.plot(outcome_label="ln VA per FTE")
