"""Argument names of R's ``did`` and Stata's/Python's ``csdid`` accepted by :func:`att_gt`.

Users who come from ``did::att_gt(yname=, tname=, idname=, gname=, ...)`` or ``csdid`` can keep their
argument names: each unambiguous one is renamed to the clusterimpact name (and, for ``control_group`` and
``est_method``, its values translated). Names whose meaning differs (``xformla`` is an R formula,
``clustervars`` includes the unit, ``panel=FALSE`` switches R to repeated cross-sections) raise a
:class:`SpecError` that says what to pass instead. Nothing is guessed silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from clusterimpact.errors import SpecError

__all__ = ["R_ALIASES", "accept_r_names"]

F = TypeVar("F", bound=Callable[..., Any])

#: R did / csdid argument name -> clusterimpact argument name
R_ALIASES: dict[str, str] = {
    "yname": "outcome",
    "tname": "time",
    "idname": "unit",
    "gname": "cohort",
    "ivar": "unit",  # Stata csdid
    "gvar": "cohort",  # Stata csdid
    "control_group": "control",
    "est_method": "est",
    "weightsname": "weights",
    "bstrap": "bootstrap",
    "biters": "n_boot",
    "allow_unbalanced_panel": "allow_unbalanced",
    "alp": "alpha",
}

#: value translations for renamed arguments (R spelling -> clusterimpact spelling)
_VALUES: dict[str, dict[str, str]] = {
    "control": {"nevertreated": "never", "notyettreated": "notyet"},
    "est": {"dr": "dr", "ipw": "ipw", "reg": "reg", "dripw": "dr", "stdipw": "ipw"},
}

#: names that look like aliases but are not one-to-one: the message says what to pass instead
_REFUSED: dict[str, str] = {
    "xformla": "pass covariates=['x1', 'x2'] (column names, not a formula)",
    "clustervars": "pass cluster='column' (one column; the unit is the default cluster)",
    "data_panel": "clusterimpact's att_gt needs panel data (panel=True)",
    "cband": "uniform bands come with the bootstrap, n_boot > 0 (band at `level`)",
}


def _rename(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(kwargs)
    for r_name, ours in R_ALIASES.items():
        if r_name not in out:
            continue
        if ours in out:
            raise SpecError(
                f"att_gt: both {r_name!r} (R did / csdid name) and {ours!r} were given; pass {ours!r} only"
            )
        value = out.pop(r_name)
        if ours in _VALUES and isinstance(value, str):
            value = _VALUES[ours].get(value, value)
        out[ours] = value
    for r_name, hint in _REFUSED.items():
        if r_name in out:
            raise SpecError(f"att_gt: {r_name!r} (R did) has no one-to-one equivalent: {hint}")
    return out


def accept_r_names(func: F) -> F:
    """Decorate an estimator so that R did / csdid keyword names are renamed before the call."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **_rename(kwargs))

    return wrapper  # type: ignore[return-value]
