r"""Synthetic firm panels with known truth: an explicit economic model of cluster membership.

:func:`simulate` generates annual accounts of Flemish firms, the membership registry of the six
spearhead clusters, a sector x year deflator table, the latent states and the *truth* (production
elasticities, ATT(g,t), event-time and member-years effects) computed on the realised sample.

The model
---------
Firm :math:`i`, year :math:`t`; lower case are logs of real quantities in thousand 2015 euros.

Value added (Cobb-Douglas):

.. math:: va_{it} = \beta_0 + \beta_l\, l_{it} + \beta_k\, k_{it} + \omega_{it} + \varepsilon_{it},
   \qquad \varepsilon_{it} \sim N(0, \sigma_\varepsilon^2)\ \text{iid (ex-post shock)}

Productivity is a firm level, an AR(1) component and the membership effect:

.. math:: \omega_{it} = \alpha_i + u_{it} + \tau_{it}, \qquad
   u_{it} = \rho\, u_{i,t-1} + \xi_{it}, \qquad \xi_{it} = \xi^a_{it} + \xi^b_{it}

Timing (Ackerberg, Caves & Frazer 2015, section 4):

* capital is a state: :math:`K_{it} = ((1-\delta) K_{i,t-1} + I_{i,t-1}) e^{\zeta_{it}}` (:math:`\zeta`
  an iid disposal/revaluation shock, sd 0.05, known before the year's choices and independent of
  :math:`\xi_{it}`; it keeps :math:`k_{it}` from being an exact function of last year's state, which
  would leave one-step GMM weakly identified) with the investment rate
  :math:`I_{it}/K_{it} = \bar\iota\, \Lambda(\gamma(\omega_{it} - c))` (:math:`\Lambda` logistic), so
  investment :math:`i_{it} = k_{it} + \ln \bar\iota\Lambda(\cdot)` is strictly increasing in
  :math:`\omega_{it}` given :math:`k_{it}` (Olley-Pakes invertibility);
* labour is chosen between :math:`t-1` and :math:`t`, knowing :math:`\xi^a_{it}` (half the innovation)
  but not :math:`\xi^b_{it}`, and reacts to a firm wage shock :math:`v_{it}` (AR(1)):
  :math:`l_{it} = a_k (k_{it} - \kappa_i) + a_\omega\, E[\omega_{it} \mid \mathcal I_{t-b}] - a_w v_{it}`
  (:math:`a_k = \beta_k/(1-\beta_l)`, :math:`a_\omega = 0.8`, :math:`a_w = 1`) with
  :math:`E[\omega_{it} \mid \mathcal I_{t-b}] = \alpha_i + \rho u_{i,t-1} + \xi^a_{it} + \tau_{it}`.
  The wage shock and the timing give labour variation independent of :math:`(\omega_{it}, k_{it})`
  (no functional dependence), while :math:`l` still loads on :math:`\omega`, so OLS overstates
  :math:`\beta_l`;
* materials at :math:`t`: :math:`m_{it} = c_m + m_k k_{it} + m_\omega \omega_{it} + m_l l_{it}`,
  strictly increasing in :math:`\omega` (Levinsohn-Petrin / ACF proxy). The default ``m_l = 0`` keeps
  LP's first stage identified; ``m_l > 0`` gives the ACF functional-dependence case;
* wage rate :math:`W_{it} = s_L \cdot E[VA_{it}/L_{it}] \cdot e^{w_i + v_{it}}` (rent sharing with a
  firm wage type); wage bill :math:`W_{it} L_{it}`.

Firms differ in sector (NACE 4-digit), region (Flemish province), founding year, scale type
:math:`s_i` (ln FTE at the initial capital stock :math:`k = s_i/a_k + \kappa_i`; lognormal with a floor
of 1 FTE, so most firms have under 10 FTE and a few hundred have 100 or more), capital-intensity type
:math:`\kappa_i` (sector mean plus noise) and the productivity level :math:`\alpha_i`. Incumbents in
the first year plus entrants each year (unbalanced panel); a firm exits after year :math:`t` with a
probability decreasing in :math:`\alpha_i` (strongly), :math:`u_{it} + \tau_{it}` (mildly), size and
age (about 4 % a year). Exit after :math:`t` depends on :math:`\omega_{it}`, not on the next innovation,
so survival does not bias the control-function moments (but see Notes on the firm effect).

Membership
~~~~~~~~~~
Six clusters with start years VIL 2011, Flanders' FOOD 2012, Flux50 2015, Catalisti 2017, De Blauwe
Cluster 2018, Medvia 2019, and a joining wave in 2017 (the spearhead recognition), so most firms join
from 2017. The yearly joining hazard of firm *i* for cluster *c* is
:math:`h_c(t) \exp(\text{index}_i + \ln e_{ic})` where :math:`e_{ic}` is the domain eligibility of the
firm's sector and the index is linear in the standardised scale type, log age in 2017, capital
intensity type and :math:`\alpha_i`. In ``ecoom``, ``null`` and ``heterogeneous`` selection is on these
**time-invariant** characteristics only, so untreated log TFP :math:`\alpha_i + u_{it}` has parallel
trends unconditionally, up to the two small departures measured in the Notes, and staggered DiD (CS,
SA, imputation) recovers the truth. Members are larger,
older, more capital-intensive and more productive before joining. Members leave at 5 % a year and
re-join at 15 % a year (once); firms join at most one new cluster a year, and some join two.

Membership effect :math:`\tau_{it}` on log TFP, a function of member years :math:`m_{it}` (1 in the
join year, frozen after an exit, counting on after a re-join; so the effect keeps its level after a
firm leaves), the cohort :math:`g` (first join year) and the first cluster :math:`c` with multipliers
:math:`\mu_c` from 0.7 (VIL) to 1.3 (Medvia):

* ``ecoom``: :math:`\tau = \mu_c (1 + 0.02(2017 - g)) (0.010 + 0.009 \min(m-1, 4))`, about +1 % in
  the first year and +4.6 % after five years, overall ATT about +3 %;
* ``null``: :math:`\tau = 0`;
* ``declining``: :math:`\tau = 0` and firms whose transitory productivity :math:`u` fell over the
  previous two years select in (hazard index :math:`+\,1 \cdot` the standardised decline
  :math:`-(u_{t-1} - u_{t-3})`), not on :math:`\alpha_i` (size, age and capital intensity still
  matter). Because :math:`u` mean-reverts, members'
  untreated TFP recovers after joining: unconditional DiD shows a spurious positive effect and a
  pre-joining dip; matching on pre-joining TFP trends reduces the bias;
* ``heterogeneous``: :math:`\tau = \mu_c\, \mathrm{clip}((2019-g)/6, 0.05, 1.5) (0.01 + 0.02(\min(m,10)-1))`
  with more early joiners: early cohorts large and growing, late cohorts near zero, so static TWFE
  is visibly biased (about -0.017 on an ATT of about +0.05).

Potential outcomes: the untreated world is simulated with the same draws and :math:`\tau = 0`, so
capital and labour responses to the effect are part of the labour-productivity effect
(``ln_lp - ln_lp0``). Entry, exit and membership follow the realised world.

Truth (``SyntheticData.truth``)
-------------------------------
Computed on the realised sample (observed firm-years): ``att_gt`` lists, for every cohort and year
(pre-joining years included, where it is 0), the mean of :math:`\tau` (``att``) and of
:math:`\ln lp - \ln lp^0` (``att_lp``) over the cohort's observed firms, with their number ``n``;
``event_time`` (key :math:`e = t-g`) and ``member_years`` (key :math:`m`, post-joining firm-years; also
``member_years_bins`` with ``"5+"``) are the same means, each ``{att, att_lp, n, n_firms}``;
``att_overall`` / ``att_overall_lp`` average over all member-cohort firm-years with :math:`t \ge g`;
``by_cluster`` (first cluster) and ``by_cohort`` likewise. These are descriptive firm-year means (the
``member_years`` ones include the years after an exit, with the effect frozen). Each estimator targets
its own average, on its own firm-years: ``estimands`` holds every one of them by name
(``"cs:simple"``, ``"cs:dynamic:3"``, ``"sa:simple"``, ``"imputation:dynamic:0"``,
``"duration:member_years::5+"``, ``"duration:slope"``, ``"twfe:member"``, ``"matched_did:ATT"``, ...; each
``{att, att_lp, n}``), for the event window ``estimand_window`` and the duration bins
``estimand_bins`` of the default study, and ``member_window_effects`` each member's mean effect over
event times 0..5 (for the matched DiD's target on the matched members); the definitions are in
:mod:`clusterimpact.synthetic._estimands`. On the default data they differ by up to 0.0055, about one
standard error of the default study. Also: ``elasticities`` (:math:`\beta_l, \beta_k` in the real deflated units of
the panel, keyed ``ln_emp``, ``ln_capital``), ``rho``, ``params`` (every :class:`SynthParams` field),
``scenario``, ``seed``, ``n_firms``, ``start_year``, ``end_year``, ``cluster_start``, ``sample``
(calibration figures) and ``dirty``. With ``dirty=True`` the truth still refers to the clean sample;
``truth["dirt"]`` counts what was dirtied (``expected_exclusions`` are the counts
:func:`~clusterimpact.panel.build_panel` must report) and ``SyntheticData.dirt`` lists the rows.

Accounts are nominal (real value times the sector x year deflator, 1.0 in 2015), in thousand euros
rounded to 100 euros (investment to 10 euros), FTE to two decimals; ``turnover = va + materials``.

Notes
-----
*The firm effect and the control-function estimators.* OP, LP, ACF and Wooldridge assume productivity is
a first-order Markov process: :math:`E[\omega_{it} \mid \mathcal I_{t-1}] = g(\omega_{i,t-1})`. With the
firm effect, :math:`\omega_{it} = (1-\rho)\alpha_i + \rho\,\omega_{i,t-1} + \xi_{it}` (plus the membership
effect): the part :math:`(1-\rho)(\alpha_i - E[\alpha_i \mid \omega_{i,t-1}])` stays in the estimated
innovation, and the instruments (current capital, accumulated from investment that rose with past
productivity, and lagged labour) carry information on :math:`\alpha_i` beyond :math:`\omega_{i,t-1}`. The
timing of the inputs is not the problem: on the same draws without the firm effect (``sd_alpha=0``)
ACF recovers 0.6509 / 0.3008 (labour / capital, mean of 8 seeds at 15,000 firms, Monte Carlo sd
0.0037 / 0.0024), and bootstrap intervals cover at the nominal rate
(``tests/productivity/test_coverage.py``). With the default ``sd_alpha=0.12`` ACF's labour elasticity is
0.6625 (sd 0.0049): +0.0125, about 2.5 standard errors at the default size, which is the "ACF labour
2.9 SE above the truth" of the default report. Exits play no part (no exits: 0.6654; neither exits
nor the firm effect: 0.6502). Wooldridge's labour elasticity, identified by its first equation, moves
by +0.0006. The truth (:math:`\beta_l, \beta_k`) is the parameter every one of these estimators
targets; the firm effect is kept in the default because members select on permanent productivity,
which the matching and DiD parts of the package are about. Use ``sd_alpha=0`` for data on which the
control-function estimators are correctly specified.

*Parallel trends in the* ``null`` *scenario.* The truth is 0 for every firm-year, survivors included.
Unconditional parallel trends of untreated productivity hold up to two departures of opposite sign:
entrants start with :math:`u` shifted by ``entrant_u_shift`` (-0.05) and catch up, and members are
older than non-members (pulls DiD estimates down); firms exit on transitory productivity, more often
when small, young and unproductive (pushes them up). Mean estimate / SE over 200 seeds of 6,000 firms
(true log TFP as the outcome; standard error of each mean 0.07):

=====================================  =========  ========  ========  ==========  =====
data                                   duration   growth    TWFE      imputation  CS
=====================================  =========  ========  ========  ==========  =====
default                                +0.03      -0.10     -0.06     -0.02       -0.18
no entrant shift                       +0.15      +0.08     +0.14     +0.11       +0.01
no exits                               -0.14      -0.21     -0.23     -0.18       -0.27
neither                                -0.01      -0.01     -0.00     -0.04       -0.06
=====================================  =========  ========  ========  ==========  =====

(duration: ``duration_effects(...).average``; growth: its slope; TWFE: the static premium; CS:
``aggte(att_gt(..., control="notyet", allow_unbalanced=True), "simple")``.) The estimates are within
0.2 standard errors of zero on average at 6,000 firms (about 0.3 at the default 15,000 for CS), so
5 % tests keep their size (``tests/estimation/test_size_null.py``); a premium 0.5 SE below zero on
one seed is sampling noise (the sd of estimate / SE across seeds is 1.0), not survivorship, which
pushes the other way.

References
----------
Ackerberg, D., Caves, K. and Frazer, G. (2015). Identification properties of recent production function
estimators. *Econometrica* 83(6), 2411-2451.
Angelino, A., Czarnitzki, D. and Volckaert, W. (2024). Cluster policy, innovation, and firm
productivity. KU Leuven MSI Discussion Paper 2404.
Martin, P., Mayer, T. and Mayneris, F. (2011). Public support to clusters: a firm level study of French
"Local Productive Systems". *Regional Science and Urban Economics* 41(2), 108-123.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import check_choice
from clusterimpact.errors import SpecError
from clusterimpact.synthetic._catalogue import CLUSTER_START, CLUSTERS, NACE, REGIONS
from clusterimpact.synthetic._engine import simulate_chunk
from clusterimpact.synthetic._output import (
    ACCOUNT_COLUMNS,
    KBO_CAPACITY,
    add_dirt,
    kbo_ids,
    make_deflators,
    write_csv,
    write_json,
)
from clusterimpact.synthetic._params import SCENARIOS, Scenario, SynthParams, make_params
from clusterimpact.synthetic._parquet import parquet_files, write_parquet
from clusterimpact.synthetic._truth import compute_truth, round_floats

__all__ = [
    "CHUNK_FIRMS",
    "SCENARIOS",
    "SynthParams",
    "SyntheticData",
    "parquet_files",
    "simulate",
    "write_parquet",
]

CHUNK_FIRMS = 50_000
"""Firms simulated per chunk (fixed: the output for a seed does not depend on memory)."""

_CODES = np.array(list(NACE), dtype=object)
_REGIONS = np.array(REGIONS, dtype=object)
_CLUSTERS = np.array(CLUSTERS, dtype=object)


@dataclass(frozen=True)
class SyntheticData:
    """A simulated data set and its truth (see the module docstring for the model).

    Attributes
    ----------
    accounts
        Nominal annual accounts: firm_id, year, nace, region, founded, va, emp, capital, materials,
        wages, turnover, investment (thousand EUR; emp in FTE).
    registry
        Membership registry: firm_id, cluster, join_date, exit_date (ISO dates; exit blank = member).
    deflators
        sector (NACE division), year, deflator (1.0 in the base year).
    truth
        JSON-able dict (keys listed in the module docstring).
    latent
        One row per clean observed firm-year: firm_id, year, alpha, u, eps, omega, omega0, effect,
        member, member_years, treat_year (0 = never), cluster, ln_va, ln_emp, ln_capital,
        ln_materials, ln_investment, ln_lp, ln_va0, ln_emp0, ln_capital0, ln_lp0 (real logs).
    dirt
        With ``dirty=True``: firm_id, year, kind of every dirtied row (empty otherwise).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate(scenario="null", seed=2, n_firms=200)
    >>> sim.truth["att_overall"]
    0.0
    >>> panel = sim.panel()  # build_panel(sim.accounts, sim.registry, deflators=sim.deflators)
    >>> len(panel.data) + len(panel.exclusions) >= len(sim.accounts)
    True
    """

    accounts: pd.DataFrame
    registry: pd.DataFrame
    deflators: pd.DataFrame
    truth: dict[str, Any]
    latent: pd.DataFrame
    dirt: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"firm_id": [], "year": [], "kind": []})
    )

    def panel(self, spec: Any = None, **kw: Any) -> Any:
        """Build the :class:`~clusterimpact.panel.FirmPanel` of these data (deflated).

        Parameters
        ----------
        spec
            A :class:`~clusterimpact.panel.PanelSpec`; default: KBO id checks with bad ids excluded,
            deflator base 1.
        **kw
            Passed to :func:`~clusterimpact.panel.build_panel`.
        """
        from clusterimpact.panel import PanelSpec, build_panel

        if spec is None:
            spec = PanelSpec(id_type="kbo", exclude_bad_ids=True, deflator_base=1.0)
        return build_panel(
            self.accounts,
            self.registry,
            spec,
            self.deflators,
            accounts_source=kw.pop("accounts_source", "synthetic accounts"),
            registry_source=kw.pop("registry_source", "synthetic registry"),
            **kw,
        )

    def files(self, out_dir: str | Path, name: str = "synthetic") -> dict[str, Path]:
        """Paths :meth:`write` uses: accounts, registry, deflators, truth."""
        d = Path(out_dir)
        return {
            "accounts": d / f"{name}.accounts.csv.gz",
            "registry": d / f"{name}.registry.csv",
            "deflators": d / f"{name}.deflators.csv",
            "truth": d / f"{name}.truth.json",
        }

    def write(self, out_dir: str | Path, name: str = "synthetic") -> dict[str, Path]:
        """Write the data set deterministically (same seed, same bytes).

        Files: ``<name>.accounts.csv.gz`` (gzip, mtime 0), ``<name>.registry.csv``,
        ``<name>.deflators.csv`` and ``<name>.truth.json`` (sorted keys, floats to 10 significant
        digits). Each file is written to a temporary name and renamed.

        Returns
        -------
        dict
            Role -> path of each file written.
        """
        paths = self.files(out_dir, name)
        write_csv(self.accounts, paths["accounts"], compress=True)
        write_csv(self.registry, paths["registry"], compress=False)
        write_csv(self.deflators, paths["deflators"], compress=False)
        write_json(self.truth, paths["truth"])
        return paths


def simulate(
    scenario: Scenario = "ecoom",
    seed: int = 1,
    n_firms: int = 15_000,
    start_year: int = 2008,
    end_year: int = 2023,
    dirty: bool = False,
    **overrides: Any,
) -> SyntheticData:
    """Simulate annual accounts and cluster membership with known truth.

    Parameters
    ----------
    scenario
        ``"ecoom"`` (about +3 % TFP, growing with member years), ``"null"`` (no effect),
        ``"declining"`` (no effect; firms in a transitory decline select in) or ``"heterogeneous"``
        (strongly cohort-heterogeneous dynamic effects). See the module docstring.
    seed
        Seed of every random draw (integer).
    n_firms
        Number of distinct firms ever observed (incumbents plus entrants).
    start_year, end_year
        Panel window (inclusive).
    dirty
        Add realistic faults (missing values, value added <= 0, zero employment, duplicate rows, bad
        enterprise numbers, registry members without accounts); ``truth["dirt"]`` counts them.
    **overrides
        Any :class:`SynthParams` field (e.g. ``rho=0.9``, ``effect_jump=0.02``).

    Returns
    -------
    SyntheticData
        accounts, registry, deflators, truth, latent (and dirt).

    Raises
    ------
    SpecError
        Unknown scenario or parameter, non-positive ``n_firms``, or an empty window.

    Examples
    --------
    >>> from clusterimpact.synthetic import simulate
    >>> sim = simulate("ecoom", seed=1, n_firms=2000)
    >>> round(sim.truth["elasticities"]["ln_emp"], 2)
    0.65
    """
    params = check_args(scenario, seed, n_firms, start_year, end_year, overrides)
    n_chunks = -(-int(n_firms) // CHUNK_FIRMS)
    ss = np.random.SeedSequence(int(seed))
    s_defl, s_ids, s_dirt, s_chunks = ss.spawn(4)
    code, region, founded, rows, joins, leaves = _simulate_firms(
        s_chunks.spawn(n_chunks), int(n_firms), params, start_year, end_year
    )
    rng_ids = np.random.default_rng(s_ids)
    ids = kbo_ids(rng_ids, int(n_firms) + 3)
    firm_ids, spare_ids = ids[: int(n_firms)], ids[int(n_firms) :]
    deflators = make_deflators(
        np.random.default_rng(s_defl), start_year, end_year, params.base_year, params.sd_inflation
    )
    accounts, ids_col, year = _accounts_frame(rows, code, region, founded, firm_ids, deflators)
    # registry: pair the k-th join with the k-th leave of each firm and cluster
    rng_dates = np.random.default_rng(s_ids.spawn(1)[0])
    registry = _registry(joins, leaves, firm_ids, rng_dates)
    latent = _latent_frame(rows, ids_col, year)
    del rows

    truth = compute_truth(latent)
    truth.update(
        {
            "scenario": scenario,
            "seed": int(seed),
            "n_firms": int(n_firms),
            "start_year": int(start_year),
            "end_year": int(end_year),
            "params": params.to_dict(),
            "elasticities": {"ln_emp": params.beta_l, "ln_capital": params.beta_k},
            "rho": params.rho,
            "cluster_start": dict(CLUSTER_START),
            "sample": _sample_stats(latent, accounts),
            "dirty": bool(dirty),
        }
    )
    dirt = pd.DataFrame({"firm_id": [], "year": [], "kind": []})
    if dirty:
        accounts, registry, dirt, counts = add_dirt(
            accounts, registry, np.random.default_rng(s_dirt), spare_ids
        )
        truth["dirt"] = counts
    return SyntheticData(
        accounts=accounts,
        registry=registry,
        deflators=deflators,
        truth=round_floats(truth),
        latent=latent,
        dirt=dirt,
    )


def check_args(
    scenario: str,
    seed: Any,
    n_firms: Any,
    start_year: int,
    end_year: int,
    overrides: dict[str, Any],
) -> SynthParams:
    """Validate :func:`simulate`'s arguments; the parameters of ``scenario`` with ``overrides``."""
    check_choice("scenario", scenario, SCENARIOS)
    params = make_params(scenario, overrides)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise SpecError(f"seed must be an integer, got {seed!r}")
    if not isinstance(n_firms, (int, np.integer)) or n_firms < 1:
        raise SpecError(f"n_firms must be a positive integer, got {n_firms!r}")
    if n_firms + 3 > KBO_CAPACITY:
        raise SpecError(
            f"n_firms must be at most {KBO_CAPACITY - 3:,} (distinct synthetic enterprise numbers), "
            f"got {n_firms:,}"
        )
    if not end_year > start_year:
        raise SpecError(f"end_year ({end_year}) must be after start_year ({start_year})")
    return params


def _simulate_firms(
    chunk_seeds: list[np.random.SeedSequence],
    n_firms: int,
    params: SynthParams,
    start_year: int,
    end_year: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Every chunk of firms, concatenated: codes, regions, founding years, firm-year rows, joins, leaves."""
    codes, regions, founded, parts, join_parts, leave_parts = [], [], [], [], [], []
    offset = 0
    for c in range(len(chunk_seeds)):
        n = min(CHUNK_FIRMS, n_firms - offset)
        ch = simulate_chunk(np.random.default_rng(chunk_seeds[c]), n, params, start_year, end_year)
        codes.append(ch.code)
        regions.append(ch.region)
        founded.append(ch.founded)
        ch.rows["firm"] = ch.rows["firm"] + offset
        parts.append(ch.rows)
        join_parts.append(ch.joins + np.array([offset, 0, 0]))
        leave_parts.append(ch.leaves + np.array([offset, 0, 0]))
        offset += n
    rows: dict[str, np.ndarray] = {}
    for k in list(parts[0]):  # one variable at a time, freeing the chunks' pieces
        rows[k] = parts[0].pop(k) if len(parts) == 1 else np.concatenate([p.pop(k) for p in parts])
    del parts
    return (
        np.concatenate(codes),
        np.concatenate(regions),
        np.concatenate(founded),
        rows,
        np.concatenate(join_parts),
        np.concatenate(leave_parts),
    )


def _accounts_frame(
    rows: dict[str, np.ndarray],
    code: np.ndarray,
    region: np.ndarray,
    founded_a: np.ndarray,
    firm_ids: np.ndarray,
    deflators: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """The accounts in nominal thousand EUR, sorted by (firm_id, year); ``rows`` is reordered too.

    Returns the accounts, their firm-id column and their years.
    """
    # sort firm-years by (firm_id, year): rank firms by their enterprise number once
    rank = np.empty(len(firm_ids), dtype=np.int64)
    rank[np.argsort(firm_ids.astype(str), kind="stable")] = np.arange(len(firm_ids))
    order = np.lexsort((rows["year"], rank[rows["firm"]]))
    for k in list(rows):  # reorder in place of the old arrays, one at a time
        rows[k] = rows[k][order]
    del order
    firm = rows["firm"]
    year = rows["year"].astype(np.int64)
    sector_codes = np.array([c[:2] for c in _CODES])
    dkey = pd.MultiIndex.from_arrays([deflators["sector"], deflators["year"]])
    dser = pd.Series(deflators["deflator"].to_numpy(), index=dkey)
    price = dser.reindex(pd.MultiIndex.from_arrays([sector_codes[code[firm]], year])).to_numpy()

    ids_col = _take_str(firm_ids, firm)
    va = np.round(np.exp(rows["ln_va"]) * price, 1)
    materials = np.round(np.exp(rows["ln_materials"]) * price, 1)
    emp = np.maximum(np.round(np.exp(rows["ln_emp"]), 2), 0.01)
    accounts = pd.DataFrame(
        {
            "firm_id": ids_col,
            "year": year,
            "nace": _take_str(_CODES, code[firm]),
            "region": _take_str(_REGIONS, region[firm]),
            "founded": founded_a[firm].astype(np.int64),
            "va": va,
            "emp": emp,
            "capital": np.round(np.exp(rows["ln_capital"]) * price, 1),
            "materials": materials,
            "wages": np.round(np.exp(rows["ln_wage_rate"] + rows["ln_emp"]) * price, 1),
            "turnover": np.round(va + materials, 1),
            "investment": np.round(np.exp(rows["ln_investment"]) * price, 2),
        },
        columns=list(ACCOUNT_COLUMNS),
        copy=False,
    )
    return accounts, ids_col, year


def _latent_frame(
    rows: dict[str, np.ndarray], ids_col: pd.Series, year: np.ndarray
) -> pd.DataFrame:
    """The latent firm-year variables: productivity, effects, membership, both worlds' outcomes."""
    first_cl = rows["first_cluster"]
    cluster_col = pd.Series(
        np.where(first_cl >= 0, _CLUSTERS[np.maximum(first_cl, 0)], None), dtype="object"
    )
    return pd.DataFrame(
        {
            "firm_id": ids_col,
            "year": year,
            "alpha": rows["alpha"],
            "u": rows["u"],
            "eps": rows["eps"],
            "omega": rows["omega"],
            "omega0": rows["omega0"],
            "effect": rows["effect"],
            "member": rows["member"].astype(np.int64),
            "member_years": rows["member_years"].astype(np.int64),
            "treat_year": rows["cohort"].astype(np.int64),
            "cluster": cluster_col,
            "ln_va": rows["ln_va"],
            "ln_emp": rows["ln_emp"],
            "ln_capital": rows["ln_capital"],
            "ln_materials": rows["ln_materials"],
            "ln_investment": rows["ln_investment"],
            "ln_lp": rows["ln_va"] - rows["ln_emp"],
            "ln_va0": rows["ln_va0"],
            "ln_emp0": rows["ln_emp0"],
            "ln_capital0": rows["ln_capital0"],
            "ln_lp0": rows["ln_va0"] - rows["ln_emp0"],
        },
        copy=False,
    )


def _take_str(values: np.ndarray, idx: np.ndarray) -> pd.Series:
    """``values[idx]`` as a pandas string column, gathered without Python-level string objects."""
    arr = pd.array(np.asarray(values, dtype=object).astype(str), dtype="str")
    return pd.Series(arr.take(idx))


def _registry(
    joins: np.ndarray, leaves: np.ndarray, firm_ids: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    j = pd.DataFrame(joins, columns=["firm", "cl", "join_year"]).sort_values(
        ["firm", "cl", "join_year"], kind="stable"
    )
    j["k"] = j.groupby(["firm", "cl"]).cumcount()
    lv = pd.DataFrame(leaves, columns=["firm", "cl", "exit_year"]).sort_values(
        ["firm", "cl", "exit_year"], kind="stable"
    )
    lv["k"] = lv.groupby(["firm", "cl"]).cumcount()
    sp = j.merge(lv, on=["firm", "cl", "k"], how="left").reset_index(drop=True)
    n = len(sp)
    jm, jd = rng.integers(1, 13, n), rng.integers(1, 29, n)
    em, ed = rng.integers(1, 13, n), rng.integers(1, 29, n)
    join_date = [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(sp["join_year"], jm, jd, strict=True)]
    exit_date = [
        None if pd.isna(y) else f"{int(y)}-{m:02d}-{d:02d}"
        for y, m, d in zip(sp["exit_year"], em, ed, strict=True)
    ]
    reg = pd.DataFrame(
        {
            "firm_id": firm_ids[sp["firm"].to_numpy()].astype(str),
            "cluster": _CLUSTERS[sp["cl"].to_numpy()].astype(str),
            "join_date": join_date,
            "exit_date": pd.Series(exit_date, dtype=object),
        }
    )
    return reg.sort_values(["firm_id", "cluster", "join_date"], kind="stable").reset_index(
        drop=True
    )


def _sample_stats(latent: pd.DataFrame, accounts: pd.DataFrame) -> dict[str, Any]:
    """Descriptive calibration figures of the realised sample."""
    last = latent.groupby("firm_id")["year"].max()
    end = int(latent["year"].max())
    firm_years = latent.groupby("year").size()
    exits = (last[last < end]).groupby(last[last < end]).size()
    exit_rate = (exits / firm_years.reindex(exits.index)).mean() if len(exits) else 0.0
    members = latent.loc[latent["treat_year"] > 0, "firm_id"].nunique()
    return {
        "firm_years": len(latent),
        "firms": int(latent["firm_id"].nunique()),
        "members": int(members),
        "exit_rate": float(exit_rate),
        "median_emp": float(np.median(np.exp(latent["ln_emp"]))),
        "share_emp_under_10": float((np.exp(latent["ln_emp"]) < 10).mean()),
        "firms_emp_250_plus": int(latent.loc[latent["ln_emp"] > np.log(250), "firm_id"].nunique()),
    }
