"""Provenance records: what produced a result (package version, data hash, seed, options)."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Provenance", "data_hash", "dependency_versions", "make_provenance"]

_DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "statsmodels",
    "linearmodels",
    "pyfixest",
    "matplotlib",
)


def package_version() -> str:
    """The installed clusterimpact version."""
    try:
        return metadata.version("clusterimpact")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def dependency_versions() -> dict[str, str]:
    """Versions of Python and the runtime dependencies, for manifests.

    Examples
    --------
    >>> from clusterimpact.provenance import dependency_versions
    >>> versions = dependency_versions()
    >>> {"python", "numpy", "pandas"} <= set(versions)
    True
    """
    out = {"python": platform.python_version()}
    for name in _DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def data_hash(data: pd.DataFrame | pd.Series | np.ndarray | None) -> str:
    """A stable SHA-256 (first 16 hex digits) of a frame's values, index and column names.

    Row order matters (the same rows in another order hash differently); use it to record what was
    estimated on, not to compare data sets up to permutation.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.provenance import data_hash
    >>> df = pd.DataFrame({"x": [1.0, 2.0]})
    >>> len(data_hash(df)), data_hash(df) == data_hash(df.copy()), data_hash(df) == data_hash(df[::-1])
    (16, True, False)
    """
    if data is None:
        return ""
    h = hashlib.sha256()
    if isinstance(data, np.ndarray):
        h.update(np.ascontiguousarray(data).tobytes())
        return h.hexdigest()[:16]
    if isinstance(data, pd.Series):
        data = data.to_frame()
    h.update(",".join(map(str, data.columns)).encode())
    h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Provenance:
    """Where a result came from.

    Attributes
    ----------
    package_version
        clusterimpact version that produced the result.
    data_hash
        :func:`data_hash` of the estimation sample.
    seed
        Seed of every random step (None when nothing random happened).
    method
        Estimator name.
    options
        The options the estimator was called with (JSON-serialisable values).

    Examples
    --------
    >>> from clusterimpact.datasets import example_panel
    >>> import clusterimpact as ci
    >>> result = ci.duration_effects(example_panel(), outcome="ln_lp")
    >>> result.provenance.method, result.provenance.package_version == ci.__version__
    ('duration_imputation', True)
    """

    package_version: str
    data_hash: str
    seed: int | None
    method: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for JSON output."""
        return {
            "package_version": self.package_version,
            "data_hash": self.data_hash,
            "seed": self.seed,
            "method": self.method,
            "options": dict(self.options),
        }


def make_provenance(
    method: str,
    data: pd.DataFrame | None = None,
    seed: int | None = None,
    **options: Any,
) -> Provenance:
    """Build a :class:`Provenance` for a result computed by ``method`` on ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> from clusterimpact.provenance import make_provenance
    >>> prov = make_provenance("my_estimator", pd.DataFrame({"y": [1.0]}), seed=3, level=0.9)
    >>> prov.method, prov.seed, prov.options
    ('my_estimator', 3, {'level': 0.9})
    """
    return Provenance(
        package_version=package_version(),
        data_hash=data_hash(data),
        seed=seed,
        method=method,
        options={k: _jsonable(v) for k, v in options.items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return repr(value)
