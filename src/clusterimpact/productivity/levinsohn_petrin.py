"""Levinsohn & Petrin (2003): intermediate inputs (materials) as the proxy for productivity.

The same two-stage structure as :class:`~clusterimpact.productivity.OlleyPakes`, with the demand for
materials m_it = m(k_it, omega_it), strictly increasing in omega, inverted instead of investment (which
is often zero). The second stage minimises the sum of squared productivity innovations (the moment
E[xi_it k_it] = 0), as in prodest; Levinsohn & Petrin's extra over-identifying moments are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clusterimpact.productivity.olley_pakes import OlleyPakes

__all__ = ["LevinsohnPetrin"]


@dataclass(frozen=True, kw_only=True)
class LevinsohnPetrin(OlleyPakes):
    """Levinsohn & Petrin (2003) production function with a materials proxy.

    Estimand and assumptions as for :class:`OlleyPakes`, with materials demand strictly increasing in
    productivity in place of investment. With value added as output, materials are only a proxy (see
    Ackerberg, Caves & Frazer 2015 for the functional-dependence critique of the labour coefficient).
    Options as in :class:`OlleyPakes`.

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> from clusterimpact.productivity import LevinsohnPetrin
    >>> result = LevinsohnPetrin(seed=1).fit(example_panel())
    >>> sorted(result.elasticities.index)
    ['ln_capital', 'ln_emp']
    >>> result.tfp.columns.tolist()
    ['firm_id', 'year', 'ln_tfp', 'ln_tfp_resid']
    """

    method: ClassVar[str] = "lp"
    proxy: str | None = "ln_materials"
