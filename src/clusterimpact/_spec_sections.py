"""The sections of a study spec ([data], [outcomes], [matching], [estimation], [bootstrap],
[robustness]): frozen dataclasses validated on construction, and their valid choices.

:class:`clusterimpact.spec.StudySpec` assembles them; import them from :mod:`clusterimpact.spec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from clusterimpact._renamed import renamed_kwargs
from clusterimpact.errors import SpecError
from clusterimpact.presets import (
    ACCOUNT_ROLES,
    DEFLATOR_ROLES,
    DEFLATOR_VARIABLE_ROLES,
    REGISTRY_ROLES,
)

if TYPE_CHECKING:
    from clusterimpact.matching.options import MatchingOptions

Source = Literal["synthetic", "simulate", "files"]
SOURCES: tuple[str, ...] = ("synthetic", "simulate", "files")
SCENARIOS: tuple[str, ...] = ("ecoom", "null", "declining", "heterogeneous")
TFP_METHODS: tuple[str, ...] = ("ols", "fe", "op", "lp", "acf", "wooldridge")
MATCHING_METHODS: tuple[str, ...] = ("nearest", "nnmatch", "cem", "exact")
MATCHING_DESIGNS: tuple[str, ...] = ("trends", "levels")
CONTROL_GROUPS: tuple[str, ...] = ("never", "notyet")
#: Estimation steps a report can run (in report order).
ESTIMATORS: tuple[str, ...] = (
    "twfe",  # static premium: member dummy with firm and year FE
    "cs",  # Callaway-Sant'Anna ATT(g,t) and its event-time aggregation
    "sa",  # Sun-Abraham interaction-weighted event study
    "imputation",  # Borusyak-Jaravel-Spiess imputation event study
    "duration",  # premium by years of membership (imputation) and its slope
    "by_cluster",  # premium by cluster
    "by_cohort",  # premium by joining cohort
    "compare",  # TWFE vs CS vs SA vs imputation on every outcome
    "matched_did",  # DiD on the cohort-matched stacked panel
)
#: Robustness checks a report can run (in report order).
ROBUSTNESS_CHECKS: tuple[str, ...] = (
    "honest",  # Rambachan-Roth sensitivity of the headline event study to parallel-trends violations
    "rosenbaum",  # Rosenbaum bounds of the matched DiD (1:1 pairs) for hidden selection
    "heterogeneity",  # effects by subgroup with the equal-effects test, Holm and Romano-Wolf
    "chain",  # firm-block bootstrap of the whole chain (production function -> TFP -> DiD)
)
HONEST_EVENT_STUDIES: tuple[str, ...] = ("sa", "cs", "twfe")
HONEST_RESTRICTIONS: tuple[str, ...] = ("rm", "sd")
#: Named subgroup splits (clusterimpact.estimation.heterogeneity.PRESETS).
HETEROGENEITY_SPLITS: tuple[str, ...] = ("cluster", "cohort", "size", "age", "sector", "region")
#: Column roles a user column map may rename (our name -> the file's name).
COLUMN_ROLES: tuple[str, ...] = (*ACCOUNT_ROLES, "cluster", "join_date", "exit_date")
_MAP_ROLES: dict[str, tuple[str, ...]] = {
    "columns": COLUMN_ROLES,
    "registry_columns": REGISTRY_ROLES,
    "deflator_columns": (*DEFLATOR_ROLES, *DEFLATOR_VARIABLE_ROLES),
}


def _err(section: str, key: str, value: Any, allowed: Sequence[Any]) -> SpecError:
    choices = ", ".join(repr(a) for a in allowed)
    where = f"[{section}] " if section else ""
    return SpecError(f"{where}{key}={value!r} is not valid; choose one of {choices}")


def _check_in(section: str, key: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise _err(section, key, value, allowed)


def _check_keys(section: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = [k for k in given if k not in allowed]
    if unknown:
        where = f"[{section}]" if section else "top level"
        raise SpecError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where} of the study spec; "
            f"valid keys: {', '.join(allowed)}"
        )


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _as_type(section: str, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if not ok:
        kinds = (kind,) if isinstance(kind, type) else kind
        names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        where = f"[{section}] " if section else ""
        raise SpecError(f"{where}{key}={value!r} must be {names}")
    return value


def _str_tuple(section: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"[{section}] {key} must be a list of strings, got {value!r}")
    return tuple(value)


def _column_names(section: str, key: str, names: Sequence[str]) -> tuple[str, ...]:
    """Column names checked by the formula grammar's name rule: a spec names columns, it holds no
    expressions (``"log(emp)"`` or ``"__import__('os')"`` is an error naming the token, never evaluated).
    A backquoted name (`` "`my col`" ``) is returned without its backquotes."""
    from clusterimpact.formula.grammar import parse_column_name

    return tuple(parse_column_name(n, f"[{section}] {key} entry") for n in names)


@dataclass(frozen=True)
class DataSpec:
    """Where the firm accounts and the membership registry come from.

    Attributes
    ----------
    source
        ``"synthetic"``: the folder ``synthetic_dir`` as written by ``clusterimpact synth`` (accounts,
        registry, deflators and ``*.truth.json``); when that folder does not exist the data are generated
        in memory by :func:`clusterimpact.synthetic.simulate` with ``scenario``, ``synthetic_seed`` and
        ``n_firms`` (with a logged note). ``"simulate"``: always generate in memory (small test
        studies, notebooks). ``"files"``: user files ``accounts`` and ``registry`` (and optionally
        ``deflators``): CSV/TSV (gzipped or not), Parquet, Excel ``.xlsx`` (``book.xlsx#Sheet`` names
        a sheet) or Stata ``.dta``.
    columns
        Column map, role = column in the file (``{"emp": "fte"}``), for ``"files"``: account roles,
        and ``cluster``, ``join_date``, ``exit_date`` of the registry; ``firm_id`` applies to both
        files unless ``registry_columns`` names the registry's own.
    registry_columns, deflator_columns
        Column maps of the registry (``firm_id``, ``cluster``, ``join_date``, ``exit_date``) and of the
        deflator table (``sector``, ``year``, ``deflator``, ``deflator_<var>``).
    preset
        Column preset of :mod:`clusterimpact.io` (``"nbb"`` for Belgian annual accounts), or None.
    start_year, end_year
        Study window passed to the panel builder (None: all years in the data).
    id_type, exclude_bad_ids, duplicates
        Panel-builder settings: ``"kbo"`` checks Belgian enterprise numbers (mod 97) and
        ``exclude_bad_ids`` drops those failing it; ``duplicates`` is ``error``, ``first`` or ``drop``
        for firm-years reported twice with different values (see :class:`~clusterimpact.panel.PanelSpec`).
        ``id_type`` defaults to ``"kbo"`` with ``preset = "nbb"`` (as on the command line), else
        ``"any"``.
    decimal, encoding, sheet
        Reading options of the input files (:class:`~clusterimpact.io.ReadOptions`): decimal mark
        ``"."`` or ``","``, text encoding, Excel sheet; unset: detected / the first sheet.

    Examples
    --------
    >>> from clusterimpact.spec import StudySpec
    >>> spec = StudySpec.from_dict({"data": {"source": "simulate", "scenario": "null", "n_firms": 500}})
    >>> spec.data.source, spec.data.scenario, spec.data.n_firms
    ('simulate', 'null', 500)
    """

    source: Source = "synthetic"
    synthetic_dir: Path | None = Path("data/synthetic")
    scenario: str = "ecoom"
    synthetic_seed: int = 1
    n_firms: int = 15000
    accounts: Path | None = None
    registry: Path | None = None
    deflators: Path | None = None
    truth: Path | None = None
    preset: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    registry_columns: Mapping[str, str] = field(default_factory=dict)
    deflator_columns: Mapping[str, str] = field(default_factory=dict)
    start_year: int | None = None
    end_year: int | None = None
    id_type: str | None = None
    exclude_bad_ids: bool = False
    duplicates: str = "error"
    decimal: str | None = None
    encoding: str | None = None
    sheet: str | None = None

    def __post_init__(self) -> None:
        _check_in("data", "source", self.source, SOURCES)
        _check_in("data", "preset", self.preset, (None, "nbb"))
        if self.id_type is None:  # the NBB preset means Belgian enterprise numbers, as in the CLI
            object.__setattr__(self, "id_type", "kbo" if self.preset == "nbb" else "any")
        _check_in("data", "id_type", self.id_type, ("any", "kbo"))
        _check_in("data", "decimal", self.decimal, (None, ".", ","))
        from clusterimpact._readers import ReadOptions

        try:
            ReadOptions(encoding=self.encoding)
        except SpecError as exc:
            raise SpecError(f"[data] {exc}") from None
        _check_in("data", "duplicates", self.duplicates, ("error", "first", "drop"))
        _check_in("data", "scenario", self.scenario, SCENARIOS)
        if self.n_firms < 50:
            raise SpecError(f"[data] n_firms={self.n_firms} is too small; use at least 50")
        if self.source == "files":
            missing = [k for k in ("accounts", "registry") if getattr(self, k) is None]
            if missing:
                raise SpecError(
                    f"[data] source='files' needs {' and '.join(missing)} = "
                    "'<path to a CSV, Parquet, .xlsx or .dta file>'"
                )
        for name, roles in _MAP_ROLES.items():
            for role in getattr(self, name):
                _check_in(f"data.{name}", "column role", role, roles)
        if self.start_year is not None and self.end_year is not None:
            if self.start_year > self.end_year:
                raise SpecError(
                    f"[data] start_year={self.start_year} is after end_year={self.end_year}"
                )


@dataclass(frozen=True)
class OutcomeSpec:
    """Outcomes: log labour productivity and log TFP from each production-function method.

    Attributes
    ----------
    labour_productivity
        Include ``ln_lp`` = ln(value added per FTE).
    tfp_methods
        Production-function methods whose log TFP (``ln_tfp_<method>``) is an outcome; any of
        ``ols, fe, op, lp, acf, wooldridge``.
    headline
        The outcome of the headline figures (``"ln_lp"`` or ``"ln_tfp_<method>"``).

    Examples
    --------
    >>> from clusterimpact.spec import OutcomeSpec
    >>> OutcomeSpec(tfp_methods=("acf",), headline="ln_tfp_acf").headline
    'ln_tfp_acf'
    """

    labour_productivity: bool = True
    tfp_methods: tuple[str, ...] = ("acf", "wooldridge")
    headline: str = "ln_tfp_acf"

    def __post_init__(self) -> None:
        for m in self.tfp_methods:
            _check_in("outcomes", "tfp_methods entry", m, TFP_METHODS)
        if len(set(self.tfp_methods)) != len(self.tfp_methods):
            raise SpecError(f"[outcomes] tfp_methods has duplicates: {list(self.tfp_methods)}")
        if not self.labour_productivity and not self.tfp_methods:
            raise SpecError(
                "[outcomes] no outcome: set labour_productivity = true or list tfp_methods"
            )
        _check_in("outcomes", "headline", self.headline, self.names)

    @property
    def names(self) -> tuple[str, ...]:
        """Outcome column names, in report order."""
        out = ["ln_lp"] if self.labour_productivity else []
        return tuple(out + [f"ln_tfp_{m}" for m in self.tfp_methods])


@dataclass(frozen=True)
class MatchingSpec:
    """Cohort-wise matching of members to not-yet/never members in the year before joining.

    Attributes
    ----------
    method
        ``nearest`` (propensity-score nearest neighbour), ``nnmatch``, ``cem`` or ``exact``.
    design
        A documented set of matching variables (see :func:`clusterimpact.matching.match_panel`):
        ``"trends"`` (the default: age in g-1, multi-year means of size and capital intensity, and
        the pre-joining productivity trend) or ``"levels"`` (productivity, size, age and capital
        intensity in g-1 plus the trend). Matching on pre-joining outcome *levels* biases the matched
        DiD upward when firms select on permanent productivity (controls matched at g-1 carry high
        transitory shocks that mean-revert; Chabé-Ferret 2015): ``"trends"`` avoids that. Leave it
        out and give ``covariates`` (and optionally ``trends``, ``pre_means``, ``trend_window``) to choose
        the variables yourself; giving both is an error.
    covariates
        Pre-joining covariates (levels in g-1) used for the score / distance (custom design).
    trends
        Columns whose growth over the ``trend_window`` years before joining is matched on as well.
    pre_means
        Columns whose mean over the ``trend_window`` years before joining is matched on.
    exact
        Columns matched exactly (e.g. ``sector``).
    neighbors, caliper, replace
        1:k neighbours, caliper in SD of the logit score (None: none), with replacement or not.
    trend_window
        Years before joining over which trends and means are measured (custom design; default 2);
        ``match_panel``'s option of the same name. The old key ``pre_years`` is still read, with a
        ``FutureWarning``; giving both is a :class:`~clusterimpact.errors.SpecError`.

    Examples
    --------
    >>> from clusterimpact.spec import StudySpec
    >>> StudySpec.from_dict({"matching": {"caliper": 0.1}}).matching.caliper
    0.1
    """

    method: str = "nearest"
    design: str | None = None
    covariates: tuple[str, ...] = ()
    trends: tuple[str, ...] = ()
    pre_means: tuple[str, ...] = ()
    exact: tuple[str, ...] = ("sector",)
    neighbors: int = 1
    caliper: float | None = 0.2
    replace: bool = True
    trend_window: int | None = None

    def __post_init__(self) -> None:
        _check_in("matching", "method", self.method, MATCHING_METHODS)
        for name in ("covariates", "trends", "pre_means", "exact"):
            object.__setattr__(self, name, _column_names("matching", name, getattr(self, name)))
        custom = [
            name
            for name in ("covariates", "trends", "pre_means", "trend_window")
            if getattr(self, name) not in ((), None)
        ]
        if self.design is None and not custom:
            object.__setattr__(self, "design", "trends")
        if self.design is not None:
            _check_in("matching", "design", self.design, MATCHING_DESIGNS)
            if custom:
                raise SpecError(
                    f"[matching] design={self.design!r} sets the matching variables; leave out "
                    f"{', '.join(custom)} (or give them without a design)"
                )
        elif not self.covariates:
            raise SpecError("[matching] give covariates = [...] or a design")
        if self.neighbors < 1:
            raise SpecError(f"[matching] neighbors={self.neighbors} must be at least 1")
        if self.caliper is not None and self.caliper <= 0:
            raise SpecError(f"[matching] caliper={self.caliper} must be positive (or omitted)")
        if self.trend_window is not None and self.trend_window < 1:
            raise SpecError(f"[matching] trend_window={self.trend_window} must be at least 1")

    def variables(self) -> dict[str, Any]:
        """Keyword arguments naming the matching variables for ``match_panel``."""
        if self.design is not None:
            return {"design": self.design}
        return {
            "covariates": list(self.covariates),
            "trends": list(self.trends),
            "pre_means": list(self.pre_means),
            "trend_window": self.trend_window if self.trend_window is not None else 2,
        }

    def match_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``match_panel`` for this matching (variables, exact cells, options)."""
        return {
            **self.variables(),
            "exact": list(self.exact),
            "method": self.method,
            "neighbors": self.neighbors,
            "caliper": self.caliper,
            "replace": self.replace,
        }

    def options(self) -> MatchingOptions:
        """The matcher's validated :class:`~clusterimpact.matching.options.MatchingOptions` (ATT)."""
        from clusterimpact.matching.options import MatchingOptions

        return MatchingOptions(
            method=self.method,
            estimand="att",
            neighbors=self.neighbors,
            replace=self.replace,
            caliper=self.caliper,
        )


# the old spelling of MatchingSpec(trend_window=...) keeps working, with a FutureWarning
MatchingSpec.__init__ = renamed_kwargs(pre_years="trend_window")(  # type: ignore[method-assign]
    MatchingSpec.__init__
)


@dataclass(frozen=True)
class EstimationSpec:
    """Which estimators run, the event window, the duration bins and the control group.

    Attributes
    ----------
    estimators
        Steps to run, any of :data:`ESTIMATORS` (they run in that order).
    event_window
        (lowest, highest) event time shown; endpoints are binned; reference period -1.
    duration_bins
        Increasing years-of-membership bins; the last is open-ended (``[1, 2, 3, 4, 5]`` = 1, 2, 3, 4, 5+).
    control
        ``notyet`` (not-yet and never members) or ``never`` (never members only).
    cluster
        Column whose groups the standard errors are clustered on (TWFE, CS, Sun-Abraham). The
        imputation estimator and the duration profile use Borusyak-Jaravel-Spiess's variance, which is
        clustered by firm whatever this says; the report notes it when the two differ.

    Examples
    --------
    >>> from clusterimpact.spec import EstimationSpec
    >>> est = EstimationSpec(estimators=("cs", "duration"), event_window=(-4, 4))
    >>> est.estimators, est.control
    (('cs', 'duration'), 'notyet')
    """

    estimators: tuple[str, ...] = ESTIMATORS
    event_window: tuple[int, int] = (-5, 5)
    duration_bins: tuple[int, ...] = (1, 2, 3, 4, 5)
    control: str = "notyet"
    cluster: str = "firm_id"

    def __post_init__(self) -> None:
        for e in self.estimators:
            _check_in("estimation", "estimators entry", e, ESTIMATORS)
        if len(set(self.estimators)) != len(self.estimators):
            raise SpecError(f"[estimation] estimators has duplicates: {list(self.estimators)}")
        lo, hi = self.event_window
        if not (lo <= -2 and hi >= 0):
            raise SpecError(
                f"[estimation] event_window={list(self.event_window)} must include -2 and 0 "
                "(reference period -1 with at least one lead and the joining year)"
            )
        bins = list(self.duration_bins)
        if not bins or bins[0] < 1 or any(b <= a for a, b in zip(bins, bins[1:], strict=False)):
            raise SpecError(
                f"[estimation] duration_bins={bins} must be increasing integers starting at 1 or more"
            )
        _check_in("estimation", "control", self.control, CONTROL_GROUPS)
        object.__setattr__(
            self, "cluster", _column_names("estimation", "cluster", (self.cluster,))[0]
        )

    @property
    def duration_labels(self) -> tuple[str, ...]:
        """Bin labels: ``("1", "2", "3", "4", "5+")``."""
        bins = list(self.duration_bins)
        labels = []
        for i, b in enumerate(bins):
            nxt = bins[i + 1] if i + 1 < len(bins) else None
            if nxt is None:
                labels.append(f"{b}+")
            elif nxt == b + 1:
                labels.append(str(b))
            else:
                labels.append(f"{b}-{nxt - 1}")
        return tuple(labels)


@dataclass(frozen=True)
class BootstrapSpec:
    """Bootstrap sizes (all seeded from :attr:`StudySpec.seed`).

    Attributes
    ----------
    did_draws
        Multiplier-bootstrap draws for uniform bands of the staggered estimators (0: analytic only).
    tfp_reps
        Firm-block bootstrap replications for the standard errors of the control-function estimators
        (Olley-Pakes, Levinsohn-Petrin, ACF; 0: none). OLS, FE and Wooldridge use analytic SEs.

    Examples
    --------
    >>> from clusterimpact.spec import BootstrapSpec
    >>> BootstrapSpec(did_draws=199, tfp_reps=0)
    BootstrapSpec(did_draws=199, tfp_reps=0)
    """

    did_draws: int = 999
    tfp_reps: int = 20

    def __post_init__(self) -> None:
        for name in ("did_draws", "tfp_reps"):
            v = getattr(self, name)
            if v < 0:
                raise SpecError(f"[bootstrap] {name}={v} must be 0 or more")


def _numbers(section: str, key: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise SpecError(f"[{section}] {key}={value!r} must be a list of numbers")
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class RobustnessSpec:
    """The robustness checks of the report and their settings (seeded from :attr:`StudySpec.seed`).

    Attributes
    ----------
    checks
        Checks to run, any of :data:`ROBUSTNESS_CHECKS`.
    honest_event_study
        The headline event study whose pre-trends bound the Rambachan-Roth sets: ``sa``
        (Sun-Abraham, as in the premium section), ``cs`` (Callaway-Sant'Anna, refitted with the
        universal base period the sets need) or ``twfe`` (dynamic TWFE, unbinned).
    honest_restrictions
        ``rm`` (relative magnitudes, Mbar) and/or ``sd`` (smoothness, M).
    honest_target
        ``"average"`` (mean of the post-period effects in the event window) or an event time >= 0.
    honest_mbar_grid, honest_m_grid
        Grids of Mbar and M; an empty M grid uses ten values up to a bound on the pre-period slope
        changes (``honest_did``'s default).
    rosenbaum_gammas
        Values of Gamma (each >= 1) for the Rosenbaum bounds of the matched DiD.
    heterogeneity_by
        Subgroup splits, any of :data:`HETEROGENEITY_SPLITS`.
    heterogeneity_draws
        Multiplier-bootstrap draws for Romano-Wolf and the uniform band (at least 99).
    chain_reps, chain_workers
        Replications (0: skip) and worker processes of the chain bootstrap.

    Examples
    --------
    >>> from clusterimpact.spec import RobustnessSpec
    >>> RobustnessSpec(checks=("honest",), honest_mbar_grid=(0.0, 1.0)).checks
    ('honest',)
    """

    checks: tuple[str, ...] = ROBUSTNESS_CHECKS
    honest_event_study: str = "sa"
    honest_restrictions: tuple[str, ...] = HONEST_RESTRICTIONS
    honest_target: int | str = "average"
    honest_mbar_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    honest_m_grid: tuple[float, ...] = ()
    rosenbaum_gammas: tuple[float, ...] = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
    heterogeneity_by: tuple[str, ...] = HETEROGENEITY_SPLITS
    heterogeneity_draws: int = 999
    chain_reps: int = 200
    chain_workers: int = 2

    def __post_init__(self) -> None:
        sec = "robustness"
        for c in self.checks:
            _check_in(sec, "checks entry", c, ROBUSTNESS_CHECKS)
        _check_in(sec, "honest_event_study", self.honest_event_study, HONEST_EVENT_STUDIES)
        if not self.honest_restrictions:
            raise _err(sec, "honest_restrictions", [], HONEST_RESTRICTIONS)
        for r in self.honest_restrictions:
            _check_in(sec, "honest_restrictions entry", r, HONEST_RESTRICTIONS)
        t = self.honest_target
        if isinstance(t, bool) or not (t == "average" or (isinstance(t, int) and t >= 0)):
            raise SpecError(
                f"[{sec}] honest_target={t!r} is not valid; choose 'average' or an event time >= 0"
            )
        for key in ("honest_mbar_grid", "honest_m_grid"):
            g = getattr(self, key)
            if any(not v >= 0 for v in g) or (key == "honest_mbar_grid" and not g):
                raise SpecError(f"[{sec}] {key}={list(g)} must be non-negative numbers")
        if not self.rosenbaum_gammas or any(not g >= 1 for g in self.rosenbaum_gammas):
            raise SpecError(
                f"[{sec}] rosenbaum_gammas={list(self.rosenbaum_gammas)} must be numbers >= 1"
            )
        if not self.heterogeneity_by:
            raise _err(sec, "heterogeneity_by", [], HETEROGENEITY_SPLITS)
        for b in self.heterogeneity_by:
            _check_in(sec, "heterogeneity_by entry", b, HETEROGENEITY_SPLITS)
        for key, low in (("heterogeneity_draws", 99), ("chain_reps", 0), ("chain_workers", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise SpecError(f"[{sec}] {key}={v!r} must be an integer >= {low}")
        for key in ("checks", "honest_restrictions", "heterogeneity_by"):
            v = getattr(self, key)
            if len(set(v)) != len(v):
                raise SpecError(f"[{sec}] {key} has duplicates: {list(v)}")
