"""Report step ``compare``: TWFE vs Callaway-Sant'Anna vs Sun-Abraham vs imputation vs matched DiD on
every outcome, the comparison figure, and the Goodman-Bacon decomposition of the TWFE estimate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError
from clusterimpact.estimation.compare import compare_estimators
from clusterimpact.plotting import plot_estimator_comparison
from clusterimpact.report._common import (
    EST_NAMES,
    add_rendered,
    control,
    frame,
    headline,
    label,
    outcomes,
    plot,
)
from clusterimpact.report._conditional import add_conditional_did
from clusterimpact.report._study import Study, Unavailable
from clusterimpact.results import EstimateResult
from clusterimpact.tables import Table, comparison_table
from clusterimpact.units import is_log_outcome

__all__ = ["step_compare"]

_ORDER = ("twfe", "cs", "sa", "imputation")

_COMPARE_CAPTION = (
    "Overall effect of membership on each outcome: TWFE (the static coefficient on 1{t >= G}, and on "
    "the membership dummy, which switches off after exit; firm and year FE), "
    "Callaway-Sant'Anna (simple aggregation of ATT(g,t)), Sun-Abraham, the imputation estimator "
    "(average over all member firm-years) and matched DiD (members vs matched controls). The "
    "estimands differ in their weighting of cohorts and years; TWFE can be biased when effects "
    "grow with duration."
)


def _overall(res: EstimateResult) -> pd.Series:
    """The overall-effect row of a result's tidy frame: its ``overall_term`` (#13)."""
    term = res.overall_term
    if term is None:
        raise SpecError(f"{type(res).__name__} has no overall term to compare")
    t = res.tidy()
    return t[t["term"] == term].iloc[0]


def _overall_row(y: str, name: str, res: Any) -> dict[str, Any]:
    """One row of the estimator comparison: the overall effect of ``res`` on outcome ``y``."""
    o = _overall(res)
    return {
        "outcome": label(y),
        "estimator": name,
        "term": str(o["term"]),
        "estimate": float(o["estimate"]),
        "std_error": float(o["std_error"]),
        "conf_low": float(o["conf_low"]),
        "conf_high": float(o["conf_high"]),
        "nobs": int(res.nobs),
    }


def _reused(study: Study, y: str, wanted: list[str]) -> dict[str, Any]:
    """CS, SA and imputation fits of the event-study step on the headline outcome ``y``."""
    keys = {"cs": f"cs_simple:{y}", "sa": f"sa:{y}", "imputation": f"imputation:{y}"}
    return {
        k: study.results[key]
        for k, key in keys.items()
        if k in wanted and study.results.get(key) is not None
    }


def _compare_rows(study: Study, y: str) -> list[dict[str, Any]]:
    """Overall effects on y from compare_estimators (TWFE on 1{t >= G}, CS, SA, imputation), plus
    the static premium on the membership dummy and matched DiD from this report's results."""
    est = study.spec.estimation
    wanted = [e for e in _ORDER if e in est.estimators]
    if not wanted:
        return []
    is_headline = y == headline(study)
    # the event-study step already fitted CS, SA and imputation on the headline outcome
    reuse = _reused(study, y, wanted) if is_headline else {}
    run = [e for e in wanted if e not in reuse]
    if is_headline and "twfe" not in run:
        run.append("twfe")  # for the Bacon decomposition
    cmp = compare_estimators(
        frame(study),
        outcome=y,
        cohort="treat_year",
        estimators=run,
        terms="simple",
        control=control(study),
        cluster=est.cluster,
        window=est.event_window,
        bacon=is_headline,
        allow_unbalanced=True,
    )
    study.results[f"compare:{y}"] = cmp
    for k, why in cmp.failures.items():
        study.note("robustness", f"{label(y)}: {k} could not run: {why}")
    if is_headline and cmp.bacon is not None:
        study.results["bacon"] = cmp.bacon
    overall = cmp.overall()
    for k, res in reuse.items():
        row = _overall_row(y, EST_NAMES[k], res)
        row.update(estimator=k, label=EST_NAMES[k])
        del row["outcome"]
        overall = pd.concat([overall, pd.DataFrame([row])], ignore_index=True)
    order = {k: i for i, k in enumerate(_ORDER)}
    overall = overall[overall["estimator"].isin(wanted)]
    overall = overall.sort_values("estimator", key=lambda c: c.map(order), kind="mergesort")
    rows = []
    for r in overall.to_dict("records"):
        name = str(r.get("label", r["estimator"]))
        rows.append(
            {
                "outcome": label(y),
                "estimator": "TWFE (1{t >= G})" if name == "TWFE" else name,
                "term": str(r["term"]),
                "estimate": float(r["estimate"]),
                "std_error": float(r["std_error"]),
                "conf_low": float(r["conf_low"]),
                "conf_high": float(r["conf_high"]),
                "nobs": int(r["nobs"]) if pd.notna(r.get("nobs")) else 0,
            }
        )
    for key, name in ((f"twfe:{y}", "TWFE (member dummy)"), (f"matched_did:{y}", "Matched DiD")):
        res = study.results.get(key)
        if res is not None:
            rows.append(_overall_row(y, name, res))
    return rows


def step_compare(study: Study) -> str:
    """TWFE vs CS vs SA vs imputation vs matched DiD, on every outcome."""
    if "compare" not in study.spec.estimation.estimators:
        return "not requested"
    rows = []
    for y in outcomes(study):
        rows += _compare_rows(study, y)
    if not rows:
        raise Unavailable("no estimator result to compare")
    table = pd.DataFrame(rows)
    study.results["comparison"] = table
    truth: dict[str, float] | None = None
    if study.truth:
        truth = {}
        for o in outcomes(study):
            v = study.truth.get("att_overall_lp" if o == "ln_lp" else "att_overall")
            if v is not None:
                truth[label(o)] = float(v)
    tab = comparison_table(
        table,
        truth=truth or None,
        digits=4,
        percent=all(is_log_outcome(o) for o in outcomes(study)),
        labels=True,
    )
    assert isinstance(tab, Table)  # fmt=None returns the Table object
    title = "Estimators and outcomes compared"
    add_rendered(study, "comparison", "robustness", title, _COMPARE_CAPTION, tab)
    plot(
        study,
        "robustness",
        "comparison",
        title,
        plot_estimator_comparison,
        table,
        truth=truth or None,
    )
    _bacon_table(study)
    add_conditional_did(study)
    return f"{table['estimator'].nunique()} estimators on {table['outcome'].nunique()} outcome(s)"


def _bacon_table(study: Study) -> None:
    bacon = study.results.get("bacon")
    if bacon is None:
        return
    w = bacon.weights_by_type
    comps = bacon.comparisons
    est_by_type = {}
    for typ, g in comps.groupby("type", sort=False):
        ww = g["weight"].to_numpy(dtype=float)
        est_by_type[typ] = (
            float((ww * g["estimate"].to_numpy(dtype=float)).sum() / ww.sum())
            if ww.sum() > 0
            else np.nan
        )
    t = pd.DataFrame(
        {
            "comparison": [str(k) for k in w.index],
            "weight": w.to_numpy(dtype=float),
            "average 2x2 estimate": [est_by_type.get(k, np.nan) for k in w.index],
        }
    )
    y = headline(study)
    study.add_table(
        "bacon",
        "robustness",
        f"Goodman-Bacon decomposition of the TWFE estimate, {label(y)}",
        f"The TWFE coefficient ({float(bacon.twfe):.4f}) is a weighted average of "
        "2x2 DiD comparisons; comparisons that use already-treated firms as controls ('forbidden') "
        "bias it when effects grow with time since joining.",
        t,
        4,
    )
