"""
How robust is the event study to a violation of parallel trends?
=================================================================

Rambachan and Roth (2023): ``honest_did`` bounds how far post-joining trends may depart from the
pre-joining ones (relative magnitudes ``M``: a post-period violation at most ``M`` times the largest
pre-period one) and reports the robust confidence set of the effect in the joining year for each
``M``, and the breakdown value at which it first includes zero.
"""

import clusterimpact as ci
from clusterimpact.estimation.honest import honest_did
from clusterimpact.plotting import plot_sensitivity

sim = ci.simulate(scenario="ecoom", seed=1, n_firms=5000)
panel = sim.panel().data

# %%
es = ci.event_study(
    panel, outcome="ln_lp", cohort="treat_year", window=(-4, 4), bin_endpoints=False
)
sensitivity = honest_did(es, restriction="rm", target=0)
print(sensitivity.summary())

# %%
ax = plot_sensitivity(sensitivity)
