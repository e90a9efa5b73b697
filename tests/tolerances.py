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

# --- plots, tables, report ----------------------------------------------------------------------
