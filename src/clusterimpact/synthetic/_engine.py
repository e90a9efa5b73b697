"""The simulation core: one chunk of firms, vectorised across firms, looping over years only.

Two worlds are simulated with the same random draws: the realised one (with the membership effect on
productivity) and the untreated one (effect = 0), so every potential outcome, including the responses of
labour and capital to the effect, is known for every observed firm-year. Membership, entry and exit are
decided in the realised world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clusterimpact.synthetic._catalogue import (
    CLUSTER_START,
    CLUSTERS,
    DIVISIONS,
    NACE,
    REGIONS,
    eligibility,
    region_weights,
)
from clusterimpact.synthetic._params import CLUSTER_EFFECT, SynthParams

__all__ = ["Chunk", "simulate_chunk"]

_CODES = tuple(NACE)
_CODE_W = np.array([NACE[c][0] for c in _CODES])
_CODE_W = _CODE_W / _CODE_W.sum()
_MED_EMP = np.array([DIVISIONS[c[:2]][0] for c in _CODES])
_KAPPA = np.log(np.array([DIVISIONS[c[:2]][1] for c in _CODES]))
_REGION_CUM = np.cumsum(np.array([region_weights(c) for c in _CODES]), axis=1)
_ELIG = np.log(np.array([eligibility(c) for c in _CODES]))
_START = np.array([CLUSTER_START[c] for c in CLUSTERS])
_CL_EFFECT = np.array([CLUSTER_EFFECT[c] for c in CLUSTERS])
WAVE_YEAR = 2017  # recognition of the spearhead clusters: a joining wave in every existing cluster


@dataclass
class Chunk:
    """Firm-level and firm-year arrays of one simulated chunk (firm index local to the chunk)."""

    n: int
    code: np.ndarray  # index into NACE codes
    region: np.ndarray
    founded: np.ndarray
    rows: dict[str, np.ndarray]  # firm-year arrays, sorted by (firm, year)
    joins: np.ndarray  # (k, 3): firm, cluster, year
    leaves: np.ndarray  # (k, 3): firm, cluster, year


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _effect(
    p: SynthParams, m_years: np.ndarray, cohort: np.ndarray, first_cl: np.ndarray
) -> np.ndarray:
    """Membership effect on log TFP given member years, cohort and first cluster."""
    m = m_years.astype(float)
    on = m_years > 0
    clm = _CL_EFFECT[np.maximum(first_cl, 0)]
    if p.effect_heterogeneous:
        strength = np.clip((2019.0 - cohort) / 6.0, 0.05, 1.5)
        eff = clm * strength * (0.01 + 0.02 * (np.minimum(m, 10.0) - 1.0))
    else:
        coh = np.clip(1.0 + p.effect_cohort_slope * (WAVE_YEAR - cohort), 0.3, None)
        grow = np.minimum(m, float(p.effect_cap_years)) - 1.0
        eff = clm * coh * (p.effect_jump + p.effect_slope * grow)
    return np.where(on, eff, 0.0)


@dataclass
class _Types:
    """Time-invariant firm types (sector code, region, entry, founding, scale, capital, selection)."""

    code: np.ndarray
    region: np.ndarray
    entry: np.ndarray
    founded: np.ndarray
    kappa: np.ndarray
    wage_type: np.ndarray
    alpha: np.ndarray
    k_init: np.ndarray
    index: np.ndarray  # time-invariant selection index
    log_elig: np.ndarray  # (n, C) log eligibility per cluster


def _firm_types(
    rng: np.random.Generator, n: int, p: SynthParams, start_year: int, end_year: int
) -> _Types:
    """Draw the time-invariant firm types (the first draws of a chunk, in this order)."""
    code = rng.choice(len(_CODES), size=n, p=_CODE_W)
    region = (rng.random(n)[:, None] > _REGION_CUM[code]).sum(axis=1)
    region = np.minimum(region, len(REGIONS) - 1)
    incumbent = rng.random(n) < p.share_incumbent
    entry = np.where(incumbent, start_year, rng.integers(start_year + 1, end_year + 1, size=n))
    age0 = np.floor(rng.exponential(p.mean_age, size=n)).astype(np.int64)
    founded = np.where(
        incumbent,
        np.maximum(start_year - 1 - age0, 1900),
        entry - (rng.random(n) < 0.3).astype(np.int64),
    )
    z_scale = rng.standard_normal(n)
    z_kap = rng.standard_normal(n)
    z_wage = rng.standard_normal(n)
    z_alpha = rng.standard_normal(n)
    scale = (
        np.log(_MED_EMP[code])
        + p.scale_shift
        + p.sd_scale * z_scale
        + np.where(
            incumbent,
            p.age_scale * np.log1p(np.maximum(start_year - founded, 0)),
            p.entrant_scale_shift,
        )
    )
    # firms in the accounts have at least about one FTE at their scale (no empty shells)
    scale = np.maximum(scale, np.log(p.min_scale_fte))
    kappa = _KAPPA[code] + p.sd_kappa * z_kap
    wage_type = p.sd_wage_type * (0.3 * z_kap + np.sqrt(1 - 0.09) * z_wage)
    alpha = p.sd_alpha * z_alpha
    # ln real capital (thousand EUR): labour at the initial capital stock equals the scale type, and the
    # capital per FTE of a median-sized firm equals the sector's kappa
    k_scale = 1.0 / p.a_k - 1.0
    kappa = kappa - k_scale * np.log(_MED_EMP[code] * np.exp(p.scale_shift))
    k_init = scale / p.a_k + kappa
    # time-invariant selection index (standardised firm types)
    size_std = (scale - np.log(_MED_EMP[code])) / p.sd_scale
    age_std = (np.log1p(np.maximum(WAVE_YEAR - founded, 0)) - 2.3) / 0.9
    index = (
        p.join_const
        + p.join_scale * size_std
        + p.join_age * age_std
        + p.join_kappa * z_kap
        + p.join_alpha * z_alpha
    )
    return _Types(
        code=code,
        region=region,
        entry=entry,
        founded=founded,
        kappa=kappa,
        wage_type=wage_type,
        alpha=alpha,
        k_init=k_init,
        index=index,
        log_elig=_ELIG[code],
    )


@dataclass
class _State:
    """The dynamic state carried from year to year (realised world ``1``, untreated world ``0``)."""

    u_lag2: np.ndarray
    u_lag1: np.ndarray
    u_prev: np.ndarray
    v_prev: np.ndarray
    k1: np.ndarray
    k0: np.ndarray
    dead: np.ndarray
    status: np.ndarray  # (n, C): 0 never, 1 member, 2 left, 3 left after re-join
    spells: np.ndarray
    m_years: np.ndarray
    cohort: np.ndarray
    first_cl: np.ndarray
    joins: list[np.ndarray]
    leaves: list[np.ndarray]


def _initial_state(rng: np.random.Generator, n: int, p: SynthParams, k_init: np.ndarray) -> _State:
    """u history three years back (for the decline signal) from the stationary law; no members."""
    n_cl = len(CLUSTERS)
    s_xi = p.sd_u * np.sqrt(1.0 - p.rho**2)
    u_lag2 = p.sd_u * rng.standard_normal(n)
    u_lag1 = p.rho * u_lag2 + s_xi * rng.standard_normal(n)
    u_prev = p.rho * u_lag1 + s_xi * rng.standard_normal(n)
    v_prev = p.sd_wage_shock * rng.standard_normal(n)
    return _State(
        u_lag2=u_lag2,
        u_lag1=u_lag1,
        u_prev=u_prev,
        v_prev=v_prev,
        k1=k_init.copy(),
        k0=k_init.copy(),
        dead=np.zeros(n, dtype=bool),
        status=np.zeros((n, n_cl), dtype=np.int8),
        spells=np.zeros((n, n_cl), dtype=np.int8),
        m_years=np.zeros(n, dtype=np.int64),
        cohort=np.zeros(n, dtype=np.int64),
        first_cl=np.full(n, -1, dtype=np.int64),
        joins=[],
        leaves=[],
    )


def _membership(
    st: _State,
    t: _Types,
    p: SynthParams,
    year: int,
    alive: np.ndarray,
    draws: dict[str, np.ndarray],
    sd_decline: float,
) -> np.ndarray:
    """Leaves, re-joins and joins at the start of ``year`` (realised world); who is a member."""
    started = year >= _START
    prior = st.status.copy()
    leave = alive[:, None] & (prior == 1) & (draws["u_leave"] < p.leave_rate)
    if leave.any():
        f, c = np.nonzero(leave)
        st.leaves.append(np.column_stack([f, c, np.full(len(f), year)]))
        st.status[leave] = np.where(st.spells[leave] == 1, 2, 3)
    # at most one re-join per firm and cluster (a second leave is final)
    rejoin = alive[:, None] & (prior == 2) & (draws["u_leave"] < p.rejoin_rate)
    first = np.where(_START < WAVE_YEAR, p.join_first_year_early, p.join_first_year)
    if year >= WAVE_YEAR:
        later = p.join_wave_2017 if year == WAVE_YEAR else p.join_after
    else:
        later = p.join_before_2017
    base = np.where(year == _START, first, later)
    base = np.where(started, base, 0.0)
    idx = t.index
    if p.join_decline:
        idx = idx + p.join_decline * (-(st.u_prev - st.u_lag2) / sd_decline)
    hazard = base[None, :] * np.exp(idx[:, None] + t.log_elig)
    cand = alive[:, None] & (prior == 0) & (draws["u_join"] < -np.expm1(-hazard))
    if cand.any():
        score = np.where(cand, draws["u_pick"], -1.0)
        pick = np.argmax(score, axis=1)
        anyc = cand.any(axis=1)
        cand = np.zeros_like(cand)
        cand[np.arange(len(alive))[anyc], pick[anyc]] = True
    start_now = cand | rejoin
    if start_now.any():
        f, c = np.nonzero(start_now)
        st.joins.append(np.column_stack([f, c, np.full(len(f), year)]))
        st.status[start_now] = 1
        st.spells[start_now] += 1
        newly = cand.any(axis=1) & (st.cohort == 0)
        st.cohort[newly] = year
        st.first_cl[newly] = np.argmax(cand[newly], axis=1)
    member: np.ndarray = alive & (st.status == 1).any(axis=1)
    return member


def _production(
    p: SynthParams,
    t: _Types,
    k: np.ndarray,
    e: np.ndarray | float,
    u: np.ndarray,
    u_prev: np.ndarray,
    draws: dict[str, np.ndarray],
    alive: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """One world's inputs and outputs in a year given its capital ``k`` and effect ``e``."""
    omega = t.alpha + u + e
    omega_e = t.alpha + p.rho * u_prev + draws["xa"] + e
    ln_l = p.a_k * (k - t.kappa) + p.a_omega * omega_e - p.a_wage * draws["v"]
    ln_y = p.b0 + p.beta_l * ln_l + p.beta_k * k + omega + draws["eps"]
    ln_m = p.c_m + p.m_k * k + p.m_omega * omega + p.m_l * ln_l
    ir = p.ir_max * _logistic(p.ir_gamma * (omega - p.ir_centre))
    ln_i = k + np.log(ir)
    ln_w = np.log(p.labour_share) + (p.b0 + (p.beta_l - 1.0) * ln_l + p.beta_k * k + omega_e)
    ln_w = ln_w + t.wage_type + draws["v"]
    k_next = np.where(alive, np.log((1.0 - p.delta) * np.exp(k) + np.exp(ln_i)) + draws["zeta"], k)
    return omega, ln_l, ln_y, ln_m, ln_i, ln_w, k, k_next


def simulate_chunk(
    rng: np.random.Generator, n: int, p: SynthParams, start_year: int, end_year: int
) -> Chunk:
    """Simulate ``n`` firms over ``start_year..end_year`` (see :func:`clusterimpact.synthetic.simulate`)."""
    n_cl = len(CLUSTERS)
    t = _firm_types(rng, n, p, start_year, end_year)
    s_xi = p.sd_u * np.sqrt(1.0 - p.rho**2)
    s_a = s_xi * np.sqrt(p.share_xi_known)
    s_b = s_xi * np.sqrt(1.0 - p.share_xi_known)
    s_v = p.sd_wage_shock * np.sqrt(1.0 - p.rho_wage**2)
    sd_decline = p.sd_u * np.sqrt(2.0 * (1.0 - p.rho**2))
    st = _initial_state(rng, n, p, t.k_init)
    out: dict[str, list[np.ndarray]] = {}

    def keep(name: str, values: np.ndarray, mask: np.ndarray) -> None:
        out.setdefault(name, []).append(values[mask])

    rows_idx = np.arange(n)
    for year in range(start_year, end_year + 1):
        alive = (t.entry <= year) & ~st.dead
        new = t.entry == year
        if year > start_year and new.any():
            fresh = p.sd_u * rng.standard_normal(n) + p.entrant_u_shift
            st.u_prev = np.where(new, fresh, st.u_prev)
            st.u_lag1 = np.where(new, fresh, st.u_lag1)
            st.u_lag2 = np.where(new, fresh, st.u_lag2)
        draws = {"xa": s_a * rng.standard_normal(n)}
        draws["xb"] = s_b * rng.standard_normal(n)
        u = p.rho * st.u_prev + draws["xa"] + draws["xb"]
        v = p.rho_wage * st.v_prev + s_v * rng.standard_normal(n)
        draws["v"] = v
        draws["eps"] = p.sd_eps * rng.standard_normal(n)
        for name, shape in (("u_exit", n), ("u_leave", (n, n_cl)), ("u_join", (n, n_cl))):
            draws[name] = rng.random(shape)
        draws["u_pick"] = rng.random((n, n_cl))
        # disposals / revaluations of capital, known before next year's choices (not an innovation)
        draws["zeta"] = (
            p.sd_capital_shock * rng.standard_normal(n) if p.sd_capital_shock else 0.0  # type: ignore[assignment]
        )
        member = _membership(st, t, p, year, alive, draws, sd_decline)
        st.m_years += member
        eff = _effect(p, st.m_years, st.cohort.astype(float), st.first_cl)
        omega1, l1, y1, m1, i1, w1, kk1, st.k1 = _production(
            p, t, st.k1, eff, u, st.u_prev, draws, alive
        )
        omega0, l0, y0, _, _, _, kk0, st.k0 = _production(
            p, t, st.k0, 0.0, u, st.u_prev, draws, alive
        )
        keep("firm", rows_idx, alive)
        keep("year", np.full(n, year, dtype=np.int64), alive)
        for name, arr in (
            ("alpha", t.alpha),
            ("u", u),
            ("eps", draws["eps"]),
            ("omega", omega1),
            ("omega0", omega0),
            ("effect", eff),
            ("ln_va", y1),
            ("ln_emp", l1),
            ("ln_capital", kk1),
            ("ln_materials", m1),
            ("ln_investment", i1),
            ("ln_wage_rate", w1),
            ("ln_va0", y0),
            ("ln_emp0", l0),
            ("ln_capital0", kk0),
        ):
            keep(name, arr, alive)
        keep("member", member.astype(np.int8), alive)
        keep("member_years", st.m_years, alive)
        if year < end_year:  # exit at the end of the year (realised world)
            st.dead |= alive & (draws["u_exit"] < _exit_hazard(p, t, year, omega1, l1))
        st.u_lag2, st.u_lag1, st.u_prev, st.v_prev = st.u_lag1, st.u_prev, u, v
    return _chunk(n, t, st, out)


def _exit_hazard(
    p: SynthParams, t: _Types, year: int, omega1: np.ndarray, l1: np.ndarray
) -> np.ndarray:
    """Probability of exit at the end of ``year`` (low productivity, small and young firms exit)."""
    age = np.maximum(year - t.founded, 0)
    hz = (
        p.exit_base
        * np.exp(
            -p.exit_alpha * t.alpha - p.exit_omega * (omega1 - t.alpha) - p.exit_size * (l1 - 1.4)
        )
        * (1.0 + p.exit_young * np.exp(-age / 3.0))
    )
    return np.minimum(hz, 0.6)


def _chunk(n: int, t: _Types, st: _State, out: dict[str, list[np.ndarray]]) -> Chunk:
    """The chunk's firm-year arrays (one variable at a time, freeing the yearly pieces)."""
    rows = {}
    for k in list(out):
        rows[k] = np.concatenate(out.pop(k))
    rows["cohort"] = st.cohort[rows["firm"]]
    rows["first_cluster"] = st.first_cl[rows["firm"]]
    empty = np.zeros((0, 3), dtype=np.int64)
    return Chunk(
        n=n,
        code=t.code,
        region=t.region,
        founded=t.founded,
        rows=rows,
        joins=np.concatenate(st.joins).astype(np.int64) if st.joins else empty,
        leaves=np.concatenate(st.leaves).astype(np.int64) if st.leaves else empty,
    )
