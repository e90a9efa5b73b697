"""
Does the premium grow with years of membership?
===============================================

The duration profile estimates the premium separately for the first, second, ... fifth-and-later
year of membership (an imputation estimator: untreated outcomes predicted from firm and year effects
fitted on firm-years before joining). The crosses are the true premia on the simulated sample.
"""

import clusterimpact as ci
from clusterimpact.plotting import plot_duration_premium

sim = ci.simulate(scenario="ecoom", seed=1, n_firms=5000)
panel = sim.panel().data

# %%
# ``duration_effects`` returns one term per membership-year bin and the average over member
# firm-years.
duration = ci.duration_effects(panel, outcome="ln_lp")
print(duration.summary())

# %%
# The profile with 95 % confidence intervals, beside the truth (``truth_key="att_lp"``: the effect on
# labour productivity; ``"att"`` is the effect on TFP).
ax = plot_duration_premium(
    duration,
    truth=sim.truth["member_years"],
    truth_key="att_lp",
    outcome_label="ln VA per FTE",
)
