"""Every numeric tolerance used by the tests, named and commented (STYLE.md, Tests 2; tests/README.md).

Comparisons go through ``tests/_asserts.assert_close(actual, expected, rel=, floor=, abs=)``, which allows
``abs + floor * max|expected| + rel * |expected|`` per element.

How the numbers are chosen:

- Floating point (one quantity computed along two summation paths: another BLAS kernel, thread count,
  SIMD width, row order, a closed form vs a solve). Double precision rounds each operation by 1.1e-16;
  a sum of n terms or a solve with condition number kappa loses up to about n * kappa * eps *of the
  largest terms involved*, so an entry that is small because of cancellation (a covariance of 2.6e-6
  among variances of 5e-4) carries the absolute error of the large ones. Such comparisons therefore
  always get an absolute floor scaled to the magnitude of the compared array (``floor``), next to the
  relative tolerance (``rel``). ``python tests/_tolerance_audit.py`` runs the suite under several
  OpenBLAS kernels, numpy SIMD levels and thread counts: no floating-point tolerance may use more than
  half of itself (``MAX_SHARE`` there; the table is in tests/README.md).
- Against full-precision output of other software: ~1e-6 relative (different algorithms, same estimand).
- Against a printed table: half a unit in the last printed digit (``printed_precision``).
- Statistical checks (bootstrap vs analytic, truth within k standard errors): a multiple of the
  estimate's own standard error or of the Monte Carlo error, never a fixed number without a reason.

Each area owns its section below; add to your own section only. ``NOT_FLOATING_POINT`` lists the
tolerances that are not floating-point noise (printed precision, statistical windows, a solver's
convergence tolerance): the audit holds them to "passes on every configuration" and reports how much
the machine moves them, instead of "uses at most half".
"""

# --- general ------------------------------------------------------------------------------------
# |estimate - truth| <= TRUTH_SE_MULTIPLE * se on the default seed (DoubleML's 3-SE rule).
TRUTH_SE_MULTIPLE = 3.0
# Two implementations of the same arithmetic (e.g. absorbed FE vs explicit dummies, a closed form vs a
# solve, weights vs duplicated rows, shuffled rows): floating-point only. Relative per element, plus
# the floor below: sums over n <= 1e5 rows with condition numbers <= 1e4 lose at most ~1e-10 of the
# largest entry in practice (the audit's largest share of these is in tests/README.md).
EXACT_REL = 1e-8
EXACT_FLOOR = 1e-10
# The same elementwise formula evaluated in another order (a handful of roundings, no long sums).
ELEMENTWISE_REL = 1e-12
# A value the code stores as given (parsed from a file, passed through JSON with 17 digits, drawn by
# matplotlib): equal but for the last bits.
STORED_REL = 1e-12
# A scalar root from scipy's brentq (xtol 1e-10 in the package): the function at the returned root is
# within this of its target (p-values and critical values of order one).
ROOT_FIND_ABS = 1e-9
# A linear programme solved by HiGHS (scipy.optimize.linprog): its default primal/dual feasibility
# tolerance is 1e-7, so an optimum agrees with a closed form to that, relative.
LP_SOLVER_REL = 1e-7
# "These two differ": more than this share of the magnitude, far above floating-point noise (EXACT_*)
# and far below the differences the tests expect (a coarser clustering, another seed: percent level).
DISTINCT_REL = 1e-6


def printed_precision(decimals: int) -> float:
    """Half a unit in the last printed digit of a number printed with ``decimals`` decimals.

    The factor 1 + 1e-9 absorbs the binary representation of the decimal half-unit boundary.
    """
    return 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)


# --- panel / synthetic --------------------------------------------------------------------------
# synthetic: accounts are rounded to 100 EUR (money) and 0.01 FTE; the logs the panel rebuilds from the
# nominal files differ from the latent real logs by at most this much (the smallest firms, ~1 FTE).
SYNTH_ROUNDING_LOG = 0.02
# synthetic truth vs a brute-force recomputation from the latent firm-years: the truth JSON keeps 10
# significant digits (half a unit in the 10th digit is 5e-10 relative); summation order adds ~1e-15.
SYNTH_TRUTH_REL = 1e-9
# ... with an absolute floor of this times the largest |value| compared (effects that are exactly 0).
SYNTH_TRUTH_ABS_SCALE = 1e-12
# synthetic: turnover = round(va + materials, 1) while va and materials are rounded separately to 0.1
# (thousand EUR): all three are multiples of 0.1, so they differ by at most one rounding unit.
SYNTH_TURNOVER_ABS = 0.1 + 1e-6
# A panel rebuilt from the written CSV files vs the one built in memory: the files hold the rounded
# nominal values with 17 significant digits and the deflators with 6 decimals, and both builds use the
# same arithmetic on them.
FILE_ROUNDTRIP_REL = 1e-9

# --- productivity -------------------------------------------------------------------------------
# prodest 0.1.1 Table 1 (Chilean plants) prints 3 decimals: half a unit in the last printed digit.
PRODEST_TABLE_ABS = printed_precision(3)
# Bootstrap SEs vs the published 20-replication bootstrap SEs: order of magnitude only (ratio bound).
PRODEST_SE_RATIO = 5.0
# Invariances (rescaling, row order, levels vs logs) are floating-point identities up to the
# optimiser's tolerance (gradient norm ~1e-8 on criteria of order one: parameters to ~1e-7).
TFP_INVARIANCE_ABS = 1e-6
# ACF on the synthetic panel (15,000 firms) without the firm effect (sd_alpha=0): 3 x the Monte Carlo
# sd of the labour elasticity (0.0049 over 8 seeds at 15,000 firms).
ACF_MARKOV_ABS = 0.015
# The same draws with the firm effect (sd_alpha=0.12): ACF's labour elasticity rises by 0.010-0.013
# (8 paired seeds at 30,000 firms; +0.0125 on 8 seeds at 15,000): half the smallest increase.
ACF_FIRM_EFFECT_MIN_BIAS = 0.006
# ... while Wooldridge's moves by 0.0005-0.0007 (same seeds): three times the largest.
WOOLDRIDGE_FIRM_EFFECT_ABS = 0.002
# ... and the TFP series then shifts by a constant to within |d beta| x |log inputs| (logs up to ~10).
TFP_SHIFT_ABS = 1e-5
# Central finite differences with step 1e-6 vs an exact derivative: truncation O(h^2) ~ 1e-12 and
# cancellation eps * |f| / h ~ 1e-10 of the magnitude of the differenced function.
FINITE_DIFF_REL = 1e-6
FINITE_DIFF_FLOOR = 1e-7
# Wooldridge one-step vs two-step (efficient) GMM: the same probability limit; on 400 firms the weight
# matrix's sampling noise moves the estimates by 0.01 (capital) to 0.07 (labour) of the smaller SE.
WOOLDRIDGE_STEPS_SE_MULTIPLE = 2.0
# Estimated TFP vs the true productivity it estimates: correlation at least this (ACF on the test DGP
# reaches 0.998, Wooldridge on the synthetic default 0.99997; omega-hat with half the labour elasticity
# wrong falls well below).
TFP_OMEGA_CORR_MIN = 0.95
# ACF's criterion on Dask vs in memory (the parameters and ln TFP meet DASK_REL): m'Wm/n is ~0 at the
# optimum (3e-7 on 600 firms of the 10^6-row test panel) and m = Z'T - Z'G gamma is the difference of
# terms of order one, so their roundoff (~1e-16 relative each, summed in another order) is ~1e-10 of
# the criterion itself: measured 2.7e-10 (4 partitions) there, under 1e-11 on 20,000 rows.
ACF_CRITERION_REL = 1e-8

# --- matching -----------------------------------------------------------------------------------
# Imbens' 2004 nnmatch log prints estimates to 3 decimals; the two copies of the NSW earnings differ by
# float32 rounding (~0.002 on the estimate): agreement "to the cent".
NSW_AI_ESTIMATE_ABS = 0.01
# The same log's SEs use the 2004 default (homoskedastic) variance we could not reproduce exactly; our
# heteroskedasticity-robust AI (2006) SEs must be within 10 % of them.
NSW_AI_SE_REL = 0.10
# NSW treated vs CPS controls: |matched ATT - 1794.34| <= this x the sd of the difference. Both
# estimates use the same 185 treated, so their outcomes cancel; the sd left is that of the two control
# means (conservative: the matched controls' variance is not conditioned on X). The test also checks
# that the window excludes an ATT of zero.
NSW_CPS_SE_MULTIPLE = 2.0
# Covariate balance after matching: |SMD| below this on the matching covariates (Stuart 2010).
SMD_BALANCED = 0.1
# Matched DiD (estimation.matched) vs the same estimator written with loops in the test: the same
# sums in another order over ~1,000 firm-stacks of O(1) log outcomes: floating point only.
MATCHED_DID_BRUTE_REL = 1e-10
MATCHED_DID_BRUTE_FLOOR = 1e-12
# Panel matching on pre-trends (synthetic default, 3,000 firms): the matched members' and controls'
# transitory productivity u in g-1 differ by 0.005; the sampling sd of that gap is ~0.02, and matching
# on levels instead leaves -0.046. Balanced means within this.
MATCHED_U_GAP_ABS = 0.025
# Own Newton logit vs statsmodels Logit: relative difference of coefficients (both converge to ~1e-10).
PROPENSITY_REL = 1e-6
# Logit SEs: ours from the expected information, statsmodels' from the observed one (equal for the
# logit link at the same optimum); both optima converge to ~1e-8, which moves the SEs by ~1e-5.
PROPENSITY_SE_REL = 1e-4

# --- fixed effects, event study, duration -------------------------------------------------------
# Fast path vs pyfixest, absorbed FE vs explicit dummies, closed forms vs brute force: both sides are
# exact (no iterative demeaning), so only floating-point differences remain: relative per element plus
# a floor scaled to the magnitude (coefficients near zero, covariances).
FE_EXACT_REL = 1e-8
FE_EXACT_FLOOR = 1e-10
# Absolute floor for numbers that are zero in exact arithmetic on an O(1) outcome (kept for callers
# that have no magnitude to scale by; prefer FE_EXACT_FLOOR x the fit's largest coefficient).
FE_EXACT_ABS = 1e-10
# Printed tables: half a unit in the last printed digit (Wooldridge prints 3 decimals for union/married,
# 4 for exper^2 and its standard error; Stata's xtreg prints 7 decimals).
PRINTED_3DP = printed_precision(3)
PRINTED_4DP = printed_precision(4)
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
# Wild bootstrap p-value vs the t(G-1) p-value with 250 clusters: equal up to the bootstrap's Monte
# Carlo sd sqrt(p (1 - p) / B) (at least sqrt(1/B) / sqrt(B)); this many Monte Carlo sds.
WILD_BOOT_MC_SE_MULTIPLE = 3.0

# --- staggered DiD ------------------------------------------------------------------------------
# mpdta vs R did's full-precision aggregates (issue #6): points absolute, analytic SEs relative.
CS_POINT_ABS = 1e-6
CS_SE_REL = 1e-4
# mpdta ATT(g,t) vs the R did table printed to 4 decimals: half a unit in the last digit.
CS_PRINTED_ABS = printed_precision(4)
# mpdta ATT(g,t) vs csdid 0.4.3 at full precision (same arithmetic, another implementation): relative,
# with a floor scaled to the largest cell (pre-period cells near zero).
CS_PEER_REL = 1e-8
CS_PEER_FLOOR = 1e-10
# improved DR (ours) vs traditional DR (csdid) with ~lpop: different nuisance estimators, ~1e-4 apart.
CS_DR_VARIANT_ABS = 1e-3
# multiplier-bootstrap SE vs analytic SE with 999 draws: IQR-based scale has ~5% Monte Carlo error.
CS_BOOT_SE_REL = 0.15
# Moments of 1e6 bootstrap multipliers vs their exact values: the Monte Carlo sd of the mean and of
# the variance is 1e-3, so this is 10 sd (Mammen's third moment, sd 2.2e-3, gets three times it).
MULTIPLIER_MOMENT_ABS = 0.01
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
# Small-sample factor (issue #14): att_gt's standard errors vs the textbook two-sample variance computed
# by hand on an 11-firm panel (a few dozen roundings): floating point only, relative with a floor of
# SMALL_SAMPLE_ABS_SCALE x the largest magnitude compared.
SMALL_SAMPLE_REL = 1e-10
SMALL_SAMPLE_ABS_SCALE = 1e-12
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
# Imputation leads x lags: a bootstrap covariance from B draws vs the influence scores' cross block.
# The sample covariance's Monte Carlo SE is sd((x - xbar)(y - ybar)) / sqrt(B), estimated from the
# draws; 12 lead x lag entries, each within 3.5 MC SEs (two-sided normal 4.7e-4 each, 0.6 % for all 12
# if independent) -- the scores' cross block carries no small-sample factor, which moves it by < 0.5 %.
HONEST_IMPUTATION_BOOT_Z = 3.5
# Rosenbaum (2011)'s web supplement prints the upper p-value bound of the U-statistic (8, 6, 7) on the
# methotrexate pairs with 8 decimals (0.02910648) and the scaled scores with 3: half a unit in the last
# printed digit. (Evaluating the binomial coefficients at tied average ranks as 0 when x < k, as scipy's
# comb does, gives 0.02910532, 117 units of the last digit off: the printed value pins the convention.)
ROSENBAUM_U_PRINTED_ABS = printed_precision(8)
ROSENBAUM_SCORES_PRINTED_ABS = printed_precision(3)

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
# Chain SE vs the fixed-TFP bootstrap SE on the same firm draws: log(chain / fixed) may fall below 0
# only by Monte Carlo error; its MC SE comes from the paired draws (ChainResult.se_ratio_fixed_mc_se,
# delta method). One-sided at 3 MC SEs: a true ratio >= 1 fails with probability <= 0.00135 per term.
CHAIN_FIXED_MC_Z = 3.0
# The delta-method MC SE of log(S_c / S_f) vs the spread of log(S_c / S_f) over 400 independent sets of
# 100 paired normal draws: the spread's own relative SE is 1 / sqrt(2 x 399) = 3.5 %, the delta
# method's bias at B = 100 is of order 1 / B; 10 % is about 2.8 of those SEs.
CHAIN_RATIO_MC_REL = 0.10

# --- report robustness sections (tests/test_report_robustness.py) -------------------------------
# The report prints these tables with 4 decimals: half a unit in the last printed digit
# (printed_precision absorbs the binary representation of the printed value).
REPORT_TABLE_4DP_ABS = printed_precision(4)

# --- story: units, labels, key findings (report content) ------------------------------------------
# log_to_percent vs an independent evaluation (exp(b) - 1 via math.exp, or a known ratio such as
# ln(1.05) -> 5 %): a handful of roundings, no sums (np.expm1 is exact to 1 ulp; exp(b) - 1 loses up to
# ~1e-16 / |b| relative for small b, so the floor is absolute, scaled to 100 % of the magnitude).
STORY_PERCENT_REL = 1e-12
STORY_PERCENT_FLOOR = 1e-12
# Delta-method SE (100·exp(b)·se) vs a central difference with h = 1e-6: truncation ~h²/6 relative,
# rounding ~eps·|f|/h ~ 1e-11 relative; 1e-8 leaves a wide margin and still fails a wrong derivative.
STORY_CENTRAL_DIFF_REL = 1e-8
# A number a finding sentence states vs the table cell or result it rests on: the sentence prints
# percents with 1 decimal, slopes in percentage points with 2; half a unit in the last printed digit.
STORY_FINDING_PCT_ABS = printed_precision(1)
STORY_FINDING_PP_ABS = printed_precision(2)
# The duration sentence states 100 × slope with 2 decimals, the table the slope with 4: half a unit
# of each printed digit (0.005 + 100 × 0.00005).
STORY_SLOPE_PP_ABS = printed_precision(2) + 100 * printed_precision(4)
# A table cell printed with 2 decimals (regression_table(digits=2)) vs its value computed in the test.
STORY_TABLE_2DP_ABS = printed_precision(2)

# --- dask: the Dask back end vs the in-memory engine (#16) ---------------------------------------
# The Dask path sums the same per-row statistics (cross-products, cell totals, scores) partition by
# partition and adds the partial sums on the client; one pass over the whole frame adds them in
# another order. Only the order of summation differs: roundoff of a few 1e-16 relative per sum,
# amplified by the condition of the small solves (secondary system, X'X) to well below 1e-12 here;
# 1e-10 relative, with an absolute floor of 1e-10 times the largest |expected| (for entries that are
# small by cancellation), is the exactness bar and still fails any real difference.
DASK_REL = 1e-10
DASK_FLOOR = 1e-10
# The survival probit of the Olley-Pakes exit correction (our Newton steps, stopped when a step is
# below 1e-10 of the coefficients' size, on summed likelihood sums) vs statsmodels' Probit (Newton to
# tol 1e-13) on the same design: both at the maximum to their stopping rules, so the fitted
# probabilities agree to about 1e-10 relative at worst (measured 4e-15 on the 300-firm test panel).
SURVIVAL_PROBIT_REL = 1e-10

# --- synthetic Parquet for the Dask back end (issue #16) -----------------------------------------
# write_parquet holds one chunk of firms (plus 8 bytes per firm): 10x the firms at a fixed chunk size
# must raise the traced peak memory by far less than 10x. Measured 1.15x (2.9 MB -> 3.3 MB, chunks of
# 500 firms, 1,000 -> 10,000 firms); simulate(), which holds the panel, grows about 10x. 2x fails a
# generator that keeps even a fifth of the panel.
PARQUET_PEAK_GROWTH_10X = 2.0

# --- not floating-point noise (see the module docstring) ------------------------------------------
NOT_FLOATING_POINT = (
    "PARQUET_PEAK_GROWTH_10X",
    "printed_precision",
    "PRINTED_",
    "PRODEST_TABLE_ABS",
    "PRODEST_SE_RATIO",
    "NSW_AI_ESTIMATE_ABS",
    "NSW_AI_SE_REL",
    "CS_PRINTED_ABS",
    "CS_POINT_ABS",
    "CS_SE_REL",
    "CS_DR_VARIANT_ABS",
    "CS_BOOT_SE_REL",
    "DID2S_REL",
    "SYNTH_ROUNDING_LOG",
    "SYNTH_TURNOVER_ABS",
    "WOOLDRIDGE_STEPS_SE_MULTIPLE",
    "WILD_BOOT_MC_SE_MULTIPLE",
    "MULTIPLIER_MOMENT_ABS",
    "TFP_OMEGA_CORR_MIN",
    "MATCHED_U_GAP_ABS",
    "TRUTH_SE_MULTIPLE",
    "NSW_CPS_SE_MULTIPLE",
    "SMD_BALANCED",
    "SYNTH_TRUTH_REL",
    "ACF_MARKOV_ABS",
    "ACF_FIRM_EFFECT_MIN_BIAS",
    "WOOLDRIDGE_FIRM_EFFECT_ABS",
    "HETERO_BOOT_VAR_REL",
    "SMALL_SAMPLE_REL",
    "SMALL_SAMPLE_ABS_SCALE",
    "HETERO_BOOT_CORR_ABS",
    "HONEST_R_GRID_SD",
    "HONEST_LF_SIM_SD",
    "HONEST_FLCI_SD",
    "ROSENBAUM_U_PRINTED_ABS",
    "ROSENBAUM_SCORES_PRINTED_ABS",
    "ROOT_FIND_ABS",
    "LP_SOLVER_REL",
    "REPORT_TABLE_4DP_ABS",
    "STORY_FINDING_PCT_ABS",
    "STORY_FINDING_PP_ABS",
    "STORY_TABLE_2DP_ABS",
    "STORY_SLOPE_PP_ABS",
)
