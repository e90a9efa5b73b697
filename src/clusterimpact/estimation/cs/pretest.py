"""Pre-tests of parallel trends for Callaway-Sant'Anna: R did's Wald test on every pre-treatment
ATT(g,t) cell, and the event-study test on the leads of the ``dynamic`` aggregation."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from clusterimpact.estimation.cs import core
from clusterimpact.estimation.influence import InfluenceFunction

__all__ = [
    "PRETEST_MAX_CONDITION",
    "PRETEST_MIN_TREATED",
    "PRETEST_RTOL",
    "dynamic_pretest",
    "wald",
    "wald_pretest",
]

#: Eigenvalues of the pre-test's correlation matrix below this fraction of the largest are treated as
#: zero (directions the estimates do not vary in); the test's degrees of freedom are the rest.
PRETEST_RTOL = 1e-8
#: Condition number of that correlation matrix above which the Wald statistic is flagged as unreliable.
PRETEST_MAX_CONDITION = 1e3
#: Pre-treatment cells resting on fewer treated units than this get the cell-level pre-test flagged.
PRETEST_MIN_TREATED = 30


def wald(est: np.ndarray, V: np.ndarray) -> tuple[float, int, float]:
    """Wald statistic ``est' V^+ est`` with a relative eigenvalue cutoff on the correlation scale.

    Returns the statistic, the effective rank (its chi-squared degrees of freedom) and the condition
    number of the correlation matrix over the kept eigenvalues (exactly dependent estimates, such as
    two cells that are each other's negative, only reduce the rank). Estimates with zero variance are
    left out (normalisations); the correlation scale makes the cutoff independent of the cells' units.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.cs.pretest import wald
    >>> stat, rank, condition = wald(np.array([0.2, -0.2]), np.array([[0.01, -0.01], [-0.01, 0.01]]))
    >>> round(stat, 6), rank  # two exactly dependent estimates: one restriction
    (4.0, 1)
    """
    d = np.sqrt(np.clip(np.diag(V), 0.0, None))
    ok = np.isfinite(d) & (d > 0) & np.isfinite(est)
    if not ok.any():
        return float("nan"), 0, float("nan")
    z = est[ok] / d[ok]
    C = V[np.ix_(ok, ok)] / np.outer(d[ok], d[ok])
    vals, vecs = np.linalg.eigh((C + C.T) / 2)
    top = float(vals.max(initial=0.0))
    keep = vals > PRETEST_RTOL * top
    rank = int(keep.sum())
    if rank == 0:
        return float("nan"), 0, float("nan")
    cond = top / float(vals[keep].min())
    proj = vecs[:, keep].T @ z
    return float((proj**2 / vals[keep]).sum()), rank, cond


def wald_pretest(
    pre: np.ndarray, infl: InfluenceFunction, n_treated: np.ndarray, msgs: list[str]
) -> dict[str, float]:
    """Cell-level pre-test: joint Wald test that every pre-treatment ATT(g,t) is zero (R did's).

    The chi-squared reference is only trustworthy when the cells' covariance is well estimated: with
    many pre-treatment cells resting on small cohorts it is nearly singular and the test over-rejects
    (the event-study pre-test of :func:`aggte` with ``type="dynamic"`` is then the one to read). Such
    cases are reported in ``msgs`` (and warned about).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> cs = ci.att_gt(example_panel(), outcome="ln_lp", control="notyet", allow_unbalanced=True)
    >>> sorted(cs.pretrend_detail)[:4]  # wald_pretest's output: the cell-level pre-test
    ['condition', 'df', 'min_treated', 'n_cells']
    """
    out = {
        "stat": float("nan"),
        "df": 0.0,
        "p_value": float("nan"),
        "n_cells": float(pre.size),
        "rank": 0.0,
        "condition": float("nan"),
        "min_treated": float(n_treated.min()) if n_treated.size else float("nan"),
    }
    if pre.size == 0:
        return out
    stat, rank, cond = wald(pre, infl.vcov())
    out.update(rank=float(rank), condition=cond)
    if rank == 0:
        return out
    out.update(stat=stat, df=float(rank), p_value=float(stats.chi2.sf(stat, rank)))
    problems = []
    if not cond <= PRETEST_MAX_CONDITION:
        problems.append(
            f"their correlation matrix is ill-conditioned (condition number {cond:.3g}, "
            f"effective rank {rank})"
        )
    few = int((n_treated < PRETEST_MIN_TREATED).sum())
    if few:
        problems.append(
            f"{few} cell(s) rest on fewer than {PRETEST_MIN_TREATED} treated units "
            f"(smallest: {int(n_treated.min())})"
        )
    if problems:
        core.note(
            msgs,
            f"the Wald pre-test on all {pre.size} pre-treatment ATT(g,t) cells is unreliable: "
            + "; ".join(problems)
            + ". Its covariance is poorly estimated and the test over-rejects; read the event-study "
            "pre-test instead: aggte(result, 'dynamic').pretrend",
        )
    return out


def dynamic_pretest(
    leads: list[str],
    names: list[str],
    theta: np.ndarray,
    V: np.ndarray,
    counts: dict[str, float],
    infl: InfluenceFunction,
    projection: np.ndarray | None,
    boot_se: np.ndarray | None,
) -> dict[str, Any]:
    """Joint test that the event-study leads ``leads`` are zero: chi-squared Wald on the aggregated
    influence-function covariance and, given bootstrap draws of the basis, the sup-t test.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> cs = ci.att_gt(example_panel(), outcome="ln_lp", control="notyet", allow_unbalanced=True)
    >>> detail = ci.aggte(cs, "dynamic", min_e=-3, max_e=3).pretrend_detail  # dynamic_pretest's output
    >>> detail["terms"], detail["df"]
    (['dynamic:-3', 'dynamic:-2', 'dynamic:-1'], 3.0)
    """
    out: dict[str, Any] = {
        "stat": float("nan"),
        "df": 0.0,
        "p_value": float("nan"),
        "terms": list(leads),
        "min_treated": min((counts[nm] for nm in leads), default=float("nan")),
    }
    if not leads:
        return out
    pos = np.array([names.index(nm) for nm in leads])
    stat, rank, _ = wald(theta[pos], V[np.ix_(pos, pos)])
    if rank > 0:
        out.update(stat=stat, df=float(rank), p_value=float(stats.chi2.sf(stat, rank)))
    if projection is not None and boot_se is not None:
        se = boot_se[pos]
        ok = np.isfinite(se) & (se > 0)
        if ok.any():
            draws = projection @ infl.coef[pos[ok]].T
            tmax = np.max(np.abs(draws) / se[ok], axis=1)
            sup = float(np.max(np.abs(theta[pos[ok]]) / se[ok]))
            out.update(
                sup_t=sup,
                sup_t_p_value=float(np.mean(tmax >= sup)),
                n_boot=int(projection.shape[0]),
            )
    return out
