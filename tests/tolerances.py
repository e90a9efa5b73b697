"""Every numeric tolerance used by the tests, named and commented (STYLE.md, Tests 2).

Rules of thumb: ~1e-6 relative against full-precision software output; half a unit in the last printed
digit against a printed table; wider, and explained, for bootstraps. Truth checks on synthetic data use a
multiple of the estimator's own standard error (``TRUTH_SE_MULTIPLE``), never a fixed absolute number.
Each area owns its section below; add to your own section only.
"""

# --- general ------------------------------------------------------------------------------------
# |estimate - truth| <= TRUTH_SE_MULTIPLE * se on the default seed (DoubleML's 3-SE rule).
TRUTH_SE_MULTIPLE = 3.0
# Two implementations of the same arithmetic (e.g. absorbed FE vs explicit dummies): floating-point only.
EXACT_REL = 1e-8

# --- panel / synthetic --------------------------------------------------------------------------

# --- productivity -------------------------------------------------------------------------------

# --- matching -----------------------------------------------------------------------------------

# --- fixed effects, event study, duration -------------------------------------------------------

# --- staggered DiD ------------------------------------------------------------------------------
# mpdta vs R did's full-precision aggregates (issue #6): points absolute, analytic SEs relative.
CS_POINT_ABS = 1e-6
CS_SE_REL = 1e-4
# mpdta ATT(g,t) vs the R did table printed to 4 decimals: half a unit in the last digit.
CS_PRINTED_ABS = 0.5e-4
# mpdta ATT(g,t) vs csdid 0.4.3 at full precision (same arithmetic, another implementation).
CS_PEER_REL = 1e-8
# improved DR (ours) vs traditional DR (csdid) with ~lpop: different nuisance estimators, ~1e-4 apart.
CS_DR_VARIANT_ABS = 1e-3
# multiplier-bootstrap SE vs analytic SE with 999 draws: IQR-based scale has ~5% Monte Carlo error.
CS_BOOT_SE_REL = 0.15
# one cohort, two periods: every estimator equals the hand-computed 2x2 DiD (floating point only).
DID_2X2_ABS = 1e-10
# Bacon decomposition: weighted 2x2 estimates add up to the TWFE coefficient (floating point only).
BACON_SUM_ABS = 1e-8

# --- plots, tables, report ----------------------------------------------------------------------
