"""Shared behaviour of every result object.

Every estimator returns a frozen dataclass that derives from :class:`EstimateResult`. The shared
vocabulary (after statsmodels/linearmodels): ``params``, ``std_errors``, ``conf_int(level)``, ``tidy()``,
``summary()``, ``to_latex()``, ``plot()``, ``to_dict()``, ``overall_term`` (the headline term's name or
``None``) and ``pretrend`` (one :class:`PreTrendTest`, or ``None`` where the estimator has no
pre-test). This module is the base layer: it imports nothing from ``estimation``, ``plotting`` or
``report`` (``plot`` and ``_repr_html_`` import lazily). Inference uses the t distribution with ``df_resid`` degrees of
freedom when it is set (fixed-effects regressions with Stata's conventions) and the normal otherwise.
Uniform (simultaneous) bands are available where an estimator stored a ``crit_value``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.provenance import Provenance

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "TIDY_COLUMNS",
    "EstimateResult",
    "PreTrendTest",
    "ProfileResult",
    "json_ready",
    "tidy_frame",
]

TIDY_COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]


@dataclass(frozen=True)
class PreTrendTest:
    """A joint test that the leads (pre-treatment effects) of an event study are zero.

    The one pre-trend vocabulary of every result (``result.pretrend``).

    Attributes
    ----------
    statistic
        The Wald statistic (chi-squared) when ``method == "wald"``; the F statistic (Wald / ``df``)
        when ``method == "f"``.
    df
        Numerator degrees of freedom (the number of independent restrictions tested).
    df_denom
        Denominator degrees of freedom of the F reference; ``None`` for chi-squared.
    p_value
        P-value of the statistic in its reference distribution (NaN when nothing could be tested).
    method
        ``"wald"`` (chi-squared reference) or ``"f"`` (F reference).
    terms
        The lead terms tested (names in the result's ``params``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> test = ci.event_study(df, outcome="ln_lp", window=(-3, 3)).pretrend
    >>> type(test).__name__, test.terms
    ('PreTrendTest', ('rel_year::-3', 'rel_year::-2'))
    """

    statistic: float
    df: int
    df_denom: float | None
    p_value: float
    method: str
    terms: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.method not in ("wald", "f"):
            raise ValueError(f"PreTrendTest.method must be 'wald' or 'f', got {self.method!r}")
        if (self.method == "f") != (self.df_denom is not None):
            raise ValueError("PreTrendTest: an F test needs df_denom; a Wald test has none")

    @classmethod
    def from_wald(cls, test: Any) -> PreTrendTest:
        """The pre-trend test of a joint Wald test of the leads
        (:class:`clusterimpact.estimation.inference.WaldTest`: ``statistic``, ``df_num``, ``df_denom``,
        ``p_value``, ``terms``); an F test when it has ``df_denom``, else chi-squared."""
        df_denom = None if test.df_denom is None else float(test.df_denom)
        return cls(
            statistic=float(test.statistic),
            df=int(test.df_num),
            df_denom=df_denom,
            p_value=float(test.p_value),
            method="wald" if df_denom is None else "f",
            terms=tuple(str(t) for t in test.terms),
        )

    @property
    def df_num(self) -> int:
        """Numerator degrees of freedom (the name of :attr:`df` before issue #13)."""
        return self.df

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: statistic, df, df_num (= df, the key before #13), df_denom, p_value,
        method, terms; NaN and infinity as ``None``."""
        return {
            "statistic": _f(self.statistic),
            "df": int(self.df),
            "df_num": int(self.df),
            "df_denom": None if self.df_denom is None else _f(self.df_denom),
            "p_value": _f(self.p_value),
            "method": self.method,
            "terms": [str(t) for t in self.terms],
        }


@dataclass(frozen=True, kw_only=True)
class EstimateResult:
    """Base of all result objects: labelled estimates with their inference.

    Attributes
    ----------
    params
        Point estimates, indexed by term name.
    std_errors
        Standard errors, same index as ``params``.
    nobs
        Number of observations used.
    method
        Short estimator name (``"twfe"``, ``"cs"``, ``"acf"``, ...).
    provenance
        Package version, data hash, seed and options that produced the result.
    df_resid
        Degrees of freedom of the t reference distribution; ``None`` means normal.
    vcov
        Covariance matrix of ``params`` where one exists.
    crit_value
        Critical value of a uniform (simultaneous) confidence band at ``band_level``; ``None`` when the
        estimator computed none.
    band_level
        Confidence level that ``crit_value`` belongs to.
    warnings
        Messages raised during estimation (also issued as Python warnings).
    exclusions
        Observations left out of the estimation sample, counted by reason.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> result = ci.static_premium(example_panel(), outcome="ln_lp")  # an EstimateResult
    >>> list(result.tidy().columns)
    ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high']
    >>> ci90 = result.conf_int(0.90)
    >>> bool((ci90["lower"] < result.params).all() and (result.params < ci90["upper"]).all())
    True
    >>> print(result.summary())  # doctest: +ELLIPSIS
    FixedEffectsResult (static_premium): ln_lp ~ member | firm_id + year
    ...
    """

    params: pd.Series
    std_errors: pd.Series
    nobs: int
    method: str
    provenance: Provenance
    df_resid: float | None = None
    vcov: pd.DataFrame | None = None
    crit_value: float | None = None
    band_level: float = 0.95
    warnings: tuple[str, ...] = ()
    exclusions: dict[str, int] = field(default_factory=dict)

    #: name of the :mod:`clusterimpact.plotting` function that :meth:`plot` delegates to
    _plot_with: ClassVar[str] = "plot_forest"

    # -- vocabulary ------------------------------------------------------------------------------
    @property
    def overall_term(self) -> str | None:
        """Name of the headline term in ``params`` (an overall ATT, the membership dummy, a slope);
        ``None`` when the estimator has no single headline. Estimators with one override this."""
        return None

    @property
    def pretrend(self) -> PreTrendTest | None:
        """The joint test of the pre-treatment leads, where the estimator has one (else ``None``)."""
        return None

    # -- inference -------------------------------------------------------------------------------
    @property
    def tstats(self) -> pd.Series:
        """Estimates divided by their standard errors."""
        return self.params / self.std_errors

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values against zero (t with ``df_resid`` or normal)."""
        t = np.abs(self.tstats.to_numpy(dtype=float))
        if self.df_resid is not None and np.isfinite(self.df_resid):
            p = 2 * stats.t.sf(t, self.df_resid)
        else:
            p = 2 * stats.norm.sf(t)
        return pd.Series(p, index=self.params.index, name="p_value")

    def critical_value(self, level: float = 0.95) -> float:
        """Pointwise two-sided critical value at ``level``."""
        _check_level(level)
        q = 0.5 + level / 2
        if self.df_resid is not None and np.isfinite(self.df_resid):
            return float(stats.t.ppf(q, self.df_resid))
        return float(stats.norm.ppf(q))

    def conf_int(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """Confidence intervals with columns ``lower`` and ``upper``.

        Parameters
        ----------
        level
            Coverage level, in (0, 1).
        uniform
            Use the simultaneous band's critical value (only at the level it was computed for).
        """
        if uniform:
            if self.crit_value is None:
                raise ValueError(f"{self.method}: no uniform band was computed for this result")
            if not np.isclose(level, self.band_level):
                raise ValueError(
                    f"the uniform band was computed at level {self.band_level}, not {level}"
                )
            c = self.crit_value
        else:
            c = self.critical_value(level)
        half = c * self.std_errors
        return pd.DataFrame({"lower": self.params - half, "upper": self.params + half})

    # -- presentation ----------------------------------------------------------------------------
    def tidy(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """One row per term: term, estimate, std_error, statistic, p_value, conf_low, conf_high."""
        ci = self.conf_int(level, uniform=uniform)
        return tidy_frame(
            self.params, self.std_errors, self.pvalues, ci["lower"], ci["upper"], self.tstats
        )

    def _summary_header(self) -> list[str]:
        return [
            f"{type(self).__name__} ({self.method})",
            f"Observations: {self.nobs:,}",
        ]

    def summary(self, level: float = 0.95) -> str:
        """A plain-text table of the estimates, for terminals and notebooks."""
        t = self.tidy(level)
        lines = self._summary_header()
        body = t.set_index("term")[
            ["estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        ]
        lines.append(body.to_string(float_format=lambda v: f"{v: .4f}"))
        if self.exclusions:
            lines.append("Excluded: " + ", ".join(f"{k}={v:,}" for k, v in self.exclusions.items()))
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.summary()

    def plot(self, **kwargs: Any) -> Axes:
        """Draw this result with its :mod:`clusterimpact.plotting` function and return the Axes.

        Event studies and the aggregations of staggered DiD use ``plot_event_study``, duration profiles
        ``plot_duration_premium``, matching results ``plot_love`` and every other result ``plot_forest``
        (one row per term). Keyword arguments (``ax``, ``title``, ``level``, ``truth``, ...) are passed on.
        """
        from clusterimpact import plotting

        return getattr(plotting, self._plot_with)(self, **kwargs)  # type: ignore[no-any-return]

    def _repr_html_(self) -> str:
        """Jupyter's rich display: the header lines, then the tidy table as HTML."""
        from clusterimpact.tables import frame_table

        head = "".join(f"<div>{html.escape(h)}</div>" for h in self._summary_header())
        t = self.tidy().set_index("term")
        body = frame_table(t, digits=4, index=True).to_html()
        tail = "".join(
            f'<div style="color: #a15c00">Warning: {html.escape(w)}</div>' for w in self.warnings
        )
        return f'<div class="clusterimpact-result">{head}{body}{tail}</div>'

    def to_latex(self, level: float = 0.95, digits: int = 4) -> str:
        """A LaTeX tabular (booktabs) of estimate, standard error and confidence interval."""
        t = self.tidy(level)
        pct = f"{100 * level:g}"
        rows = [
            "\\begin{tabular}{lrrr}",
            "\\toprule",
            f"Term & Estimate & Std. error & {pct}\\% CI \\\\",
            "\\midrule",
        ]
        for r in t.itertuples(index=False):
            term = str(r.term).replace("_", "\\_").replace("%", "\\%")
            rows.append(
                f"{term} & {r.estimate:.{digits}f} & {r.std_error:.{digits}f} & "
                f"[{r.conf_low:.{digits}f}, {r.conf_high:.{digits}f}] \\\\"
            )
        rows += ["\\midrule", f"Observations & \\multicolumn{{3}}{{r}}{{{self.nobs:,}}} \\\\"]
        rows += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(rows)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form following the CLI contract (``estimates`` list, ``warnings``, ...)."""
        t = self.tidy(level)
        estimates = [
            {
                "term": str(r.term),
                "estimate": _f(r.estimate),
                "std_error": _f(r.std_error),
                "conf_low": _f(r.conf_low),
                "conf_high": _f(r.conf_high),
                "p_value": _f(r.p_value),
            }
            for r in t.itertuples(index=False)
        ]
        return {
            "method": self.method,
            "nobs": int(self.nobs),
            "estimates": estimates,
            "warnings": list(self.warnings),
            "exclusions": {k: int(v) for k, v in self.exclusions.items()},
            "provenance": self.provenance.to_dict(),
        }


def tidy_frame(
    params: pd.Series,
    std_errors: pd.Series,
    pvalues: pd.Series,
    conf_low: pd.Series,
    conf_high: pd.Series,
    statistic: pd.Series | None = None,
) -> pd.DataFrame:
    """Assemble the standard tidy frame from aligned series.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.results import tidy_frame
    >>> b = pd.Series({"x": 0.5}); se = pd.Series({"x": 0.1})
    >>> tidy_frame(b, se, pd.Series({"x": 0.0}), b - 0.2, b + 0.2, b / se)
      term  estimate  std_error  statistic  p_value  conf_low  conf_high
    0    x       0.5        0.1        5.0      0.0       0.3        0.7
    """
    if statistic is None:
        statistic = params / std_errors
    out = pd.DataFrame(
        {
            "term": [str(i) for i in params.index],
            "estimate": params.to_numpy(dtype=float),
            "std_error": std_errors.reindex(params.index).to_numpy(dtype=float),
            "statistic": statistic.reindex(params.index).to_numpy(dtype=float),
            "p_value": pvalues.reindex(params.index).to_numpy(dtype=float),
            "conf_low": conf_low.reindex(params.index).to_numpy(dtype=float),
            "conf_high": conf_high.reindex(params.index).to_numpy(dtype=float),
        }
    )
    return out[TIDY_COLUMNS]


def json_ready(obj: Any) -> Any:
    """``obj`` with NaN and infinity as ``None``, numpy scalars as Python numbers and tuples as lists,
    so that ``json.dumps(..., allow_nan=False)`` accepts it (for ``to_dict`` of frames' records).

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from clusterimpact.results import json_ready
    >>> json.dumps(json_ready({"a": np.float64(1.5), "b": float("nan"), "c": (1, np.int64(2))}))
    '{"a": 1.5, "b": null, "c": [1, 2]}'
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    return obj


def _f(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


@dataclass(frozen=True, kw_only=True)
class ProfileResult(EstimateResult):
    """A result whose terms lie on an axis: event time, years of membership, cohort or calendar year.

    Event studies, duration profiles and the ``dynamic``/``group``/``calendar`` aggregations of staggered
    DiD all derive from this class, so plots and tables treat them alike.

    Attributes
    ----------
    x
        The axis value of each term (same index as ``params``); terms not on the axis (an overall
        average, a slope) are absent from ``x`` and left out of :meth:`profile`.
    x_label
        Axis title, e.g. ``"Years since joining"`` or ``"Years of membership"``.
    reference
        Axis value normalised to zero and not estimated (event time −1), or ``None``.
    counts
        Number of treated observations (or units) behind each term, where known.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 3))
    >>> es.x_label, es.reference  # event time -1 is the reference, normalised to 0
    ('Years since joining', -1.0)
    >>> es.profile()["x"].tolist()
    [-3.0, -2.0, 0.0, 1.0, 2.0, 3.0]
    """

    x: pd.Series
    x_label: str = ""
    reference: float | None = None
    counts: pd.Series | None = None

    _plot_with: ClassVar[str] = "plot_event_study"

    def profile(self, level: float = 0.95) -> pd.DataFrame:
        """Terms on the axis, sorted by ``x``: x, term, estimate, std_error, conf_low, conf_high,
        band_low, band_high (the uniform band, NaN when none was computed), n."""
        terms = [t for t in self.x.index if t in self.params.index]
        ci = self.conf_int(level).loc[terms]
        if self.crit_value is not None and np.isclose(level, self.band_level):
            band = self.conf_int(level, uniform=True).loc[terms]
            band_low, band_high = band["lower"].to_numpy(), band["upper"].to_numpy()
        else:
            band_low = band_high = np.full(len(terms), np.nan)
        out = pd.DataFrame(
            {
                "x": self.x.loc[terms].to_numpy(dtype=float),
                "term": [str(t) for t in terms],
                "estimate": self.params.loc[terms].to_numpy(dtype=float),
                "std_error": self.std_errors.loc[terms].to_numpy(dtype=float),
                "conf_low": ci["lower"].to_numpy(),
                "conf_high": ci["upper"].to_numpy(),
                "band_low": band_low,
                "band_high": band_high,
                "n": (
                    self.counts.reindex(terms).to_numpy(dtype=float)
                    if self.counts is not None
                    else np.full(len(terms), np.nan)
                ),
            }
        )
        return out.sort_values("x", kind="mergesort").reset_index(drop=True)
