"""Reference values read from the stored CSVs under tests/reference/ (never retyped in a test).

Each folder's PROVENANCE.md says how its values were produced (program, version, exact call).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REFERENCE = Path(__file__).resolve().parent / "reference"


def r_did_aggregate(spec: str = "never_nocov", type: str = "simple") -> pd.Series:
    """R did's ``aggte`` overall estimate and analytic SE on mpdta (``mpdta/aggte_r_did.csv``).

    ``spec``: ``never_nocov`` (never-treated controls, no covariates, DR), ``notyet_nocov`` or
    ``never_lpop_reg``; ``type``: ``simple``, ``group``, ``dynamic`` or ``calendar``. Returns a Series
    with ``estimate`` and ``std_error``; a missing row fails.
    """
    ref = pd.read_csv(REFERENCE / "mpdta" / "aggte_r_did.csv")
    row = ref[(ref["spec"] == spec) & (ref["type"] == type)]
    if len(row) != 1:
        raise LookupError(f"no R did aggregate for spec={spec!r}, type={type!r} in aggte_r_did.csv")
    return row.iloc[0][["estimate", "std_error"]].astype(float)
