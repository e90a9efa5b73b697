"""Small ready-made data sets for examples, docstrings and quick experiments.

Each is a simulated panel with known truth (:func:`clusterimpact.simulate`), small enough to build in
well under a second and cached, so the docstring examples of every public function can share one. Every
call returns a fresh copy: changing what you get never changes what the next call returns.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from clusterimpact.panel import FirmPanel
    from clusterimpact.synthetic import Scenario, SyntheticData

__all__ = ["example_data", "example_firm_panel", "example_panel"]


@lru_cache(maxsize=8)
def _data(scenario: str, seed: int, n_firms: int) -> SyntheticData:
    from clusterimpact.synthetic import simulate

    return simulate(scenario=scenario, seed=seed, n_firms=n_firms)  # type: ignore[arg-type]


@lru_cache(maxsize=8)
def _firm_panel(scenario: str, seed: int, n_firms: int) -> FirmPanel:
    return _data(scenario, seed, n_firms).panel()


def example_data(
    scenario: Scenario = "ecoom", *, seed: int = 0, n_firms: int = 300
) -> SyntheticData:
    """A small simulated data set: accounts, registry, deflators and the truth.

    Parameters
    ----------
    scenario
        Scenario of :func:`clusterimpact.simulate` (``"ecoom"``, ``"null"``, ``"declining"``, ...).
    seed
        Seed of the simulation.
    n_firms
        Number of firms (300 by default: about 3,000 firm-years, 50 members).

    Returns
    -------
    SyntheticData
        A deep copy of the cached ``simulate(scenario, seed=seed, n_firms=n_firms)``.

    Examples
    --------
    >>> from clusterimpact.datasets import example_data
    >>> sim = example_data()
    >>> sorted(sim.accounts.columns)[:4]
    ['capital', 'emp', 'firm_id', 'founded']
    >>> sim.truth["scenario"], sim.truth["n_firms"]
    ('ecoom', 300)
    """
    return copy.deepcopy(_data(scenario, seed, n_firms))


def example_firm_panel(
    scenario: Scenario = "ecoom", *, seed: int = 0, n_firms: int = 300
) -> FirmPanel:
    """The validated :class:`~clusterimpact.panel.FirmPanel` of :func:`example_data`.

    Parameters
    ----------
    scenario, seed, n_firms
        As for :func:`example_data`.

    Returns
    -------
    FirmPanel
        A deep copy of the cached ``example_data(...).panel()``: data, exclusion log and registry.

    Examples
    --------
    >>> from clusterimpact.datasets import example_firm_panel
    >>> panel = example_firm_panel()
    >>> panel.data[["firm_id", "year", "ln_lp", "treat_year"]].shape[1]
    4
    """
    return copy.deepcopy(_firm_panel(scenario, seed, n_firms))


def example_panel(
    scenario: Scenario = "ecoom", *, seed: int = 0, n_firms: int = 300
) -> pd.DataFrame:
    """The firm-year panel of :func:`example_data` as a DataFrame (``FirmPanel.data``).

    One row per firm and year with the derived columns every estimator uses: ``ln_va``, ``ln_emp``,
    ``ln_capital``, ``ln_materials``, ``ln_lp``, ``treat_year``, ``rel_year``, ``member``,
    ``member_years`` (see :mod:`clusterimpact.panel`).

    Parameters
    ----------
    scenario, seed, n_firms
        As for :func:`example_data`.

    Returns
    -------
    pandas.DataFrame
        A copy of the cached panel.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> df = example_panel()
    >>> df[["firm_id", "year"]].duplicated().any()
    np.False_
    >>> int(df["treat_year"].notna().groupby(df["firm_id"]).first().sum()) > 0
    True
    """
    return _firm_panel(scenario, seed, n_firms).data.copy()
