"""Report step ``duration``: the premium by years of membership (imputation), its slope and the test
of no growth, against the truth of its own estimand on synthetic data."""

from __future__ import annotations

from typing import Any

from clusterimpact.estimation.duration import duration_effects
from clusterimpact.plotting import plot_duration_premium
from clusterimpact.report._common import duration_bins, headline, label, on_engine, plot, tidy_table
from clusterimpact.report._story import pretrend_note
from clusterimpact.report._study import Study

__all__ = ["step_duration"]


def step_duration(study: Study) -> str:
    """The premium by years of membership (imputation), its slope and the test of no growth."""
    if "duration" not in study.spec.estimation.estimators:
        return "not requested"
    est = study.spec.estimation
    y = headline(study)
    bins = duration_bins(study)
    data, on = on_engine(study, f"duration:{y}", duration_effects)
    res = duration_effects(data, outcome=y, bins=bins, leads=abs(est.event_window[0]), **on)
    study.results["duration"] = res
    study.results[f"duration:{y}"] = res
    plot(
        study,
        "premium",
        "duration_premium",
        f"The premium by years of membership: {label(y)}",
        plot_duration_premium,
        res,
        outcome_label=label(y),
        truth=_duration_truth(study, bins),
        truth_key="att_lp" if y == "ln_lp" else "att",
    )
    tidy_table(
        study,
        "duration",
        "premium",
        f"Premium by years of membership, {label(y)}",
        "Imputation estimator: untreated outcomes from firm and year effects fitted on not-yet and "
        "never-member firm-years; members' gaps averaged by years of membership; the slope across "
        "durations tests for growth.",
        res,
        outcome=y,
        notes=[n for n in [pretrend_note(res, "imputation")] if n],
    )
    return f"duration profile on {y}"


def _duration_truth(study: Study, bins: list[int | str]) -> dict[str, Any] | None:
    """The duration profile's own estimand by bin (firm-years in membership), when the truth file
    has it for these bins."""
    t = study.truth or {}
    labels = [str(b) for b in bins]
    est = t.get("estimands") or {}
    if t.get("estimand_bins") != labels:
        return None
    out = {b: est.get(f"duration:member_years::{b}") for b in labels}
    return out if all(v is not None for v in out.values()) else None
