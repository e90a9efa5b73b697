"""The imputation estimator's statistics split by firm: the one computation behind both back ends.

Every firm lies in one *block* (the whole frame in memory, one partition on Dask), so everything indexed
by firm is block-local; what crosses firms (the year effects, the term and group totals, the year part
of the untreated weights) is a small additive sum over blocks. The estimator runs in four steps, each a
function here that both back ends call:

(a) per block, :func:`term_sums`: given the year effects ``delta`` (solved from the absorber's summed
    secondary system), each firm's effect ``alpha_i`` (its untreated mean of ``y - delta_t``), the
    effects ``tau_it`` of its identified treated firm-years, and the additive sums of every aggregation
    term (weights, counts, weighted ``tau``), of every averaging group (``tau~``) and the year x term
    weight totals ``S`` and ``C' diag(1/n_i) R`` of the untreated weights ``v_0``;
(b) the sums are added over blocks (:func:`add_sums`);
(c) :func:`finalize_terms` on the client: the estimates, the group means and the year part ``D`` of
    ``v_0`` (the absorber's ``T x T`` solve with the terms as right-hand sides);
(d) per block again, :func:`firm_scores`: each firm's BJS influence sums ``U_i`` (treated part
    ``w_it (tau_it - tau~_it)`` plus untreated part ``-sum_t e_it D_t``), whose cross-product summed over
    blocks is the covariance.

Rows are passed as a :class:`Block` with firm codes local to the block and *global* year codes, so a
block's numbers do not depend on the other blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clusterimpact.errors import EstimationError
from clusterimpact.estimation.fe._demean import factorize

__all__ = [
    "Block",
    "Terms",
    "add_sums",
    "finalize_terms",
    "firm_effects",
    "firm_scores",
    "single_group_note",
    "taus",
    "term_sums",
]


@dataclass(frozen=True)
class Block:
    """The rows of whole firms (one partition, or the whole frame).

    Attributes
    ----------
    y
        Outcome.
    unit
        Firm codes ``0..n_units-1`` local to the block.
    n_units
        Firms in the block.
    t0
        Year code among the years with untreated firm-years (global, ``0..T0-1``; -1 for a year with
        none).
    T0
        Years with untreated firm-years (in the whole panel).
    untreated
        Rows of the untreated-outcome model.
    target
        Treated rows with a valid weight (the estimands' firm-years).
    w
        Aggregation weights (1 without ``weights``).
    """

    y: np.ndarray
    unit: np.ndarray
    n_units: int
    t0: np.ndarray
    T0: int
    untreated: np.ndarray
    target: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class Terms:
    """One aggregation's finalized totals (step c): estimates, term weight totals, group totals and the
    year part ``D`` (``T0 x K``) of the untreated weights."""

    est: np.ndarray
    wsum: np.ndarray
    counts: np.ndarray
    gw: np.ndarray
    gwt: np.ndarray
    D: np.ndarray


def firm_effects(b: Block, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each firm's effect (its untreated mean of ``y - delta_t``) and whether it has untreated rows."""
    u = b.unit[b.untreated]
    r = b.y[b.untreated]
    if delta.size:
        r = r - delta[b.t0[b.untreated]]
    n0 = np.bincount(u, minlength=b.n_units)
    has0 = n0 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(has0, np.bincount(u, weights=r, minlength=b.n_units) / n0, np.nan)
    return alpha, has0


def taus(b: Block, alpha: np.ndarray, has0: np.ndarray, delta: np.ndarray) -> dict[str, Any]:
    """``tau_it = y - alpha_i - delta_t`` on the identified target rows (NaN elsewhere), the untreated
    residuals ``e_it`` (NaN on other rows) and the counts of unidentified target rows."""
    dt = delta[b.t0] if delta.size else np.zeros(len(b.y))
    fit = alpha[b.unit] + np.where(b.t0 >= 0, dt, np.nan)
    no_u = b.target & ~has0[b.unit]
    no_t = b.target & has0[b.unit] & (b.t0 < 0)
    ident = b.target & has0[b.unit] & (b.t0 >= 0)
    tau = np.where(ident, b.y - fit, np.nan)
    resid = np.where(b.untreated, b.y - fit, np.nan)
    return {
        "tau": tau,
        "ident": ident,
        "resid": resid,
        "no_untreated_year_for_firm": int(no_u.sum()),
        "no_untreated_firm_in_year": int(no_t.sum()),
    }


def term_sums(
    b: Block,
    tau: np.ndarray,
    ident: np.ndarray,
    term: np.ndarray,
    K: int,
    group: np.ndarray,
    G: int,
) -> dict[str, np.ndarray]:
    """Step (a): additive sums of ``K`` aggregation terms over one block.

    ``term`` (row -> ``0..K-1``, -1 = none) selects the target rows of each term and ``group`` (row ->
    ``0..G-1``, global codes nested in the terms) their ``tau~`` averaging groups. Raw weights are
    summed; normalising by the term totals happens in :func:`finalize_terms` and :func:`firm_scores`.
    """
    sel = ident & (term >= 0)
    k, wi, ta, gc = term[sel], b.w[sel], tau[sel], group[sel]
    units = b.unit[sel]
    R = np.bincount(units * K + k, weights=wi, minlength=b.n_units * K).reshape(b.n_units, K)
    S = np.bincount(b.t0[sel] * K + k, weights=wi, minlength=b.T0 * K).reshape(b.T0, K)
    # C' diag(1/n_i) R: each firm's term weights spread over its untreated years, divided by their count
    has_r = np.asarray(R.any(axis=1), dtype=bool)
    rows = b.untreated & has_r[b.unit]
    u0, t0 = b.unit[rows], b.t0[rows]
    n0 = np.bincount(b.unit[b.untreated], minlength=b.n_units)
    Rn = R[u0] / n0[u0, None]
    CR = np.zeros((b.T0, K))
    for j in range(K):
        CR[:, j] = np.bincount(t0, weights=Rn[:, j], minlength=b.T0)
    return {
        "wsum": np.bincount(k, weights=wi, minlength=K),
        "counts": np.bincount(k, minlength=K).astype(np.int64),
        "wtau": np.bincount(k, weights=wi * ta, minlength=K),
        "gw": np.bincount(gc, weights=wi, minlength=G),
        "gwt": np.bincount(gc, weights=wi * ta, minlength=G),
        "S": S,
        "CR": CR,
    }


def add_sums(a: Any, b: Any) -> Any:
    """Step (b): the sum of two blocks' statistics (arrays and numbers; key by key for dicts, item by
    item for tuples and lists)."""
    if isinstance(a, dict):
        return {k: add_sums(a[k], b[k]) for k in a}
    if isinstance(a, (tuple, list)):
        return type(a)(add_sums(x, y) for x, y in zip(a, b, strict=True))
    return a + b


def finalize_terms(
    sums: dict[str, np.ndarray], solve: Callable[[np.ndarray], np.ndarray] | None
) -> Terms:
    """Step (c): estimates ``sum w tau / sum w`` and the year part ``D`` of the untreated weights,
    ``A D = (S - C' diag(1/n_i) R) / w_k`` (``solve`` the absorber's secondary solve; None when the
    year effects are absorbed by the firm effects, and then ``D`` is empty)."""
    wsum = sums["wsum"]
    if np.any(wsum <= 0):
        raise EstimationError("an aggregation term has no identified treated firm-years")
    rhs = (sums["S"] - sums["CR"]) / wsum[None, :]
    D = np.zeros((0, len(wsum))) if solve is None else solve(rhs)
    return Terms(
        est=sums["wtau"] / wsum,
        wsum=wsum,
        counts=sums["counts"],
        gw=sums["gw"],
        gwt=sums["gwt"],
        D=np.asarray(D).reshape(-1, len(wsum)),
    )


def firm_scores(
    b: Block,
    tau: np.ndarray,
    ident: np.ndarray,
    resid: np.ndarray,
    term: np.ndarray,
    group: np.ndarray,
    fin: Terms,
    leave_out: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Step (d): each firm's BJS influence sums ``U`` (``n_units x K``) and a per-group count of rows
    whose leave-out average fell back to the plain group mean (a group with a single firm)."""
    K = len(fin.est)
    sel = ident & (term >= 0)
    k, ta, gc, units = term[sel], tau[sel], group[sel], b.unit[sel]
    wn = b.w[sel] / fin.wsum[k]
    gw, gwt = fin.gw[gc], fin.gwt[gc]
    single = np.zeros(len(fin.gw), dtype=np.int64)
    if leave_out:
        ug, UG = factorize(gc.astype(np.int64) * b.n_units + units)
        wraw = b.w[sel]
        den = gw - np.bincount(ug, weights=wraw, minlength=UG)[ug]
        num = gwt - np.bincount(ug, weights=wraw * ta, minlength=UG)[ug]
        lone = den <= 1e-14 * np.maximum(gw, 1e-300)
        single = np.bincount(gc[lone], minlength=len(fin.gw))
        tau_tilde = np.where(lone, gwt / gw, num / np.where(lone, 1.0, den))
    else:
        tau_tilde = gwt / gw
    U = np.bincount(units * K + k, weights=wn * (ta - tau_tilde), minlength=b.n_units * K).reshape(
        b.n_units, K
    )
    if fin.D.shape[0]:
        # untreated part -sum_t e_it D_t (the firm part of v_0 drops out: e sums to 0 within firms)
        m = b.untreated
        E = np.bincount(
            b.unit[m] * b.T0 + b.t0[m], weights=resid[m], minlength=b.n_units * b.T0
        ).reshape(b.n_units, b.T0)
        U -= E @ fin.D
    return U, single


def single_group_note(single: np.ndarray) -> str | None:
    """The warning for averaging groups of a single firm (from the summed counts of
    :func:`firm_scores`), or None."""
    n_groups = int((np.asarray(single) > 0).sum())
    if not n_groups:
        return None
    return (
        f"{n_groups} averaging group(s) hold a single firm: their leave-out average falls "
        "back to the plain group mean (variance may be understated there)"
    )


def code_rows(values: np.ndarray, universe: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Codes of ``values`` in the sorted ``universe`` on ``mask`` rows, -1 elsewhere (and where a value
    is not in the universe)."""
    out = np.full(len(values), -1, dtype=np.int64)
    if not len(universe):
        return out
    v = values[mask]
    pos = np.clip(np.searchsorted(universe, v), 0, len(universe) - 1)
    hit = universe[pos] == v
    out[np.flatnonzero(mask)[hit]] = pos[hit]
    return out


def cross_product(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """``[A B ...]' [A B ...]`` of firm-row score blocks placed side by side."""
    M = np.hstack(list(blocks)) if len(blocks) > 1 else blocks[0]
    return np.einsum("gi,gj->ij", M, M)
