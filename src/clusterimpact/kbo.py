"""Belgian enterprise numbers (KBO/BCE, "ondernemingsnummer" / "numéro d'entreprise").

An enterprise number has 10 digits; the first is 0 or 1 and the last two are a mod-97 check on the first
eight: ``check = 97 - (first_8_digits mod 97)`` (so a remainder of 0 gives check 97). Numbers are written
in many ways (``0403.170.701``, ``0403 170 701``, ``BE0403170701``, ``BE 0403.170.701``, or the old
9-digit form ``403170701`` that predates the leading 0); :func:`normalize_kbo` turns all of them into the
canonical 10-digit string.

Example: ``0403.170.701`` -> first eight digits 04031707 = 4031707; 4031707 mod 97 = 96; 97 - 96 = 1 =
the last two digits ``01``, so the number is valid.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["is_valid_kbo", "kbo_check_digits", "normalize_kbo", "validate_kbo"]

_STRIP = r"[\s.\-/]"


def kbo_check_digits(first8: int) -> int:
    """The two check digits of an enterprise number whose first eight digits are ``first8``.

    Examples
    --------
    >>> from clusterimpact.kbo import kbo_check_digits
    >>> kbo_check_digits(4031707)  # 0403.170.7xx: the check digits are 97 - (first8 mod 97)
    1
    """
    return 97 - (int(first8) % 97)


def _clean(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip().str.upper()
    s = s.str.replace(r"^BE", "", regex=True).str.replace(_STRIP, "", regex=True)
    # the old 9-digit numbers gained a leading 0 when the 10-digit format was introduced
    nine = s.str.fullmatch(r"\d{9}").fillna(False).astype(bool)
    return s.where(~nine, "0" + s)


def validate_kbo(values: Iterable[object] | pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Normalise enterprise numbers and check them.

    Parameters
    ----------
    values
        Enterprise numbers in any common notation (strings; integers lose a leading 0 but are accepted
        since the 9-digit form is padded).

    Returns
    -------
    normalized
        The canonical 10-digit strings where the input has the shape of an enterprise number (10 digits
        starting with 0 or 1 after removing ``BE``, dots, spaces, dashes and slashes), otherwise the input
        with surrounding blanks removed; missing values stay missing.
    valid
        Boolean array: shape ok and mod-97 check passed. Missing values are ``False``.

    Notes
    -----
    Runs on the distinct values only, so it is cheap on long panels with few firms.

    Examples
    --------
    >>> from clusterimpact.kbo import validate_kbo
    >>> ids, ok = validate_kbo(["0403.170.701", "0403.170.702", "not a number"])
    >>> ids.tolist(), ok.tolist()
    (['0403170701', '0403170702', 'not a number'], [True, False, False])
    """
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniq = pd.Series(uniques, dtype="object")
    cleaned = _clean(uniq) if len(uniq) else pd.Series([], dtype="string")
    shape_ok = cleaned.str.fullmatch(r"[01]\d{9}").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(uniq), dtype=bool)
    if shape_ok.any():
        good = cleaned[shape_ok]
        first8 = good.str.slice(0, 8).astype("int64").to_numpy()
        last2 = good.str.slice(8, 10).astype("int64").to_numpy()
        ok[shape_ok] = (97 - first8 % 97) == last2
    stripped = uniq.astype("string").str.strip()
    norm_u = np.asarray(cleaned.where(shape_ok, stripped).astype(object), dtype=object)
    picked: np.ndarray = np.full(len(codes), None, dtype=object)
    valid = np.zeros(len(codes), dtype=bool)
    has = codes >= 0
    if has.any():
        picked[has] = norm_u[codes[has]]
        valid[has] = ok[codes[has]]
    normalized = pd.Series(picked, index=series.index, dtype="str")
    return normalized, valid


def normalize_kbo(values: Iterable[object] | pd.Series) -> pd.Series:
    """Canonical 10-digit form of enterprise numbers (see :func:`validate_kbo`).

    Examples
    --------
    >>> from clusterimpact.kbo import normalize_kbo
    >>> normalize_kbo(["BE 0403.170.701", "403170701", " 0403-170-701 "]).tolist()
    ['0403170701', '0403170701', '0403170701']
    """
    return validate_kbo(values)[0]


def is_valid_kbo(value: object) -> bool:
    """True when ``value`` is a well-formed Belgian enterprise number passing the mod-97 check.

    Examples
    --------
    >>> is_valid_kbo("0403.170.701"), is_valid_kbo("BE0403170701"), is_valid_kbo("0403170702")
    (True, True, False)
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    return bool(validate_kbo(pd.Series([str(value)], dtype="object"))[1][0])
