"""Cross-sectional matching: the `match` front door and the array core the panel mode reuses.

The estimation sample is built by :mod:`clusterimpact.matching._prepare`, the options are a
:class:`~clusterimpact.matching.options.MatchingOptions`, and the result is assembled by
:mod:`clusterimpact.matching._assemble`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import as_frame, resolve_rng
from clusterimpact.errors import EstimationError
from clusterimpact.matching._assemble import assemble
from clusterimpact.matching._prepare import Prepared, prepare
from clusterimpact.matching.cem import coarsen, strata_weights
from clusterimpact.matching.estimate import pair_estimate, strata_estimate
from clusterimpact.matching.nearest import GreedyOrder, greedy_1d, greedy_md, knn_1d, knn_md
from clusterimpact.matching.options import MatchingOptions
from clusterimpact.matching.propensity import Link, PropensityFit, fit_propensity
from clusterimpact.matching.result import MatchResult

__all__ = ["Discard", "Distance", "Estimand", "Method", "Metric", "match"]

Method = Literal["nearest", "nnmatch", "cem", "exact"]
Estimand = Literal["att", "ate", "atc"]
Distance = Literal["propensity", "covariates", "mahalanobis"]
Metric = Literal["inverse-variance", "mahalanobis"]
Variance = Literal["robust", "iid"]
SeTarget = Literal["population", "sample"]
Discard = Literal["none", "treated", "control", "both"]
ScoreScale = Literal["link", "response"]


# ------------------------------------------------------------------------------------------------
# the array core
# ------------------------------------------------------------------------------------------------
@dataclass
class Core:
    """What matching produced on a :class:`Prepared` sample."""

    weights: np.ndarray  # per position (0 = unmatched or excluded)
    used: np.ndarray  # bool per position: kept after common support / trimming
    focal: np.ndarray  # pair arrays (positions)
    match: np.ndarray
    dist: np.ndarray
    subclass: np.ndarray | None
    unmatched: list[tuple[int, str]]  # (position, reason)
    ps: PropensityFit | None
    estimate: float = np.nan
    se: float = np.nan
    warnings: list[str] = field(default_factory=list)


def _transform(X: np.ndarray, metric: str) -> np.ndarray:
    """Rescale covariates so Euclidean distance is the inverse-variance or Mahalanobis distance."""
    if metric == "inverse-variance":
        sd = X.std(axis=0, ddof=1)
        sd = np.where(sd > 0, sd, 1.0)
        return X / sd
    from scipy.linalg import cholesky, solve_triangular

    S = np.atleast_2d(np.cov(X, rowvar=False))
    try:
        C = cholesky(S, lower=True)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            "Mahalanobis distance: the covariance matrix of the covariates is singular (collinear or "
            "constant covariates); drop redundant ones or use metric='inverse-variance'"
        ) from exc
    return solve_triangular(C, (X - X.mean(axis=0)).T, lower=True).T


def run_core(
    p: Prepared,
    opts: MatchingOptions,
    *,
    bias_adjust: bool,
    cutpoints: Mapping[str, Any] | None,
    rng: np.random.Generator,
    tie_tolerance: float = 0.0,
) -> Core:
    """Match on the prepared arrays and, when an outcome is present, estimate."""
    n = len(p.d)
    d = p.d.astype(float)
    if n == 0 or (d == 1).sum() == 0 or (d == 0).sum() == 0:
        raise EstimationError(
            f"matching needs treated and control units; the estimation sample has {(d == 1).sum()} "
            f"treated and {(d == 0).sum()} controls after dropping missing values"
        )
    need_ps = (
        (opts.method in ("nearest", "nnmatch") and opts.distance == "propensity")
        or opts.discard != "none"
        or opts.trim is not None
    )
    ps = fit_propensity(p.X, d, opts.link) if need_ps else None  # type: ignore[arg-type]
    used, unmatched = _common_support(ps, d, opts.discard, opts.trim)
    if opts.method in ("cem", "exact"):
        return _strata_core(p, d, used, unmatched, ps, opts.method, opts.estimand, cutpoints)
    return _pair_core(p, d, used, unmatched, ps, opts, bias_adjust, rng, tie_tolerance)


def _common_support(
    ps: PropensityFit | None, d: np.ndarray, discard: str, trim: float | None
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Units kept after the ``discard`` and ``trim`` rules, and the reasons of those left out."""
    n = len(d)
    used = np.ones(n, bool)
    unmatched: list[tuple[int, str]] = []
    if ps is not None and discard != "none":
        s = ps.score
        t, c = d == 1, d == 0
        out = np.zeros(n, bool)
        if discard in ("treated", "both"):
            out |= t & ((s < s[c].min()) | (s > s[c].max()))
        if discard in ("control", "both"):
            out |= c & ((s < s[t].min()) | (s > s[t].max()))
        unmatched += [(int(i), "outside_common_support") for i in np.flatnonzero(out)]
        used &= ~out
    if ps is not None and trim is not None:
        out = used & ((ps.score < trim) | (ps.score > 1 - trim))
        unmatched += [(int(i), "trimmed") for i in np.flatnonzero(out)]
        used &= ~out
    return used, unmatched


def _strata_core(
    p: Prepared,
    d: np.ndarray,
    used: np.ndarray,
    unmatched: list[tuple[int, str]],
    ps: PropensityFit | None,
    method: str,
    estimand: str,
    cutpoints: Mapping[str, Any] | None,
) -> Core:
    """Coarsened exact or exact matching: strata of equal (coarsened) covariates and exact cells."""
    if method == "cem":
        codes = coarsen(p.X, cutpoints, n_used=int(used.sum()))
    else:
        codes = p.X.to_numpy(float)
    if p.cells is not None:
        codes = np.column_stack([codes, p.cells])
    strata = pd.DataFrame(codes).groupby(list(range(codes.shape[1])), sort=True).ngroup().to_numpy()
    strata = np.where(used, strata, -1)
    w, sub, reasons = strata_weights(strata, d, estimand)
    unmatched += reasons
    core = Core(
        weights=w,
        used=used,
        focal=np.empty(0, np.int64),
        match=np.empty(0, np.int64),
        dist=np.empty(0),
        subclass=sub,
        unmatched=unmatched,
        ps=ps,
        warnings=[],
    )
    if p.y is not None and (w[d == 1] > 0).any() and (w[d == 0] > 0).any():
        core.estimate, core.se = strata_estimate(p.y, d, w, np.where(sub >= 0, sub, 0))
    return core


def _pair_space(
    p: Prepared, used: np.ndarray, ps: PropensityFit | None, opts: MatchingOptions
) -> tuple[np.ndarray, float | None]:
    """The space pairs are matched in (score, index or rescaled covariates) and the caliper in it."""
    caliper = opts.caliper
    if opts.distance != "propensity":
        return _transform(p.X.to_numpy(float), opts.metric), caliper
    assert ps is not None
    if opts.score_scale == "link":
        Z = ps.index[:, None]
    else:
        Z = ps.score[:, None]
    cal = None if caliper is None else caliper * float(np.std(ps.index[used], ddof=1))
    if caliper is not None and opts.score_scale == "response":
        cal = caliper * float(np.std(ps.score[used], ddof=1))
    return Z, cal


def _pair_core(
    p: Prepared,
    d: np.ndarray,
    used: np.ndarray,
    unmatched: list[tuple[int, str]],
    ps: PropensityFit | None,
    opts: MatchingOptions,
    bias_adjust: bool,
    rng: np.random.Generator,
    tie_tolerance: float,
) -> Core:
    """Nearest-neighbour pairs in each direction the estimand needs, then weights and the estimate."""
    n = len(d)
    Z, cal = _pair_space(p, used, ps, opts)
    cells = p.cells if p.cells is not None else np.zeros(n, np.int64)
    directions = {"att": [(1, 0)], "atc": [(0, 1)], "ate": [(1, 0), (0, 1)]}[opts.estimand]
    parts = []
    for g_focal, g_ref in directions:
        fpos = np.flatnonzero(used & (d == g_focal))
        rpos = np.flatnonzero(used & (d == g_ref))
        qa, ra, da = _pairs(Z, fpos, rpos, cells, cal, ps, opts, rng, tie_tolerance)
        parts.append((fpos[qa], rpos[ra], da))
        unmatched += _unmatched_reasons(Z, fpos, rpos, fpos[qa], cells, cal, g_focal, opts)
    focal = np.concatenate([x[0] for x in parts])
    match_ = np.concatenate([x[1] for x in parts])
    dist = np.concatenate([x[2] for x in parts])
    if len(focal) == 0:
        raise EstimationError(
            "no unit found a match (check the caliper, the exact-matching cells and overlap)"
        )
    nmatch = np.bincount(focal, minlength=n).astype(float)
    inv = 1.0 / nmatch[focal]
    w = np.bincount(match_, weights=inv, minlength=n) + (nmatch > 0)
    core = Core(
        weights=w,
        used=used,
        focal=focal,
        match=match_,
        dist=dist,
        subclass=None,
        unmatched=unmatched,
        ps=ps,
        warnings=[],
    )
    if p.y is not None:
        one_d = Z.shape[1] == 1
        need = (w > 0) & used
        sigma2 = _sigma2(p.y, d, Z, cells, used, need, opts.var_neighbors, one_d, opts.variance)
        core.estimate, core.se, _ = pair_estimate(
            p.y,
            d,
            focal,
            match_,
            sigma2,
            X_bias=p.X.to_numpy(float) if bias_adjust else None,
            se_target=opts.se_target,
        )
    return core


def _pairs(
    Z: np.ndarray,
    fpos: np.ndarray,
    rpos: np.ndarray,
    cells: np.ndarray,
    cal: float | None,
    ps: PropensityFit | None,
    opts: MatchingOptions,
    rng: np.random.Generator,
    tie_tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match focal positions ``fpos`` to reference positions ``rpos`` (positions into them)."""
    one_d = Z.shape[1] == 1  # a line: sorted search instead of brute force
    ties = opts.method == "nnmatch"
    order: GreedyOrder = opts.order  # type: ignore[assignment]
    if opts.replace or ties:
        fn = knn_1d if one_d else knn_md
        return fn(
            Z[fpos, 0] if one_d else Z[fpos],
            Z[rpos, 0] if one_d else Z[rpos],
            opts.neighbors,
            qcell=cells[fpos],
            rcell=cells[rpos],
            caliper=cal,
            ties=ties,
            tie_tol=tie_tolerance if ties else 0.0,
        )
    if one_d:
        return greedy_1d(
            Z[fpos, 0],
            Z[rpos, 0],
            opts.neighbors,
            qcell=cells[fpos],
            rcell=cells[rpos],
            caliper=cal,
            order=order,
            rng=rng,
        )
    return greedy_md(
        Z[fpos],
        Z[rpos],
        opts.neighbors,
        qcell=cells[fpos],
        rcell=cells[rpos],
        caliper=cal,
        order_key=None if ps is None else ps.score[fpos],
        order=order,
        rng=rng,
    )


def _unmatched_reasons(
    Z: np.ndarray,
    fpos: np.ndarray,
    rpos: np.ndarray,
    matched: np.ndarray,
    cells: np.ndarray,
    cal: float | None,
    g_focal: int,
    opts: MatchingOptions,
) -> list[tuple[int, str]]:
    """Why each focal unit without any match has none (exact cell, caliper or nobody left)."""
    one_d = Z.shape[1] == 1
    got = np.zeros(len(cells), bool)
    got[matched] = True
    other = "control" if g_focal == 1 else "treated"
    unm = fpos[~got[fpos]]
    if not len(unm):
        return []
    in_cell = np.isin(cells[unm], np.unique(cells[rpos]))
    beyond = np.zeros(len(unm), bool)
    if cal is not None and (opts.replace or opts.method == "nnmatch"):
        beyond = in_cell
    elif cal is not None and in_cell.any():
        # greedy: is even the nearest (used or not) reference beyond the caliper?
        cand = unm[in_cell]
        knn = knn_1d if one_d else knn_md
        qn, _, dn = knn(
            Z[cand, 0] if one_d else Z[cand],
            Z[rpos, 0] if one_d else Z[rpos],
            1,
            qcell=cells[cand],
            rcell=cells[rpos],
        )
        nearest = np.full(len(cand), np.inf)
        nearest[qn] = dn
        beyond[np.flatnonzero(in_cell)] = nearest > cal
    out = []
    for i, ok_cell, far in zip(unm, in_cell, beyond, strict=True):
        if not ok_cell:
            why = f"no_{other}_in_exact_cell"
        elif far:
            why = "outside_caliper"
        else:
            why = f"no_{other}_left"
        out.append((int(i), why))
    return out


def _sigma2(
    y: np.ndarray,
    d: np.ndarray,
    Z: np.ndarray,
    cells: np.ndarray,
    used: np.ndarray,
    need: np.ndarray,
    J: int,
    one_d: bool,
    variance: str,
) -> np.ndarray:
    """Conditional variance of the units in ``need`` by matching within their own treatment group
    (AI 2006, section 4.3); ``iid`` replaces them by their group mean."""
    n = len(y)
    s2 = np.full(n, np.nan)
    for g in (0, 1):
        pos = np.flatnonzero(used & (d == g))
        qpos = np.flatnonzero(need & (d == g))
        if len(pos) < 2 or len(qpos) == 0:
            continue
        fn = knn_1d if one_d else knn_md
        qa, ra, _ = fn(
            Z[qpos, 0] if one_d else Z[qpos],
            Z[pos, 0] if one_d else Z[pos],
            J,
            qcell=cells[qpos],
            rcell=cells[pos],
            ties=True,
            q_ids=qpos,
            r_ids=pos,
        )
        cnt = np.bincount(qa, minlength=len(qpos)).astype(float)
        mean = np.bincount(qa, weights=y[pos][ra], minlength=len(qpos)) / np.where(cnt > 0, cnt, 1)
        val = np.where(cnt > 0, cnt / (cnt + 1) * (y[qpos] - mean) ** 2, np.nan)
        if variance == "iid":
            val = np.full(len(qpos), np.nanmean(val))
        s2[qpos] = val
    return s2


# ------------------------------------------------------------------------------------------------
# the front door
# ------------------------------------------------------------------------------------------------
def match(
    data: Any,
    treatment: str,
    covariates: Sequence[str] | None = None,
    *,
    formula: str | None = None,
    method: Method = "nearest",
    estimand: Estimand = "att",
    neighbors: int = 1,
    ratio: int | None = None,
    replace: bool | None = None,
    caliper: float | None = None,
    exact: Sequence[str] | str | None = None,
    distance: Distance | None = None,
    link: Link = "logit",
    score_scale: ScoreScale | None = None,
    outcome: str | None = None,
    bias_adjust: bool = False,
    metric: Metric = "inverse-variance",
    variance: Variance = "robust",
    var_neighbors: int = 2,
    se_target: SeTarget = "population",
    tie_tolerance: float = 0.0,
    cutpoints: Mapping[str, Any] | None = None,
    discard: Discard = "none",
    trim: float | None = None,
    order: GreedyOrder = "largest",
    unit: str | None = None,
    seed: int | np.random.Generator | None = None,
    source: str = "data",
) -> MatchResult:
    """Match treated and control units and, given an outcome, estimate the effect.

    The estimand is the average effect on the treated (``"att"``), on everyone (``"ate"``) or on the
    controls (``"atc"``). Identification rests on unconfoundedness given the matching covariates (and
    the exact-matching columns) and on overlap (Rosenbaum & Rubin 1983).

    Parameters
    ----------
    data
        A DataFrame (or FirmPanel) with one row per unit.
    treatment
        0/1 (or boolean) treatment column.
    covariates
        Numeric matching covariates; or give ``formula`` (e.g. ``"d ~ age + I(age**2)"``) for the
        propensity model / covariate design instead: parsed by our grammar
        (:mod:`clusterimpact.formula.grammar`), never evaluated; patsy's column names and coding.
    method
        ``"nearest"``: 1:k nearest-neighbour matching on the propensity score (or Mahalanobis distance),
        greedy without replacement by default; ``"nnmatch"``: the Abadie-Imbens (2006) estimator, with
        replacement, ties kept, on the covariates (``metric``) or the propensity score; ``"cem"``:
        coarsened exact matching (Iacus, King & Porro 2012); ``"exact"``: exact matching on the
        covariates.
    neighbors, ratio
        Matches per focal unit (``ratio`` is an alias).
    replace
        Match with replacement (``nearest``; default False; ``nnmatch`` always replaces).
        Without replacement, focal units are served greedily in ``order`` of their propensity score
        (``"largest"`` first by default), in ``neighbors`` rounds, ties to the lower score then row.
    caliper
        Maximum distance: in standard deviations of the propensity index (``score_scale``) when
        ``distance="propensity"``, in Mahalanobis / metric units otherwise. Focal units with no match
        inside it are dropped and reported (``unmatched``, reason ``outside_caliper``).
    exact
        Columns to match exactly on (e.g. sector); focal units whose cell has no unit of the other
        group are reported (``no_control_in_exact_cell``), not matched elsewhere.
    distance
        ``"propensity"`` (the default of ``nearest``): match on the propensity score;
        ``"covariates"`` (the default of ``nnmatch``): on the covariates in the ``metric``;
        ``"mahalanobis"``: on the covariates in the Mahalanobis metric (``metric`` is ignored).
    link
        Propensity model: ``"logit"`` or ``"probit"`` (statsmodels maximum likelihood).
    score_scale
        Match on the linear index (``"link"``, default for ``nearest``) or the probability
        (``"response"``, default for ``nnmatch`` as in R Matching / Stata teffects psmatch).
    outcome
        Outcome column; without it only the matching and balance are computed.
    bias_adjust
        Abadie-Imbens (2011) regression bias adjustment (pair methods).
    metric
        Covariate metric when ``distance="covariates"``: ``"inverse-variance"`` (diagonal, Stata
        nnmatch's default) or ``"mahalanobis"``.
    variance, var_neighbors
        Abadie-Imbens conditional-variance estimate: ``"robust"`` (heteroskedasticity-robust, from the
        ``var_neighbors`` nearest same-group units; default 2 as in Stata teffects) or ``"iid"``.
    se_target
        Standard error of the ``"population"`` (default) or ``"sample"`` average effect.
    tie_tolerance
        ``nnmatch``: matches whose distance exceeds the M-th smallest by at most this much are ties
        and all kept (R Matching's ``distance.tolerance`` is 1e-5; the default 0 keeps exact ties).
    cutpoints
        CEM coarsening per covariate: an int (number of equal-width bins), a list of cut points, or
        None (no coarsening); covariates not named get Sturges' number of equal-width bins (those with
        no more distinct values than that are kept as they are).
    discard, trim
        Common support: drop units whose score lies outside the other group's range (``discard``), or
        keep ``trim <= score <= 1 - trim`` (Crump et al. 2009); dropped units are reported.
    order
        Greedy order without replacement: ``"largest"``, ``"smallest"``, ``"data"``, ``"random"``.
    unit
        Unit-id column used in the ``unmatched`` report (optional).
    seed
        Seed (only ``order="random"`` draws random numbers).
    source
        Label of the data (e.g. its file name) used in error messages.

    Returns
    -------
    MatchResult
        Estimate (term ``"ATT"``/``"ATE"``/``"ATC"``) with its standard error when ``outcome`` is given;
        pairs, weights, matched sample, balance before/after, unmatched units with reasons.

    Notes
    -----
    Standard errors: pair methods use Abadie & Imbens (2006) with the robust conditional variances;
    with an estimated propensity score they treat the score as known (the Abadie-Imbens 2016
    correction is not applied: for the ATT it can go either way, for the ATE the uncorrected SE is
    conservative). Without replacement the same formula applies with every control used once.
    Stratum methods (CEM, exact) use the variance of the stratified difference in means with
    within-cell variances (pooled within group for single-unit cells).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import clusterimpact as ci
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400)
    >>> d = (rng.uniform(size=400) < 1 / (1 + np.exp(-x))).astype(int)  # selection on x
    >>> df = pd.DataFrame({"d": d, "x": x, "y": x + 0.5 * d + rng.normal(size=400)})
    >>> m = ci.match(df, treatment="d", outcome="y", covariates=["x"], caliper=0.2)
    >>> abs(float(m.params["ATT"]) - 0.5) < 3 * float(m.std_errors["ATT"])
    True
    """
    df = as_frame(data)
    opts = MatchingOptions(
        method=method,
        estimand=estimand,
        neighbors=neighbors,
        ratio=ratio,
        replace=replace,
        caliper=caliper,
        distance=distance,
        link=link,
        score_scale=score_scale,
        metric=metric,
        variance=variance,
        var_neighbors=var_neighbors,
        se_target=se_target,
        discard=discard,
        trim=trim,
        order=order,
    )
    exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
    p = prepare(df, treatment, covariates, formula, exact_cols, outcome, source=source)
    core = run_core(
        p,
        opts,
        bias_adjust=bias_adjust,
        cutpoints=cutpoints,
        rng=resolve_rng(seed),
        tie_tolerance=tie_tolerance,
    )
    options = {
        "treatment": treatment,
        "tie_tolerance": tie_tolerance,
        "covariates": list(p.X.columns),
        "formula": formula,
        "method": method,
        "estimand": estimand,
        "exact": exact_cols,
        "caliper": caliper,
        "outcome": outcome,
        "bias_adjust": bias_adjust,
        **opts.recorded(),
        "cutpoints": dict(cutpoints) if cutpoints else None,
    }
    return assemble(df, p, core, options, unit=unit, seed=seed if isinstance(seed, int) else None)
