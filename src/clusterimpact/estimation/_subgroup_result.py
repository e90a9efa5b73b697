"""The result object of :func:`clusterimpact.estimation.heterogeneity.subgroup_effects`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from clusterimpact.estimation.staggered import AggteResult, ATTgtResult
from clusterimpact.results import EstimateResult

__all__ = ["SubgroupResult"]


@dataclass(frozen=True, kw_only=True)
class SubgroupResult(EstimateResult):
    """Callaway-Sant'Anna ATTs by subgroup with a joint covariance, an equal-effects test and
    multiplicity-adjusted p-values (terms ``<by>:<class>``, e.g. ``size:<10 FTE``, ``cohort:2017``).

    Attributes
    ----------
    by, rule, rule_text
        The split: its name, its rule (``SubgroupRule.to_dict()``) and a one-line description.
    n_firms
        Treated firms in each subgroup.
    equal_effects
        Joint Wald test that every subgroup's effect is equal: ``stat``, ``df``, ``p_value`` (chi2),
        ``f_stat`` (``stat / df``), ``df_denom`` (smallest subgroup's treated firms - 1), ``p_value_f``
        (against F(``df``, ``df_denom``): the verdict),
        ``condition`` (of the contrasts' correlation matrix).
    p_holm, p_romano_wolf
        Family-wise adjusted p-values of "no effect in the subgroup" (Holm; Romano-Wolf step-down).
    pooled
        The ``simple`` ATT over all treated firms (the same sample and comparison group).
    fits
        Each subgroup's :class:`~clusterimpact.estimation.staggered.ATTgtResult` (by term).
    boot_draws
        (n_boot, S) multiplier-bootstrap draws of ``estimate - effect`` (shared firm multipliers).
    influence, firm_ids
        The per-firm influence functions (scipy CSR, S x firms; ``estimate - effect ~ row sums``)
        and the firms of its columns (sorted ids; the order of the bootstrap multipliers).
    comparison
        ``"within"`` (each subgroup against comparison firms of its class; the estimates share no
        firm, so ``vcov`` is diagonal when clustering by firm) or ``"pooled"`` (shared controls).
    control, n_boot, multiplier, seed, alpha
        Settings. ``crit_value`` is the sup-t critical value of the uniform band from the same draws
        (``conf_int(uniform=True)``).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.estimation.heterogeneity import subgroup_effects
    >>> by_cluster = subgroup_effects(example_panel(), "ln_lp", "cluster", n_boot=99, seed=1, min_treated=5)
    >>> type(by_cluster).__name__, bool((by_cluster.p_holm >= by_cluster.pvalues - 1e-12).all())
    ('SubgroupResult', True)
    """

    _plot_with: ClassVar[str] = "plot_subgroup_effects"

    by: str
    rule: dict[str, Any]
    rule_text: str
    n_firms: pd.Series
    equal_effects: dict[str, float]
    p_holm: pd.Series
    p_romano_wolf: pd.Series
    pooled: AggteResult | None = field(default=None, repr=False, compare=False)
    fits: dict[str, ATTgtResult] = field(default_factory=dict, repr=False, compare=False)
    boot_draws: np.ndarray | None = field(default=None, repr=False, compare=False)
    influence: sp.csr_matrix | None = field(default=None, repr=False, compare=False)
    firm_ids: np.ndarray | None = field(default=None, repr=False, compare=False)
    control: str = "never"
    comparison: str = "pooled"
    n_boot: int = 0
    multiplier: str = "mammen"
    seed: int | None = None
    alpha: float = 0.05

    def tidy(self, level: float = 0.95, *, uniform: bool = False) -> pd.DataFrame:
        """The standard tidy columns plus ``n_firms``, ``p_holm`` and ``p_romano_wolf``."""
        out = super().tidy(level, uniform=uniform)
        out["n_firms"] = self.n_firms.reindex(self.params.index).to_numpy(dtype=float)
        out["p_holm"] = self.p_holm.reindex(self.params.index).to_numpy(dtype=float)
        out["p_romano_wolf"] = self.p_romano_wolf.reindex(self.params.index).to_numpy(dtype=float)
        return out

    def _summary_header(self) -> list[str]:
        lines = super()._summary_header()
        ee = self.equal_effects
        lines.append(f"Subgroups by {self.by}: {self.rule_text}")
        lines.append(
            f"Control: {self.control} ({self.comparison})  Bootstrap: {self.n_boot} draws ({self.multiplier}), "
            f"seed {self.seed}"
        )
        if self.pooled is not None:
            p = self.pooled
            lines.append(
                f"Pooled ATT (all treated firms): {p.params.iloc[0]:.4f} "
                f"(SE {p.std_errors.iloc[0]:.4f})"
            )
        if np.isfinite(ee.get("stat", np.nan)):
            lines.append(
                f"Joint Wald test of equal effects: chi2({int(ee['df'])}) = {ee['stat']:.3f}, "
                f"p = {ee['p_value']:.4f}"
            )
        if np.isfinite(ee.get("p_value_f", np.nan)):
            lines.append(
                f"  F reference (the verdict): F({int(ee['df'])}, {int(ee['df_denom'])}) = "
                f"{ee['f_stat']:.3f}, p = {ee['p_value_f']:.4f}"
            )
        return lines

    def summary(self, level: float = 0.95) -> str:
        """Estimates with unadjusted, Holm and Romano-Wolf p-values and the firms behind each."""
        t = self.tidy(level).set_index("term")
        lines = self._summary_header()
        cols = ["estimate", "std_error", "p_value", "p_holm", "p_romano_wolf"]
        body = t[cols + ["conf_low", "conf_high"]].copy()
        body.insert(0, "n_firms", t["n_firms"].astype(int))
        lines.append(body.to_string(float_format=lambda v: f"{v: .4f}"))
        if self.exclusions:
            lines.append("Excluded: " + ", ".join(f"{k}={v:,}" for k, v in self.exclusions.items()))
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-ready form: the estimates with ``n_firms``, ``p_holm``, ``p_romano_wolf``, and
        ``by``, ``rule``, ``equal_effects``, ``pooled``, ``covariance``, ``bootstrap``."""
        out = super().to_dict(level)
        for row in out["estimates"]:
            term = row["term"]
            row["n_firms"] = int(self.n_firms[term])
            row["p_holm"] = _num(self.p_holm[term])
            row["p_romano_wolf"] = _num(self.p_romano_wolf[term])
        out["by"] = self.by
        out["comparison"] = self.comparison
        out["rule"] = dict(self.rule, text=self.rule_text)
        out["equal_effects"] = {k: _num(v) for k, v in self.equal_effects.items()}
        if self.pooled is not None:
            out["pooled"] = self.pooled.to_dict(level)["estimates"][0]
        if self.vcov is not None:
            out["covariance"] = [[_num(v) for v in row] for row in self.vcov.to_numpy()]
        out["bootstrap"] = {
            "n_boot": self.n_boot,
            "multiplier": self.multiplier,
            "seed": self.seed,
            "crit_value": _num(self.crit_value) if self.crit_value is not None else None,
        }
        return out


def _num(v: Any) -> float | None:
    f = float(v)
    return f if np.isfinite(f) else None
