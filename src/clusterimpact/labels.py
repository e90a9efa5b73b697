"""Reader-facing names of variables, table columns, estimators and terms, with their units.

One place for the words a reader sees: tables (balance, regression, comparison, subgroups), the love
plot and the report's key findings call :func:`label` instead of printing column names such as
``ln_emp_pre_mean`` ("Size (ln FTE), mean over g-4..g-1"). Unknown names come back unchanged, so a
user's own column is never hidden behind a wrong label.

Matching variables built by :func:`clusterimpact.matching.match_panel` are named after the panel column
with a suffix: ``<col>_pre_mean`` (mean over the ``window + 1`` years up to ``g-1``) and
``<col>_growth`` (change from ``g-1-window`` to ``g-1``), where ``g`` is the joining year and
``window`` the design's ``trend_window`` (3 in the default ``trends`` design).
"""

from __future__ import annotations

import re

__all__ = [
    "COLUMN_LABELS",
    "ESTIMATOR_LABELS",
    "VARIABLE_LABELS",
    "column_label",
    "estimator_label",
    "label",
    "matching_window",
    "term_label",
]

#: Panel and outcome columns: name -> label with unit.
VARIABLE_LABELS: dict[str, str] = {
    "ln_lp": "ln labour productivity (VA per FTE)",
    "lp": "Labour productivity (VA per FTE)",
    "ln_tfp_ols": "ln TFP (OLS)",
    "ln_tfp_fe": "ln TFP (within FE)",
    "ln_tfp_op": "ln TFP (Olley-Pakes)",
    "ln_tfp_lp": "ln TFP (Levinsohn-Petrin)",
    "ln_tfp_acf": "ln TFP (ACF)",
    "ln_tfp_wooldridge": "ln TFP (Wooldridge)",
    "ln_emp": "Size (ln FTE)",
    "emp": "Employment (FTE)",
    "age": "Age (years)",
    "founded": "Founding year",
    "ln_kl": "Capital intensity (ln K/L)",
    "ln_va": "Value added (ln, deflated)",
    "va": "Value added (deflated)",
    "ln_capital": "Capital (ln tangible fixed assets, deflated)",
    "capital": "Capital (tangible fixed assets, deflated)",
    "ln_materials": "Intermediate inputs (ln, deflated)",
    "materials": "Intermediate inputs (deflated)",
    "ln_wages": "Wage bill (ln, deflated)",
    "wages": "Wage bill (deflated)",
    "ln_turnover": "Turnover (ln, deflated)",
    "turnover": "Turnover (deflated)",
    "ln_investment": "Investment (ln, deflated)",
    "investment": "Investment (deflated)",
    "member": "Member (0/1)",
    "member_years": "Years of membership",
    "treat_year": "Joining year (cohort)",
    "rel_year": "Years since joining",
    "nace": "Sector (NACE Rev. 2)",
    "region": "Region",
    "cluster": "Cluster",
    "year": "Year",
    "firm_id": "Firm",
}

#: Short names of a variable used inside growth labels ("Productivity growth (Δ ln VA per FTE)").
_GROWTH_LABELS: dict[str, str] = {
    "ln_lp": "Productivity growth (Δ ln VA per FTE)",
    "ln_emp": "Size growth (Δ ln FTE)",
    "ln_kl": "Capital-intensity growth (Δ ln K/L)",
    "ln_va": "Value-added growth (Δ ln VA)",
}

#: Table columns (balance, comparison, matching counts): name -> header with unit.
COLUMN_LABELS: dict[str, str] = {
    "covariate": "Covariate",
    "variable": "Covariate",
    "cohort": "Cohort (joining year)",
    "mean_treated": "Mean, members",
    "mean_control": "Mean, controls",
    "mean_control_before": "Mean, controls before matching",
    "mean_control_after": "Mean, matched controls",
    "smd_before": "SMD before",
    "smd_after": "SMD after",
    "smd_unmatched": "SMD before",
    "smd_matched": "SMD after",
    "var_ratio_before": "Variance ratio before",
    "var_ratio_after": "Variance ratio after",
    "var_ratio": "Variance ratio",
    "n_treated": "Members (firms)",
    "n_control": "Controls (firms)",
    "estimate": "Estimate",
    "std_error": "Std. error",
    "conf_low": "CI low",
    "conf_high": "CI high",
    "p_value": "p-value",
    "nobs": "Observations",
}

#: Estimator keys -> names.
ESTIMATOR_LABELS: dict[str, str] = {
    "twfe": "TWFE",
    "cs": "Callaway-Sant'Anna",
    "sa": "Sun-Abraham",
    "imputation": "Imputation (BJS)",
    "matched_did": "Matched DiD",
    "duration": "Premium by years of membership",
}


def _window_text(window: int) -> str:
    return f"g-{int(window) + 1}..g-1"


def label(name: str, *, window: int = 3) -> str:
    """The reader-facing label of a variable, with its unit.

    Parameters
    ----------
    name
        A panel, outcome or matching-variable column (``ln_emp_pre_mean``, ``ln_lp_growth``, ...).
    window
        The matching design's ``trend_window``: pre-joining means run over ``g-(window+1)..g-1``
        and growth from ``g-(window+1)`` to ``g-1`` (3 in the default ``trends`` design).

    Returns
    -------
    str
        The label; a name not known here is returned unchanged.

    Examples
    --------
    >>> label("ln_emp_pre_mean")
    'Size (ln FTE), mean over g-4..g-1'
    >>> label("ln_lp_growth", window=2)
    'Productivity growth (Δ ln VA per FTE), g-3 to g-1'
    >>> label("my_column")
    'my_column'
    """
    s = str(name)
    if s in VARIABLE_LABELS:
        return VARIABLE_LABELS[s]
    if s.endswith("_pre_mean"):
        base = s[: -len("_pre_mean")]
        if base in VARIABLE_LABELS:
            return f"{VARIABLE_LABELS[base]}, mean over {_window_text(window)}"
    if s.endswith("_growth"):
        base = s[: -len("_growth")]
        if base in _GROWTH_LABELS or base in VARIABLE_LABELS:
            head = _GROWTH_LABELS.get(base, f"Change in {VARIABLE_LABELS.get(base, base)}")
            return f"{head}, g-{int(window) + 1} to g-1"
    return s


def matching_window(result: object, default: int = 3) -> int:
    """The ``trend_window`` a matching result was built with (``MatchResult.options``), for
    ``label(name, window=...)``; ``default`` (the ``trends`` design's 3) when it does not say.

    Examples
    --------
    >>> class M:
    ...     options = {"trend_window": 2}
    >>> label("ln_emp_pre_mean", window=matching_window(M()))
    'Size (ln FTE), mean over g-3..g-1'
    """
    opts = getattr(result, "options", None)
    w = opts.get("trend_window") if isinstance(opts, dict) else None
    return int(w) if w is not None else int(default)


def column_label(name: str) -> str:
    """Header of a table column (``mean_treated`` -> ``Mean, members``); unknown names unchanged.

    Examples
    --------
    >>> column_label("smd_after")
    'SMD after'
    """
    return COLUMN_LABELS.get(str(name), str(name))


def estimator_label(key: str) -> str:
    """Name of an estimator key (``cs`` -> ``Callaway-Sant'Anna``); unknown keys unchanged.

    Examples
    --------
    >>> estimator_label("sa")
    'Sun-Abraham'
    """
    return ESTIMATOR_LABELS.get(str(key), str(key))


_TERM_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^member_years::(\d+)\+$"), "Years {0}+ of membership"),
    (re.compile(r"^member_years::(\d+)$"), "Year {0} of membership"),
    (re.compile(r"^dynamic:(-?\d+)$"), "Event time {0}"),
    (re.compile(r"^group:(\d+)$"), "Cohort {0}"),
    (re.compile(r"^calendar:(\d+)$"), "Calendar year {0}"),
    (re.compile(r"^cluster:(.+)$"), "Cluster: {0}"),
)
_TERMS: dict[str, str] = {
    "slope": "Slope per year of membership",
    "average": "Average over years of membership",
    "simple": "Overall ATT (simple)",
    "dynamic": "Overall ATT (event-time average)",
    "group": "Overall ATT (cohort average)",
    "calendar": "Overall ATT (calendar-year average)",
}


def term_label(term: str) -> str:
    """Reader-facing name of a result term (``member_years::2`` -> ``Year 2 of membership``,
    ``dynamic:-3`` -> ``Event time −3``); unknown terms unchanged.

    Examples
    --------
    >>> term_label("member_years::5+"), term_label("dynamic:-2"), term_label("slope")
    ('Years 5+ of membership', 'Event time −2', 'Slope per year of membership')
    """
    s = str(term)
    if s in _TERMS:
        return _TERMS[s]
    for pat, text in _TERM_PATTERNS:
        m = pat.match(s)
        if m:
            g = m.group(1)
            return text.format("−" + g[1:] if re.fullmatch(r"-\d+", g) else g)
    return s
