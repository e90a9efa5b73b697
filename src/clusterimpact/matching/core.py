"""Cross-sectional matching: the `match` front door and the array core the panel mode reuses."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact._validation import (
    as_frame,
    check_choice,
    require_columns,
    require_numeric,
    resolve_rng,
)
from clusterimpact.balance import balance_before_after, common_support
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.matching.cem import coarsen, strata_weights
from clusterimpact.matching.estimate import pair_estimate, strata_estimate
from clusterimpact.matching.nearest import GreedyOrder, greedy_1d, greedy_md, knn_1d, knn_md
from clusterimpact.matching.propensity import Link, PropensityFit, fit_propensity
from clusterimpact.matching.result import MatchResult
from clusterimpact.provenance import make_provenance

__all__ = ["Discard", "Distance", "Estimand", "Method", "Metric", "match"]

Method = Literal["nearest", "nnmatch", "cem", "exact"]
Estimand = Literal["att", "ate", "atc"]
Distance = Literal["propensity", "covariates", "mahalanobis"]
Metric = Literal["inverse-variance", "mahalanobis"]
Variance = Literal["robust", "iid"]
SeTarget = Literal["population", "sample"]
Discard = Literal["none", "treated", "control", "both"]
ScoreScale = Literal["link", "response"]

METHODS = ("nearest", "nnmatch", "cem", "exact")
ESTIMANDS = ("att", "ate", "atc")


# ------------------------------------------------------------------------------------------------
# preparation
# ------------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """Estimation rows and their arrays (positions 0..n-1 refer to ``frame`` rows)."""

    frame: pd.DataFrame
    X: pd.DataFrame
    d: np.ndarray
    y: np.ndarray | None
    cells: np.ndarray | None
    dropped: list[tuple[Any, str, int | None]] = field(default_factory=list)  # (label, reason, d)


def prepare(
    df: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | None,
    formula: str | None,
    exact: Sequence[str],
    outcome: str | None,
    source: str = "data",
) -> Prepared:
    """Validate columns, drop (and record) rows with missing values, build the covariate matrix."""
    if formula is None and not covariates:
        raise SpecError("give the matching covariates (covariates=[...]) or a formula")
    if formula is not None and covariates:
        raise SpecError("give either covariates=[...] or formula=..., not both")
    require_columns(df, [treatment], source=source, what="treatment")
    if covariates:
        require_columns(df, list(covariates), source=source, what="covariates")
        require_numeric(df, list(covariates), source=source)
    require_columns(df, list(exact), source=source, what="exact-matching columns")
    if outcome is not None:
        require_columns(df, [outcome], source=source, what="outcome")
        require_numeric(df, [outcome], source=source, constant=[outcome])

    dropped: list[tuple[Any, str, int | None]] = []
    tr = df[treatment]
    if pd.api.types.is_bool_dtype(tr):
        tr = tr.astype("Int64")
    trn = pd.to_numeric(tr, errors="coerce")
    bad = trn.notna() & ~trn.isin([0, 1])
    if bad.any() or (tr.notna() & trn.isna()).any():
        rows = list(df.index[(bad | (tr.notna() & trn.isna())).to_numpy()])
        raise DataError(
            "the treatment must be 0/1 (or boolean); recode it (e.g. ever-member = 1)",
            source=source,
            column=treatment,
            rows=rows,
        )
    keep = trn.notna().to_numpy()
    for lab in df.index[~keep]:
        dropped.append((lab, "missing_treatment", None))
    dnum = trn.to_numpy(dtype=float, na_value=np.nan)

    def _drop(mask: np.ndarray, reason: str) -> None:
        nonlocal keep
        new = keep & mask
        for lab, dv in zip(df.index[new], dnum[new], strict=True):
            dropped.append((lab, reason, int(dv)))
        keep = keep & ~mask

    if exact:
        _drop(df[list(exact)].isna().any(axis=1).to_numpy(), "missing_exact")
    if covariates:
        _drop(df[list(covariates)].isna().any(axis=1).to_numpy(), "missing_covariates")
        X = df.loc[:, list(covariates)].astype(float)
    else:
        from clusterimpact.estimation.design import model_matrix

        assert formula is not None
        X = model_matrix(formula, df, source=source)  # our grammar: nothing is evaluated
        _drop(X.isna().any(axis=1).to_numpy(), "missing_covariates")
    if outcome is not None:
        _drop(df[outcome].isna().to_numpy(), "missing_outcome")
    frame = df[keep]
    X = X[keep].reset_index(drop=True)
    d = dnum[keep].astype(np.int8)
    y = frame[outcome].to_numpy(float) if outcome is not None else None
    cells = frame.groupby(list(exact), sort=True).ngroup().to_numpy() if exact else None
    return Prepared(frame=frame, X=X, d=d, y=y, cells=cells, dropped=dropped)


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
    *,
    method: str,
    estimand: str,
    neighbors: int,
    replace: bool,
    caliper: float | None,
    distance: str,
    link: Link,
    score_scale: str,
    bias_adjust: bool,
    metric: str,
    variance: str,
    var_neighbors: int,
    se_target: str,
    cutpoints: Mapping[str, Any] | None,
    discard: str,
    trim: float | None,
    order: GreedyOrder,
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
    Xv = p.X.to_numpy(float)
    warn: list[str] = []
    need_ps = (
        (method == "nearest" and distance == "propensity")
        or (method == "nnmatch" and distance == "propensity")
        or discard != "none"
        or trim is not None
    )
    ps = fit_propensity(p.X, d, link) if need_ps else None
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

    if method in ("cem", "exact"):
        if method == "cem":
            codes = coarsen(p.X, cutpoints, n_used=int(used.sum()))
        else:
            codes = p.X.to_numpy(float)
        if p.cells is not None:
            codes = np.column_stack([codes, p.cells])
        strata = (
            pd.DataFrame(codes).groupby(list(range(codes.shape[1])), sort=True).ngroup().to_numpy()
        )
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
            warnings=warn,
        )
        if p.y is not None and (w[d == 1] > 0).any() and (w[d == 0] > 0).any():
            core.estimate, core.se = strata_estimate(p.y, d, w, np.where(sub >= 0, sub, 0))
        return core

    # pair methods --------------------------------------------------------------------------------
    if distance == "propensity":
        assert ps is not None
        if score_scale == "link":
            Z = ps.index[:, None]
        else:
            Z = ps.score[:, None]
        cal = None if caliper is None else caliper * float(np.std(ps.index[used], ddof=1))
        if caliper is not None and score_scale == "response":
            cal = caliper * float(np.std(ps.score[used], ddof=1))
    else:
        Z = _transform(Xv, metric)
        cal = caliper
    one_d = Z.shape[1] == 1  # a line: sorted search instead of brute force
    ties = method == "nnmatch"
    cells = p.cells if p.cells is not None else np.zeros(n, np.int64)
    directions = {"att": [(1, 0)], "atc": [(0, 1)], "ate": [(1, 0), (0, 1)]}[estimand]
    parts = []
    for g_focal, g_ref in directions:
        fpos = np.flatnonzero(used & (d == g_focal))
        rpos = np.flatnonzero(used & (d == g_ref))
        if replace or ties:
            fn = knn_1d if one_d else knn_md
            qa, ra, da = fn(
                Z[fpos, 0] if one_d else Z[fpos],
                Z[rpos, 0] if one_d else Z[rpos],
                neighbors,
                qcell=cells[fpos],
                rcell=cells[rpos],
                caliper=cal,
                ties=ties,
                tie_tol=tie_tolerance if ties else 0.0,
            )
        elif one_d:
            qa, ra, da = greedy_1d(
                Z[fpos, 0],
                Z[rpos, 0],
                neighbors,
                qcell=cells[fpos],
                rcell=cells[rpos],
                caliper=cal,
                order=order,
                rng=rng,
            )
        else:
            qa, ra, da = greedy_md(
                Z[fpos],
                Z[rpos],
                neighbors,
                qcell=cells[fpos],
                rcell=cells[rpos],
                caliper=cal,
                order_key=None if ps is None else ps.score[fpos],
                order=order,
                rng=rng,
            )
        parts.append((fpos[qa], rpos[ra], da))
        # reasons for focal units without any match
        got = np.zeros(n, bool)
        got[fpos[qa]] = True
        other = "control" if g_focal == 1 else "treated"
        unm = fpos[~got[fpos]]
        if len(unm):
            in_cell = np.isin(cells[unm], np.unique(cells[rpos]))
            beyond = np.zeros(len(unm), bool)
            if cal is not None and (replace or ties):
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
            for i, ok_cell, far in zip(unm, in_cell, beyond, strict=True):
                if not ok_cell:
                    why = f"no_{other}_in_exact_cell"
                elif far:
                    why = "outside_caliper"
                else:
                    why = f"no_{other}_left"
                unmatched.append((int(i), why))
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
        warnings=warn,
    )
    if p.y is not None:
        need = (w > 0) & used
        sigma2 = _sigma2(p.y, d, Z, cells, used, need, var_neighbors, one_d, variance)
        core.estimate, core.se, _ = pair_estimate(
            p.y,
            d,
            focal,
            match_,
            sigma2,
            X_bias=Xv if bias_adjust else None,
            se_target=se_target,
        )
    return core


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
        (:mod:`clusterimpact.estimation.formula`), never evaluated; patsy's column names and coding.
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
    """
    df = as_frame(data)
    args = _check_options(
        method,
        estimand,
        neighbors,
        ratio,
        replace,
        caliper,
        distance,
        link,
        score_scale,
        metric,
        variance,
        var_neighbors,
        se_target,
        discard,
        trim,
        order,
    )
    exact_cols = [exact] if isinstance(exact, str) else list(exact or [])
    p = prepare(df, treatment, covariates, formula, exact_cols, outcome, source=source)
    rng = resolve_rng(seed)
    core = run_core(
        p,
        method=method,
        estimand=estimand,
        bias_adjust=bias_adjust,
        caliper=caliper,
        cutpoints=cutpoints,
        rng=rng,
        tie_tolerance=tie_tolerance,
        **args,
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
        **args,
        "cutpoints": dict(cutpoints) if cutpoints else None,
    }
    return assemble(df, p, core, options, unit=unit, seed=seed if isinstance(seed, int) else None)


def _check_options(
    method: str,
    estimand: str,
    neighbors: int,
    ratio: int | None,
    replace: bool | None,
    caliper: float | None,
    distance: str | None,
    link: str,
    score_scale: str | None,
    metric: str,
    variance: str,
    var_neighbors: int,
    se_target: str,
    discard: str,
    trim: float | None,
    order: str,
) -> dict[str, Any]:
    check_choice("method", method, METHODS)
    check_choice("estimand", estimand, ESTIMANDS)
    if distance is None:
        distance = "covariates" if method == "nnmatch" else "propensity"
    check_choice("distance", distance, ("propensity", "covariates", "mahalanobis"))
    if distance == "mahalanobis":
        metric = "mahalanobis"
    check_choice("link", link, ("logit", "probit"))
    check_choice("metric", metric, ("inverse-variance", "mahalanobis"))
    check_choice("variance", variance, ("robust", "iid"))
    check_choice("se_target", se_target, ("population", "sample"))
    check_choice("discard", discard, ("none", "treated", "control", "both"))
    check_choice("order", order, ("largest", "smallest", "data", "random"))
    if ratio is not None:
        if neighbors != 1 and neighbors != ratio:
            raise SpecError(f"neighbors={neighbors} and ratio={ratio} disagree; give one of them")
        neighbors = ratio
    if int(neighbors) != neighbors or neighbors < 1:
        raise SpecError(f"neighbors must be a positive integer, got {neighbors!r}")
    if int(var_neighbors) != var_neighbors or var_neighbors < 1:
        raise SpecError(f"var_neighbors must be a positive integer, got {var_neighbors!r}")
    if caliper is not None and not caliper > 0:
        raise SpecError(f"caliper must be positive, got {caliper!r}")
    if trim is not None and not 0 < trim < 0.5:
        raise SpecError(f"trim must lie in (0, 0.5), got {trim!r}")
    if method == "nnmatch":
        if replace is False:
            raise SpecError("method='nnmatch' (Abadie-Imbens) always matches with replacement")
        replace = True
    replace = bool(replace)
    if method == "nearest" and estimand == "ate" and not replace:
        raise SpecError(
            "estimand='ate' with nearest-neighbour matching needs replace=True (without replacement "
            "the treated would use up the controls they are also matched from)"
        )
    if score_scale is None:
        score_scale = "response" if method == "nnmatch" else "link"
    check_choice("score_scale", score_scale, ("link", "response"))
    return {
        "neighbors": int(neighbors),
        "replace": replace,
        "distance": distance,
        "link": link,
        "score_scale": score_scale,
        "metric": metric,
        "variance": variance,
        "var_neighbors": int(var_neighbors),
        "se_target": se_target,
        "discard": discard,
        "trim": trim,
        "order": order,
    }


def assemble(
    df: pd.DataFrame,
    p: Prepared,
    core: Core,
    options: dict[str, Any],
    *,
    unit: str | None,
    seed: int | None,
) -> MatchResult:
    """Build the :class:`MatchResult` of a cross-sectional run."""
    estimand = options["estimand"]
    labels = p.frame.index
    d = p.d
    w = core.weights
    treatment = options["treatment"]
    covs = list(p.X.columns)
    # balance: before on all used units (unweighted), after on matched units (weighted)
    used = core.used
    bal_frame = p.X.assign(_d=d)
    if not used.all():
        bal_frame = bal_frame[used]
    before, after = balance_before_after(bal_frame, "_d", covs, w[used], estimand=estimand)
    balance = pd.concat(
        [before.assign(stage="before"), after.assign(stage="after")], ignore_index=True
    )
    balance = balance[["stage", *before.columns]]
    weights = pd.Series(w, index=labels, name="weight")
    matched = p.frame[w > 0].copy()
    matched["weight"] = w[w > 0]
    if core.subclass is not None:
        matched["subclass"] = core.subclass[w > 0]
    if len(core.focal):
        nm = np.bincount(core.focal, minlength=len(d)).astype(float)
        pairs = pd.DataFrame(
            {
                "focal": labels[core.focal],
                "match": labels[core.match],
                "focal_treated": d[core.focal] == 1,
                "distance": core.dist,
                "weight": 1.0 / nm[core.focal],
            }
        )
    else:
        pairs = pd.DataFrame(columns=["focal", "match", "focal_treated", "distance", "weight"])
    # unmatched report
    rows = [(lab, reason, dv) for lab, reason, dv in p.dropped]
    rows += [(labels[i], reason, int(d[i])) for i, reason in core.unmatched]
    unmatched = pd.DataFrame(rows, columns=["row", "reason", "treated"])
    if unit is not None and unit in df.columns and len(unmatched):
        unmatched.insert(1, "unit", df.loc[unmatched["row"], unit].to_numpy())
    exclusions = {str(k): int(v) for k, v in unmatched["reason"].value_counts().items()}
    counts = _counts(df, p, core, treatment)
    propensity = None
    support = None
    if core.ps is not None:
        propensity = pd.DataFrame(
            {
                "score": core.ps.score,
                "index": core.ps.index,
                "treated": d.astype(int),
                "matched": w > 0,
                "weight": w,
            },
            index=labels,
        )
        support = common_support(core.ps.score, d)
    term = estimand.upper()
    if p.y is not None and np.isfinite(core.estimate):
        params = pd.Series([core.estimate], index=[term], name="estimate")
        ses = pd.Series([core.se], index=[term], name="std_error")
    else:
        params = pd.Series(dtype=float, name="estimate")
        ses = pd.Series(dtype=float, name="std_error")
    msgs = list(core.warnings)
    focal_reasons = [r for _, r, _ in rows if r.startswith("no_") or r == "outside_caliper"]
    if focal_reasons:
        c = pd.Series(focal_reasons).value_counts()
        msgs.append(
            "unmatched focal units: "
            + ", ".join(f"{k}={v}" for k, v in c.items())
            + " (listed in result.unmatched)"
        )
    for m in msgs:
        warnings.warn(m, EstimationWarning, stacklevel=3)
    prov_frame = p.frame[[treatment]].assign(_w=w)
    return MatchResult(
        params=params,
        std_errors=ses,
        nobs=int((w > 0).sum()),
        method=options["method"],
        provenance=make_provenance(f"match:{options['method']}", prov_frame, seed, options=options),
        warnings=tuple(msgs),
        exclusions=exclusions,
        estimand=estimand,
        pairs=pairs,
        weights=weights,
        matched=matched,
        balance=balance,
        unmatched=unmatched,
        counts=counts,
        propensity=propensity,
        support=support,
        ps_params=None if core.ps is None else core.ps.params,
        options=options,
    )


def _counts(df: pd.DataFrame, p: Prepared, core: Core, treatment: str) -> pd.DataFrame:
    tr = pd.to_numeric(df[treatment].astype("Float64"), errors="coerce")
    out = []
    for name, g in (("treated", 1), ("control", 0)):
        sel = p.d == g
        out.append(
            {
                "group": name,
                "n_input": int((tr == g).sum()),
                "n_used": int((sel & core.used).sum()),
                "n_matched": int((sel & (core.weights > 0)).sum()),
            }
        )
    return pd.DataFrame(out)
