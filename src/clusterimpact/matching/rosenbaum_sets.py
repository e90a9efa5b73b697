"""Rosenbaum bounds for matched sets of one treated unit and ``k`` controls (1:k matching).

Sensitivity model (Rosenbaum 2002, Observational Studies, section 4.2): within matched set ``s`` of
``J = k + 1`` units, under the null of no effect the chance that unit ``j`` is the treated one is
``exp(gamma u_sj) / sum_i exp(gamma u_si)`` with unknown ``u_sj`` in ``[0, 1]`` and ``Gamma =
exp(gamma) >= 1`` (``Gamma = 1``: every unit equally likely, as in a randomised experiment).

Test statistic: Huber-Maritz M-statistic of Rosenbaum (2007), "Sensitivity analysis for m-estimates,
tests and confidence intervals in matched observational studies", Biometrics 63, 456-464. With
responses ``r_sj`` (the treated unit's adjusted by a hypothesised additive effect ``tau``), the scale
``sigma`` is the ``lam``-quantile (default the median) of the absolute differences ``|r_si - r_sj|`` of
all pairs of units within the same sets -- a function of the responses only, so it does not change
with the assignment under the null -- and unit ``j``'s score is ``q_sj = (1/k) sum_{i != j}
psi((r_sj - r_si) / sigma)`` with Huber's ``psi(x) = max(-trim, min(trim, x))``. The statistic is the
sum of the treated units' scores, ``T = sum_s q_s,treated``.

Bound: the separable approximation of Gastwirth, Krieger & Rosenbaum (2000, JRSS-B 62, 545-556),
as used in Rosenbaum (2007, section 4). In each set, with the scores sorted ``q_(1) >= ... >= q_(J)``,
the expectation of the treated score is largest when ``u = 1`` for the ``a`` largest scores and ``0``
for the others, for some ``a`` in ``1..J-1``: ``mu_a = (Gamma sum_{i<=a} q_(i) + sum_{i>a} q_(i)) /
(a Gamma + J - a)``. Each set contributes its largest ``mu_a`` and, among the ``a`` reaching it, the
largest variance; the sets are independent, and the upper bound on the one-sided p-value is the normal
tail of ``(T - sum mu) / sqrt(sum var)``. The lower bound puts the weight on the smallest scores. The
bounds on the M-estimate of an additive effect solve ``T(tau) = sum mu(tau)`` (lower end) and
``T(tau) = sum mu_min(tau)`` (upper end), as the Hodges-Lehmann bounds do for pairs. Written from the
papers' formulas (no code of the GPL packages sensitivitymw / sensitivitymv is used). For ``k = 1`` and
Wilcoxon's pair scores the bound is exactly :func:`~clusterimpact.matching.rosenbaum.rosenbaum_bounds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from clusterimpact.errors import DataError, SpecError
from clusterimpact.matching.rosenbaum import RosenbaumResult
from clusterimpact.provenance import make_provenance

__all__ = [
    "RosenbaumSetsResult",
    "huber_scores",
    "matched_set_outcomes",
    "rosenbaum_sets",
    "separable_bound",
]


@dataclass(frozen=True, kw_only=True)
class RosenbaumSetsResult(RosenbaumResult):
    """:class:`~clusterimpact.matching.rosenbaum.RosenbaumResult` for 1:k matched sets.

    ``params`` holds the M-estimate of an additive effect without hidden bias (term ``M``);
    ``bounds`` has gamma, p_lower, p_upper and the M-estimate bounds in ``hl_lower`` / ``hl_upper``
    (the column names of the pairs' table, so reports read both alike). ``n_pairs`` counts the matched
    sets, ``n_controls`` the controls per set; ``statistic`` is the M-statistic ``T`` at ``tau = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(60, 3))  # 60 matched sets: the treated unit, then two controls
    >>> y[:, 0] += 1.0                # an effect of 1 on the treated
    >>> from clusterimpact.matching.rosenbaum_sets import rosenbaum_sets
    >>> result = rosenbaum_sets(y, gammas=[1.0, 1.5])
    >>> type(result).__name__, result.params.index.tolist()
    ('RosenbaumSetsResult', ['M'])
    """

    n_controls: int
    trim: float
    lam: float

    def summary(self, level: float = 0.95) -> str:
        """The bounds table with the critical Gamma."""
        lines = [
            f"RosenbaumSetsResult (Huber M-statistic, trim {self.trim:g}, scale = {self.lam:g}-quantile; "
            f"{self.n_pairs} sets of 1 treated + {self.n_controls} controls; separable bound)",
            f"M-estimate {self.params.iloc[0]:.6g}; T = {self.statistic:.6g}; "
            f"critical Gamma (alpha {self.alpha:g}) = {self.critical_gamma:.4g}",
            self.bounds.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines + [f"Warning: {w}" for w in self.warnings])

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form: the pairs' form plus the set size and the statistic's settings."""
        out = super().to_dict(level)
        out["rosenbaum"].update(
            n_sets=self.n_pairs,
            n_controls=self.n_controls,
            statistic_name="huber_m",
            trim=self.trim,
        )
        return out


def huber_scores(y: np.ndarray, *, trim: float = 3.0, lam: float = 0.5) -> np.ndarray:
    """Each unit's M-score ``q_sj`` (see the module docstring) for responses ``y`` (sets x units).

    Raises
    ------
    DataError
        The ``lam``-quantile of the within-set absolute differences is 0 (no scale: raise ``lam``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(60, 3))  # 60 matched sets: the treated unit, then two controls
    >>> y[:, 0] += 1.0                # an effect of 1 on the treated
    >>> from clusterimpact.matching.rosenbaum_sets import huber_scores
    >>> q = huber_scores(y)
    >>> q.shape, bool(np.allclose(q.sum(axis=1), 0))  # scores within a set sum to zero
    ((60, 3), True)
    """
    n, J = y.shape
    diff = y[:, :, None] - y[:, None, :]
    iu = np.triu_indices(J, 1)
    sigma = float(np.quantile(np.abs(diff[:, iu[0], iu[1]]), lam))
    if not sigma > 0:
        raise DataError(
            f"the {lam:g}-quantile of the within-set absolute differences is 0: no scale for the "
            "M-statistic (raise lam)"
        )
    return np.clip(diff / sigma, -trim, trim).sum(axis=2) / (J - 1)


def separable_bound(q: np.ndarray, gamma: float, *, upper: bool = True) -> tuple[float, float]:
    """Expectation and variance of the bounding null distribution of ``T = sum_s q_s,treated``.

    ``q`` holds every unit's score (sets x units). ``upper``: the largest expectation (and the largest
    variance among the configurations reaching it), else the smallest.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(60, 3))  # 60 matched sets: the treated unit, then two controls
    >>> y[:, 0] += 1.0                # an effect of 1 on the treated
    >>> from clusterimpact.matching.rosenbaum_sets import huber_scores, separable_bound
    >>> q = huber_scores(y)
    >>> mean1, var1 = separable_bound(q, 1.0)
    >>> mean2, var2 = separable_bound(q, 2.0)
    >>> bool(abs(mean1) < 1e-9), bool(mean2 > mean1)  # hidden bias moves the null distribution up
    (True, True)
    """
    qs = -np.sort(-q, axis=1) if upper else np.sort(q, axis=1)
    J = qs.shape[1]
    a = np.arange(1, J, dtype=float)
    c1, c2 = np.cumsum(qs, axis=1)[:, :-1], np.cumsum(qs**2, axis=1)[:, :-1]
    t1, t2 = qs.sum(axis=1, keepdims=True), (qs**2).sum(axis=1, keepdims=True)
    den = a * gamma + J - a
    mu = (gamma * c1 + t1 - c1) / den
    var = (gamma * c2 + t2 - c2) / den - mu**2
    best = mu.max(axis=1) if upper else mu.min(axis=1)
    tol = 1e-12 * max(1.0, float(np.abs(qs).max(initial=0.0)))
    tie = np.abs(mu - best[:, None]) <= tol
    return float(best.sum()), float(np.where(tie, var, -np.inf).max(axis=1).sum())


def _p(T: float, q: np.ndarray, gamma: float, upper: bool) -> float:
    e, v = separable_bound(q, gamma, upper=upper)
    return float(stats.norm.sf((T - e) / np.sqrt(v)))


def _estimate(y: np.ndarray, gamma: float, upper: bool, trim: float, lam: float) -> float:
    """Solve ``T(tau) = E(tau)`` (midpoint of the step where the sign changes), by bisection."""

    def excess(tau: float) -> float:
        r = y.copy()
        r[:, 0] -= tau
        q = huber_scores(r, trim=trim, lam=lam)
        return float(q[:, 0].sum()) - separable_bound(q, gamma, upper=upper)[0]

    d = y[:, :1] - y[:, 1:]
    lo, hi = float(d.min()), float(d.max())
    span = max(hi - lo, 1e-12)
    tol = 1e-10 * max(span, float(np.abs(d).max()))
    ends = []
    for positive in (True, False):
        a, b = lo - span, hi + span
        while b - a > tol:
            m = 0.5 * (a + b)
            if (excess(m) > 0) if positive else not (excess(m) < 0):
                a = m
            else:
                b = m
        ends.append(a if positive else b)
    return 0.5 * (ends[0] + ends[1])


def rosenbaum_sets(
    outcomes: Any,
    *,
    gammas: Sequence[float] = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0),
    alpha: float = 0.05,
    trim: float = 3.0,
    lam: float = 0.5,
    gamma_max: float = 100.0,
) -> RosenbaumSetsResult:
    """Rosenbaum bounds for 1:k matched sets: M-test p-values and M-estimate bounds over Gamma.

    Estimand: an additive effect of treatment on the outcome (e.g. the matched DiD's change in TFP
    from the year before joining). Assumption: within a set, hidden bias changes the odds of
    treatment by at most ``Gamma``.

    Parameters
    ----------
    outcomes
        One row per matched set: the treated unit's outcome first, then its ``k`` controls' (a
        DataFrame from :func:`matched_set_outcomes`, or an array).
    gammas
        Values of Gamma (each >= 1).
    alpha
        Level for the critical Gamma (one-sided test of no effect against a positive effect).
    trim, lam
        Huber's truncation point and the quantile of the within-set absolute differences used as
        scale (Rosenbaum 2007: 2.5 or 3 and the median).
    gamma_max
        Upper end of the search for the critical Gamma.

    Returns
    -------
    RosenbaumSetsResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(60, 3))  # 60 matched sets: the treated unit, then two controls
    >>> y[:, 0] += 1.0                # an effect of 1 on the treated
    >>> from clusterimpact.matching.rosenbaum_sets import rosenbaum_sets
    >>> result = rosenbaum_sets(y, gammas=[1.0, 2.0])
    >>> result.n_pairs, result.n_controls, result.bounds["gamma"].tolist()
    (60, 2, [1.0, 2.0])
    >>> bool(result.bounds["p_upper"].iloc[0] < 0.05)  # significant without hidden bias
    True
    """
    y = np.asarray(outcomes, dtype=float)
    if y.ndim != 2 or y.shape[1] < 2 or y.shape[0] < 2:
        raise DataError(
            f"rosenbaum_sets needs at least 2 sets of a treated unit and >= 1 control, got shape {y.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
    if bad.size:
        raise DataError(
            f"rosenbaum_sets needs finite outcomes; non-finite in sets {(bad[:10] + 1).tolist()}",
            rows=(bad[:10] + 1).tolist(),
        )
    g = np.asarray(list(gammas), dtype=float)
    if g.size == 0 or not np.isfinite(g).all() or (g < 1).any():
        raise SpecError(f"gammas must be finite values >= 1, got {list(gammas)}")
    if not 0 < alpha < 1 or not 0 < lam < 1 or not trim > 0:
        raise SpecError(f"need 0 < alpha < 1, 0 < lam < 1, trim > 0; got {alpha}, {lam}, {trim}")
    q = huber_scores(y, trim=trim, lam=lam)
    T = float(q[:, 0].sum())
    warns = [] if len(y) >= 10 else [f"only {len(y)} sets: the normal approximation is rough"]
    rows = [
        {
            "gamma": float(gm),
            "p_lower": _p(T, q, gm, upper=False),
            "p_upper": _p(T, q, gm, upper=True),
            "hl_lower": _estimate(y, gm, True, trim, lam),
            "hl_upper": _estimate(y, gm, False, trim, lam),
        }
        for gm in g
    ]
    f = lambda gm: _p(T, q, gm, upper=True) - alpha  # noqa: E731
    crit = (
        1.0
        if f(1.0) >= 0
        else float("inf")
        if f(gamma_max) < 0
        else float(optimize.brentq(f, 1.0, gamma_max, xtol=1e-10, rtol=1e-12))
    )
    idx = pd.Index(["M"], name="term")
    return RosenbaumSetsResult(
        params=pd.Series([_estimate(y, 1.0, True, trim, lam)], index=idx, name="estimate"),
        std_errors=pd.Series([np.nan], index=idx, name="std_error"),
        nobs=int(y.size),
        method="rosenbaum:m",
        provenance=make_provenance(
            "rosenbaum:m", None, None, gammas=g.tolist(), alpha=alpha, trim=trim, lam=lam
        ),
        warnings=tuple(warns),
        bounds=pd.DataFrame(rows),
        critical_gamma=crit,
        alpha=alpha,
        statistic=T,
        n_pairs=int(len(y)),
        n_zero=0,
        scores="huber_m",
        n_controls=int(y.shape[1] - 1),
        trim=float(trim),
        lam=float(lam),
    )


def matched_set_outcomes(result: Any, data: Any, outcome: str) -> pd.DataFrame:
    """The outcomes of a 1:k matching without replacement, one row per treated unit.

    Columns ``treated, control_1 .. control_k`` (in the matching's order of controls), indexed by the
    treated row. ``result`` and ``data`` as in
    :func:`~clusterimpact.matching.rosenbaum.matched_pair_differences`.

    Raises
    ------
    SpecError
        No pairs, a control serving two treated units (the sets must be independent), or treated
        units with different numbers of controls (e.g. a caliper left some short: drop them first).
    DataError
        The outcome column is missing, or a matched row lacks a finite outcome.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> from clusterimpact.matching.rosenbaum_sets import matched_set_outcomes
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"d": np.r_[np.ones(20), np.zeros(100)], "x": rng.normal(size=120)})
    >>> df["y"] = df["x"] + df["d"] + rng.normal(size=120)
    >>> m = ci.match(df, treatment="d", outcome="y", covariates=["x"], neighbors=2, replace=False)
    >>> sets = matched_set_outcomes(m, df, "y")
    >>> sets.columns.tolist(), len(sets)
    (['treated', 'control_1', 'control_2'], 20)
    """
    pairs = result.pairs
    if pairs.empty:
        raise SpecError("the matching has no pairs (CEM / exact matching): use nearest matching")
    pairs = pairs[pairs["focal_treated"].astype(bool)]
    reused = pairs["match"][pairs["match"].duplicated(keep=False)]
    if len(reused):
        raise SpecError(
            "rosenbaum_sets needs disjoint matched sets (each control in one set only); "
            f"{pd.unique(reused).size:,} controls are used {len(reused):,} times in all. Match "
            "without replacement (replace=False)"
        )
    sizes = pairs.groupby("focal", sort=False).size()
    if sizes.nunique() != 1:
        counts = sizes.value_counts().sort_index().to_dict()
        raise SpecError(
            f"rosenbaum_sets needs the same number of controls in every set; treated units by number "
            f"of controls: {counts} (leave out the short sets first)"
        )
    df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    if outcome not in df.columns:
        raise DataError(f"outcome column {outcome!r} not in the data", column=outcome)
    y = pd.to_numeric(df[outcome], errors="coerce")
    k = int(sizes.iloc[0])
    focal = sizes.index.to_numpy()
    ctrl = pairs.set_index("focal").loc[focal, "match"].to_numpy().reshape(len(focal), k)
    vals = np.column_stack(
        [
            y.reindex(focal).to_numpy(dtype=float),
            y.reindex(ctrl.ravel()).to_numpy(dtype=float).reshape(-1, k),
        ]
    )
    bad = ~np.isfinite(vals).all(axis=1)
    if bad.any():
        rows = focal[bad][:10].tolist()
        raise DataError(
            f"{int(bad.sum())} matched sets lack a finite {outcome!r} (treated rows {rows})",
            column=outcome,
            rows=rows,
        )
    cols = ["treated", *[f"control_{i + 1}" for i in range(k)]]
    return pd.DataFrame(vals, index=pd.Index(focal, name="treated"), columns=cols)
