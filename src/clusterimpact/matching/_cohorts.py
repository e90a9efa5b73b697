"""match_panel's first half: checked inputs, panel keys, matching variables in g - 1, cohort by cohort.

Each function is one section of :func:`clusterimpact.matching.match_panel`; the stacking of the
matched cohorts is in :mod:`clusterimpact.matching._stacking`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._cohort import cohort_years
from clusterimpact._validation import check_choice, require_columns
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.matching._prepare import prepare
from clusterimpact.matching.core import Core, run_core
from clusterimpact.matching.options import MatchingOptions

#: Matching variables of the two documented designs (FirmPanel column names); see match_panel's Notes.
DESIGNS: dict[str, dict[str, Any]] = {
    "trends": {
        "covariates": ["age"],
        "pre_means": ["ln_emp", "ln_kl"],
        "trends": ["ln_lp"],
        "trend_window": 3,
    },
    "levels": {
        "covariates": ["ln_lp", "ln_emp", "age", "ln_kl"],
        "pre_means": [],
        "trends": ["ln_lp"],
        "trend_window": 2,
    },
}


@dataclass(frozen=True)
class Variables:
    """The matching variables: levels in g - 1, growth and pre-period means over ``trend_window``."""

    covariates: list[str]
    trends: list[str]
    pre_means: list[str]
    trend_window: int
    exact: list[str]

    def recorded(self) -> dict[str, Any]:
        """The variables as ``MatchResult.options`` records them."""
        return {
            "covariates": self.covariates,
            "pre_means": self.pre_means,
            "trends": self.trends,
            "trend_window": int(self.trend_window),
            "exact": self.exact,
        }


def resolve_variables(
    design: str | None,
    covariates: Sequence[str] | None,
    trends: Sequence[str] | None,
    pre_means: Sequence[str] | None,
    trend_window: int | None,
    exact: Sequence[str] | str | None,
) -> Variables:
    """The variables of a ``design``, or the ones given (not both)."""
    if design is not None:
        check_choice("design", design, tuple(DESIGNS))
        given = [
            name
            for name, v in (
                ("covariates", covariates),
                ("trends", trends),
                ("pre_means", pre_means),
                ("trend_window", trend_window),
            )
            if v is not None
        ]
        if given:
            raise SpecError(
                f"design={design!r} sets the matching variables; leave out {', '.join(given)} "
                "(or give them without a design)"
            )
        preset = DESIGNS[design]
        covariates = list(preset["covariates"])
        trends = list(preset["trends"])
        pre_means = list(preset["pre_means"])
        trend_window = int(preset["trend_window"])
    elif covariates is None:
        raise SpecError("give the matching covariates (covariates=[...]) or a design")
    return Variables(
        covariates=list(covariates),
        trends=list(trends or []),
        pre_means=list(pre_means or []),
        trend_window=2 if trend_window is None else trend_window,
        exact=[exact] if isinstance(exact, str) else list(exact or []),
    )


def check_inputs(
    df: pd.DataFrame,
    v: Variables,
    keys: tuple[str, str, str],
    outcome: str | None,
    horizon: int,
    window: tuple[int, int] | None,
    source: str,
) -> None:
    """Columns present, ``trend_window`` / ``horizon`` / ``window`` in range."""
    require_columns(df, list(keys), source=source, what="panel keys")
    require_columns(
        df, v.covariates + v.trends + v.pre_means, source=source, what="matching covariates"
    )
    require_columns(df, v.exact, source=source, what="exact-matching columns")
    if outcome is not None:
        require_columns(df, [outcome], source=source, what="outcome")
    tw = v.trend_window
    if int(tw) != tw or tw < 1:
        raise SpecError(f"trend_window must be a positive integer, got {tw!r}")
    if int(horizon) != horizon or horizon < 0:
        raise SpecError(f"horizon must be a non-negative integer, got {horizon!r}")
    if window is not None and (len(window) != 2 or window[0] > -1 or window[1] < 0):
        raise SpecError(
            f"window must be (first, last) event times with first <= -1 <= 0 <= last, got {window!r}"
        )


@dataclass(frozen=True)
class Keys:
    """Cohort and year of every row, and integer unit codes (positions in ``units``)."""

    gvals: np.ndarray
    years: np.ndarray
    ucode: np.ndarray
    units: pd.Index


def panel_keys(df: pd.DataFrame, unit: str, time: str, cohort: str, source: str) -> Keys:
    """One row per unit and year, a readable cohort and numeric years, or a DataError."""
    dup = df.duplicated([unit, time])
    if dup.any():
        raise DataError(
            f"duplicate {unit} x {time} rows; the panel must have one row per firm and year",
            source=source,
            rows=list(df.index[dup.to_numpy()]),
        )
    gvals = cohort_years(df[cohort], column=cohort, source=source, never=np.inf)
    years = pd.to_numeric(df[time], errors="coerce").to_numpy(float)
    if np.isnan(years).any():
        raise DataError(
            "missing or non-numeric years",
            source=source,
            column=time,
            rows=list(df.index[np.isnan(years)]),
        )
    ucode, uniq_units = pd.factorize(df[unit])
    return Keys(gvals=gvals, years=years, ucode=ucode, units=pd.Index(uniq_units))


def matching_frame(
    df: pd.DataFrame, k: Keys, v: Variables, unit: str, time: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Every row with its matching variables (growth and pre-means over the trend window).

    Returns the frame, the matching columns and the exact cells' integer-code columns.
    """
    # integer (unit, year) keys: lags by hashing int64 instead of merging strings
    y0 = int(k.years.min())
    key = k.ucode.astype(np.int64) * 10_000 + (k.years - y0).astype(np.int64)
    kidx = pd.Index(key)

    def lagged(columns: list[str], lag: int) -> np.ndarray:
        pos = kidx.get_indexer(pd.Index(key - lag))
        vals = df[columns].to_numpy(dtype=float, na_value=np.nan)[np.maximum(pos, 0)]
        vals[pos < 0] = np.nan
        return vals

    cols = list(dict.fromkeys([*v.covariates, *v.trends, *v.exact]))
    base = df[[unit, time, *cols]].copy()
    base["_g"] = k.gvals
    base["_row"] = np.arange(len(df))
    # exact cells as integer codes once (string columns are slow to group per cohort); missing stays NaN
    exact_codes = []
    for c in v.exact:
        codes, _ = pd.factorize(df[c], sort=True)
        name = f"_exact_{c}"
        base[name] = np.where(codes < 0, np.nan, codes.astype(float))
        exact_codes.append(name)
    growth_names = [f"{c}_growth" for c in v.trends]
    if v.trends:
        now = df[v.trends].to_numpy(dtype=float, na_value=np.nan)
        past = lagged(v.trends, v.trend_window)
        for j, name in enumerate(growth_names):
            base[name] = now[:, j] - past[:, j]
    mean_names = [f"{c}_pre_mean" for c in v.pre_means]
    if v.pre_means:
        stack_vals = np.stack([lagged(v.pre_means, lag) for lag in range(v.trend_window + 1)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
            means = np.nanmean(stack_vals, axis=0)
        for j, name in enumerate(mean_names):
            base[name] = means[:, j]
    match_cols = list(dict.fromkeys([*v.covariates, *growth_names, *mean_names]))
    return base, match_cols, exact_codes


def cohorts_to_match(gvals: np.ndarray, cohorts: Sequence[int] | None, cohort: str) -> np.ndarray:
    """The joining cohorts asked for (default: all), each with firms in ``cohort``."""
    finite_g = np.unique(gvals[np.isfinite(gvals)])
    if cohorts is not None:
        wanted = np.asarray(list(cohorts), float)
        missing = [int(c) for c in wanted if c not in finite_g]
        if missing:
            raise SpecError(f"cohort(s) {missing} have no firms in column '{cohort}'")
        finite_g = wanted
    if len(finite_g) == 0:
        raise EstimationError(f"no joining cohort in column '{cohort}' (all firms never join)")
    return finite_g


@dataclass
class CohortMatcher:
    """Matches one cohort at a time; collects the unmatched members and the messages."""

    base: pd.DataFrame
    years: np.ndarray
    unit_first_g: pd.Series
    unit: str
    control: str
    horizon: int
    match_cols: list[str]
    exact_codes: list[str]
    opts: MatchingOptions
    cutpoints: Mapping[str, Any] | None
    rng: np.random.Generator
    source: str
    unmatched_rows: list[dict[str, Any]]
    msgs: list[str]

    def _unmatched(self, g: int, unit: Any, reason: str) -> None:
        self.unmatched_rows.append({"stack": g, "unit": unit, "treated": 1, "reason": reason})

    def _sample(self, g: float) -> pd.DataFrame:
        """Cohort g's members and eligible controls, observed in g - 1 (index: unit)."""
        base = self.base
        at = base[self.years[base["_row"].to_numpy()] == g - 1]
        is_t = at["_g"].to_numpy() == g
        if self.control == "never":
            is_c = ~np.isfinite(at["_g"].to_numpy())
        else:
            is_c = at["_g"].to_numpy() > g + self.horizon
        cs = at[is_t | is_c].copy()
        cs["_treated"] = is_t[is_t | is_c].astype(int)
        cs.index = pd.Index(cs[self.unit].to_numpy(), name=self.unit)
        return cs

    def match(self, g: float) -> dict[str, Any] | None:
        """Match cohort ``g``; its stack (``g``, prepared sample ``p``, ``core``) or None if skipped."""
        g_int = int(g)
        cs = self._sample(g)
        members = self.unit_first_g.index[self.unit_first_g.to_numpy() == g]
        for u in members.difference(cs.index[cs["_treated"].to_numpy() == 1]):
            self._unmatched(g_int, u, "no_pre_year_observation")
        n_t = int(cs["_treated"].sum())
        if n_t == 0:
            self.msgs.append(f"cohort {g_int}: no member observed in {g_int - 1}; cohort skipped")
            return None
        if len(cs) - n_t == 0:
            self.msgs.append(
                f"cohort {g_int}: no eligible control observed in {g_int - 1}; cohort skipped"
            )
            for u in cs.index:
                self._unmatched(g_int, u, "no_control_in_cohort")
            return None
        p = prepare(
            cs,
            "_treated",
            self.match_cols,
            None,
            self.exact_codes,
            None,
            source=f"{self.source} (cohort {g_int})",
        )
        for lab, reason, dv in p.dropped:
            if dv == 1:
                self._unmatched(g_int, lab, reason)
        if (p.d == 1).sum() == 0 or (p.d == 0).sum() == 0:
            self.msgs.append(
                f"cohort {g_int}: no complete treated or control rows after missing values; skipped"
            )
            return None
        core = self._run(g_int, p)
        if core is None:
            return None
        labels = p.frame.index
        for i, reason in core.unmatched:
            if p.d[i] == 1:
                self._unmatched(g_int, labels[i], reason)
        return {"g": g_int, "p": p, "core": core}

    def _run(self, g_int: int, p: Any) -> Core | None:
        """The core on one cohort; its estimation warnings carry the cohort's name."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                core = run_core(
                    p, self.opts, bias_adjust=False, cutpoints=self.cutpoints, rng=self.rng
                )
            # the propensity model's warnings (quasi-separation) name the cohort they concern
            for w in caught:
                if issubclass(w.category, EstimationWarning):
                    self.msgs.append(f"cohort {g_int}: {w.message}")
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except EstimationError as exc:
            self.msgs.append(f"cohort {g_int}: {exc}; cohort skipped")
            for lab in p.frame.index[p.d == 1]:
                self._unmatched(g_int, lab, "matching_failed")
            return None
        return core
