"""ACF on the Dask back end: the GMM criterion at each trial theta as map-reduce over partitions.

The choice (issue #16 lets OP/LP/ACF "iterate map-reduce over partitions"): the first stage, the
instruments' cross-product and the OLS start values are sums over partitions (one pass each); the
rows the second stage needs (for firm-years with an observed previous year: the production terms at t
and t-1, phi at t and t-1, the instruments) are computed once per partition and persisted on the
workers; then every evaluation of the criterion and its exact gradient by the optimiser is two
map-reduce passes over them (the mean and spread of omega_{t-1}, then the small statistics of
:func:`lom_stats`), finished on the client by :func:`lom_finalize`. The optimiser (scipy, the same
starts, tolerances and choice among optima as in memory, :func:`~._stages.multistart`) runs on the
client. The in-memory path keeps its own route for speed (:class:`~._stages.LawOfMotion` with
buffers); ``tests/dask`` checks that :func:`lom_finalize` gives its criterion and gradient.

Not on Dask: the coarse firm subsample that the in-memory path searches first on panels of more than
``2 * COARSE_ROWS`` second-stage rows (every start runs on all rows here), and the bootstrap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError
from clusterimpact.productivity._base import Point, parse_start, random_starts
from clusterimpact.productivity._poly import (
    poly_derivative,
    poly_exponents,
    poly_matrix,
    round_bits,
)
from clusterimpact.productivity._prep import Arrays
from clusterimpact.productivity._runner import RowRule, add_stats, moments
from clusterimpact.productivity._stages import gram_solver, multistart, ols_from_cross

if TYPE_CHECKING:
    from clusterimpact.productivity._dask import DaskRunner
    from clusterimpact.productivity.acf import ACF

__all__ = ["acf_dask", "lom_finalize", "lom_stats"]


def lom_stats(
    Xc: np.ndarray,
    Xl: np.ndarray,
    phic: np.ndarray,
    phil: np.ndarray,
    Z: np.ndarray,
    theta: np.ndarray,
    c: float,
    s: float,
    order: int,
) -> dict[str, Any]:
    """Additive statistics of the law of motion at ``theta`` (rows: firm-years with a lag).

    With ``u = (phil - Xl theta - c) / s``, ``G`` its powers 0..order and ``dG`` their derivatives,
    ``T = phic - Xc theta`` and ``L = [G, Z]``: every cross-product that the innovation r = T - G gamma,
    its moments Z'r and their exact derivative need, with the unknown ``gamma`` factored out (tensors
    over the columns of ``G``), so they add over partitions.
    """
    u = (phil - Xl @ theta - c) / s
    n = u.size
    q = order + 1
    G = np.empty((n, q))
    dG = np.zeros((n, q))
    G[:, 0] = 1.0
    for k in range(1, q):
        G[:, k] = G[:, k - 1] * u
        dG[:, k] = k * G[:, k - 1]
    T = phic - Xc @ theta
    L = np.column_stack([G, Z])
    return {
        "LG": L.T @ G,
        "LT": L.T @ T,
        "LXc": L.T @ Xc,
        "LdGXl": np.stack([L.T @ (Xl * dG[:, k : k + 1]) for k in range(q)]),
        "dGTXl": dG.T @ (Xl * T[:, None]),
        "dGGXl": np.stack([dG.T @ (Xl * G[:, m : m + 1]) for m in range(q)]),
    }


def lom_finalize(
    st: dict[str, Any], W: np.ndarray, n: int, s: float, q: int
) -> tuple[float, np.ndarray]:
    """The criterion ``m' W m / n`` (``m = Z'r``) and its gradient from :func:`lom_stats` summed."""
    GG, GT = st["LG"][:q], st["LT"][:q]
    solve = gram_solver(GG)
    gamma = solve(GT)
    LhXl = np.tensordot(gamma, st["LdGXl"], axes=1)  # L'(h Xl), h = dG gamma
    dG_eXl = st["dGTXl"] - np.tensordot(gamma, st["dGGXl"], axes=1)  # dG'(r Xl)
    G_Xc, P_Xc = st["LXc"][:q], st["LXc"][q:]
    P_G = st["LG"][q:]
    m = st["LT"][q:] - P_G @ gamma
    rhs = -dG_eXl / s - G_Xc + LhXl[:q] / s
    dgamma = solve(rhs)
    P_dr = -P_Xc + LhXl[q:] / s - P_G @ dgamma
    Wm = W @ m
    return float(m @ Wm) / n, 2.0 * (P_dr.T @ Wm) / n


# -- per-partition passes ----------------------------------------------------------------------------
def _inputs(arr: Arrays, value_added: bool) -> np.ndarray:
    assert arr.P is not None
    return np.column_stack([arr.F, arr.K] + ([] if value_added else [arr.P]))


def _fs_design(arr: Arrays, mu: np.ndarray, sd: np.ndarray, order: int) -> np.ndarray:
    """The first stage's regressors: 1, controls, a polynomial in the standardised inputs and proxy."""
    assert arr.P is not None
    pv = np.column_stack([arr.F, arr.K, arr.P])
    exps = poly_exponents(pv.shape[1], order)
    return np.column_stack([np.ones(arr.n), arr.C, poly_matrix((pv - mu) / sd, exps)])


def _fs_cross(arr: Arrays, cache: dict[str, Any], mu: Any, sd: Any, order: int) -> dict[str, Any]:
    D = _fs_design(arr, mu, sd, order)
    return {"DD": D.T @ D, "Dy": D.T @ arr.y}


def _fs_ss(arr: Arrays, cache: dict[str, Any], fs: tuple[Any, ...], ybar: float) -> dict[str, Any]:
    e = arr.y - _fs_design(arr, *fs[:3]) @ fs[3]
    d = arr.y - ybar
    return {"rss": float(e @ e), "tss": float(d @ d)}


def _phi(arr: Arrays, fs: tuple[Any, ...]) -> np.ndarray:
    """phi-hat: the first stage's fitted value minus the controls' part."""
    mu, sd, order, b = fs
    q = arr.C.shape[1]
    return np.asarray(_fs_design(arr, mu, sd, order) @ b - arr.C @ b[1 : 1 + q])


def _instruments(arr: Arrays, exps: list[Any], value_added: bool, overid: bool) -> np.ndarray:
    """Free inputs (and the proxy) lagged, state inputs current; with overid the lagged state."""
    assert arr.P is not None
    cur, lag = arr.cur, arr.lag
    inst = np.column_stack(
        [arr.F[lag], arr.K[cur]] + ([] if value_added else [arr.P[lag][:, None]])
    )
    Z = poly_matrix(inst, exps)
    return np.column_stack([Z, arr.K[lag]]) if overid else Z


def _z_sum(arr: Arrays, cache: dict[str, Any], exps: Any, va: bool, overid: bool) -> dict[str, Any]:
    return {"n": int(arr.cur.size), "sum": _instruments(arr, exps, va, overid).sum(axis=0)}


def _start_cross(arr: Arrays, cache: dict[str, Any], exps: Any, va: bool) -> dict[str, Any]:
    D = np.column_stack([np.ones(arr.n), poly_matrix(_inputs(arr, va), exps), arr.C])
    return {"DD": D.T @ D, "Dy": D.T @ arr.y}


def _lom_rows(part: pd.DataFrame, shape: Any, spec: tuple[Any, ...]) -> pd.DataFrame:
    """One partition's second-stage rows: X at t and t-1, phi at t and t-1, the instruments."""
    from clusterimpact.productivity._dask import _arrays

    fs, exps, va, overid, zmean = spec
    arr = _arrays(part, shape)
    p, z = len(exps), zmean.size
    if arr.n == 0 or arr.cur.size == 0:
        cols = [f"xc{j}" for j in range(p)] + [f"xl{j}" for j in range(p)]
        cols += ["phic", "phil", *[f"z{j}" for j in range(z)]]
        return pd.DataFrame({"unit": np.zeros(0, dtype=np.int64)} | {c: np.zeros(0) for c in cols})
    X = poly_matrix(_inputs(arr, va), exps)
    phi = _phi(arr, fs)
    Z = _instruments(arr, exps, va, overid) - zmean
    cur, lag = arr.cur, arr.lag
    out: dict[str, Any] = {"unit": arr.unit[cur]}
    out |= {f"xc{j}": X[cur, j] for j in range(p)} | {f"xl{j}": X[lag, j] for j in range(p)}
    out |= {"phic": phi[cur], "phil": phi[lag]} | {f"z{j}": Z[:, j] for j in range(z)}
    return pd.DataFrame(out)


def _split(part: pd.DataFrame, p: int, z: int) -> tuple[np.ndarray, ...]:
    v = part.to_numpy(dtype=float)[:, 1:]  # without the firm column
    return v[:, :p], v[:, p : 2 * p], v[:, 2 * p], v[:, 2 * p + 1], v[:, 2 * p + 2 :]


def _u_sums(part: pd.DataFrame, p: int, z: int, theta: np.ndarray) -> Any:
    if len(part) == 0:
        return None
    _, Xl, _, phil, _ = _split(part, p, z)
    u = phil - Xl @ theta
    return {"n": u.size, "su": float(u.sum()), "suu": float(u @ u)}


def _zz(part: pd.DataFrame, p: int, z: int) -> Any:
    if len(part) == 0:
        return None
    Z = _split(part, p, z)[4]
    return Z.T @ Z


def _lom_part(
    part: pd.DataFrame, p: int, z: int, theta: np.ndarray, c: float, s: float, order: int
) -> Any:
    if len(part) == 0:
        return None
    Xc, Xl, phic, phil, Z = _split(part, p, z)
    out = lom_stats(Xc, Xl, phic, phil, Z, theta, c, s, order)
    u = phil - Xl @ theta  # omega_{t-1} (up to phi's constant): the next evaluation's centre, scale
    return out | {"su": float(u.sum()), "suu": float(u @ u)}


def _el_sums(arr: Arrays, cache: dict[str, Any], exps: Any, va: bool, theta: Any) -> np.ndarray:
    x = _inputs(arr, va)
    return np.array([(poly_derivative(x, exps, j) @ theta).sum() for j in range(x.shape[1])])


def _acf_rows(arr: Arrays, cache: dict[str, Any], fs: Any, exps: Any, va: bool, theta: Any) -> Any:
    X = poly_matrix(_inputs(arr, va), exps)
    omega = _phi(arr, fs) - X @ theta
    q = arr.C.shape[1]
    return omega, arr.y - arr.C @ fs[3][1 : 1 + q] - X @ theta


# -- the estimator ----------------------------------------------------------------------------------
def _criterion(lom: Any, p: int, z: int, W: np.ndarray, n: int, order: int) -> Any:
    """The criterion and gradient at theta: one map-reduce pass over the persisted rows per
    evaluation (plus one for the first). omega_{t-1} enters g through a polynomial with a constant,
    whose span, and so the innovation and its derivative, does not depend on the centre and scale
    the powers are taken at; they are therefore those of the previous evaluation's omega_{t-1},
    which keeps the powers well conditioned without a pass of their own."""
    scale: dict[str, float] = {}

    def update(sums: dict[str, Any]) -> None:
        c = sums["su"] / n
        s = float(np.sqrt(max(sums["suu"] / n - c * c, 0.0)))
        scale["c"], scale["s"] = c, (s if s > 1e-12 * max(abs(c), 1.0) else 1.0)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if not scale:
            update(lom.map_reduce(_u_sums, p, z, theta, combine=add_stats))
        c, s = scale["c"], scale["s"]
        st = lom.map_reduce(_lom_part, p, z, theta, c, s, order, combine=add_stats)
        out = lom_finalize(st, W, n, s, order + 1)
        if np.all(np.isfinite(theta)):
            update(st)
        return out

    return fun


def acf_dask(est: ACF, runner: DaskRunner) -> Point:
    """ACF's point estimate on firm partitions (see the module docstring)."""
    from clusterimpact.dask import FirmPartitions, hold

    s = est._settings()
    va = est.value_added
    exps, terms = est._terms()
    overid = s["instruments"] == "overid"
    mo = moments(runner)
    kp = np.r_[np.arange(1, 1 + len(est.free) + len(est.state)), mo.mean.size - 1]
    mu, sd = round_bits(mo.mean[kp]), round_bits(np.where(mo.sd[kp] > 0, mo.sd[kp], 1.0))
    fsx = runner.reduce(_fs_cross, mu, sd, s["poly_order"])
    b = ols_from_cross(fsx["DD"], fsx["Dy"])
    if b is None:
        raise EstimationError("acf: the first stage is ill-conditioned (collinear inputs or proxy)")
    fs = (mu, sd, s["poly_order"], b)
    ss = runner.reduce(_fs_ss, fs, float(mo.mean[0]))
    zs = runner.reduce(_z_sum, exps, va, overid)
    zmean = zs["sum"] / zs["n"] if overid else np.zeros(zs["sum"].size)
    p, z, ncur = len(exps), zs["sum"].size, int(zs["n"])
    meta = _lom_rows(runner.clean.frame._meta, runner.shape, (fs, exps, va, overid, zmean))
    frame = runner.clean.frame.map_partitions(
        _lom_rows, runner.shape, (fs, exps, va, overid, zmean), meta=meta
    )
    lom = hold(FirmPartitions(frame, "unit", whole_firms=True))
    ZZ = lom.map_reduce(_zz, p, z, combine=add_stats)
    try:
        W = np.linalg.inv(ZZ)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            "acf: the instruments (lagged free inputs, current state inputs) are collinear"
        ) from exc
    fun = _criterion(lom, p, z, W, ncur, s["lom_order"])
    user = parse_start(est.start, terms, est.method)
    if user is None:
        if est.compat == "prodest":
            user = np.array([0.5 if sum(e) == 1 else 0.0 for e in exps])
        else:
            sx = runner.reduce(_start_cross, exps, va)
            user = ols_from_cross(sx["DD"], sx["Dy"])
            if user is None:
                raise EstimationError("acf: the OLS start values are ill-conditioned")
            user = user[1 : 1 + p]
    starts = random_starts(
        user, s["n_starts"], est.seed, first_order=np.array([sum(e) == 1 for e in exps])
    )
    theta, table, msgs = multistart(
        fun, starts, optimizer=est.optimizer, names=terms, start_tol=est.start_tol, polish=True
    )
    el = runner.reduce(_el_sums, exps, va, theta) / mo.n
    chosen = table.loc[table["chosen"]].iloc[0]
    if not bool(chosen["converged"]):
        msgs.append(f"the optimiser did not report convergence: {chosen['status']}")
    q = len(est.controls)
    return Point(
        params=np.r_[theta, b[1 : 1 + q]],
        names=[*terms, *est.controls],
        elasticities=el,
        el_names=est._inputs(),
        ln_tfp=np.zeros(0),
        ln_tfp_resid=np.zeros(0),
        tfp_rule=RowRule(_acf_rows, (fs, exps, va, theta)),
        theta=theta,
        nobs=mo.n,
        diagnostics={
            "first_stage_r2": 1.0 - ss["rss"] / ss["tss"] if ss["tss"] > 0 else float("nan"),
            "first_stage_terms": int(b.size),
            "criterion": float(chosen["criterion"]),
            "converged": bool(chosen["converged"]),
            "optimizer_status": str(chosen["status"]),
            "nobs_second_stage": ncur,
            "n_starts": len(starts),
            "function": est.function,
            "value_added": est.value_added,
            **s,
        },
        starts=table,
        messages=msgs,
        exclusions={"no_previous_year_second_stage": int(mo.n - ncur)},
    )
