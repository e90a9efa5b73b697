"""Report step on synthetic data: every estimate against the truth of its own estimand.

Estimators of the premium average the same firm-year effects with different weights (Callaway-Sant'Anna
by cohort size, Sun-Abraham and the imputation estimator by observation, the duration profile over years
in membership, matched DiD by firm); on an unbalanced panel with exits these averages differ by about one
standard error of the default study. So each row is compared with the estimand its estimator targets, as
computed by :mod:`clusterimpact.synthetic` on the realised sample and stored in the truth file under
``estimands`` (``"<estimator>:<term>"``). Static TWFE has no such estimand: its rows are set against the
average effect on the firm-years it calls treated, and the gap is its bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.plotting import plot_truth_vs_estimate
from clusterimpact.report._common import headline, label, outcomes, plot
from clusterimpact.report._study import Study, Unavailable

__all__ = ["step_truth"]

#: comparison-table estimator label -> estimand name of its overall effect
OVERALL_ESTIMAND: dict[str, str] = {
    "TWFE (1{t >= G})": "twfe:treated",
    "TWFE (member dummy)": "twfe:member",
    "TWFE": "twfe:member",
    "Callaway-Sant'Anna": "cs:simple",
    "Sun-Abraham": "sa:simple",
    "Imputation (BJS)": "imputation:simple",
}
#: estimands whose definition involves the study's event window
_WINDOWED = ("sa:", "cs:dynamic", "matched_did:")


class _Truths:
    """Look up estimands by name for one outcome, minding the study's window and bins."""

    def __init__(self, study: Study, lp: bool) -> None:
        truth = study.truth or {}
        self.estimands: dict[str, Any] = dict(truth.get("estimands") or {})
        self.firms: dict[str, Any] = dict(truth.get("member_window_effects") or {})
        self.key = "att_lp" if lp else "att"
        est = study.spec.estimation
        window = truth.get("estimand_window")
        self.window_ok = window is not None and list(window) == [int(v) for v in est.event_window]
        bins = [str(b) for b in est.duration_bins[:-1]] + [f"{est.duration_bins[-1]}+"]
        self.bins_ok = truth.get("estimand_bins") == bins
        self.missing: set[str] = set()

    def get(self, name: str, key: str | None = None) -> float | None:
        if name.startswith(_WINDOWED) and not self.window_ok:
            self.missing.add("window")
            return None
        if name.startswith("duration:") and not self.bins_ok:
            self.missing.add("bins")
            return None
        entry = self.estimands.get(name)
        if entry is None:
            return None
        v = entry.get(key or self.key)
        return None if v is None else float(v)


def _matched_truth(study: Study, outcome: str, key: str, firms: dict[str, Any]) -> float | None:
    """The matched DiD's target on the members it used: their matching-weighted mean effect over the
    event times 0..window[1] (the sample rule of :func:`clusterimpact.estimation.matched.matched_did`)."""
    res = study.results.get("matching")
    long = getattr(res, "matched_panel", None)
    if not isinstance(long, pd.DataFrame) or not firms:
        return None
    hi = int(study.spec.estimation.event_window[1])
    ok_rows = long[long[outcome].notna()] if outcome in long.columns else long
    rel = ok_rows["rel_year"].to_numpy()
    pre = set(ok_rows.loc[rel == -1, "stack_unit"])
    post = set(ok_rows.loc[(rel >= 0) & (rel <= hi), "stack_unit"])
    units = long.drop_duplicates("stack_unit")
    ok = units["stack_unit"].isin(pre & post)
    treated = units["treated"].to_numpy() == 1
    with_control = set(units.loc[ok & ~treated, "stack"])
    use = units[ok & treated & units["stack"].isin(with_control)]
    if use.empty:
        return None
    eff = use["firm_id"].astype(str).map(lambda f: (firms.get(f) or {}).get(key, np.nan))
    w = use["weight"].to_numpy(dtype=float)
    v = eff.to_numpy(dtype=float)
    if not np.isfinite(v).all() or w.sum() <= 0:
        return None
    return float(w @ v / w.sum())


def _profile_rows(res: Any, prefix: str, keep: Any = None) -> list[tuple[str, Any]]:
    """(estimand name, tidy row) for the terms of ``res`` that ``keep(term)`` accepts."""
    out = []
    for rec in res.tidy().to_dict("records"):
        term = str(rec["term"])
        if keep is None or keep(term):
            out.append((f"{prefix}:{term}", rec))
    return out


def _post_event(term: str) -> bool:
    return term.startswith("dynamic:") and int(float(term.split(":", 1)[1])) >= 0


def _collect(study: Study, y: str, tr: _Truths) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(group: str, estimator: str, term: str, rec: Any, name: str, true: float | None):
        if true is None:
            return
        est, se = float(rec["estimate"]), float(rec["std_error"])
        rows.append(
            {
                "quantity": group,
                "estimator": estimator,
                "term": term,
                "estimand": name,
                "estimate": est,
                "std_error": se,
                "truth": true,
                "|error|/SE": abs(est - true) / se if se > 0 else np.nan,
            }
        )

    cmp = study.results.get("comparison")
    if isinstance(cmp, pd.DataFrame):
        for o in outcomes(study):
            key = "att_lp" if o == "ln_lp" else "att"
            for r in cmp[cmp["outcome"] == label(o)].to_dict("records"):
                name = OVERALL_ESTIMAND.get(str(r["estimator"]))
                if str(r["estimator"]) == "Matched DiD":
                    name = "matched_did:ATT"
                    true = _matched_truth(study, o, key, tr.firms) if tr.window_ok else tr.get(name)
                elif name is None:
                    continue
                else:
                    true = tr.get(name, key)
                add(f"overall, {label(o)}", r["estimator"], r["term"], r, name, true)
    profiles = (
        ("imputation", "Imputation (BJS)", "event time", _post_event),
        # CS's event-study overall (mean of dynamic:0..window[1]) is in no other row
        ("cs", "Callaway-Sant'Anna", "event time", lambda t: t == "dynamic" or _post_event(t)),
        ("sa", "Sun-Abraham", "event time", _post_event),
    )
    for est_key, name, group, keep in profiles:
        res = study.results.get(f"{est_key}:{y}")
        if res is not None:
            for nm, rec in _profile_rows(res, est_key, keep):
                add(group, name, str(rec["term"]), rec, nm, tr.get(nm))
    dur = study.results.get("duration")
    if dur is not None:
        for nm, rec in _profile_rows(dur, "duration"):
            add(
                "years of membership",
                "duration (imputation)",
                str(rec["term"]),
                rec,
                nm,
                tr.get(nm),
            )
    byc = study.results.get("by_cluster")
    if isinstance(byc, pd.DataFrame):
        for rec in byc.to_dict("records"):
            nm = f"imputation:{rec['term']}"
            add("cluster", "imputation", str(rec["term"]), rec, nm, tr.get(nm))
    coh = study.results.get("by_cohort")
    if coh is not None:
        for nm, rec in _profile_rows(coh, "cs", lambda t: t.startswith("group:")):
            add("cohort", "Callaway-Sant'Anna", str(rec["term"]), rec, nm, tr.get(nm))
    el = (study.truth or {}).get("elasticities", {})
    for m in study.spec.outcomes.tfp_methods:
        tfp_res = study.results.get(f"tfp:{m}")
        if tfp_res is not None:
            for te in tfp_res.tidy().to_dict("records"):
                if te["term"] in el:
                    add(
                        "elasticity",
                        f"TFP {m}",
                        te["term"],
                        te,
                        "elasticities",
                        float(el[te["term"]]),
                    )
    return rows


_CAPTION = (
    "Synthetic scenario {scenario!r}, seed {seed}: each estimate against the true value of its own "
    "estimand, computed on the realised sample (firm-years as observed, survivors and entrants "
    "included) and named in the column 'estimand': Callaway-Sant'Anna's cohort-size-weighted "
    "averages of ATT(g,t) over the firms observed in g-1 and t (cs:), Sun-Abraham's average over "
    "the member firm-years in the event window (sa:), the imputation estimator's average over the "
    "member firm-years of firms observed before joining (imputation:; years of membership: "
    "duration:, firm-years in membership only), and the matched DiD's average over the matched "
    "members of their mean effect over event times 0..{hi}. TWFE targets none of these: its rows "
    "use the average effect on the firm-years its regressor marks as treated (twfe:), and the gap "
    "is its bias. Elasticities: the production function's parameters; ACF and the other proxy "
    "estimators assume productivity is a first-order Markov process, which the synthetic firm "
    "effect in productivity violates (see clusterimpact.synthetic). |error|/SE above 3 flags an "
    "estimate that misses its truth."
)


def step_truth(study: Study) -> str:
    """On synthetic data: every estimate that has a true counterpart, against its own estimand."""
    if not study.truth:
        return "no truth (real data)"
    truth = study.truth
    y = headline(study)
    tr = _Truths(study, lp=y == "ln_lp")
    if not tr.estimands:
        study.note(
            "truth",
            "The truth file has no per-estimator estimands (written by an older version): "
            "regenerate it with `clusterimpact synth`; only the elasticities are compared.",
        )
    rows = _collect(study, y, tr)
    if "window" in tr.missing:
        study.note(
            "truth",
            f"The truth file's estimands use the event window {truth.get('estimand_window')}; "
            "this study's differs, so window-dependent estimands (Sun-Abraham, matched DiD) have no "
            "truth row.",
        )
    if "bins" in tr.missing:
        study.note(
            "truth",
            f"The truth file's duration estimands use the bins {truth.get('estimand_bins')}; this "
            "study's differ, so the duration profile has no truth row.",
        )
    if not rows:
        raise Unavailable("no estimate to compare with the truth")
    table = pd.DataFrame(rows)
    study.results["truth_table"] = table
    hi = int(study.spec.estimation.event_window[1])
    study.add_table(
        "truth",
        "truth",
        "Estimates against the known truth",
        _CAPTION.format(scenario=truth.get("scenario", "?"), seed=truth.get("seed", "?"), hi=hi),
        table,
        4,
    )
    fig_rows = table[table["quantity"] != "elasticity"].copy()
    fig_rows["term"] = (
        fig_rows["quantity"] + " | " + fig_rows["estimator"] + " | " + fig_rows["term"]
    )
    truth_series = pd.Series(fig_rows["truth"].to_numpy(), index=fig_rows["term"].to_numpy())
    plot(
        study,
        "truth",
        "truth_vs_estimate",
        "Estimates against the truth",
        plot_truth_vs_estimate,
        fig_rows[["term", "estimate", "std_error"]].reset_index(drop=True),
        truth_series,
        title=f"Estimates against the truth\n({label(y)} and overall effects)",
    )
    within = int((table["|error|/SE"] <= 3).sum())
    return f"{within} of {len(table)} estimates within 3 SE of the truth"
