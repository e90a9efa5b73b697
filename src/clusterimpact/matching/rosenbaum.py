"""Rosenbaum bounds: how much hidden bias would overturn a matched-pair estimate.

Rosenbaum's sensitivity model (Observational Studies, 2nd ed., 2002, sections 4.2-4.3): within a matched
pair, two units with the same observed covariates may differ in their odds of treatment by at most a
factor ``Gamma >= 1`` because of an unobserved covariate. For Wilcoxon's signed-rank statistic ``T`` on
the treated-minus-control differences ``d_i`` (zeros dropped, ``q_i`` the ranks of ``|d_i|``, average
ranks for ties), ``T`` is bounded, under no effect, by sums of independent terms that take the value
``q_i`` with probability ``p+ = Gamma / (1 + Gamma)`` (upper) or ``p- = 1 / (1 + Gamma)`` (lower):
``E = p sum q_i``, ``Var = p (1 - p) sum q_i^2``, and the one-sided p-value bounds follow from the normal
approximation. The Hodges-Lehmann estimate of an additive effect ``tau`` solves ``T(d - tau) = E``; under
``Gamma`` it lies between the solutions at ``E+`` and ``E-`` (Rosenbaum 1993, JASA 88, 1250-1253). The
critical ``Gamma`` is the smallest at which the upper p-value bound reaches ``alpha``. Written from the
book's formulas.

Other signed-rank scores (``scores=(m, m1, m2)``): the U-statistic ranks of Rosenbaum (2011), "A new
U-statistic with superior design sensitivity in matched observational studies", Biometrics 67,
1017-1027, expression (8): the pair whose ``|d|`` has rank ``a`` among all ``I`` pairs scores
``sum_{l=m1..m2} C(a - 1, l - 1) C(I - a, m - l)`` (zero differences score 0 but keep their rank place;
tied ``|d|`` take the average rank, with ``C(x, k) = x (x - 1) ... (x - k + 1) / k!`` for non-integer
``x``, as in the paper's supplement). ``(1, 1, 1)`` is the sign test, ``(2, 2, 2)`` nearly Wilcoxon's
ranks and ``m = m1 = m2`` Stephenson's (1981) test; larger ``m`` weights the largest differences more,
which raises the design sensitivity when the effect is concentrated. The scores are reported divided
by ``I^(m - 1) / (m - 1)!`` (a constant, so the bounds are unchanged; it keeps them in ``[0, 1]`` for
untied data of any size). The bound and the estimates are computed as for Wilcoxon's ranks.

The pairs must be disjoint -- each control in one pair only, i.e. one-to-one matching without
replacement -- since the bounds treat the pairs as independent; a matching that reuses controls is
refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from clusterimpact.errors import DataError, SpecError
from clusterimpact.provenance import make_provenance
from clusterimpact.results import EstimateResult, tidy_frame

__all__ = [
    "RosenbaumResult",
    "matched_pair_differences",
    "rosenbaum_bounds",
    "rosenbaum_from_match",
]


@dataclass(frozen=True, kw_only=True)
class RosenbaumResult(EstimateResult):
    """Wilcoxon signed-rank p-value bounds and Hodges-Lehmann estimate bounds over ``Gamma``.

    ``params`` holds the Hodges-Lehmann estimate without hidden bias (term ``HL``). ``tidy()`` has one
    row per ``Gamma`` (term ``Gamma=1.5``): ``p_value`` is the upper bound of the one-sided p-value and
    ``conf_low``/``conf_high`` are the smallest and largest Hodges-Lehmann estimates consistent with that
    bias (a range of point estimates, not a confidence interval).

    Attributes
    ----------
    bounds
        gamma, p_lower, p_upper, hl_lower, hl_upper.
    critical_gamma
        Smallest ``Gamma`` at which the upper p-value bound reaches ``alpha`` (1.0 if it already does
        without bias; ``inf`` if the search up to ``gamma_max`` never gets there).
    alpha
        Level of the critical ``Gamma``.
    statistic
        The signed-rank statistic ``T``: the scores of the positive differences, summed (Wilcoxon's
        ranks unless ``scores`` says otherwise).
    n_pairs, n_zero
        Pairs used, and pairs with a zero difference (dropped, as in the book).
    scores
        The signed-rank scores: ``"wilcoxon"`` or ``"u(m,m1,m2)"`` (Rosenbaum's 2011 U-statistic).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.matching.rosenbaum import rosenbaum_bounds
    >>> diff = np.random.default_rng(0).normal(0.3, 1.0, size=200)
    >>> result = rosenbaum_bounds(diff, gammas=[1.0, 1.5, 2.0])
    >>> result.bounds["gamma"].tolist()
    [1.0, 1.5, 2.0]
    >>> bool(result.bounds["p_upper"].is_monotonic_increasing)  # more hidden bias, weaker evidence
    True
    """

    bounds: pd.DataFrame
    critical_gamma: float
    alpha: float
    statistic: float
    n_pairs: int
    n_zero: int
    scores: str = "wilcoxon"

    @property
    def overall_term(self) -> str | None:
        """The estimate without hidden bias: ``HL`` (Hodges-Lehmann; ``M`` for the M-estimate of
        :class:`~clusterimpact.matching.rosenbaum_sets.RosenbaumSetsResult`)."""
        return str(self.params.index[0]) if len(self.params) else None

    def tidy(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """One row per Gamma: p_value = upper p-value bound, conf_low/high = HL estimate bounds."""
        b = self.bounds
        idx = pd.Index([f"Gamma={g:g}" for g in b["gamma"]], name="term")
        nan = pd.Series(np.nan, index=idx)
        return tidy_frame(
            pd.Series(np.nan, index=idx),
            nan,
            pd.Series(b["p_upper"].to_numpy(), index=idx),
            pd.Series(b["hl_lower"].to_numpy(), index=idx),
            pd.Series(b["hl_upper"].to_numpy(), index=idx),
            nan,
        )

    def summary(self, level: float = 0.95) -> str:
        """The bounds table with the critical Gamma."""
        lines = [
            f"RosenbaumResult ({_SCORE_NAMES.get(self.scores, self.scores)} signed rank, "
            f"{self.n_pairs} pairs, {self.n_zero} zero differences dropped)",
            f"Hodges-Lehmann estimate {self.params.iloc[0]:.6g}; T = {self.statistic:g}; "
            f"critical Gamma (alpha {self.alpha:g}) = {self.critical_gamma:.4g}",
            self.bounds.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines + [f"Warning: {w}" for w in self.warnings])

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form with the bounds table and the critical Gamma."""
        out = super().to_dict(level)
        cg = self.critical_gamma
        out["rosenbaum"] = {
            "critical_gamma": "inf" if np.isinf(cg) else float(cg),
            "alpha": self.alpha,
            "statistic": self.statistic,
            "n_pairs": self.n_pairs,
            "n_zero": self.n_zero,
            "scores": self.scores,
            "bounds": self.bounds.to_dict(orient="records"),
        }
        return out


_SCORE_NAMES = {"wilcoxon": "Wilcoxon"}

_Scores = (
    tuple[int, int, int] | None
)  # None: Wilcoxon's ranks; (m, m1, m2): Rosenbaum's U-statistic


def _choose(x: np.ndarray, k: int, scale: float) -> np.ndarray:
    """``C(x, k) / scale^k`` as the polynomial ``x (x - 1) ... (x - k + 1) / k!`` (any real ``x``)."""
    out = np.ones_like(x)
    for j in range(k):
        out = out * (x - j) / scale
    return out / math.factorial(k)


def _u_scores(x: np.ndarray, scores: tuple[int, int, int]) -> np.ndarray:
    """Rosenbaum's (2011) U-statistic scores of the pairs ``x`` (zeros included, scored 0)."""
    m, m1, m2 = scores
    n = x.size
    a = stats.rankdata(np.abs(x))
    q = np.zeros(n)
    for ell in range(m1, m2 + 1):
        q += _choose(a - 1, ell - 1, n) * _choose(n - a, m - ell, n)
    return np.where(x != 0, q * math.factorial(m - 1), 0.0)


def _signed_rank(x: np.ndarray, scores: _Scores = None) -> tuple[float, np.ndarray]:
    """``T`` (the scores of the positive differences, summed) and the scores of the non-zero ``x``:
    Wilcoxon's average ranks of ``|x|`` among the non-zero, or the U-statistic scores."""
    nz = x != 0
    if scores is None:
        q = stats.rankdata(np.abs(x[nz]))
    else:
        q = _u_scores(x, scores)[nz]
    return float(q[x[nz] > 0].sum()), q


def _check_scores(scores: Any) -> _Scores:
    if isinstance(scores, str) and scores == "wilcoxon":
        return None
    ok = (
        isinstance(scores, (tuple, list))
        and len(scores) == 3
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in scores)
    )
    if ok:
        m, m1, m2 = (int(v) for v in scores)
        if 1 <= m1 <= m2 <= m:
            return m, m1, m2
    raise SpecError(
        f'scores must be "wilcoxon" or integers (m, m1, m2) with 1 <= m1 <= m2 <= m (Rosenbaum '
        f"2011's U-statistic; (1, 1, 1) is the sign test), got {scores!r}"
    )


def _p_bounds(T: float, q: np.ndarray, gamma: float) -> tuple[float, float]:
    s1, s2 = float(q.sum()), float((q**2).sum())
    out = []
    for p in (1 / (1 + gamma), gamma / (1 + gamma)):
        z = (T - p * s1) / np.sqrt(p * (1 - p) * s2)
        out.append(float(stats.norm.sf(z)))
    return out[0], out[1]


def _hl_at(d: np.ndarray, p: float, scores: _Scores = None) -> float:
    """Solve ``T(d - tau) = p * sum q`` for ``tau`` (midpoint of the step where it is crossed, or of
    the interval where ``T`` equals its target: within rounding, 1e-12 of ``sum q``)."""

    def excess(tau: float) -> float:
        x = d - tau
        if not (x != 0).any():
            return 0.0
        T, q = _signed_rank(x, scores)
        total = float(q.sum())
        gap = T - p * total
        return 0.0 if abs(gap) <= 1e-12 * abs(total) else gap

    lo, hi = float(d.min()), float(d.max())
    span = max(hi - lo, 1e-12)
    tol = 1e-12 * max(span, np.abs(d).max())
    # sup {tau: excess > 0} and inf {tau: excess < 0}
    a, b = lo - span, hi + span
    while b - a > tol:
        m = 0.5 * (a + b)
        if excess(m) > 0:
            a = m
        else:
            b = m
    upper_pos = a
    a, b = lo - span, hi + span
    while b - a > tol:
        m = 0.5 * (a + b)
        if excess(m) < 0:
            b = m
        else:
            a = m
    return 0.5 * (upper_pos + b)


def rosenbaum_bounds(
    differences: Any,
    *,
    gammas: Sequence[float] = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0),
    alpha: float = 0.05,
    gamma_max: float = 100.0,
    scores: str | tuple[int, int, int] = "wilcoxon",
) -> RosenbaumResult:
    """Rosenbaum bounds for matched pairs: Wilcoxon p-values and Hodges-Lehmann estimates over Gamma.

    Estimand: an additive effect of treatment on the outcome whose treated-minus-control pair
    differences are given (e.g. the change in TFP from the year before joining, matched DiD).
    Assumption: within pairs, hidden bias changes the odds of treatment by at most ``Gamma``.

    Parameters
    ----------
    differences
        Treated-minus-control outcome differences, one per matched pair; for a ``match`` /
        ``match_panel`` result use :func:`matched_pair_differences` (or :func:`rosenbaum_from_match`).
    gammas
        Values of Gamma (each >= 1).
    alpha
        Level for the critical Gamma (one-sided test of no effect against a positive effect).
    gamma_max
        Upper end of the search for the critical Gamma.
    scores
        ``"wilcoxon"`` (Wilcoxon's signed ranks, the default) or ``(m, m1, m2)`` with ``1 <= m1 <= m2
        <= m``: the U-statistic ranks of Rosenbaum (2011) -- ``(1, 1, 1)`` the sign test, ``(8, 5, 8)``
        or ``(8, 6, 8)`` more design sensitivity when few pairs carry the effect (module docstring).
        The estimates are then the matching Hodges-Lehmann-type estimates.

    Returns
    -------
    RosenbaumResult

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.matching.rosenbaum import rosenbaum_bounds
    >>> diff = np.random.default_rng(0).normal(0.5, 1.0, size=100)  # treated minus control, by pair
    >>> result = rosenbaum_bounds(diff)
    >>> float(result.bounds["p_upper"].iloc[0]) < 0.05  # Gamma = 1: no hidden bias
    True
    >>> result.critical_gamma > 1  # the bias it takes to explain the effect away
    True
    """
    d_all = np.asarray(differences, dtype=float).ravel()
    if d_all.size == 0 or not np.isfinite(d_all).all():
        bad = np.flatnonzero(~np.isfinite(d_all))[:10] + 1
        raise DataError(
            "rosenbaum_bounds needs finite pair differences"
            + (f"; non-finite at pairs {bad.tolist()}" if bad.size else ": none given")
        )
    g = np.asarray(list(gammas), dtype=float)
    if g.size == 0 or not np.isfinite(g).all() or (g < 1).any():
        raise SpecError(f"gammas must be finite values >= 1, got {list(gammas)}")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must be in (0, 1), got {alpha}")
    u = _check_scores(scores)
    d = d_all[d_all != 0]
    warns: list[str] = []
    if d.size < 2:
        raise DataError(
            f"rosenbaum_bounds needs at least 2 non-zero pair differences, got {d.size}"
        )
    if d.size < 10:
        warns.append(f"only {d.size} non-zero pairs: the normal approximation is rough")
    T, q = _signed_rank(d_all, u)
    rows = []
    for gamma in g:
        p_lo, p_up = _p_bounds(T, q, float(gamma))
        rows.append(
            {
                "gamma": float(gamma),
                "p_lower": p_lo,
                "p_upper": p_up,
                "hl_lower": _hl_at(d_all, gamma / (1 + gamma), u),
                "hl_upper": _hl_at(d_all, 1 / (1 + gamma), u),
            }
        )
    crit = _critical_gamma(T, q, alpha, gamma_max)
    hl = _hl_at(d_all, 0.5, u)
    idx = pd.Index(["HL"], name="term")
    name = "wilcoxon" if u is None else "u({},{},{})".format(*u)
    return RosenbaumResult(
        params=pd.Series([hl], index=idx, name="estimate"),
        std_errors=pd.Series([np.nan], index=idx, name="std_error"),
        nobs=int(d_all.size),
        method="rosenbaum",
        provenance=make_provenance(
            "rosenbaum", None, None, gammas=g.tolist(), alpha=alpha, scores=name
        ),
        warnings=tuple(warns),
        bounds=pd.DataFrame(rows),
        critical_gamma=crit,
        alpha=alpha,
        statistic=T,
        n_pairs=int(d.size),
        n_zero=int(d_all.size - d.size),
        scores=name,
    )


def _critical_gamma(T: float, q: np.ndarray, alpha: float, gamma_max: float) -> float:
    def f(gamma: float) -> float:
        return _p_bounds(T, q, gamma)[1] - alpha

    if f(1.0) >= 0:
        return 1.0
    if f(gamma_max) < 0:
        return float("inf")
    return float(optimize.brentq(f, 1.0, gamma_max, xtol=1e-10, rtol=1e-12))


def matched_pair_differences(result: Any, data: Any, outcome: str) -> pd.Series:
    """Treated-minus-control outcome differences of a 1:1 matching (``match`` or ``match_panel``).

    Parameters
    ----------
    result
        A :class:`~clusterimpact.matching.MatchResult` of one-to-one matching without replacement
        (``neighbors=1, replace=False``); its ``pairs`` name each treated row and its control, and
        no control may serve two treated units (Rosenbaum's model needs disjoint, independent pairs).
    data
        The data the matching ran on (rows labelled as in ``result.pairs``), holding ``outcome``. In
        panel mode give one row per unit (e.g. the matched DiD outcome, the change in TFP from the
        year before joining) indexed by unit id, with a ``stack`` level if units recur across cohorts.
    outcome
        The outcome column.

    Raises
    ------
    SpecError
        The matching is not one-to-one (Rosenbaum's pair model needs pairs), or a control is used by
        more than one treated unit (matching with replacement: the pairs are not independent).
    DataError
        The outcome column is missing, or a paired row lacks a finite outcome.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> from clusterimpact.matching.rosenbaum import matched_pair_differences
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"d": np.r_[np.ones(20), np.zeros(80)], "x": rng.normal(size=100)})
    >>> df["y"] = df["x"] + 0.5 * df["d"] + rng.normal(size=100)
    >>> m = ci.match(df, treatment="d", outcome="y", covariates=["x"], replace=False)
    >>> diff = matched_pair_differences(m, df, "y")
    >>> len(diff)
    20
    """
    pairs = result.pairs
    if pairs.empty:
        raise SpecError("the matching has no pairs (CEM / exact matching): use nearest matching")
    pairs = pairs[pairs["focal_treated"].astype(bool)]
    if pairs["focal"].duplicated().any():
        raise SpecError(
            "rosenbaum_bounds needs one control per treated unit (neighbors=1); "
            f"{int(pairs['focal'].duplicated().sum())} treated units have more than one match"
        )
    reused = pairs["match"][pairs["match"].duplicated(keep=False)]
    if len(reused):
        ctrl = pd.unique(reused)
        raise SpecError(
            "rosenbaum_bounds needs disjoint pairs (each control in one pair only): the signed-rank "
            "bounds treat pairs as independent, which a control reused by several treated units "
            f"breaks; {len(ctrl):,} controls are used {len(reused):,} times in all (e.g. "
            f"{', '.join(repr(c) for c in ctrl[:5].tolist())}). Match without replacement "
            "(replace=False)"
        )
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if outcome not in df.columns:
        raise DataError(f"outcome column {outcome!r} not in the data", column=outcome)
    y = pd.to_numeric(df[outcome], errors="coerce")
    yt = y.reindex(pairs["focal"].to_numpy()).to_numpy(dtype=float)
    yc = y.reindex(pairs["match"].to_numpy()).to_numpy(dtype=float)
    bad = ~(np.isfinite(yt) & np.isfinite(yc))
    if bad.any():
        rows = pairs["focal"].to_numpy()[bad][:10].tolist()
        raise DataError(
            f"{int(bad.sum())} matched pairs lack a finite {outcome!r} (treated rows {rows})",
            column=outcome,
            rows=rows,
        )
    return pd.Series(
        yt - yc, index=pd.Index(pairs["focal"].to_numpy(), name="treated"), name=outcome
    )


def rosenbaum_from_match(result: Any, data: Any, outcome: str, **kwargs: Any) -> RosenbaumResult:
    """Rosenbaum bounds of a matching without replacement: pairs or 1:k matched sets.

    One control per treated unit: :func:`rosenbaum_bounds` on the pair differences (Wilcoxon,
    Hodges-Lehmann). ``k > 1`` controls per treated unit:
    :func:`~clusterimpact.matching.rosenbaum_sets.rosenbaum_sets` on the matched sets (Huber
    M-statistic, separable bound). ``data`` and ``outcome`` as in :func:`matched_pair_differences`;
    ``kwargs`` go to the bounds function.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> from clusterimpact.matching.rosenbaum import rosenbaum_from_match
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"d": np.r_[np.ones(30), np.zeros(120)], "x": rng.normal(size=150)})
    >>> df["y"] = df["x"] + 1.0 * df["d"] + rng.normal(size=150)
    >>> m = ci.match(df, treatment="d", outcome="y", covariates=["x"], replace=False)
    >>> result = rosenbaum_from_match(m, df, "y", gammas=[1.0, 2.0])
    >>> result.nobs
    30
    """
    treated = (
        result.pairs[result.pairs["focal_treated"].astype(bool)] if len(result.pairs) else None
    )
    if treated is not None and treated["focal"].duplicated().any():
        from clusterimpact.matching.rosenbaum_sets import matched_set_outcomes, rosenbaum_sets

        return rosenbaum_sets(matched_set_outcomes(result, data, outcome), **kwargs)
    return rosenbaum_bounds(matched_pair_differences(result, data, outcome), **kwargs)
