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
# # Productivity: production functions and TFP
#
# Total factor productivity is what is left of value added after labour and capital. Because firms
# choose labour knowing their productivity, OLS overstates the labour elasticity; control-function
# estimators (Olley-Pakes, Levinsohn-Petrin, Ackerberg-Caves-Frazer) and Wooldridge's one-step GMM
# address this. On synthetic data the true elasticities are known, so we can see it.

# %%
import pandas as pd

import clusterimpact as ci
from clusterimpact.productivity import estimate_tfp

sd = ci.simulate(scenario="ecoom", seed=2, n_firms=2000)
panel = ci.build_panel(sd.accounts, sd.registry, deflators=sd.deflators)
truth = sd.truth["elasticities"]
print(truth)

# %%
rows = []
results = {}
for method in ["ols", "fe", "lp", "acf", "wooldridge"]:
    res = estimate_tfp(panel, method=method, seed=1)
    results[method] = res
    for r in res.tidy().itertuples(index=False):
        rows.append(
            {
                "method": method,
                "input": r.term,
                "estimate": r.estimate,
                "std_error": r.std_error,
                "truth": truth.get(r.term),
            }
        )
table = pd.DataFrame(rows)
print(table.to_string())

# %% [markdown]
# OLS puts too much weight on labour (labour responds to productivity); the within (FE) estimator
# understates capital. ACF and Wooldridge are the report's TFP methods.

# %%
ols_l = table.query("method == 'ols' and input == 'ln_emp'")["estimate"].iloc[0]
print(f"OLS labour elasticity {ols_l:.3f} vs truth {truth['ln_emp']:.3f}")

# %% [markdown]
# ## TFP joined back to the panel
# `result.join(panel)` adds log TFP by firm-year; it becomes an outcome like `ln_lp`.

# %%
frame = results["acf"].join(panel, name="ln_tfp_acf")
frame[["firm_id", "year", "ln_lp", "ln_tfp_acf"]].describe()

# %%
from clusterimpact.estimation.twfe import static_premium

prem = static_premium(frame, outcome="ln_tfp_acf")
print(prem.summary())
print("true average effect on ln TFP:", round(sd.truth["att_overall"], 4))

# %%
ax = ci.event_study(frame, outcome="ln_tfp_acf").plot(outcome_label="ln TFP (ACF)")

# %% [markdown]
# **Reading the numbers.** OLS overstates the labour elasticity (0.75 against 0.65) and understates
# capital's (0.25 against 0.30): firms hire when they know productivity is high (the transmission bias
# the proxy estimators exist for). Firm fixed effects make it worse here (0.94 and -0.01): within a firm,
# capital barely moves from year to year, so its coefficient is mostly noise and measurement error.
# Levinsohn-Petrin, ACF and Wooldridge recover both elasticities to within 0.03. On ACF TFP the static
# premium is +1.5 % (SE 1.4 %) against a true +2.9 %: one standard error below, consistent with the truth
# and, on 2,000 firms, not distinguishable from zero either.
