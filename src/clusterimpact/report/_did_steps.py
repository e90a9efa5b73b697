"""Report steps on the premium around joining: ``event_study`` (Callaway-Sant'Anna, Sun-Abraham,
imputation), ``twfe`` (the static premium and the duration models) and ``heterogeneity`` (the premium
by joining cohort and by cluster)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from clusterimpact.estimation.fe import binned_duration, linear_duration, static_premium
from clusterimpact.estimation.imputation import imputation_did
from clusterimpact.estimation.staggered import aggte, att_gt
from clusterimpact.estimation.sunab import sun_abraham
from clusterimpact.plotting import plot_event_study, plot_forest
from clusterimpact.report._common import (
    EST_NAMES,
    control,
    duration_bins,
    frame,
    headline,
    label,
    on_engine,
    outcomes,
    plot,
    regression_table_artifact,
    tidy_table,
)
from clusterimpact.report._story import pretrend_note, with_percent
from clusterimpact.report._study import Study
from clusterimpact.units import is_log_outcome

__all__ = ["step_event_study", "step_heterogeneity", "step_twfe"]


def _fit_event_studies(study: Study, y: str) -> dict[str, Any]:
    """CS, SA and imputation event studies of outcome y (those requested)."""
    est = study.spec.estimation
    lo, hi = est.event_window
    out: dict[str, Any] = {}
    if "cs" in est.estimators:
        draws = study.spec.bootstrap.did_draws
        data, on = on_engine(study, f"cs:{y}", att_gt)
        if on and draws:
            study.note(
                "premium",
                "On the Dask engine the Callaway-Sant'Anna multiplier bootstrap draws one "
                "multiplier per firm (a hash of seed, firm and draw); the in-memory report draws a "
                "random stream, so bootstrap standard errors and bands differ by Monte Carlo error.",
            )
        gt = att_gt(
            data,
            outcome=y,
            n_boot=draws,
            allow_unbalanced=True,
            control=control(study),
            seed=study.seed + 1,
            cluster=est.cluster,
            cohort="treat_year",
            unit="firm_id",
            time="year",
            **on,
        )
        study.results[f"cs_gt:{y}"] = gt
        out["cs"] = aggte(gt, type="dynamic", min_e=lo, max_e=hi)
        study.results[f"cs_simple:{y}"] = aggte(gt, type="simple")
        study.results[f"cs_group:{y}"] = aggte(gt, type="group")
    if "sa" in est.estimators:
        data, on = on_engine(study, f"sa:{y}", sun_abraham)
        out["sa"] = sun_abraham(
            data,
            outcome=y,
            window=(lo, hi),
            cluster=est.cluster,
            cohort="treat_year",
            unit="firm_id",
            time="year",
            **on,
        )
    if "imputation" in est.estimators:
        if est.cluster != "firm_id":
            study.note(
                "premium",
                f"Imputation (BJS) standard errors are clustered by firm, not by {est.cluster}.",
            )
        data, on = on_engine(study, f"imputation:{y}", imputation_did)
        out["imputation"] = imputation_did(
            data,
            outcome=y,
            aggregation="dynamic",
            horizons=list(range(0, hi + 1)),
            leads=abs(lo),
            cohort="treat_year",
            unit="firm_id",
            time="year",
            **on,
        )
    for k, v in out.items():
        study.results[f"{k}:{y}"] = v
    return out


def step_event_study(study: Study) -> str:
    """Event studies around joining (CS, SA, imputation) on the headline outcome."""
    wanted = [e for e in ("cs", "sa", "imputation") if e in study.spec.estimation.estimators]
    if not wanted:
        return "no event-study estimator requested"
    y = headline(study)
    res = _fit_event_studies(study, y)
    named = {EST_NAMES[k]: v for k, v in res.items()}
    plot(
        study,
        "premium",
        "event_study",
        f"Event study around joining: {label(y)}",
        plot_event_study,
        named,
        outcome_label=label(y),
    )
    regression_table_artifact(
        study,
        "event_study",
        "premium",
        f"Event-study estimates, {label(y)}",
        "Effect of membership by years since joining (reference: the year before joining), by "
        "estimator; pointwise standard errors clustered by firm.",
        named,
        percent=is_log_outcome(y),
        notes=_pretrend_notes(study, y),
    )
    return f"{', '.join(named)} on {y}"


def _pretrend_notes(study: Study, y: str) -> list[str]:
    """The joint pre-trend test of each event study on ``y`` that has one (a table note)."""
    out = []
    for key in ("cs", "sa", "imputation"):
        res = study.results.get(f"{key}:{y}")
        note = pretrend_note(res, EST_NAMES[key]) if res is not None else None
        if note is not None:
            out.append(note)
    return out


def step_twfe(study: Study) -> str:
    """Static premium (member dummy, firm and year FE) on each outcome, and on the headline outcome
    the premium with a linear duration term and with binned durations."""
    if "twfe" not in study.spec.estimation.estimators:
        return "not requested"
    est = study.spec.estimation
    models = {}
    for y in outcomes(study):
        data, on = on_engine(study, f"twfe:{y}", static_premium)
        r = static_premium(data, outcome=y, cluster=est.cluster, **on)
        study.results[f"twfe:{y}"] = r
        models[label(y)] = r
    regression_table_artifact(
        study,
        "twfe",
        "premium",
        "Static premium (two-way fixed effects), by outcome",
        "ln outcome on the membership dummy with firm and year fixed effects; standard errors "
        "clustered by firm. Biased when effects vary by cohort and grow with duration: see the "
        "robustness section.",
        models,
        percent=all(is_log_outcome(o) for o in outcomes(study)),
    )
    y = headline(study)
    lin, on_lin = on_engine(study, f"twfe_linear:{y}", linear_duration)
    binned, on_bin = on_engine(study, f"twfe_binned:{y}", binned_duration)
    dur_models = {
        "static": study.results[f"twfe:{y}"],
        "linear duration": linear_duration(lin, outcome=y, cluster=est.cluster, **on_lin),
        "binned duration": binned_duration(
            binned, outcome=y, bins=duration_bins(study), cluster=est.cluster, **on_bin
        ),
    }
    study.results[f"twfe_linear:{y}"] = dur_models["linear duration"]
    study.results[f"twfe_binned:{y}"] = dur_models["binned duration"]
    regression_table_artifact(
        study,
        "twfe_duration",
        "premium",
        f"Membership and duration models (two-way fixed effects), {label(y)}",
        "Firm and year fixed effects; (1) the membership dummy; (2) plus years of membership; "
        "(3) dummies for years of membership. Standard errors clustered by firm.",
        dur_models,
    )
    return f"{len(models)} outcome(s); duration models on {y}"


def step_heterogeneity(study: Study) -> str:
    """Premium by cluster and by joining cohort (forest plots)."""
    est = study.spec.estimation.estimators
    done = []
    y = headline(study)
    if "by_cohort" in est:
        _by_cohort(study, y)
        done.append("cohort")
    if "by_cluster" in est:
        _by_cluster(study, y)
        done.append("cluster")
    return f"by {' and '.join(done)}" if done else "not requested"


def _by_cohort(study: Study, y: str) -> None:
    """Premium by joining cohort: CS group aggregation (reusing the event-study step's fit)."""
    ctrl = control(study)
    gr = study.results.get(f"cs_group:{y}")
    if gr is None:
        data, on = on_engine(study, f"cs_group:{y}", att_gt)
        gt = att_gt(
            data,
            outcome=y,
            cohort="treat_year",
            control=ctrl,
            seed=study.seed + 1,
            allow_unbalanced=True,
            **on,
        )
        gr = aggte(gt, type="group")
    study.results["by_cohort"] = gr
    plot(
        study,
        "heterogeneity",
        "by_cohort",
        f"Premium by joining cohort: {label(y)}",
        plot_forest,
        gr,
        terms="group:",
        title=f"Premium by joining cohort: {label(y)}",
        outcome_label=label(y),
        caption=f"Average effect of membership on {label(y)} over each joining cohort's "
        "post-joining years (Callaway-Sant'Anna group aggregation of ATT(g,t), "
        f"{'not-yet and never' if ctrl == 'notyet' else 'never'} "
        "members as controls), with 95 % confidence intervals.",
    )
    tidy_table(
        study,
        "by_cohort",
        "heterogeneity",
        f"Premium by joining cohort, {label(y)}",
        "Callaway-Sant'Anna group aggregation: the average effect over each cohort's post-joining years.",
        gr,
        outcome=y,
    )


def _by_cluster(study: Study, y: str) -> None:
    """Premium by (first) cluster: forest plot and table of :func:`cluster_effects`."""
    res = cluster_effects(study, y)
    study.results["by_cluster"] = res
    plot(
        study,
        "heterogeneity",
        "by_cluster",
        f"Premium by cluster: {label(y)}",
        plot_forest,
        res,
        title=f"Premium by cluster: {label(y)}",
        outcome_label=label(y),
        caption=f"Average effect of membership on {label(y)} over the member firm-years of each "
        "cluster (the firm's first cluster), imputation estimator (Borusyak, Jaravel and "
        "Spiess) with firm and year effects fitted on untreated firm-years; 95 % confidence "
        "intervals clustered by firm.",
    )
    shown, notes = with_percent(
        res[["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]], y
    )
    study.add_table(
        "by_cluster",
        "heterogeneity",
        f"Premium by cluster, {label(y)}",
        " ".join(
            [
                "Average effect on the member firm-years of each cluster (the firm's first "
                "cluster), imputation estimator (Borusyak, Jaravel and Spiess); standard errors "
                "clustered by firm.",
                *notes,
            ]
        ),
        shown,
        4,
    )


def cluster_effects(study: Study, y: str) -> pd.DataFrame:
    """Premium by (first) cluster: the imputation estimator averaged over each cluster's member
    firm-years (a tidy frame with terms ``cluster:<name>``)."""
    df = frame(study)
    names = sorted(df["cluster"].dropna().astype(str).unique().tolist())
    code = {n: float(i + 1) for i, n in enumerate(names)}
    work = df.assign(_cluster_code=df["cluster"].astype("object").map(code).astype(float))
    data, on = on_engine(study, f"by_cluster:{y}", imputation_did, work)
    res = imputation_did(
        data, outcome=y, by="_cluster_code", cohort="treat_year", unit="firm_id", time="year", **on
    )
    t = res.tidy()
    back = {f"_cluster_code::{v:g}": f"cluster:{n}" for n, v in code.items()}
    back.update({f"_cluster_code::{int(v)}": f"cluster:{n}" for n, v in code.items()})
    t["term"] = [back.get(str(term), str(term)) for term in t["term"]]
    rows = t[t["term"].str.startswith("cluster:")]
    return rows.reset_index(drop=True)
