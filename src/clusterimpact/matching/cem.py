"""Coarsened exact matching (Iacus, King & Porro 2012) and exact matching weights.

Each covariate is coarsened into bins (user cut points, a number of equal-width bins, or Sturges'
rule ceil(log2 n + 1) equal-width bins over its range); units are matched exactly on the bin
combination (plus any exact-matching columns). Strata without both treated and controls are dropped.

Weights (IKP 2012, section 4.2, for the ATT): matched treated get 1; a matched control in stratum s gets
(m_T^s / m_C^s) * (m_C / m_T), m the matched counts overall and in s. Here controls are instead scaled so
their weights add to the number of matched treated (w = m_T^s / m_C^s): the weighted means, and so the
estimates and balance, are identical. ATC swaps the roles; for the ATE every unit in stratum s gets
m^s / m_g^s (its stratum's size over its group's count in it), so both groups represent the matched
sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecError

__all__ = ["coarsen", "sturges_bins", "strata_weights"]


def sturges_bins(n: int) -> int:
    """Sturges' number of bins, ceil(log2(n) + 1).

    Examples
    --------
    >>> from clusterimpact.matching.cem import sturges_bins
    >>> sturges_bins(100), sturges_bins(1000)
    (8, 11)
    """
    return int(np.ceil(np.log2(max(n, 1)) + 1))


def coarsen(
    X: pd.DataFrame, cutpoints: Mapping[str, Any] | None, *, n_used: int | None = None
) -> np.ndarray:
    """Bin codes (n x p integer array) for every covariate of ``X``.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.matching.cem import coarsen
    >>> X = pd.DataFrame({"age": [1.0, 5.0, 9.0, 2.0]})
    >>> coarsen(X, {"age": [0, 4, 8, 12]}).ravel().tolist()
    [1, 2, 3, 1]
    """
    cutpoints = dict(cutpoints or {})
    unknown = [k for k in cutpoints if k not in X.columns]
    if unknown:
        raise SpecError(
            f"cutpoints given for column(s) {', '.join(unknown)} that are not matching covariates "
            f"({', '.join(map(str, X.columns))})"
        )
    nb = sturges_bins(n_used if n_used is not None else len(X))
    out = np.empty(X.shape, dtype=np.int64)
    for j, col in enumerate(X.columns):
        x = X[col].to_numpy(float)
        spec = cutpoints.get(col, "sturges")
        if spec is None:
            out[:, j] = np.unique(x, return_inverse=True)[1]
            continue
        if isinstance(spec, str):
            if spec != "sturges":
                raise SpecError(
                    f"cutpoints[{col!r}]={spec!r}: use an int, a list of cut points or None"
                )
            if len(np.unique(x)) <= nb:
                out[:, j] = np.unique(x, return_inverse=True)[1]
                continue
            spec = nb
        if isinstance(spec, (int, np.integer)):
            if spec < 1:
                raise SpecError(f"cutpoints[{col!r}] must be a positive number of bins")
            lo, hi = np.nanmin(x), np.nanmax(x)
            inner = np.linspace(lo, hi, int(spec) + 1)[1:-1]
        else:
            inner = np.sort(np.asarray(list(spec), float))
        out[:, j] = np.searchsorted(inner, x, side="right")
    return out


def strata_weights(
    strata: np.ndarray, d: np.ndarray, estimand: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Weights per unit, subclass id per unit (-1 = unmatched), and unmatched focal units with reasons.

    ``strata`` is -1 for units excluded beforehand (they get weight 0 and no reason here).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.matching.cem import strata_weights
    >>> strata = np.array([0, 0, 1, 0, 1, 1, 2])
    >>> d = np.array([1, 0, 1, 0, 0, 0, 1])    # stratum 2 has no control
    >>> w, subclass, unmatched = strata_weights(strata, d, "att")
    >>> subclass.tolist(), len(unmatched)
    ([0, 0, 1, 0, 1, 1, -1], 1)
    """
    n = len(d)
    ok = strata >= 0
    s = np.where(ok, strata, 0)
    ns = int(s.max()) + 1 if n else 0
    nt = np.bincount(s[ok & (d == 1)], minlength=ns).astype(float)
    nc = np.bincount(s[ok & (d == 0)], minlength=ns).astype(float)
    good = (nt > 0) & (nc > 0)
    matched = ok & good[s]
    w = np.zeros(n)
    t = matched & (d == 1)
    c = matched & (d == 0)
    if estimand == "att":
        w[t] = 1.0
        w[c] = nt[s[c]] / nc[s[c]]
    elif estimand == "atc":
        w[c] = 1.0
        w[t] = nc[s[t]] / nt[s[t]]
    else:
        tot = nt + nc
        w[t] = tot[s[t]] / nt[s[t]]
        w[c] = tot[s[c]] / nc[s[c]]
    # renumber subclasses 0.. over matched strata
    sub = np.full(n, -1, dtype=np.int64)
    used_strata = np.flatnonzero(good)
    remap = np.full(ns, -1, dtype=np.int64)
    remap[used_strata] = np.arange(len(used_strata))
    sub[matched] = remap[s[matched]]
    reasons: list[tuple[int, str]] = []
    focal_groups = {"att": (1,), "atc": (0,), "ate": (1, 0)}[estimand]
    for g in focal_groups:
        other = "control" if g == 1 else "treated"
        for i in np.flatnonzero(ok & ~matched & (d == g)):
            reasons.append((int(i), f"no_{other}_in_stratum"))
    return w, sub, reasons
