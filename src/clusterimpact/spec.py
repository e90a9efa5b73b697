"""The study specification: one frozen object that says what a report estimates, on which data, how.

A report is a function of (data, :class:`StudySpec`, package version); ``manifest.json`` records all three.
Specs are written in TOML (``clusterimpact report --spec study.toml``) and read with :mod:`tomllib`;
:meth:`StudySpec.from_toml` validates every key and value and raises :class:`~clusterimpact.errors.SpecError`
listing the valid choices. Relative paths in a spec file are resolved against the folder of that file.

Example
-------
.. code-block:: toml

    title = "Cluster membership and productivity"
    seed = 1

    [data]
    source = "synthetic"          # "synthetic" (a folder written by `clusterimpact synth`) or "files"
    synthetic_dir = "../data/synthetic"

    [outcomes]
    labour_productivity = true    # ln_lp = ln(value added / FTE)
    tfp_methods = ["acf", "wooldridge"]

    [matching]
    method = "nearest"
    covariates = ["ln_lp", "ln_emp", "age", "ln_kl"]

    [estimation]
    estimators = ["twfe", "cs", "sa", "imputation", "duration", "by_cluster", "by_cohort",
                  "compare", "matched_did"]
    event_window = [-5, 5]
    duration_bins = [1, 2, 3, 4, 5]   # the last bin is open: 5+

    [bootstrap]
    did_draws = 999
    tfp_reps = 20

    [robustness]
    checks = ["honest", "rosenbaum", "heterogeneity", "chain"]
    honest_event_study = "sa"     # the event study the Rambachan-Roth sets bound
    honest_target = "average"     # or an event time (0 = on impact)
    rosenbaum_gammas = [1.0, 1.25, 1.5, 2.0, 3.0]
    heterogeneity_by = ["cluster", "cohort", "size", "age", "sector", "region"]
    chain_reps = 200              # firm-block bootstrap of the whole chain (0: skip)

    [output]
    folder = "reports"
"""

from __future__ import annotations

import os
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from clusterimpact._spec_compute import ENGINES, ComputeSpec, compute_from
from clusterimpact._spec_sections import (
    _MAP_ROLES,
    COLUMN_ROLES,
    CONTROL_GROUPS,
    ESTIMATORS,
    HETEROGENEITY_SPLITS,
    HONEST_EVENT_STUDIES,
    HONEST_RESTRICTIONS,
    MATCHING_DESIGNS,
    MATCHING_METHODS,
    ROBUSTNESS_CHECKS,
    SCENARIOS,
    SOURCES,
    TFP_METHODS,
    BootstrapSpec,
    DataSpec,
    EstimationSpec,
    MatchingSpec,
    OutcomeSpec,
    RobustnessSpec,
    Source,
    _as_type,
    _check_in,
    _check_keys,
    _numbers,
    _str_tuple,
)
from clusterimpact.errors import SpecError

__all__ = [
    "COLUMN_ROLES",
    "ENGINES",
    "ComputeSpec",
    "HETEROGENEITY_SPLITS",
    "HONEST_EVENT_STUDIES",
    "HONEST_RESTRICTIONS",
    "MATCHING_DESIGNS",
    "Source",
    "CONTROL_GROUPS",
    "ESTIMATORS",
    "MATCHING_METHODS",
    "SCENARIOS",
    "SOURCES",
    "TFP_METHODS",
    "BootstrapSpec",
    "DataSpec",
    "EstimationSpec",
    "MatchingSpec",
    "OutcomeSpec",
    "ROBUSTNESS_CHECKS",
    "RobustnessSpec",
    "StudySpec",
    "load_spec",
]


@dataclass(frozen=True)
class StudySpec:
    """A whole study: data, outcomes, matching, estimators, bootstrap sizes, seed and output folder.

    Build it with :meth:`default`, :meth:`from_toml` or :meth:`from_dict`; change one part with
    :func:`dataclasses.replace` or :meth:`with_overrides`. Every value is validated on construction.

    Attributes
    ----------
    title
        Title of the report.
    seed
        Master seed: every random step of the report (matching ties, bootstraps) derives from it.
    compute
        Where it runs (:class:`ComputeSpec`, the ``[compute]`` table: ``engine = "memory" | "dask"``,
        ``scheduler``, ``n_workers``, ``npartitions``).
    out
        Output folder of the report.
    figure_formats
        Figure file formats written beside the HTML (PNG is always embedded in the HTML).

    Examples
    --------
    >>> from clusterimpact.spec import StudySpec
    >>> spec = StudySpec.from_dict({"seed": 3, "matching": {"caliper": 0.1}})
    >>> spec.seed, spec.matching.caliper
    (3, 0.1)
    >>> StudySpec.from_dict({"matching": {"method": "magic"}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    clusterimpact.errors.SpecError: ...
    """

    title: str = "Cluster membership and firm productivity"
    seed: int = 1
    data: DataSpec = field(default_factory=DataSpec)
    outcomes: OutcomeSpec = field(default_factory=OutcomeSpec)
    matching: MatchingSpec = field(default_factory=MatchingSpec)
    estimation: EstimationSpec = field(default_factory=EstimationSpec)
    bootstrap: BootstrapSpec = field(default_factory=BootstrapSpec)
    robustness: RobustnessSpec = field(default_factory=RobustnessSpec)
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    out: Path = Path("reports")
    figure_formats: tuple[str, ...] = ("png", "pdf")
    source_file: Path | None = None

    def __post_init__(self) -> None:
        for f in self.figure_formats:
            _check_in("output", "figure_formats entry", f, ("png", "pdf", "svg"))

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def default(cls) -> StudySpec:
        """The default study: the synthetic ``ecoom`` data in ``data/synthetic/``, every estimator."""
        return cls()

    @classmethod
    def from_toml(cls, path: str | Path) -> StudySpec:
        """Read and validate a TOML study spec; relative paths are resolved against its folder."""
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"study spec {str(path)!r} does not exist")
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}: not valid TOML: {exc}") from exc
        try:
            return cls.from_dict(raw, base_dir=path.resolve().parent, source_file=path)
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(
        cls,
        raw: Mapping[str, Any],
        *,
        base_dir: str | Path | None = None,
        source_file: str | Path | None = None,
    ) -> StudySpec:
        """Build a spec from a nested dict of TOML shape (sections ``data``, ``outcomes``, ...)."""
        base = Path(base_dir) if base_dir is not None else None
        top = (
            "title", "seed", "data", "outcomes", "matching", "estimation", "bootstrap",
            "robustness", "compute", "output",
        )  # fmt: skip
        _check_keys("", raw, top)
        kw: dict[str, Any] = {}
        if "title" in raw:
            kw["title"] = _as_type("", "title", raw["title"], str)
        if "seed" in raw:
            kw["seed"] = _as_type("", "seed", raw["seed"], int)
        if "data" in raw:
            kw["data"] = _data_from(raw["data"], base)
        if "outcomes" in raw:
            o = _section(raw, "outcomes", ("labour_productivity", "tfp_methods", "headline"))
            okw: dict[str, Any] = {}
            if "labour_productivity" in o:
                okw["labour_productivity"] = _as_type(
                    "outcomes", "labour_productivity", o["labour_productivity"], bool
                )
            if "tfp_methods" in o:
                okw["tfp_methods"] = _str_tuple("outcomes", "tfp_methods", o["tfp_methods"])
            if "headline" in o:
                okw["headline"] = _as_type("outcomes", "headline", o["headline"], str)
            else:
                tfps = okw.get("tfp_methods", OutcomeSpec.tfp_methods)
                okw["headline"] = _default_headline(
                    okw.get("labour_productivity", True), tuple(tfps)
                )
            kw["outcomes"] = OutcomeSpec(**okw)
        if "matching" in raw:
            m = _matching_section(
                _section(raw, "matching", [*(f.name for f in fields(MatchingSpec)), "pre_years"])
            )
            mkw: dict[str, Any] = {}
            for k, v in m.items():
                if k in ("covariates", "trends", "pre_means", "exact"):
                    mkw[k] = _str_tuple("matching", k, v)
                elif k in ("method", "design"):
                    mkw[k] = _as_type("matching", k, v, str)
                elif k in ("neighbors", "trend_window"):
                    mkw[k] = _as_type("matching", k, v, int)
                elif k == "caliper":
                    mkw[k] = None if v is False else float(_as_type("matching", k, v, (int, float)))
                elif k == "replace":
                    mkw[k] = _as_type("matching", k, v, bool)
            kw["matching"] = MatchingSpec(**mkw)
        if "estimation" in raw:
            e = _section(raw, "estimation", [f.name for f in fields(EstimationSpec)])
            ekw: dict[str, Any] = {}
            for k, v in e.items():
                if k == "estimators":
                    ekw[k] = _str_tuple("estimation", k, v)
                elif k == "event_window":
                    if (
                        not isinstance(v, (list, tuple))
                        or len(v) != 2
                        or not all(isinstance(i, int) for i in v)
                    ):
                        raise SpecError(
                            f"[estimation] event_window={v!r} must be two integers [low, high]"
                        )
                    ekw[k] = (int(v[0]), int(v[1]))
                elif k == "duration_bins":
                    if not isinstance(v, (list, tuple)) or not all(
                        isinstance(i, int) and not isinstance(i, bool) for i in v
                    ):
                        raise SpecError(f"[estimation] duration_bins={v!r} must be integers")
                    ekw[k] = tuple(int(i) for i in v)
                else:
                    ekw[k] = _as_type("estimation", k, v, str)
            kw["estimation"] = EstimationSpec(**ekw)
        if "bootstrap" in raw:
            b = _section(raw, "bootstrap", [f.name for f in fields(BootstrapSpec)])
            kw["bootstrap"] = BootstrapSpec(
                **{k: _as_type("bootstrap", k, v, int) for k, v in b.items()}
            )
        if "robustness" in raw:
            kw["robustness"] = _robustness_from(raw)
        if "compute" in raw:
            kw["compute"] = compute_from(raw["compute"])
        if "output" in raw:
            o = _section(raw, "output", ("folder", "figure_formats"))
            if "folder" in o:
                kw["out"] = _path(_as_type("output", "folder", o["folder"], str), base)
            if "figure_formats" in o:
                kw["figure_formats"] = _str_tuple("output", "figure_formats", o["figure_formats"])
        if source_file is not None:
            kw["source_file"] = Path(source_file)
        return cls(**kw)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StudySpec:
        """Rebuild a spec from :meth:`to_dict` output (e.g. ``manifest.json``'s ``"spec"``), so a
        report can be reproduced from its manifest."""
        rec = dict(record)
        parts = {
            "data": DataSpec,
            "outcomes": OutcomeSpec,
            "matching": MatchingSpec,
            "estimation": EstimationSpec,
            "bootstrap": BootstrapSpec,
            "robustness": RobustnessSpec,
            "compute": ComputeSpec,
        }
        kw: dict[str, Any] = {}
        for key, value in rec.items():
            if key == "matching" and isinstance(value, Mapping):
                kw[key] = _rebuild(MatchingSpec, _matching_section(value))
            elif key in parts:
                kw[key] = _rebuild(parts[key], value)
            elif key in ("out", "source_file"):
                kw[key] = Path(value) if value is not None else None
            elif key == "figure_formats":
                kw[key] = tuple(value)
            elif key in ("title", "seed"):
                kw[key] = value
            else:
                raise SpecError(f"unknown key {key!r} in the spec record")
        return cls(**kw)

    def with_overrides(self, **changes: Any) -> StudySpec:
        """A copy with top-level fields replaced (``spec.with_overrides(out=Path("x"))``)."""
        return replace(self, **changes)

    # -- output ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (paths as strings, tuples as lists), as recorded in the manifest."""
        return _plain(asdict(self))

    @property
    def outcome_names(self) -> tuple[str, ...]:
        """The outcome columns of the study."""
        return self.outcomes.names


def _default_headline(labour_productivity: bool, tfp_methods: tuple[str, ...]) -> str:
    if "acf" in tfp_methods:
        return "ln_tfp_acf"
    if tfp_methods:
        return f"ln_tfp_{tfp_methods[0]}"
    return "ln_lp" if labour_productivity else ""


def _rebuild(kind: type, values: Mapping[str, Any]) -> Any:
    names = {f.name: f for f in fields(kind)}
    kw: dict[str, Any] = {}
    for k, v in values.items():
        if k not in names:
            raise SpecError(f"unknown key {k!r} in the {kind.__name__} record")
        ann = str(names[k].type)
        if v is not None and "Path" in ann:
            v = Path(v)
        elif isinstance(v, list):
            v = tuple(v)
        kw[k] = v
    return kind(**kw)


def _matching_section(sec: Mapping[str, Any]) -> dict[str, Any]:
    """The [matching] keys with the old ``pre_years`` read as ``trend_window`` (FutureWarning)."""
    out = dict(sec)
    if "pre_years" not in out:
        return out
    if "trend_window" in out:
        raise SpecError(
            "[matching] pre_years is the old name of trend_window; give only trend_window "
            f"(pre_years={out['pre_years']!r}, trend_window={out['trend_window']!r})"
        )
    warnings.warn(
        "[matching] pre_years is now spelled trend_window (match_panel's option); the old key "
        "will be removed in a later release",
        FutureWarning,
        stacklevel=3,
    )
    out["trend_window"] = out.pop("pre_years")
    return out


def _section(raw: Mapping[str, Any], name: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    sec = raw[name]
    if not isinstance(sec, Mapping):
        raise SpecError(f"[{name}] must be a table (section), got {sec!r}")
    _check_keys(name, sec, allowed)
    return sec


def _path(value: str, base: Path | None) -> Path:
    p = Path(value)
    if base is not None and not p.is_absolute():
        p = Path(os.path.normpath(base / p))
    return p


def _data_from(raw: Any, base: Path | None) -> DataSpec:
    allowed = [f.name for f in fields(DataSpec)]
    if not isinstance(raw, Mapping):
        raise SpecError(f"[data] must be a table (section), got {raw!r}")
    _check_keys("data", raw, allowed)
    kw: dict[str, Any] = {}
    for k, v in raw.items():
        if k in ("synthetic_dir", "accounts", "registry", "deflators", "truth"):
            kw[k] = _path(_as_type("data", k, v, str), base)
        elif k in ("synthetic_seed", "n_firms", "start_year", "end_year"):
            kw[k] = _as_type("data", k, v, int)
        elif k == "exclude_bad_ids":
            kw[k] = _as_type("data", k, v, bool)
        elif k in _MAP_ROLES:
            if not isinstance(v, Mapping) or not all(isinstance(x, str) for x in v.values()):
                raise SpecError(
                    f'[data.{k}] must map role names to column names (role = "column"), got {v!r}'
                )
            kw[k] = dict(v)
        else:
            kw[k] = _as_type("data", k, v, str)
    return DataSpec(**kw)


def _robustness_from(raw: Mapping[str, Any]) -> RobustnessSpec:
    sec = "robustness"
    r = _section(raw, sec, [f.name for f in fields(RobustnessSpec)])
    kw: dict[str, Any] = {}
    for k, v in r.items():
        if k in ("checks", "honest_restrictions", "heterogeneity_by"):
            kw[k] = _str_tuple(sec, k, v)
        elif k in ("honest_mbar_grid", "honest_m_grid", "rosenbaum_gammas"):
            kw[k] = _numbers(sec, k, v)
        elif k == "honest_event_study":
            kw[k] = _as_type(sec, k, v, str)
        elif k == "honest_target":
            kw[k] = _as_type(sec, k, v, (str, int))
        else:
            kw[k] = _as_type(sec, k, v, int)
    return RobustnessSpec(**kw)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def load_spec(path: str | Path | None = None) -> StudySpec:
    """The spec in ``path`` (TOML), or the default study when ``path`` is None.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from clusterimpact.spec import load_spec
    >>> load_spec().title  # the default study
    'Cluster membership and firm productivity'
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "study.toml"
    ...     _ = path.write_text('title = "My study"\\nseed = 7\\n')
    ...     spec = load_spec(path)
    >>> spec.title, spec.seed
    ('My study', 7)
    """
    return StudySpec.default() if path is None else StudySpec.from_toml(path)
