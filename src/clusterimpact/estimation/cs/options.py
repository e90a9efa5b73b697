"""Settings of the Callaway-Sant'Anna estimator: their types, allowed values and old spellings."""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "AGG_TYPES",
    "BASES",
    "CONTROLS",
    "DRAWS",
    "DR_METHODS",
    "ESTS",
    "N_BOOT_DEFAULT",
    "RENAMED",
    "alpha_to_level",
    "AggregationType",
    "Backend",
    "Draws",
    "BasePeriod",
    "ControlGroup",
    "DRMethod",
    "EstMethod",
]

ControlGroup = Literal["never", "notyet"]
EstMethod = Literal["dr", "ipw", "reg"]
DRMethod = Literal["improved", "traditional"]
DR_METHODS = ("improved", "traditional")
BasePeriod = Literal["varying", "universal"]
AggregationType = Literal["simple", "dynamic", "group", "calendar"]
CONTROLS = ("never", "notyet")
ESTS = ("dr", "ipw", "reg")
BASES = ("varying", "universal")
AGG_TYPES = ("simple", "dynamic", "group", "calendar")
Draws = Literal["stream", "firm"]
DRAWS = ("stream", "firm")
Backend = Literal["memory", "dask"]


def alpha_to_level(alpha: float | None, level: float | None) -> float | None:
    """``level`` from the old ``alpha`` (``1 - alpha``); both at once is a ``TypeError``.

    Examples
    --------
    >>> from clusterimpact.estimation.cs.options import alpha_to_level
    >>> alpha_to_level(0.1, None), alpha_to_level(None, None)  # no alpha: nothing to convert
    (0.9, None)
    """
    if level is not None and alpha is not None:
        raise TypeError("pass level only ('alpha' is its old spelling: level = 1 - alpha)")
    return None if alpha is None else 1 - alpha


def _bootstrap_to_n_boot(bootstrap: bool | None, n_boot: int | None) -> int | None:
    """``n_boot`` from the old ``bootstrap=True/False`` (with the old ``n_boot`` if given)."""
    if bootstrap is None:
        return n_boot
    if not bootstrap:
        return 0
    return n_boot if n_boot is not None else N_BOOT_DEFAULT


#: draws of the multiplier bootstrap when the old ``bootstrap=True`` gives no ``n_boot``
N_BOOT_DEFAULT = 999
#: old option spellings (#13): ``alpha`` -> ``level``; ``bootstrap=True`` + ``n_boot`` -> ``n_boot``
RENAMED: dict[str, Any] = {
    "alpha": ("level", alpha_to_level, "level = 1 - alpha"),
    "bootstrap": (
        "n_boot",
        _bootstrap_to_n_boot,
        "n_boot=B draws the multiplier bootstrap, n_boot=0 is analytic",
    ),
}
