"""Subgroup effects without cherry-picking: Callaway-Sant'Anna ATTs by subgroup, tested jointly.

For a split of the treated firms into subgroups ``s = 1..S`` (by cluster, cohort, pre-joining size or
age class, sector, region, or any column), :func:`subgroup_effects` estimates in each subgroup the
Callaway & Sant'Anna (2021) overall ATT (the ``simple`` aggregation: cohort-size-weighted average of the
post-treatment ATT(g,t) of the subgroup's firms), each subgroup against its comparison firms:

- ``comparison="within"`` (default for ``size``, ``age``, ``sector``, ``region``): comparison firms of
  the same class only (never-treated firms classified with the treated firms' median cohort as join
  year: :func:`~clusterimpact.estimation._subgroups.comparison_values`; under ``notyet`` the class's
  own members as not-yet-treated); the subgroups share no firm;
- ``comparison="pooled"`` (``cluster``, ``cohort``: members only; any other column): every subgroup
  against **the same comparison firms** (never-treated, or not-yet-treated firms of *every* subgroup);
  and then
- the joint covariance of the ``S`` estimates from the per-firm influence functions. Pooled
  subgroups share their controls, so their estimates are correlated: ``V = sum_c psi_c psi_c'`` over
  firms (or clusters) ``c``, where ``psi_c`` stacks each subgroup's influence function of firm ``c``
  (``theta_hat_s - theta_s ~ sum_c psi_sc``); within class ``V`` is block-diagonal (diagonal when
  clustering by firm). Its diagonal is each subgroup's own analytic variance from :func:`att_gt` /
  :func:`aggte`;
- a joint Wald test of equal effects, ``theta_1 = ... = theta_S``: ``(R theta)' (R V R')^+ (R theta)``
  against chi-squared with ``S - 1`` degrees of freedom (the rank of ``R V R'``);
- for each subgroup the test of no effect, with family-wise adjusted p-values: Holm's, and Romano-Wolf's
  step-down on a multiplier bootstrap whose draws give every firm (cluster) one multiplier per draw,
  shared by all subgroups, so the bootstrap keeps the estimates' dependence; and the uniform (sup-t)
  band from the same draws.

Identification: within each subgroup, the assumptions of Callaway & Sant'Anna (parallel trends of the
subgroup's firms with the comparison firms, no anticipation beyond ``anticipation`` periods). The split
must not be affected by the treatment: classes are measured before joining or are fixed traits (see
:class:`~clusterimpact.estimation._subgroups.SubgroupRule` and :data:`PRESETS`). Why "within" for
size: untreated trends are parallel only within size in the synthetic economy; the pooled comparison
biased the classes apart and its equal-effects test rejected in 5 of 10 seeds of ``null`` (within: 0 of
10; README). Conditioning on the characteristic (``covariates``) is the other remedy.

Implementation: one :func:`att_gt` run per subgroup (within: on the class's firms only). Pooled: with
``control="never"`` on the subgroup's firms and the never-treated firms; with ``control="notyet"`` the
other subgroups' treated firms stay in as comparison firms while not yet treated: their cohort is set
to never-treated and their outcomes from ``g - anticipation`` on are left out, which reproduces
Callaway & Sant'Anna's not-yet-treated comparison group cell by cell. A pooled run on all firms fixes the sample first (its validation, exclusions and
warnings are the user's), and gives the pooled ATT.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from clusterimpact._cohort import cohort_years
from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import as_frame, check_choice, require_columns, resolve_rng
from clusterimpact.errors import DataError, EstimationError, EstimationWarning, SpecError
from clusterimpact.estimation._subgroup_result import SubgroupResult
from clusterimpact.estimation._subgroups import (
    PRESETS,
    WITHIN_BY,
    SubgroupRule,
    classify,
    comparison_mode,
    comparison_values,
    firm_values,
    make_rule,
)
from clusterimpact.estimation.cs import AggteResult, ATTgtResult, aggte, att_gt
from clusterimpact.estimation.cs.options import (
    CONTROLS,
    ESTS,
    ControlGroup,
    EstMethod,
    alpha_to_level,
)
from clusterimpact.estimation.cs.pretest import wald
from clusterimpact.estimation.influence import MULTIPLIERS, Multiplier, draw_multipliers
from clusterimpact.estimation.multiplicity import holm, romano_wolf
from clusterimpact.provenance import make_provenance

__all__ = [
    "DEFAULT_BY",
    "MIN_COHORT",
    "MIN_TREATED",
    "PRESETS",
    "SubgroupOptions",
    "SubgroupResult",
    "SubgroupRule",
    "WITHIN_BY",
    "heterogeneity_effects",
    "subgroup_effects",
]

#: The splits of issue #14, in the order the report shows them.
DEFAULT_BY = ("cluster", "cohort", "size", "age", "sector", "region")
#: Fewest treated firms in a subgroup; smaller classes are merged (bins) or pooled into ``other``.
MIN_TREATED = 20
#: Fewest treated firms of a cohort within a subgroup (issue #14: lone firms' cells have no variance).
MIN_COHORT = 2
# multipliers held in memory at once (draws x clusters)
_CHUNK_CELLS = 4_000_000


@dataclass
class _Base:
    """The sample fixed by the pooled fit, shared by every split."""

    df: pd.DataFrame  # rows of the kept firms, only the columns the fits use
    g_row: np.ndarray  # effective cohort of each row (0 = never treated)
    pos_row: np.ndarray  # position of each row's firm in `firms`
    firms: pd.Index  # kept firms, sorted (the order of the bootstrap multipliers)
    cohorts: pd.Series  # treated firm -> effective cohort
    cluster_of_firm: np.ndarray  # cluster code of each firm in `firms` order
    n_clusters: int
    pooled_fit: ATTgtResult
    pooled: AggteResult
    source: pd.DataFrame  # the user's frame (for class columns)
    opts: dict[str, Any]
    small_sample: bool = True  # the subgroup fits' small-sample factor (att_gt's small_sample)


def _prepare(
    data: Any,
    outcome: str,
    *,
    cohort: str,
    unit: str,
    time: str,
    control: str,
    covariates: Sequence[str] | None,
    est: str,
    anticipation: int,
    allow_unbalanced: bool,
    cluster: str | None,
) -> _Base:
    check_choice("control", control, CONTROLS)
    check_choice("est", est, ESTS)
    df = as_frame(data)
    covs = list(covariates or [])
    require_columns(
        df, [unit, time, cohort, outcome, *covs, *([cluster] if cluster else [])], what="subgroups"
    )
    opts = dict(
        outcome=outcome,
        cohort=cohort,
        unit=unit,
        time=time,
        control=control,
        covariates=covs or None,
        est=est,
        anticipation=anticipation,
    )
    g_all = cohort_years(df[cohort], column=cohort)  # the package's one cohort parser
    fit = att_gt(df, allow_unbalanced=allow_unbalanced, **opts)  # type: ignore[arg-type]
    pooled = aggte(fit, "simple", n_boot=0)
    assert fit.unit_ids is not None
    firms = pd.Index(fit.unit_ids).sort_values()
    keep = firms.get_indexer(df[unit]) >= 0
    d = df.loc[keep, list(dict.fromkeys([unit, time, cohort, outcome, *covs]))]
    g = g_all[keep]
    # cohorts after the last period are never treated within the panel (as att_gt treats them)
    t_last = float(pd.to_numeric(df[time], errors="coerce").max())
    g = np.where(g > t_last + anticipation, 0.0, g)
    per_firm = pd.Series(g, index=d[unit].to_numpy()).groupby(level=0).first()
    cohorts = per_firm[per_firm > 0]
    if cluster is None or cluster == unit:  # clustering by firm is the default
        codes, n_cl = np.arange(len(firms)), len(firms)
    else:
        cl = df.loc[keep, [unit, cluster]]
        n_val = cl.groupby(unit)[cluster].nunique(dropna=False)
        if (n_val > 1).any():
            bad = n_val.index[n_val > 1]
            raise DataError(
                f"the cluster must be constant within each firm; {len(bad)} firm(s) differ, "
                f"e.g. {bad[0]}",
                column=cluster,
                rows=list(cl.index[cl[unit].isin(bad)][:50]),
            )
        per = cl.groupby(unit)[cluster].first().reindex(firms)
        c, uniq = pd.factorize(per, sort=True)
        if (c < 0).any():
            raise DataError("missing cluster ids", column=cluster)
        codes, n_cl = np.asarray(c), len(uniq)
    return _Base(
        df=d,
        g_row=g,
        pos_row=firms.get_indexer(d[unit]),
        firms=firms,
        cohorts=cohorts,
        cluster_of_firm=codes,
        n_clusters=int(n_cl),
        pooled_fit=fit,
        pooled=pooled,
        source=df,
        opts=opts,
    )


def _subgroup_frame(base: _Base, members: pd.Index, like: pd.Index | None = None) -> pd.DataFrame:
    """The data of one subgroup's fit: its treated firms plus the shared comparison firms, or
    (``like`` given: ``comparison="within"``) only the comparison firms ``like`` of its class."""
    o = base.opts
    d = base.df
    mine = np.isin(base.pos_row, base.firms.get_indexer(members))
    if like is not None:  # members are each other's not-yet-treated comparisons under "notyet"
        return d.loc[mine | np.isin(base.pos_row, base.firms.get_indexer(like))]
    other = (base.g_row > 0) & ~mine
    if o["control"] == "never":
        return d.loc[~other]
    # not-yet-treated comparisons: other subgroups' firms count as controls until g - anticipation
    out = d.copy()
    yr = pd.to_numeric(d[o["time"]], errors="coerce").to_numpy(dtype=float)
    treated_by_now = other & (yr >= base.g_row - o["anticipation"])
    out.loc[treated_by_now, o["outcome"]] = np.nan
    out[o["cohort"]] = np.where(other, 0.0, cohort_years(d[o["cohort"]], column=o["cohort"]))
    return out


def _fit_one(
    base: _Base, term: str, members: pd.Index, like: pd.Index | None = None
) -> tuple[ATTgtResult, float, sp.csr_matrix, list[str]]:
    """One subgroup's fit, its simple ATT and its influence function over ``base.firms`` (scaled so
    that the sum over firms is ``estimate - effect``)."""
    frame = _subgroup_frame(base, members, like)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            fit = att_gt(frame, allow_unbalanced=True, small_sample=base.small_sample, **base.opts)
            agg = aggte(fit, "simple", n_boot=0)
        except EstimationError as exc:
            raise EstimationError(f"subgroup {term}: {exc}") from exc
    # the pooled fit already warned about the sample; the cell-level pre-test is not used here
    known = set(base.pooled_fit.warnings)
    msgs = [
        f"subgroup {term}: {w.message}"
        for w in rec
        if str(w.message) not in known and "pre-test" not in str(w.message)
    ]
    assert agg.influence is not None and fit.unit_ids is not None
    row = agg.influence.unit_matrix()
    if row is None:  # pragma: no cover - no clustering inside the subgroup fits
        raise EstimationError("unit-level influence functions are not available")
    coo = sp.coo_matrix(row[0])
    cols = base.firms.get_indexer(pd.Index(fit.unit_ids[coo.col]))
    psi = sp.csr_matrix(
        (coo.data / agg.influence.n, (np.zeros(coo.nnz, dtype=int), cols)),
        shape=(1, len(base.firms)),
    )
    return fit, float(agg.params.iloc[0]), psi, list(dict.fromkeys(msgs))


def _bootstrap(psi_c: sp.csr_matrix, n_boot: int, multiplier: str, seed: Any) -> np.ndarray:
    """(n_boot, S) draws ``sum_c xi_c psi_sc``: one multiplier per cluster and draw, for all ``s``."""
    rng = resolve_rng(seed)
    S, C = psi_c.shape
    out = np.empty((n_boot, S))
    chunk = int(max(1, min(n_boot, _CHUNK_CELLS // max(C, 1))))
    buf = np.empty((chunk, C))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        xi = draw_multipliers(rng, (b, C), multiplier, out=buf[:b])  # type: ignore[arg-type]
        out[done : done + b] = np.asarray(psi_c @ xi.T).T
        done += b
    return out


def _equal_effects(theta: np.ndarray, V: np.ndarray, n_min: int) -> dict[str, float]:
    """Wald test of equal effects: ``stat`` against chi2(``df``) (``p_value``) and ``stat / df``
    against F(``df``, ``df_denom`` = the smallest subgroup's treated firms - 1) (``p_value_f``, the
    verdict: the subgroup variances are estimated from a few dozen firms)."""
    S = theta.size
    nan = float("nan")
    out = {"stat": nan, "df": 0.0, "p_value": nan, "condition": nan}
    out.update(f_stat=nan, df_denom=float(max(n_min - 1, 0)), p_value_f=nan)
    if S < 2:
        return out
    R = np.hstack([-np.ones((S - 1, 1)), np.eye(S - 1)])
    stat, rank, cond = wald(R @ theta, R @ V @ R.T)
    if rank > 0:
        out.update(
            stat=stat, df=float(rank), p_value=float(stats.chi2.sf(stat, rank)), condition=cond
        )
        if n_min >= 2:
            out.update(
                f_stat=stat / rank, p_value_f=float(stats.f.sf(stat / rank, rank, n_min - 1))
            )
    return out


def _drop_small_cohorts(
    base: _Base,
    term: str,
    members: pd.Index,
    min_cohort: int,
    msgs: list[str],
    excl: dict[str, int],
) -> pd.Index:
    """The subgroup's members without those in cohorts of fewer than ``min_cohort`` of them."""
    n_per = base.cohorts.reindex(members).value_counts()
    small = n_per[n_per < min_cohort]
    if small.empty:
        return members
    drop = base.cohorts.reindex(members).isin(small.index).to_numpy()
    names = ", ".join(str(int(g)) for g in sorted(small.index))
    msgs.append(
        f"subgroup {term}: cohort(s) {names} have fewer than {min_cohort} treated firms "
        f"({int(drop.sum())} firm(s)) and are left out of its estimate (a lone firm's cell has no "
        "treated variance); under control='notyet' with a pooled comparison they stay in as "
        "not-yet-treated comparison firms"
    )
    key = f"treated firms in a subgroup's cohort of fewer than {min_cohort} (min_cohort)"
    excl[key] = excl.get(key, 0) + int(drop.sum())
    return members[~drop]


def _classes(
    base: _Base, by: str, rule: SubgroupRule, within: bool, min_treated: int
) -> tuple[pd.Series, pd.Series | None, list[str], dict[str, int]]:
    """The treated firms' classes, the never-treated firms' (``within`` only), messages, exclusions."""
    o = base.opts
    if rule.at != "cohort":
        require_columns(base.source, [rule.column], what=f"subgroups by {by}")
    kw = {"unit": o["unit"], "time": o["time"], "anticipation": o["anticipation"]}
    values = firm_values(base.source, rule, cohorts=base.cohorts, **kw)
    if not within:
        labels, msgs, excl = classify(values, rule, min_treated)
        return labels, None, msgs, excl
    never = base.firms.difference(base.cohorts.index)
    ctrl, why = comparison_values(base.source, rule, never, base.cohorts, **kw)
    labels, msgs, excl = classify(values, rule, min_treated, others=ctrl)
    ctrl_labels = labels.reindex(ctrl.index)
    n_none = int(ctrl_labels.isna().sum())
    if n_none:
        excl[f"comparison firms without a class of {rule.column} ({why})"] = n_none
    return labels.reindex(values.index), ctrl_labels, msgs, excl


def _split(
    base: _Base,
    by: str,
    rule: SubgroupRule,
    *,
    min_treated: int,
    min_cohort: int,
    n_boot: int,
    multiplier: str,
    seed: int | None,
    alpha: float,
    comparison: str,
) -> SubgroupResult:
    """Every estimate, test and adjustment for one split of the treated firms."""
    o = base.opts
    within = comparison_mode(comparison, rule, by) == "within"
    labels, ctrl_labels, msgs, excl = _classes(base, by, rule, within, min_treated)
    members_of = {
        c: _drop_small_cohorts(
            base, f"{by}:{c}", labels.index[(labels == c).to_numpy()], min_cohort, msgs, excl
        )
        for c in labels.cat.categories
    }
    classes = [c for c in labels.cat.categories if len(members_of[c]) > 0]
    if len(classes) < 2:
        raise EstimationError(
            f"subgroups by {by}: {len(classes)} class(es) with at least {min_treated} treated firms; "
            "need two to compare (lower min_treated or change the bins)"
        )
    terms = [f"{by}:{c}" for c in classes]
    thetas: list[float] = []
    rows: list[sp.csr_matrix] = []
    fits: dict[str, ATTgtResult] = {}
    n_firms: list[int] = []
    for term, c in zip(terms, classes, strict=True):
        members = members_of[c]
        like = None if ctrl_labels is None else ctrl_labels.index[(ctrl_labels == c).to_numpy()]
        if like is not None and o["control"] == "never" and len(like) == 0:
            raise EstimationError(f"subgroup {term}: no comparison firm of the same class")
        fit, est, psi, fmsgs = _fit_one(base, term, members, like)
        fits[term] = fit
        thetas.append(est)
        rows.append(psi)
        n_firms.append(len(members))
        msgs.extend(fmsgs)
    theta = np.asarray(thetas)
    h = sp.csr_matrix(
        (np.ones(len(base.firms)), (np.arange(len(base.firms)), base.cluster_of_firm)),
        shape=(len(base.firms), base.n_clusters),
    )
    psi = sp.vstack(rows, format="csr")
    psi_c = sp.csr_matrix(psi @ h)
    V = np.asarray((psi_c @ psi_c.T).toarray())
    se = np.sqrt(np.clip(np.diag(V), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, theta / se, np.nan)
    p = 2 * stats.norm.sf(np.abs(z))
    draws = _bootstrap(psi_c, n_boot, multiplier, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        tdraws = np.where(se > 0, draws / se, 0.0)
    p_rw = romano_wolf(z, tdraws)
    ok = se > 0
    tmax = np.max(np.abs(tdraws[:, ok]), axis=1) if ok.any() else np.array([np.nan])
    crit = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    for m in msgs:
        warnings.warn(m, EstimationWarning, stacklevel=5)  # _run, entry point, its wrapper, user
    idx = pd.Index(terms, name="term")
    fit0 = base.pooled_fit
    prov = make_provenance(
        "cs:subgroups",
        base.df[[o["unit"], o["time"], o["cohort"], o["outcome"]]],
        seed=seed,
        by=by,
        rule=rule.to_dict(),
        comparison="within" if within else "pooled",
        min_treated=min_treated,
        min_cohort=min_cohort,
        small_sample=base.small_sample,
        n_boot=n_boot,
        multiplier=multiplier,
        **o,
    )
    return SubgroupResult(
        params=pd.Series(theta, index=idx, name="estimate"),
        std_errors=pd.Series(se, index=idx, name="std_error"),
        nobs=fit0.nobs,
        method="cs",
        provenance=prov,
        vcov=pd.DataFrame(V, index=idx, columns=idx),
        crit_value=crit,
        band_level=1 - alpha,
        warnings=tuple(dict.fromkeys([*fit0.warnings, *msgs])),
        exclusions={**fit0.exclusions, **excl},
        by=by,
        rule=rule.to_dict(),
        rule_text=rule.describe(o["anticipation"]),
        n_firms=pd.Series(n_firms, index=idx, name="n_firms"),
        equal_effects=_equal_effects(theta, V, min(n_firms)),
        p_holm=pd.Series(holm(p), index=idx, name="p_holm"),
        p_romano_wolf=pd.Series(p_rw, index=idx, name="p_romano_wolf"),
        pooled=base.pooled,
        fits=fits,
        boot_draws=draws,
        influence=psi,
        firm_ids=base.firms.to_numpy(),
        control=o["control"],
        comparison="within" if within else "pooled",
        n_boot=n_boot,
        multiplier=multiplier,
        seed=seed,
        alpha=alpha,
    )


def _check_settings(
    n_boot: int, multiplier: str, alpha: float, min_treated: int, min_cohort: int, seed: Any
) -> None:
    check_choice("multiplier", multiplier, MULTIPLIERS)
    if int(n_boot) != n_boot or n_boot < 99:
        raise SpecError(f"n_boot must be an integer of at least 99, got {n_boot!r}")
    if not 0 < alpha < 1:
        raise SpecError(f"alpha must be in (0, 1), got {alpha}")
    if int(min_treated) != min_treated or min_treated < 1:
        raise SpecError(f"min_treated must be a positive integer, got {min_treated!r}")
    if int(min_cohort) != min_cohort or min_cohort < 1:
        raise SpecError(f"min_cohort must be a positive integer, got {min_cohort!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise SpecError(f"seed must be an integer or None, got {seed!r}")


@renamed_kwargs(alpha=("level", alpha_to_level, "level = 1 - alpha"))
def subgroup_effects(
    data: Any,
    outcome: str,
    by: str,
    *,
    bins: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    at: str | None = None,
    window: int | None = None,
    cohort: str = "treat_year",
    unit: str = "firm_id",
    time: str = "year",
    control: ControlGroup = "never",
    covariates: Sequence[str] | None = None,
    est: EstMethod = "dr",
    anticipation: int = 0,
    allow_unbalanced: bool = False,
    cluster: str | None = None,
    comparison: Literal["auto", "within", "pooled"] = "auto",
    min_treated: int = MIN_TREATED,
    min_cohort: int = MIN_COHORT,
    small_sample: bool = True,
    n_boot: int = 999,
    multiplier: Multiplier = "mammen",
    seed: int | None = None,
    level: float = 0.95,
) -> SubgroupResult:
    """Callaway-Sant'Anna ATT by subgroup of treated firms, with a joint test of equal effects and
    Holm / Romano-Wolf adjusted p-values (see the module docstring for the method).

    Parameters
    ----------
    data
        Firm-year panel (FirmPanel or long DataFrame).
    outcome
        Outcome column (e.g. ``ln_tfp``, ``ln_lp``).
    by
        A named split (:data:`PRESETS`: ``cluster`` (the cluster in the join year), ``cohort``,
        ``size`` (FTE ``emp`` in ``g-1``, classes < 10, 10-49, 50-249, 250+), ``age`` (years in ``g-1``,
        classes < 5, 5-9, 10-19, 20+), ``sector``, ``region`` (fixed traits)) or any column.
    bins, labels
        Class edges (``[lo, hi)``) for a numeric characteristic, and optional labels (one per bin).
    at, window
        When the characteristic is measured: ``"pre"`` (the mean over the ``window`` periods before
        joining, ``g-anticipation-window .. g-anticipation-1``; default ``window=1``, the base period
        of every post-treatment comparison), ``"join"`` (first value from the join year on), ``"fixed"``
        (constant within firm) or ``"cohort"``. Defaults: the preset's; for another column ``"pre"``
        with bins, ``"fixed"`` without.
    cohort, unit, time, control, covariates, est, anticipation, allow_unbalanced
        As :func:`~clusterimpact.estimation.staggered.att_gt`.
    comparison
        ``"within"``: each subgroup's members are compared with comparison firms of the same class
        only (never-treated firms classified by the members' rule, with the treated firms' median
        cohort as their join year; under ``control="notyet"`` the subgroup's own members not yet
        treated); comparison firms without a class are counted in ``exclusions``. ``"pooled"``:
        every subgroup against the same comparison firms (never-treated; ``notyet``: never- and
        not-yet-treated firms of every subgroup). ``"auto"`` (default): within for the presets
        ``size``, ``age``, ``sector`` and ``region`` (every firm has them), pooled for ``cluster``
        and ``cohort`` (members only) and for any other column.
    cluster
        Cluster column (constant within firm) for the covariance and the bootstrap; default the firm.
    min_treated
        Fewest treated firms per subgroup: smaller bins merge with a neighbour, smaller categories pool
        into ``other`` (dropped if still too small); a warning says which.
    min_cohort
        Fewest treated firms of a subgroup's cohort: the subgroup's firms of smaller cohorts are left
        out of its estimate (warning; counted in ``exclusions``). With ``control="notyet"`` and a
        pooled comparison they stay in the data as not-yet-treated comparison firms; otherwise
        (``never``, or ``within``) they leave that subgroup's fit. ``1`` keeps every firm.
    small_sample
        The cell-level small-sample factor of :func:`~clusterimpact.estimation.staggered.att_gt`
        (``sqrt(n_d/(n_d-1))`` on the treated influence entries) in every subgroup's fit; the pooled
        ATT is R did's (no factor). With both defaults the equal-effects test holds its size on the
        ``null`` scenario (README; ``tests/estimation/test_size_null_subgroups.py``).
    n_boot, multiplier, seed
        Multiplier bootstrap for Romano-Wolf and the uniform band: one multiplier per firm (cluster)
        and draw, shared by every subgroup; reproducible for a seed.
    level
        Level of the uniform band (``alpha``, its old spelling, is ``1 - level``).

    Returns
    -------
    SubgroupResult
        Terms ``<by>:<class>`` in class order. ``equal_effects`` holds the Wald statistic against
        chi2 (``p_value``) and, the verdict, ``stat / df`` against F(``df``, smallest subgroup's
        treated firms - 1) (``p_value_f``).

    Raises
    ------
    SpecError
        Bad options. :class:`DataError` for missing columns or a "fixed" trait that varies within a
        firm; :class:`EstimationError` when fewer than two subgroups are left or a subgroup has no
        estimable post-treatment cell.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.heterogeneity import subgroup_effects
    >>> by_size = subgroup_effects(example_panel(), "ln_lp", "size", n_boot=99, seed=1, min_treated=5)
    >>> all(t.startswith("size:") for t in by_size.params.index)
    True
    >>> by_size.params.index.tolist()
    ['size:<10 FTE', 'size:10 to <50 FTE', 'size:50+ FTE']
    >>> bool(0 <= by_size.equal_effects["p_value"] <= 1)  # joint test of equal effects
    True
    """
    rule = make_rule(by, bins=bins, labels=labels, at=at, window=window)
    return _run(data, outcome, {by: rule}, _options(locals()), skip=False)[by]


@renamed_kwargs(alpha=("level", alpha_to_level, "level = 1 - alpha"))
def heterogeneity_effects(
    data: Any,
    outcome: str,
    by: Sequence[str] = DEFAULT_BY,
    **options: Unpack[SubgroupOptions],
) -> dict[str, SubgroupResult]:
    """Every named split at once (the report's entry point): ``{by: SubgroupResult}``.

    One pooled fit fixes the sample for all splits; each split is :func:`subgroup_effects` with the
    preset's rule and the same seed (so the firms' bootstrap multipliers are the same in every split).
    A split whose column is missing from the data, or that leaves fewer than two subgroups, is skipped
    with an :class:`EstimationWarning` (other errors propagate). Parameters (keyword ``options``,
    the same names and defaults) as :func:`subgroup_effects`.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.heterogeneity import heterogeneity_effects
    >>> results = heterogeneity_effects(example_panel(), "ln_lp", by=["cluster", "size"],
    ...                                 n_boot=99, seed=1, min_treated=5)
    >>> sorted(results)
    ['cluster', 'size']
    """
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise SpecError(f"heterogeneity_effects: unknown options {unknown}")
    rules = {b: make_rule(b, bins=None, labels=None, at=None, window=None) for b in by}
    return _run(data, outcome, rules, {**_DEFAULTS, **options}, skip=True)


class SubgroupOptions(TypedDict, total=False):
    """The options :func:`subgroup_effects` and :func:`heterogeneity_effects` share.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.heterogeneity import SubgroupOptions, subgroup_effects
    >>> options: SubgroupOptions = {"n_boot": 99, "seed": 1, "min_treated": 5, "control": "notyet"}
    >>> result = subgroup_effects(example_panel(), "ln_lp", "size", **options)
    >>> result.n_boot
    99
    """

    cohort: str
    unit: str
    time: str
    control: ControlGroup
    covariates: Sequence[str] | None
    est: EstMethod
    anticipation: int
    allow_unbalanced: bool
    cluster: str | None
    comparison: Literal["auto", "within", "pooled"]
    min_treated: int
    min_cohort: int
    small_sample: bool
    n_boot: int
    multiplier: Multiplier
    seed: int | None
    level: float


_PREP_KEYS = tuple(
    "cohort unit time control covariates est anticipation allow_unbalanced cluster".split()
)
_SPLIT_KEYS = ("min_treated", "min_cohort", "n_boot", "multiplier", "seed", "level", "comparison")


def _options(args: dict[str, Any]) -> dict[str, Any]:
    """The shared options of the public entry points, taken from their arguments."""
    return {k: args[k] for k in (*_PREP_KEYS, *_SPLIT_KEYS, "small_sample")}


# the defaults of the shared options: subgroup_effects' own (one place for both entry points)
_DEFAULTS = {
    k: v.default
    for k, v in inspect.signature(subgroup_effects).parameters.items()
    if k in (*_PREP_KEYS, *_SPLIT_KEYS, "small_sample")
}


def _run(
    data: Any, outcome: str, rules: dict[str, SubgroupRule], opts: dict[str, Any], *, skip: bool
) -> dict[str, SubgroupResult]:
    """One pooled fit, then one :func:`_split` per rule. With ``skip``, a split whose column is
    missing or that leaves fewer than two subgroups is skipped with a warning; otherwise it raises."""
    kw = {k: opts[k] for k in _SPLIT_KEYS if k not in ("level", "comparison")}
    small_sample = bool(opts.get("small_sample", True))
    alpha = 1 - opts["level"]
    _check_settings(alpha=alpha, **kw)
    for b, rule in rules.items():  # a bad comparison is refused before any fit
        comparison_mode(opts["comparison"], rule, b)
    base = _prepare(data, outcome, **{k: opts[k] for k in _PREP_KEYS})
    base.small_sample = small_sample
    out: dict[str, SubgroupResult] = {}
    for b, rule in rules.items():
        if skip and rule.at != "cohort" and rule.column not in base.source.columns:
            warnings.warn(
                f"subgroups by {b} skipped: no column '{rule.column}' in the data",
                EstimationWarning,
                stacklevel=4,  # heterogeneity_effects, its wrapper, the user
            )
            continue
        try:
            out[b] = _split(base, b, rule, alpha=alpha, comparison=opts["comparison"], **kw)
        except EstimationError as exc:
            if not skip or "need two to compare" not in str(exc):
                raise
            warnings.warn(f"subgroups by {b} skipped: {exc}", EstimationWarning, stacklevel=4)
    return out
