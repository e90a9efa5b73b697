"""Parameters of the synthetic economy and the scenario presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError

__all__ = ["SCENARIOS", "Scenario", "SynthParams", "make_params"]

Scenario = Literal["ecoom", "null", "declining", "heterogeneous"]
SCENARIOS: tuple[str, ...] = ("ecoom", "null", "declining", "heterogeneous")


@dataclass(frozen=True)
class SynthParams:
    """Every number of the synthetic model (see :func:`clusterimpact.synthetic.simulate`).

    Any field can be overridden through ``simulate(..., **overrides)``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.synthetic import SynthParams
    >>> SynthParams().beta_l, SynthParams().rho
    (0.65, 0.8)
    >>> sim = ci.simulate(n_firms=200, seed=0, beta_l=0.6)  # any field, overridden by name
    >>> sim.truth["params"]["beta_l"]
    0.6
    """

    # production: ln va = b0 + bl ln l + bk ln k + omega + eps
    b0: float = 3.0
    beta_l: float = 0.65
    beta_k: float = 0.30
    sd_eps: float = 0.10
    # productivity: omega = alpha + u + effect; u_t = rho u_{t-1} + xi_t, xi = xi_a + xi_b
    rho: float = 0.8
    sd_alpha: float = 0.12
    sd_u: float = 0.20  # stationary sd of u
    share_xi_known: float = 0.5  # share of var(xi) known when labour is chosen (xi_a)
    entrant_u_shift: float = -0.05
    # labour: l = a_k (k - kappa) + a_omega * E[omega | t-b] - a_wage * v
    # (a_k = beta_k / (1 - beta_l): labour productivity does not drift with capital growth)
    a_k: float = 0.30 / 0.35
    a_omega: float = 0.8
    a_wage: float = 1.0
    sd_wage_shock: float = 0.20  # stationary sd of the AR(1) firm wage shock v
    rho_wage: float = 0.5
    sd_wage_type: float = 0.12
    labour_share: float = 0.62
    # capital: K_t = (1 - delta) K_{t-1} + I_{t-1}; I/K = ir_max * logistic(gamma (omega - centre))
    delta: float = 0.10
    ir_max: float = 0.30
    ir_gamma: float = 3.0
    ir_centre: float = 0.18
    sd_capital_shock: float = 0.05  # iid log shock to next year's capital (disposals, revaluations)
    # materials: ln m = c_m + m_k ln k + m_omega omega (+ m_l ln l); increasing in omega
    c_m: float = 0.8
    m_k: float = 0.95
    m_omega: float = 1.2
    m_l: float = 0.0
    # firm types: scale (ln FTE), capital intensity (ln kEUR per FTE)
    scale_shift: float = -0.7
    sd_scale: float = 1.25
    min_scale_fte: float = 1.0
    sd_kappa: float = 0.40
    age_scale: float = 0.25  # incumbents: + age_scale * ln(1 + age)
    entrant_scale_shift: float = -0.6
    mean_age: float = 14.0
    # entry and exit
    share_incumbent: float = 0.58
    exit_base: float = 0.030
    exit_alpha: float = 3.0  # on the permanent productivity level
    exit_omega: float = 0.8  # on the transitory part u (+ effect)
    exit_size: float = 0.25
    exit_young: float = 1.0
    # membership: yearly hazard = base(c, t) * exp(index); index on firm types (and recent decline)
    join_const: float = 0.25
    join_scale: float = 0.55
    join_age: float = 0.35
    join_kappa: float = 0.5
    join_alpha: float = 0.5  # per sd of alpha
    join_decline: float = 0.0  # per sd of the decline of u over the two previous years
    join_first_year: float = 0.06  # founding members of clusters starting from 2017
    join_first_year_early: float = 0.025  # founding members of the predecessors (before 2017)
    join_wave_2017: float = 0.07
    join_before_2017: float = 0.006
    join_after: float = 0.008
    leave_rate: float = 0.05
    rejoin_rate: float = 0.15
    # membership effect on omega: jump on joining + growth per further member year (capped)
    effect_jump: float = 0.010
    effect_slope: float = 0.009
    effect_cap_years: int = 5
    effect_cohort_slope: float = 0.02  # ecoom: earlier cohorts slightly larger
    effect_heterogeneous: bool = False
    # nominal accounts
    base_year: int = 2015
    sd_inflation: float = 0.015

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all parameters (JSON-able)."""
        return asdict(self)


# cluster multipliers of the effect (mean about 1)
CLUSTER_EFFECT: dict[str, float] = {
    "VIL": 0.7,
    "Flanders' FOOD": 0.9,
    "Flux50": 1.1,
    "Catalisti": 1.2,
    "De Blauwe Cluster": 0.8,
    "Medvia": 1.3,
}


def make_params(scenario: str, overrides: dict[str, Any]) -> SynthParams:
    """Parameters of ``scenario`` with ``overrides`` applied (unknown names raise SpecError)."""
    check_choice("scenario", scenario, SCENARIOS)
    p = SynthParams()
    if scenario == "null":
        p = replace(p, effect_jump=0.0, effect_slope=0.0)
    elif scenario == "declining":
        # the decline signal adds variance to the hazard index: a lower constant keeps ~1,200 members
        p = replace(
            p, effect_jump=0.0, effect_slope=0.0, join_alpha=0.0, join_decline=1.0, join_const=-0.05
        )
    elif scenario == "heterogeneous":
        p = replace(
            p, effect_heterogeneous=True, join_first_year_early=0.06, join_before_2017=0.015
        )
    valid = {f.name for f in fields(SynthParams)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise SpecError(
            f"unknown synthetic parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    return replace(p, **overrides)
