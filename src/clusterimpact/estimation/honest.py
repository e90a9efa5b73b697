"""Parallel-trends sensitivity (Rambachan & Roth 2023) for any event-study result.

``honest_did(result, restriction="rm")`` takes an event study (TWFE :func:`event_study`, Callaway-Sant'Anna
``aggte(..., "dynamic")`` with a universal base period, :func:`sun_abraham`), extracts the lead and lag
coefficients and their covariance (reference period excluded), and returns robust confidence sets for
``theta = l' tau_post`` (one post period, or the average of all) over a grid of bounds:

* ``"rm"``, relative magnitudes ``Delta^RM(Mbar)``: every post-period change of the trend gap is at most
  ``Mbar`` times the largest pre-period change. Sets by the conditional-least-favourable hybrid test of
  Andrews, Roth & Pakes, the union over where (and with which sign) the largest pre-period change lies.
* ``"sd"``, smoothness ``Delta^SD(M)``: the slope of the trend gap changes by at most ``M`` per period.
  Sets are optimal fixed-length confidence intervals (FLCI), the R package's default for this bound.

The breakdown value is the smallest ``Mbar`` (``M``) at which the set contains 0. The numbers reproduce
the R HonestDiD package's Medicaid example (tests/reference/honestdid/PROVENANCE.md). The report can call
:func:`honest_did` on its event-study result and draw :func:`clusterimpact.plotting.plot_sensitivity`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact._validation import check_choice
from clusterimpact.errors import EstimationWarning, SpecError
from clusterimpact.estimation import _honest_core as core
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult, ProfileResult, tidy_frame

__all__ = [
    "EventStudyCoefficients",
    "HonestResult",
    "event_study_coefficients",
    "honest_did",
    "honest_did_arrays",
]

Restriction = Literal["rm", "sd"]
RESTRICTIONS = ("rm", "sd")
DEFAULT_MBAR = (0.0, 0.5, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class EventStudyCoefficients:
    """Lead and lag coefficients of an event study, ordered by event time, reference excluded.

    Attributes
    ----------
    betahat, sigma
        Coefficients (``n_pre`` leads, then ``n_post`` lags) and their covariance.
    terms, times
        The result's term names and event times, in the same order.
    reference
        The event time normalised to zero.
    n_pre
        Number of leads (event times before ``reference``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import event_study_coefficients
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 2), bin_endpoints=False)
    >>> coefs = event_study_coefficients(es)
    >>> coefs.times, coefs.n_pre, coefs.sigma.shape
    ((-3.0, -2.0, 0.0, 1.0, 2.0), 2, (5, 5))
    """

    betahat: np.ndarray
    sigma: np.ndarray
    terms: tuple[str, ...]
    times: tuple[float, ...]
    reference: float
    n_pre: int

    @property
    def n_post(self) -> int:
        """Number of lags (event times after ``reference``)."""
        return len(self.terms) - self.n_pre


def event_study_coefficients(result: EstimateResult) -> EventStudyCoefficients:
    """Extract the event-study coefficients and covariance that :func:`honest_did` needs.

    Parameters
    ----------
    result
        A :class:`~clusterimpact.results.ProfileResult` on the event-time axis with a covariance
        matrix: ``event_study``, ``aggte(..., "dynamic")`` (universal base period) or ``sun_abraham``.

    Raises
    ------
    SpecError
        The result is not an event study on consecutive event times with a reference period, has no
        covariance, or has no lead or no lag.

    Notes
    -----
    For :func:`~clusterimpact.estimation.imputation.imputation_did` (``aggregation="dynamic"``,
    ``leads > 0``) the leads are the pre-trend regression's ``rel_year::e`` (``e = -K..-1``) and the
    lags ``dynamic:0..H``; their joint covariance is the cross product of the per-firm influence
    scores (``result.influence_cov``, summed over firms, also on the Dask back end). The leads are estimated on untreated firm-years relative to the
    firm and year effects (no period is normalised to zero); as when did_imputation output is passed to
    the R or Stata HonestDiD, the boundary between ``e = -1`` and ``e = 0`` plays the reference's role.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import event_study_coefficients
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-2, 2), bin_endpoints=False)
    >>> coefs = event_study_coefficients(es)
    >>> coefs.terms, coefs.reference
    (('rel_year::-2', 'rel_year::0', 'rel_year::1', 'rel_year::2'), -1.0)
    """
    name = type(result).__name__
    if name == "ImputationResult":
        return _imputation_coefficients(result)
    if not isinstance(result, ProfileResult) or result.x.empty:
        raise SpecError(
            f"honest_did needs an event-study result on the event-time axis, got {name}"
        )
    if getattr(result, "type", "dynamic") != "dynamic":
        raise SpecError(
            f"honest_did needs the 'dynamic' (event-time) aggregation, got {result.type!r}"  # type: ignore[attr-defined]
        )
    if result.reference is None:
        raise SpecError(
            f"honest_did: {name} has no reference period (Callaway-Sant'Anna with a varying base "
            "period compares each lead with the period before it); re-run att_gt with "
            "base_period='universal'"
        )
    if result.vcov is None:
        raise SpecError(f"honest_did: {name} carries no covariance matrix (vcov)")
    ref = float(result.reference)
    x = result.x[[t for t in result.x.index if t in result.vcov.index]].sort_values(
        kind="mergesort"
    )
    x = x[x != ref]
    times = x.to_numpy(dtype=float)
    expected = np.arange(times.min(), times.max() + 1) if len(times) else times
    expected = expected[expected != ref]
    if len(times) != len(expected) or not np.allclose(times, expected):
        raise SpecError(
            f"honest_did needs consecutive event times around the reference {ref:g}; "
            f"{name} has {[f'{t:g}' for t in times]}"
        )
    n_pre = int((times < ref).sum())
    if n_pre == 0 or n_pre == len(times):
        raise SpecError(
            f"honest_did needs at least one lead and one lag; {name} has {n_pre} leads and "
            f"{len(times) - n_pre} lags (widen the event window)"
        )
    terms = [str(t) for t in x.index]
    sigma = result.vcov.loc[terms, terms].to_numpy(dtype=float)
    return EventStudyCoefficients(
        betahat=result.params.loc[terms].to_numpy(dtype=float),
        sigma=sigma,
        terms=tuple(terms),
        times=tuple(float(t) for t in times),
        reference=ref,
        n_pre=n_pre,
    )


def _imputation_coefficients(result: Any) -> EventStudyCoefficients:
    """Leads and lags of an imputation result with their joint covariance (see the Notes above)."""
    scores = getattr(result, "influence_cov", None)  # joint covariance of leads and lags
    if result.aggregation != "dynamic" or scores is None:
        raise SpecError(
            "honest_did on imputation_did needs aggregation='dynamic' and leads > 0 (the pre-trend "
            f"leads); got aggregation={result.aggregation!r} and "
            f"{'no' if scores is None else 'some'} leads"
        )
    leads = sorted(
        (c for c in scores.columns if c.startswith("rel_year::")),
        key=lambda c: int(c.removeprefix("rel_year::")),
    )
    lags = sorted(
        (c for c in scores.columns if c.startswith("dynamic:")),
        key=lambda c: float(c.removeprefix("dynamic:")),
    )
    times = [float(c.removeprefix("rel_year::")) for c in leads]
    times += [float(c.removeprefix("dynamic:")) for c in lags]
    want = [*range(-len(leads), 0), *range(len(lags))]
    if not leads or not lags or times != [float(t) for t in want]:
        raise SpecError(
            "honest_did needs consecutive leads -K..-1 and lags 0..H; the imputation result has "
            f"{[f'{t:g}' for t in times]} (set horizons to consecutive event times from 0)"
        )
    terms = [*leads, *lags]
    betahat = np.r_[
        result.pretrend_estimates.set_index("term").loc[leads, "estimate"].to_numpy(dtype=float),
        result.params.loc[lags].to_numpy(dtype=float),
    ]
    return EventStudyCoefficients(
        betahat=betahat,
        sigma=scores.loc[terms, terms].to_numpy(dtype=float),
        terms=tuple(terms),
        times=tuple(times),
        reference=-0.5,
        n_pre=len(leads),
    )


@dataclass(frozen=True, kw_only=True)
class HonestResult(EstimateResult):
    """Robust confidence sets for ``theta = l' tau_post`` over a grid of bounds.

    Terms: ``original`` (the usual interval, parallel trends exact) and one per grid value,
    ``Mbar=0.5`` (relative magnitudes) or ``M=0.01`` (smoothness). A robust set is a set, not an
    estimate: its ``estimate`` is the FLCI's centre under smoothness and NaN under relative magnitudes.

    Attributes
    ----------
    restriction
        ``"rm"`` or ``"sd"``.
    sets
        One row per grid value: ``bound`` (Mbar or M), ``conf_low``, ``conf_high``, ``method``
        (``"C-LF"`` or ``"FLCI"``).
    original
        ``(conf_low, conf_high)`` of the usual interval.
    breakdown
        Smallest bound at which the set contains 0 (0.0 if the usual interval does; ``inf`` if no
        bound up to ``breakdown_max`` reaches 0; None when not computed).
    l_vec
        Weights on the post-period coefficients that define ``theta``.
    target
        ``"e=0"`` style label of ``theta`` or ``"average"``.
    level
        Coverage of every set.
    pre_times, post_times
        Event times of the leads and lags used.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import honest_did
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 2), bin_endpoints=False)
    >>> result = honest_did(es, restriction="rm", grid=[0.5, 1.0])
    >>> result.params.index.tolist()
    ['original', 'Mbar=0.5', 'Mbar=1']
    >>> bool(result.sets["conf_high"].is_monotonic_increasing)  # sets widen as the bound grows
    True
    """

    _plot_with: ClassVar[str] = "plot_sensitivity"

    restriction: str
    sets: pd.DataFrame
    original: tuple[float, float]
    breakdown: float | None
    l_vec: tuple[float, ...]
    target: str
    level: float
    pre_times: tuple[float, ...] = ()
    post_times: tuple[float, ...] = ()
    grid_label: str = "Mbar"
    details: dict[str, Any] = field(default_factory=dict)

    def conf_int(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """The sets (columns ``lower``, ``upper``) at the level they were computed for."""
        if uniform or not np.isclose(level, self.level):
            raise ValueError(
                f"the sensitivity sets were computed at level {self.level}; call honest_did(..., "
                f"level={level}) for another level"
            )
        lows = [self.original[0], *self.sets["conf_low"]]
        highs = [self.original[1], *self.sets["conf_high"]]
        return pd.DataFrame({"lower": lows, "upper": highs}, index=self.params.index)

    def tidy(self, level: float | None = None, *, uniform: bool = False) -> pd.DataFrame:
        """One row per term (original, then the grid): term, estimate, ..., conf_low, conf_high."""
        ci = self.conf_int(self.level if level is None else level, uniform=uniform)
        return tidy_frame(
            self.params, self.std_errors, self.pvalues, ci["lower"], ci["upper"], self.tstats
        )

    def _summary_header(self) -> list[str]:
        name = "relative magnitudes (C-LF)" if self.restriction == "rm" else "smoothness (FLCI)"
        bd = "not computed" if self.breakdown is None else f"{self.breakdown:.4g}"
        return [
            f"HonestResult ({name}), theta = {self.target}, level {self.level:g}",
            f"Leads {len(self.pre_times)}, lags {len(self.post_times)}; "
            f"breakdown {self.grid_label} = {bd}",
        ]

    def summary(self, level: float | None = None) -> str:
        """The sets as a plain-text table with the breakdown value."""
        t = self.tidy(level).set_index("term")[["estimate", "conf_low", "conf_high"]]
        lines = [*self._summary_header(), t.to_string(float_format=lambda v: f"{v: .5f}")]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self, level: float | None = None) -> dict[str, Any]:
        """JSON-ready form: the common keys plus ``sensitivity`` (restriction, grid, breakdown)."""
        out = super().to_dict(self.level if level is None else level)
        out["sensitivity"] = {
            "restriction": self.restriction,
            "method": "C-LF" if self.restriction == "rm" else "FLCI",
            "target": self.target,
            "l_vec": list(self.l_vec),
            "level": self.level,
            "grid_label": self.grid_label,
            "grid": [float(v) for v in self.sets["bound"]],
            "breakdown": _num(self.breakdown),
            "original": [_num(v) for v in self.original],
            "pre_times": list(self.pre_times),
            "post_times": list(self.post_times),
        }
        return out


def _num(v: float | None) -> float | str | None:
    if v is None:
        return None
    if np.isinf(v):
        return "inf"
    return float(v) if np.isfinite(v) else None


def honest_did(
    result: EstimateResult,
    *,
    restriction: Restriction = "rm",
    grid: Sequence[float] | None = None,
    target: int | Literal["average"] | Sequence[float] = 0,
    level: float = 0.95,
    breakdown: bool = True,
    n_sims: int = 10_000,
    seed: int = 0,
) -> HonestResult:
    """Rambachan-Roth robust confidence sets for an event-study result.

    Estimand: ``theta = l' tau_post``, the effect ``target`` periods after the reference period's
    successor (``target=0``: on impact) or the average over all lags. Identifying assumption: the
    post-treatment violation of parallel trends lies in ``Delta^RM(Mbar)`` (no post-period change
    larger than ``Mbar`` times the largest pre-period change) or ``Delta^SD(M)`` (the slope of the trend
    gap changes by at most ``M`` per period), instead of being exactly zero.

    Parameters
    ----------
    result
        ``event_study(...)``, ``aggte(att_gt(..., base_period="universal"), "dynamic")`` or
        ``sun_abraham(...)``.
    restriction
        ``"rm"`` (relative magnitudes, ARP conditional-LF hybrid) or ``"sd"`` (smoothness, FLCI).
    grid
        Values of ``Mbar`` (default 0, 0.5, ..., 2) or ``M`` (default ten values from 0 to an upper
        bound on the pre-period changes of slope).
    target
        An event time (``0`` = on impact), ``"average"``, or explicit weights on the lags.
    level
        Coverage of each set.
    breakdown
        Also find the smallest bound at which the set contains 0 (bisection).
    n_sims, seed
        Draws (and their seed) for the least-favourable critical value of the hybrid test (``"rm"``).

    Returns
    -------
    HonestResult

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.honest import honest_did
    >>> es = ci.event_study(example_panel(), outcome="ln_lp", window=(-3, 3), bin_endpoints=False)
    >>> sd = honest_did(es, restriction="sd", grid=[0.0, 0.01, 0.02], target=0)
    >>> sd.sets["bound"].tolist()
    [0.0, 0.01, 0.02]
    >>> bool((sd.sets["conf_high"] - sd.sets["conf_low"]).is_monotonic_increasing)
    True
    """
    es = event_study_coefficients(result)
    post_times = np.array(es.times[es.n_pre :])
    notes: list[str] = []
    if getattr(result, "binned", False):
        notes.append(
            "the event study bins its endpoints (each pools all earlier/later event times); the bounds "
            "treat each binned coefficient as one period: use bin_endpoints=False for exact periods"
        )
    if isinstance(target, str):
        check_choice("target", target, ("average",))
        l_vec = np.full(es.n_post, 1.0 / es.n_post)
        label = "average"
    elif np.ndim(target) == 0:
        e = float(target)  # type: ignore[arg-type]
        if e not in post_times:
            raise SpecError(
                f"target={target!r} is not a lag of this event study; lags: "
                f"{[f'{t:g}' for t in post_times]}"
            )
        l_vec = (post_times == e).astype(float)
        label = f"e={e:g}"
    else:
        l_vec = np.asarray(target, dtype=float)
        if l_vec.shape != (es.n_post,) or not np.isfinite(l_vec).all() or not l_vec.any():
            raise SpecError(f"target weights need {es.n_post} finite values, not all zero")
        label = "l_vec"
    out = honest_did_arrays(
        es.betahat,
        es.sigma,
        es.n_pre,
        l_vec=l_vec,
        restriction=restriction,
        grid=grid,
        level=level,
        breakdown=breakdown,
        n_sims=n_sims,
        seed=seed,
        target_label=label,
    )
    for n in notes:
        warnings.warn(n, EstimationWarning, stacklevel=2)
    from dataclasses import replace

    return replace(
        out,
        pre_times=es.times[: es.n_pre],
        post_times=es.times[es.n_pre :],
        nobs=result.nobs,
        warnings=(*out.warnings, *notes),
        provenance=make_provenance(
            "honest",
            None,
            None,
            source_method=result.method,
            restriction=restriction,
            target=label,
            l_vec=[float(v) for v in l_vec],
            level=level,
            n_sims=n_sims,
            terms=list(es.terms),
        ),
    )


def honest_did_arrays(
    betahat: np.ndarray,
    sigma: np.ndarray,
    n_pre: int,
    *,
    l_vec: Sequence[float] | np.ndarray | None = None,
    restriction: Restriction = "rm",
    grid: Sequence[float] | None = None,
    level: float = 0.95,
    breakdown: bool = True,
    n_sims: int = 10_000,
    seed: int = 0,
    target_label: str | None = None,
) -> HonestResult:
    """:func:`honest_did` on raw coefficients: ``betahat`` (``n_pre`` leads then the lags, reference
    excluded) and their covariance ``sigma``; ``l_vec`` defaults to the first lag.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.honest import honest_did_arrays
    >>> betahat = np.array([0.01, -0.01, 0.05, 0.06])  # two leads, then two lags
    >>> sigma = np.diag([0.02, 0.02, 0.02, 0.02]) ** 2
    >>> result = honest_did_arrays(betahat, sigma, n_pre=2, restriction="rm", grid=[0.0, 1.0])
    >>> lo, hi = result.original
    >>> bool(lo < 0.05 < hi), result.params.index.tolist()
    (True, ['original', 'Mbar=0', 'Mbar=1'])
    """
    check_choice("restriction", restriction, RESTRICTIONS)
    b, V = _check_arrays(betahat, sigma, n_pre)
    n_post = len(b) - n_pre
    lv = np.eye(n_post)[0] if l_vec is None else np.asarray(l_vec, dtype=float)
    if lv.shape != (n_post,):
        raise SpecError(f"l_vec needs {n_post} values (one per lag), got {lv.shape}")
    if not 0 < level < 1:
        raise SpecError(f"level must be in (0, 1), got {level}")
    alpha = 1 - level
    post = slice(n_pre, len(b))
    theta = float(lv @ b[post])
    se = float(np.sqrt(lv @ V[post, post] @ lv))
    z = float(stats.norm.ppf(1 - alpha / 2))
    original = (theta - z * se, theta + z * se)
    if grid is None:
        grid = DEFAULT_MBAR if restriction == "rm" else _default_m_grid(b, V, n_pre)
    g = np.asarray(list(grid), dtype=float)
    if g.ndim != 1 or g.size == 0 or not np.isfinite(g).all() or (g < 0).any():
        raise SpecError(f"grid needs non-negative finite values, got {list(grid)}")
    solver = _Solver(b, V, n_pre, lv, alpha, restriction, n_sims, seed, se)
    lows, highs, centers = [], [], []
    for m in g:
        lo, hi, c = solver.interval(float(m))
        lows.append(lo)
        highs.append(hi)
        centers.append(c)
    bd = solver.breakdown(original, float(g.max())) if breakdown else None
    name = "Mbar" if restriction == "rm" else "M"
    terms = ["original", *[f"{name}={m:g}" for m in g]]
    idx = pd.Index(terms, name="term")
    sets = pd.DataFrame(
        {
            "bound": g,
            "conf_low": lows,
            "conf_high": highs,
            "method": "C-LF" if restriction == "rm" else "FLCI",
        }
    )
    return HonestResult(
        params=pd.Series([theta, *centers], index=idx, name="estimate"),
        std_errors=pd.Series([se, *[np.nan] * len(g)], index=idx, name="std_error"),
        nobs=0,
        method=f"honest:{restriction}",
        provenance=make_provenance("honest", None, None, restriction=restriction, level=level),
        restriction=restriction,
        sets=sets,
        original=original,
        breakdown=bd,
        l_vec=tuple(float(v) for v in lv),
        target=target_label or "l_vec",
        level=level,
        grid_label=name,
    )


def _check_arrays(betahat: Any, sigma: Any, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(betahat, dtype=float).ravel()
    V = np.asarray(sigma, dtype=float)
    if V.shape != (len(b), len(b)):
        raise SpecError(
            f"sigma must be {len(b)} x {len(b)} (one row per coefficient), got {V.shape}"
        )
    if not (np.isfinite(b).all() and np.isfinite(V).all()):
        raise SpecError("betahat and sigma must be finite")
    if not np.allclose(V, V.T, rtol=1e-8, atol=1e-14 * max(1.0, np.abs(V).max())):
        raise SpecError("sigma must be symmetric")
    if np.linalg.eigvalsh(V).min() < -1e-10 * max(1e-300, np.abs(V).max()):
        raise SpecError("sigma must be positive semi-definite")
    if not 1 <= n_pre < len(b):
        raise SpecError(
            f"need at least one lead and one lag: n_pre={n_pre} of {len(b)} coefficients"
        )
    return b, V


def _default_m_grid(b: np.ndarray, V: np.ndarray, n_pre: int) -> list[float]:
    """Ten values from 0 to the largest pre-period change of slope plus its one-sided 95 % margin."""
    full_b = np.r_[b[:n_pre], 0.0]
    if n_pre < 2:
        top = float(np.sqrt(V[n_pre, n_pre]))
    else:
        full_V = np.zeros((n_pre + 1, n_pre + 1))
        full_V[:n_pre, :n_pre] = V[:n_pre, :n_pre]
        S = core._second_differences(n_pre, 0)
        sd = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", S, full_V, S), 0, None))
        top = float(np.max(np.abs(S @ full_b) + stats.norm.ppf(0.95) * sd))
    return [float(v) for v in np.linspace(0.0, top, 10)]


class _Solver:
    """One sensitivity problem: the set at a bound, and the breakdown value."""

    def __init__(
        self,
        b: np.ndarray,
        V: np.ndarray,
        n_pre: int,
        lv: np.ndarray,
        alpha: float,
        restriction: str,
        n_sims: int,
        seed: int,
        se: float,
    ) -> None:
        self.b, self.V, self.n_pre, self.lv = b, V, n_pre, lv
        self.alpha, self.restriction, self.n_sims, self.seed, self.se = (
            alpha,
            restriction,
            n_sims,
            seed,
            se,
        )
        self.theta = float(lv @ b[n_pre:])

    def interval(self, m: float) -> tuple[float, float, float]:
        """``(low, high, centre)``; the centre is NaN for relative magnitudes."""
        if self.restriction == "sd":
            f = core.flci_sd(self.b, self.V, self.n_pre, self.lv, m, self.alpha)
            return f.center - f.half_length, f.center + f.half_length, f.center
        pieces = self._pieces(m)
        lo, hi = core.invert(
            lambda t: core.union_accepts(pieces, t), self.theta, 10 * max(self.se, 1e-300)
        )
        return lo, hi, float("nan")

    def _pieces(self, m: float) -> list[core.ArpPiece]:
        return core.rm_pieces(
            self.b,
            self.V,
            self.n_pre,
            self.lv,
            m,
            alpha=self.alpha,
            n_sims=self.n_sims,
            seed=self.seed,
        )

    def contains_zero(self, m: float) -> bool:
        if self.restriction == "sd":
            f = core.flci_sd(self.b, self.V, self.n_pre, self.lv, m, self.alpha)
            return abs(f.center) <= f.half_length
        return core.union_accepts(self._pieces(m), 0.0)

    def breakdown(self, original: tuple[float, float], top: float, rel_tol: float = 1e-3) -> float:
        """Smallest bound whose set contains 0: bisection on ``[0, top]`` (``top`` doubled up to
        eight times while its set still excludes 0); ``inf`` if none does."""
        if original[0] <= 0 <= original[1] or self.contains_zero(0.0):
            return 0.0
        top = top if top > 0 else 1.0
        for _ in range(8):
            if self.contains_zero(top):
                break
            top *= 2
        else:
            return float("inf")
        lo, hi = 0.0, top
        while hi - lo > rel_tol * top:
            mid = 0.5 * (lo + hi)
            if self.contains_zero(mid):
                hi = mid
            else:
                lo = mid
        return hi
