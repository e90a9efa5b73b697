"""The estimation sample of a matching run: validated columns, recorded drops, covariate matrix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact._validation import require_columns, require_numeric
from clusterimpact.errors import DataError, SpecError

__all__ = ["Prepared", "prepare"]


@dataclass
class Prepared:
    """Estimation rows and their arrays (positions 0..n-1 refer to ``frame`` rows)."""

    frame: pd.DataFrame
    X: pd.DataFrame
    d: np.ndarray
    y: np.ndarray | None
    cells: np.ndarray | None
    dropped: list[tuple[Any, str, int | None]] = field(default_factory=list)  # (label, reason, d)


def prepare(
    df: pd.DataFrame,
    treatment: str,
    covariates: Sequence[str] | None,
    formula: str | None,
    exact: Sequence[str],
    outcome: str | None,
    source: str = "data",
) -> Prepared:
    """Validate columns, drop (and record) rows with missing values, build the covariate matrix."""
    if formula is None and not covariates:
        raise SpecError("give the matching covariates (covariates=[...]) or a formula")
    if formula is not None and covariates:
        raise SpecError("give either covariates=[...] or formula=..., not both")
    require_columns(df, [treatment], source=source, what="treatment")
    if covariates:
        require_columns(df, list(covariates), source=source, what="covariates")
        require_numeric(df, list(covariates), source=source)
    require_columns(df, list(exact), source=source, what="exact-matching columns")
    if outcome is not None:
        require_columns(df, [outcome], source=source, what="outcome")
        require_numeric(df, [outcome], source=source, constant=[outcome])

    dropped: list[tuple[Any, str, int | None]] = []
    tr = df[treatment]
    if pd.api.types.is_bool_dtype(tr):
        tr = tr.astype("Int64")
    trn = pd.to_numeric(tr, errors="coerce")
    bad = trn.notna() & ~trn.isin([0, 1])
    if bad.any() or (tr.notna() & trn.isna()).any():
        rows = list(df.index[(bad | (tr.notna() & trn.isna())).to_numpy()])
        raise DataError(
            "the treatment must be 0/1 (or boolean); recode it (e.g. ever-member = 1)",
            source=source,
            column=treatment,
            rows=rows,
        )
    keep = trn.notna().to_numpy()
    for lab in df.index[~keep]:
        dropped.append((lab, "missing_treatment", None))
    dnum = trn.to_numpy(dtype=float, na_value=np.nan)

    def _drop(mask: np.ndarray, reason: str) -> None:
        nonlocal keep
        new = keep & mask
        for lab, dv in zip(df.index[new], dnum[new], strict=True):
            dropped.append((lab, reason, int(dv)))
        keep = keep & ~mask

    if exact:
        _drop(df[list(exact)].isna().any(axis=1).to_numpy(), "missing_exact")
    if covariates:
        _drop(df[list(covariates)].isna().any(axis=1).to_numpy(), "missing_covariates")
        X = df.loc[:, list(covariates)].astype(float)
    else:
        from clusterimpact.formula.design import model_matrix

        assert formula is not None
        X = model_matrix(formula, df, source=source)  # our grammar: nothing is evaluated
        _drop(X.isna().any(axis=1).to_numpy(), "missing_covariates")
    if outcome is not None:
        _drop(df[outcome].isna().to_numpy(), "missing_outcome")
    frame = df[keep]
    X = X[keep].reset_index(drop=True)
    d = dnum[keep].astype(np.int8)
    y = frame[outcome].to_numpy(float) if outcome is not None else None
    cells = frame.groupby(list(exact), sort=True).ngroup().to_numpy() if exact else None
    return Prepared(frame=frame, X=X, d=d, y=y, cells=cells, dropped=dropped)
