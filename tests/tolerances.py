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
# synthetic: accounts are rounded to 100 EUR (money) and 0.01 FTE; the logs the panel rebuilds from the
# nominal files differ from the latent real logs by at most this much (the smallest firms, ~1 FTE).
SYNTH_ROUNDING_LOG = 0.02
# synthetic truth vs a brute-force recomputation from the latent firm-years: the truth JSON keeps 10
# significant digits (half a unit in the 10th digit is 5e-10 relative); summation order adds ~1e-15.
SYNTH_TRUTH_REL = 1e-9
# ... with an absolute floor of this times the largest |value| compared (effects that are exactly 0).
SYNTH_TRUTH_ABS_SCALE = 1e-12

# --- productivity -------------------------------------------------------------------------------
# prodest 0.1.1 Table 1 (Chilean plants) prints 3 decimals: half a unit in the last printed digit.
PRODEST_TABLE_ABS = 5e-4
# Bootstrap SEs vs the published 20-replication bootstrap SEs: order of magnitude only (ratio bound).
PRODEST_SE_RATIO = 5.0
# Invariances (rescaling, row order) are floating-point identities up to optimiser tolerance.
TFP_INVARIANCE_ABS = 1e-6
# ACF on the synthetic panel (15,000 firms) without the firm effect (sd_alpha=0): 3 x the Monte Carlo
# sd of the labour elasticity (0.0049 over 8 seeds at 15,000 firms).
ACF_MARKOV_ABS = 0.015
# The same draws with the firm effect (sd_alpha=0.12): ACF's labour elasticity rises by 0.010-0.013
# (8 paired seeds at 30,000 firms; +0.0125 on 8 seeds at 15,000): half the smallest increase.
ACF_FIRM_EFFECT_MIN_BIAS = 0.006
# ... while Wooldridge's moves by 0.0005-0.0007 (same seeds): three times the largest.
WOOLDRIDGE_FIRM_EFFECT_ABS = 0.002

# --- matching -----------------------------------------------------------------------------------
# Imbens' 2004 nnmatch log prints estimates to 3 decimals; the two copies of the NSW earnings differ by
# float32 rounding (~0.002 on the estimate): agreement "to the cent".
NSW_AI_ESTIMATE_ABS = 0.01
# The same log's SEs use the 2004 default (homoskedastic) variance we could not reproduce exactly; our
# heteroskedasticity-robust AI (2006) SEs must be within 10 % of them.
NSW_AI_SE_REL = 0.10
# NSW treated vs CPS controls: |matched ATT - 1794.34| <= this x sqrt(se^2 + se_experimental^2).
NSW_CPS_SE_MULTIPLE = 2.0
# Covariate balance after matching: |SMD| below this on the matching covariates (Stuart 2010).
SMD_BALANCED = 0.1
# Own Newton logit vs statsmodels Logit: relative difference of coefficients (both converge to ~1e-10).
PROPENSITY_REL = 1e-6

# --- fixed effects, event study, duration -------------------------------------------------------
# Fast path vs pyfixest, absorbed FE vs explicit dummies, closed forms vs brute force: both sides are
# exact (no iterative demeaning), so only floating-point differences remain (relative).
FE_EXACT_REL = 1e-8
# Absolute floor for comparisons of numbers that are zero in exact arithmetic (e.g. leads of a noise-free
# event study).
FE_EXACT_ABS = 1e-10
# Printed tables: half a unit in the last printed digit (Wooldridge prints 3 decimals for union/married,
# 4 for exper^2 and its standard error; Stata prints 7 significant digits).
PRINTED_3DP = 0.0005
PRINTED_4DP = 0.00005
STATA_7SIG_REL = 5e-7
# Random specifications vs pyfixest at runtime (test_fe_property.py, issue #10): the bars,
# coefficients 1e-8 relative and standard errors 1e-6 relative, each with an absolute floor of the same
# size times the largest |expected| entry of the fit (for entries near zero). pyfixest is run at
# fixef_tol=1e-14; over 200 random specs (2-4 effects, crossed and nested) the worst differences seen were
# 7e-14 (coefficients) and 8e-9 (standard errors), so the bars hold with a wide margin.
FE_PROPERTY_COEF_REL = 1e-8
FE_PROPERTY_SE_REL = 1e-6
# Results that go through engine="pyfixest" (our wrapper runs pyfixest at fixef_tol=1e-10) vs our exact
# fast path on the same model: the iterative demeaning limits agreement to about 1e-9 relative.
FE_PYFIXEST_ENGINE_REL = 1e-7
# pyfixest's did2s demeans iteratively at its default convergence tolerance (not settable there): its
# first stage is accurate to about 1e-6 absolute on our test panels; our imputation solve is exact.
DID2S_REL = 1e-4
# Wild bootstrap vs a brute-force loop over the same weight draws: the same statistic computed two ways.
WILD_BOOT_P_ABS = 1e-12

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
# A drawn coordinate (point, whisker end, bar height, line vertex) vs the number it plots: matplotlib
# stores the floats it was given, so only round-off from our own offsets/CI arithmetic is allowed.
PLOT_DRAWN_REL = 1e-12
# Absolute slack for drawn values that are exactly 0 (relative tolerances are meaningless there).
PLOT_DRAWN_ABS = 1e-15

# --- formula grammar ----------------------------------------------------------------------------
# feols on our computed design columns vs pyfixest handed the same formula text (formulaic builds the
# columns): the columns are bit-identical and the solver is the same, so only summation order differs
# (measured: <= 3e-16 absolute on coefficients, <= 3e-15 relative on SEs). Relative, with an absolute
# floor of this times the largest |coefficient|.
FORMULA_SAME_FIT_REL = 1e-12
# r2 of feols("y ~ s:t") vs 1 - RSS/TSS of the s x t cell means computed by pandas groupby: the same
# projection by a QR solve vs group sums (398 rows, r2 0.449), so round-off only (measured 2.2e-16).
FORMULA_CELL_MEANS_REL = 1e-10

# --- heterogeneity (subgroup effects and multiple testing, issue #14) ---------------------------
# Subgroup estimates and their joint covariance vs the pooled fit's cohort aggregation, a subgroup's
# own att_gt/aggte fit or a hand-computed 2x2 DiD: the same arithmetic in another order (group sums vs
# per-cell sparse products), so floating point only: relative, with an absolute floor of
# HETERO_EXACT_ABS_SCALE x the largest magnitude compared (entries that are zero in exact arithmetic).
HETERO_EXACT_REL = 1e-9
HETERO_EXACT_ABS_SCALE = 1e-12
# Covariance of the shared-multiplier bootstrap draws vs the analytic joint covariance with 1,999
# draws: the Monte Carlo error of a variance is about sqrt(2 / B) = 3.2 % (so 15 % is > 4 SE), of a
# correlation about (1 - rho^2) / sqrt(B) <= 0.023 (so 0.1 is > 4 SE).
HETERO_BOOT_VAR_REL = 0.15
HETERO_BOOT_CORR_ABS = 0.1

# --- parallel-trends sensitivity (HonestDiD) and Rosenbaum bounds ---------------------------------
# The R package inverts the C-LF test on a grid of 1000 points over theta_hat's +- 20 sd (sd of
# l'beta_post): a printed bound lies up to one grid step (40 sd / 999) inside the exact one.
HONEST_R_GRID_SD = 40 / 999
# ... and its least-favourable critical value (the 99.5 % quantile of the ARP statistic under the least
# favourable null) comes from 1000 normal draws (R and moderndid, seed 0 in their own generators): that
# quantile's Monte Carlo sd is ~0.14 of the statistic's sd, and where the conditional test is truncated
# at it (Mbar = 0) the bounds move by up to 0.1 sd of theta_hat (moderndid's seed-0 draws give 1.67 where
# the exact value is 1.90 on the Medicaid average; ours use 10,000 draws). Allow 0.12 sd.
HONEST_LF_SIM_SD = 0.12
# R and moderndid optimise the FLCI over a grid of 100 standard deviations; ours is the exact optimum:
# the printed FLCIs agree to 3e-5 (0.004 sd) on the Medicaid example; allow 0.01 sd.
HONEST_FLCI_SD = 0.01
# Two routes to the same ARP test (vertex enumeration vs linear programmes) and bisection to 1e-9 of
# the search width: agreement to 1e-6 sd.
HONEST_ROUTES_SD = 1e-6

# --- Sun-Abraham from cell sums (issue #14) -----------------------------------------------------
# Cell-sum solve vs the dense saturated regression (feols) and vs pyfixest's i() regression: all three
# are exact direct solves, so only floating-point differences remain. Estimates, aggregates and vcov
# relative; standard errors (square roots of sums of squared scores) relative at the looser 1e-6; an
# absolute floor of SUNAB_ABS_FLOOR x the largest |expected| for entries that are near zero.
SUNAB_REL = 1e-8
SUNAB_SE_REL = 1e-6
SUNAB_ABS_FLOOR = 1e-10

# --- whole-chain bootstrap ----------------------------------------------------------------------
# The chain's full-sample estimates and each replication vs the same estimators called by hand on the
# same (re)sample: identical arithmetic except the order of a few sums (pandas groupby vs numpy on
# copies in another row order), measured <= 2e-15 relative; relative, with an absolute floor of this
# times the largest |expected|.
CHAIN_SAME_REL = 1e-10

# --- report robustness sections (tests/test_report_robustness.py) -------------------------------
# The report prints these tables with 4 decimals: half a unit in the last printed digit, plus 1e-12 for
# the binary representation of the printed value.
REPORT_TABLE_4DP_ABS = 5e-5 + 1e-12
