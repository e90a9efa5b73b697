"""Wild cluster bootstrap of one coefficient of a fixed-effects regression (the front door; the
bootstrap itself is :func:`clusterimpact.estimation.inference.wild_cluster_bootstrap`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from clusterimpact._renamed import renamed_kwargs
from clusterimpact._validation import as_frame, require_columns
from clusterimpact.errors import EstimationError, SpecError
from clusterimpact.estimation import inference as inf
from clusterimpact.estimation.fe._collinear import select_regressors
from clusterimpact.estimation.fe._demean import Absorber
from clusterimpact.estimation.fe._fast import _select
from clusterimpact.estimation.fe._sample import _prepare, _Prepared, _total_ss
from clusterimpact.estimation.fe.vcov import _df_k, _nested_in, _no_df_note
from clusterimpact.estimation.wildboot import WildBootstrapResult, wild_cluster_bootstrap
from clusterimpact.formula.design import build_design

__all__ = ["MAX_BOOT_DUMMIES", "wild_bootstrap"]

# most levels of fixed effects not nested in the cluster, entered as explicit dummies
MAX_BOOT_DUMMIES = 400


@renamed_kwargs(B="n_boot")
def wild_bootstrap(
    formula: str,
    data: Any,
    term: str,
    *,
    cluster: str,
    null: float = 0.0,
    n_boot: int = 9999,
    weights: inf.BootWeights = "rademacher",
    restricted: bool = True,
    level: float = 0.95,
    seed: int | np.random.Generator | None = None,
) -> WildBootstrapResult:
    """Wild cluster bootstrap test and CI for one coefficient of a fixed-effects regression.

    Fixed effects nested in the cluster variable (the firm effect with firm clusters) are projected out
    first; every other fixed effect (years, with firm clusters) enters the bootstrap as explicit dummies.
    Projecting those out too would not be the same bootstrap: a bootstrap error ``u~ v_g`` is not
    orthogonal to an effect that cuts across clusters, so each draw's residuals and standard error would
    differ from the regression with dummies (Roodman et al. 2019, section 3.2), which is what this
    function, boottest, fwildclusterboot and pyfixest's ``wildboottest`` compute. Non-nested effects
    with more than :data:`MAX_BOOT_DUMMIES` levels in total raise an :class:`EstimationError`. Plain-column
    formulas only. See :func:`clusterimpact.estimation.wildboot.wild_cluster_bootstrap` for the
    algorithm and options (``n_boot`` draws, formerly ``B``); the reported standard error is the CRV1
    one of :func:`feols`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> wb = ci.wild_bootstrap("ln_lp ~ member | firm_id + year", example_panel(), "member",
    ...                        cluster="firm_id", n_boot=199, seed=1)
    >>> lo, hi = wb.bootstrap_interval  # the bootstrap-t interval (test inversion)
    >>> bool(0 <= wb.p_value <= 1), bool(lo < wb.params["member"] < hi)
    (True, True)
    """
    df = as_frame(data)
    f, df = build_design(formula, df)
    require_columns(df, [cluster], what="cluster")
    if f.iv is not None:
        raise SpecError("wild_bootstrap does not support instrumental variables")
    p = _prepare(f, df, [cluster], None, None, True)
    if term not in p.names:
        raise SpecError(f"term {term!r} is not a regressor of '{formula}'; choose one of {p.names}")
    Xd = p.absorber.demean(p.X) if p.absorber else p.X
    _select(p, Xd, f, "raise")  # absorbed or collinear regressors are an error here
    Zd, yd = _bootstrap_design(p, f.fixed_effects, cluster)
    df_k = _df_k(p, p.X.shape[1], "cluster")
    if p.nobs - df_k <= 0:
        raise EstimationError(f"wild_bootstrap: {_no_df_note(p.nobs, df_k)}")
    return wild_cluster_bootstrap(
        Zd,
        yd,
        p.cluster_codes[0],
        p.names.index(term),
        term=term,
        null=null,
        n_boot=n_boot,
        weights=weights,
        restricted=restricted,
        level=level,
        seed=seed,
        df_k=df_k,
    )


def _bootstrap_design(
    p: _Prepared, fixed_effects: tuple[str, ...], cluster: str
) -> tuple[np.ndarray, np.ndarray]:
    """Regressors and outcome of the bootstrap: effects nested in the cluster projected out, the others
    as explicit dummies (redundant ones dropped) after the regressors."""
    cl = p.cluster_codes[0]
    nested = [c for c in p.fe_codes if _nested_in(c, cl)]
    crossed = [
        (fe, c) for fe, c in zip(fixed_effects, p.fe_codes, strict=True) if not _nested_in(c, cl)
    ]
    n_dum = sum(int(c.max()) + 1 for _, c in crossed)
    if n_dum > MAX_BOOT_DUMMIES:
        raise EstimationError(
            f"wild_bootstrap: the fixed effects not nested in the cluster '{cluster}' "
            f"({', '.join(fe for fe, _ in crossed)}) have {n_dum} levels; the bootstrap needs them as "
            f"explicit dummies (at most {MAX_BOOT_DUMMIES}). Cluster on a variable they nest in."
        )
    Z = p.X
    if crossed:
        dum = np.zeros((p.nobs, n_dum))
        off = 0
        for _, c in crossed:
            dum[np.arange(p.nobs), off + c] = 1.0
            off += int(c.max()) + 1
        Z = np.column_stack(
            [dum, p.X]
        )  # dummies first: redundant ones are dropped, never a regressor
    absorber = Absorber(nested) if nested else None
    Zd = absorber.demean(Z) if absorber else Z
    yd = absorber.demean(p.y) if absorber else p.y
    if crossed:
        total = _total_ss(Z, ["d"] * n_dum + p.names, None, centre=bool(nested))
        sel = select_regressors(np.einsum("ij,ik->jk", Zd, Zd), total)
        dkeep = [j for j in sel.keep if j < n_dum]
        Zd = np.column_stack([Zd[:, n_dum:], Zd[:, dkeep]])  # regressors first, then dummies kept
    return Zd, yd
