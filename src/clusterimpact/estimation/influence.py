"""Influence functions of staggered-DiD estimates: storage, analytic variances and the multiplier bootstrap.

Every estimate here is asymptotically linear: ``theta_hat - theta ~ (1/n) sum_i psi_i`` over the ``n``
cross-sectional units. The influence functions ``psi`` of many estimates (every ATT(g,t) cell and every
aggregation) are never stored as a dense units x estimates matrix. They are stored *factored*,

    Psi (K x n)  =  coef (K x p)  @  Phi' (p x n),

where ``Phi`` is a small set of ``p`` unit-level basis functions held by a *basis* object:

- :class:`GroupBlockBasis` (the fast path without covariates): within each adoption group the basis
  functions are ``w_i * Y_it`` for every period, ``w_i`` and ``1``; units are sorted by group, so a
  bootstrap draw of every basis function is one dense matrix product per group;
- :class:`SparseBasis` (general): ``Phi`` is a scipy sparse matrix (one column per ATT(g,t) cell holding
  that cell's influence function on the units it involves, plus group-weight and constant columns).

Linear combinations of estimates (the aggregations) only change ``coef``. Analytic variances are
``coef Gram coef' / n^2`` with ``Gram = Phi' Phi`` (summed within clusters first when clustering at a
higher level than the unit). The multiplier bootstrap draws one multiplier per cluster, forms the draws
``coef (xi Phi)' / n`` in chunks of draws, and returns the bootstrap standard errors (interquartile range
/ 1.349, as in Callaway & Sant'Anna 2021, Algorithm 1) and the critical value of a uniform band
(quantile of the maximum absolute t statistic).

Multipliers: ``"mammen"`` (Mammen's two-point distribution, this package's default) or
``"rademacher"`` (random signs, what R did and csdid draw).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp
from scipy import stats
from threadpoolctl import ThreadpoolController

from clusterimpact._progress import Progress
from clusterimpact._validation import check_choice

__all__ = [
    "BootstrapResult",
    "GroupBlockBasis",
    "InfluenceFunction",
    "Multiplier",
    "ReducedBasis",
    "SparseBasis",
    "draw_multipliers",
    "firm_keys",
    "firm_multipliers",
    "firm_seed",
    "project_firm_draws",
    "multiplier_bootstrap",
    "single_thread_blas",
]

Multiplier = Literal["mammen", "rademacher"]
MULTIPLIERS: tuple[str, ...] = ("mammen", "rademacher")

_SQRT5 = np.sqrt(5.0)
_MAMMEN_LOW = (1.0 - _SQRT5) / 2.0
_MAMMEN_HIGH = (1.0 + _SQRT5) / 2.0
_MAMMEN_P_LOW = (_SQRT5 + 1.0) / (2.0 * _SQRT5)
# target number of multipliers held in memory at once (draws x clusters)
_CHUNK_CELLS = 16_000_000


@contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS (numpy's bundled OpenBLAS, and any other BLAS loaded) on one thread inside the block
    (restored afterwards), through :mod:`threadpoolctl`.

    The products here are many and small (cells x basis); on a shared 2-core machine OpenBLAS's
    worker threads then spin against other processes and a 17 x 17 Gram can take a second instead of
    a millisecond. One thread is as fast when the machine is idle and far faster when it is loaded.
    Does nothing when no BLAS library is found.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import single_thread_blas
    >>> with single_thread_blas():
    ...     gram = np.ones((17, 3)).T @ np.ones((17, 3))
    >>> float(gram[0, 0])
    17.0
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The thread pools loaded at first use (numpy's BLAS among them), found once: a fresh search on
    every call would cost about a millisecond, the limit itself microseconds."""
    return ThreadpoolController()


class Basis(Protocol):
    """What an influence-function basis must provide."""

    n_clusters: int
    p: int

    def gram(self) -> np.ndarray:
        """``Phi' Phi`` (p x p), with Phi summed within clusters."""
        ...

    def project(self, xi: np.ndarray) -> np.ndarray:
        """``xi @ Phi`` for multipliers ``xi`` (draws x clusters) -> (draws x p)."""
        ...

    def unit_matrix(self, coef: np.ndarray) -> sp.csr_matrix | None:
        """The unit-level influence functions ``coef @ Phi'`` as CSR (K x n_units), when available."""
        ...


@dataclass(frozen=True, eq=False)
class GroupBlockBasis:
    """Basis of group-block features (fast path without covariates).

    Attributes
    ----------
    features
        (n_atoms, q) dense features; atoms are units (or cluster x group cells when clustering at a
        higher level), sorted so that each group's atoms are contiguous.
    starts
        Block boundaries: group ``g`` owns atoms ``starts[g]:starts[g+1]`` and basis columns
        ``g*q : (g+1)*q``.
    atom_cluster
        Cluster code of every atom, or ``None`` when every atom is its own cluster (in atom order).
    n_clusters
        Number of clusters (multipliers per draw).
    unit_group, unit_features
        Unit-level group codes and features (for :meth:`unit_matrix`; optional).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import GroupBlockBasis, InfluenceFunction
    >>> basis = GroupBlockBasis(features=np.ones((4, 1)), starts=np.array([0, 2, 4]),
    ...                         atom_cluster=None, n_clusters=4)  # two groups of two units
    >>> infl = InfluenceFunction(coef=np.array([[1.0, -1.0]]), basis=basis, n=4)
    >>> infl.k, infl.std_errors().round(3).tolist()  # psi = (1, 1, -1, -1): sqrt(4) / 4
    (1, [0.5])
    """

    features: np.ndarray
    starts: np.ndarray
    atom_cluster: np.ndarray | None
    n_clusters: int

    @property
    def q(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_groups(self) -> int:
        return len(self.starts) - 1

    @property
    def p(self) -> int:
        return self.n_groups * self.q

    def gram(self) -> np.ndarray:
        cached = self.__dict__.get("_gram")
        if cached is None:
            cached = self._gram()
            object.__setattr__(self, "_gram", cached)
        return cached

    def _gram(self) -> np.ndarray:
        q, p = self.q, self.p
        if self.atom_cluster is None:
            out = np.zeros((p, p))
            for g in range(self.n_groups):
                f = self.features[self.starts[g] : self.starts[g + 1]]
                out[g * q : (g + 1) * q, g * q : (g + 1) * q] = f.T @ f
            return out
        phi = self._cluster_matrix()
        return np.asarray((phi.T @ phi).toarray())

    def _cluster_matrix(self) -> sp.csr_matrix:
        q = self.q
        n_atoms = self.features.shape[0]
        group_of_atom = np.repeat(np.arange(self.n_groups), np.diff(self.starts))
        rows = np.repeat(
            self.atom_cluster if self.atom_cluster is not None else np.arange(n_atoms), q
        )
        cols = (group_of_atom[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csr_matrix((self.features.ravel(), (rows, cols)), shape=(self.n_clusters, self.p))

    def project(self, xi: np.ndarray) -> np.ndarray:
        q = self.q
        out = np.empty((xi.shape[0], self.p))
        for g in range(self.n_groups):
            s, e = int(self.starts[g]), int(self.starts[g + 1])
            f = self.features[s:e]
            x = xi[:, s:e] if self.atom_cluster is None else xi[:, self.atom_cluster[s:e]]
            out[:, g * q : (g + 1) * q] = x @ f
        return out

    def unit_matrix(self, coef: np.ndarray) -> sp.csr_matrix | None:
        if self.atom_cluster is not None:
            return None
        q = self.q
        mats = []
        for g in range(self.n_groups):
            s, e = int(self.starts[g]), int(self.starts[g + 1])
            block = coef[:, g * q : (g + 1) * q] @ self.features[s:e].T  # K x n_g
            mats.append(sp.csr_matrix(block))
        m = sp.hstack(mats, format="csr")
        m.eliminate_zeros()
        return m


@dataclass(frozen=True, eq=False)
class SparseBasis:
    """General basis: ``Phi`` as a sparse (clusters x p) matrix.

    Attributes
    ----------
    phi
        Cluster-level basis functions (CSC or CSR, clusters x p).
    unit_phi
        Unit-level basis (units x p), kept for :meth:`unit_matrix` (same as ``phi`` without clustering).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.datasets import example_panel
    >>> cs = ci.att_gt(example_panel(), outcome="ln_lp", control="notyet", allow_unbalanced=True)
    >>> type(cs.influence.basis).__name__, cs.influence.k == len(cs.params)
    ('SparseBasis', True)
    """

    phi: sp.csr_matrix
    unit_phi: sp.csr_matrix | None = None

    @property
    def n_clusters(self) -> int:
        return int(self.phi.shape[0])

    @property
    def p(self) -> int:
        return int(self.phi.shape[1])

    def gram(self) -> np.ndarray:
        cached = self.__dict__.get("_gram")
        if cached is None:
            # dense accumulation over row chunks: the product is dense (cells share controls)
            phi = sp.csr_matrix(self.phi)
            cached = np.zeros((self.p, self.p))
            step = max(1, 4_000_000 // max(self.p, 1))
            for s in range(0, phi.shape[0], step):
                block = phi[s : s + step].toarray()
                cached += block.T @ block
            object.__setattr__(self, "_gram", cached)
        return cached

    def project(self, xi: np.ndarray) -> np.ndarray:
        # (Phi' xi')' with Phi' in CSR: cost nnz x draws
        return np.asarray(self._phi_t @ xi.T).T

    @property
    def _phi_t(self) -> sp.csr_matrix:
        cache = self.__dict__.get("_phi_t_cache")
        if cache is None:
            cache = sp.csr_matrix(self.phi.T)
            object.__setattr__(self, "_phi_t_cache", cache)
        return cache

    def unit_matrix(self, coef: np.ndarray) -> sp.csr_matrix | None:
        if self.unit_phi is None:
            return None
        m = sp.csr_matrix(sp.csr_matrix(coef) @ self.unit_phi.T)
        m.eliminate_zeros()
        return m


@dataclass(frozen=True, eq=False)
class InfluenceFunction:
    """Factored influence functions of ``K`` estimates: ``psi = coef @ Phi'`` over ``n`` units.

    Attributes
    ----------
    coef
        (K, p) coefficients on the basis functions.
    basis
        A :class:`GroupBlockBasis` or :class:`SparseBasis`.
    n
        Number of cross-sectional units (the ``n`` of ``(1/n) sum_i psi_i``).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from clusterimpact.estimation.influence import InfluenceFunction, SparseBasis
    >>> n = 200
    >>> psi = np.random.default_rng(0).normal(size=n)  # one estimate's influence function
    >>> infl = InfluenceFunction(coef=psi[None, :], basis=SparseBasis(phi=sp.identity(n, format="csr")), n=n)
    >>> se = infl.std_errors()
    >>> bool(np.isclose(se[0], np.sqrt(np.sum(psi**2)) / n))  # sqrt(sum psi^2) / n
    True
    """

    coef: np.ndarray
    basis: GroupBlockBasis | SparseBasis | ReducedBasis
    n: int

    @property
    def k(self) -> int:
        return int(self.coef.shape[0])

    def combine(self, matrix: np.ndarray, extra: np.ndarray | None = None) -> InfluenceFunction:
        """Influence functions of ``matrix @ estimates`` (+ ``extra`` basis coefficients)."""
        coef = np.asarray(matrix, dtype=float) @ self.coef
        if extra is not None:
            coef = coef + extra
        return InfluenceFunction(coef=coef, basis=self.basis, n=self.n)

    def vcov(self) -> np.ndarray:
        """Analytic covariance matrix ``sum_c psi_c psi_c' / n^2`` (K x K)."""
        g = self.basis.gram()
        return (self.coef @ g @ self.coef.T) / float(self.n) ** 2

    def std_errors(self) -> np.ndarray:
        """Analytic standard errors."""
        return np.sqrt(np.clip(np.diag(self.vcov()), 0.0, None))

    def unit_matrix(self) -> sp.csr_matrix | None:
        """Unit-level influence functions as a CSR matrix (K x n), built on demand."""
        return self.basis.unit_matrix(self.coef)

    def project_draws(
        self,
        n_boot: int,
        rng: np.random.Generator,
        multiplier: Multiplier = "mammen",
        chunk: int | None = None,
    ) -> np.ndarray:
        """Bootstrap draws of the *basis* functions, ``(1/n) xi @ Phi`` (n_boot x p).

        Any estimate's draws are then ``projection @ coef.T``: one set of multipliers serves the
        ATT(g,t) cells and every aggregation (a joint bootstrap), at the cost of one pass over the data.
        Multipliers are drawn per cluster in chunks of draws, so memory stays at about
        ``16e6`` multipliers whatever the sample size.
        """
        check_choice("multiplier", multiplier, MULTIPLIERS)
        nc = self.basis.n_clusters
        if chunk is None:
            chunk = int(max(1, min(n_boot, _CHUNK_CELLS // max(nc, 1))))
        out = np.empty((n_boot, self.basis.p))
        buf = np.empty((chunk, nc))  # reused: no page faults per chunk
        tick = Progress("multiplier bootstrap", n_boot)
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            xi = draw_multipliers(rng, (b, nc), multiplier, out=buf[:b])
            out[done : done + b] = self.basis.project(xi)
            done += b
            tick(done)
        out /= float(self.n)
        return out

    def bootstrap_draws(
        self,
        n_boot: int,
        rng: np.random.Generator,
        multiplier: Multiplier = "mammen",
        chunk: int | None = None,
    ) -> np.ndarray:
        """Multiplier-bootstrap draws of ``(1/n) sum_c xi_c psi_c`` (n_boot x K)."""
        return self.project_draws(n_boot, rng, multiplier, chunk) @ self.coef.T


def draw_multipliers(
    rng: np.random.Generator,
    shape: tuple[int, int],
    multiplier: Multiplier = "mammen",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Mean-zero, unit-variance multipliers: Mammen's two-point law or Rademacher signs.

    Mammen: ``-(sqrt5-1)/2`` with probability ``(sqrt5+1)/(2 sqrt5)``, else ``(sqrt5+1)/2`` (third
    moment one). It is drawn from 16-bit integers: the probability is rounded to ``47422/65536`` and the
    two values re-solved so that the mean is exactly 0 and the variance exactly 1 (they move by < 1e-5).
    Rademacher signs come from random bits. Both are several times faster than uniform doubles.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import draw_multipliers
    >>> v = draw_multipliers(np.random.default_rng(0), (1000, 100))  # Mammen's two-point law
    >>> sorted(np.unique(v).round(3).tolist()), bool(abs(v.mean()) < 0.01), bool(abs(v.var() - 1) < 0.01)
    ([-0.618, 1.618], True, True)
    """
    b, m = shape
    if out is None or out.shape != shape:
        out = np.empty(shape)
    if multiplier == "rademacher":
        packed = _random_bytes(rng, b, (m + 7) // 8)
        bits = np.unpackbits(packed, axis=1, count=m)
        np.multiply(bits, 2.0, out=out)
        out -= 1.0
        return out
    u = _random_bytes(rng, b, 2 * m).view(np.uint16)
    low = u < _MAMMEN_THRESHOLD
    np.multiply(low, _MAMMEN_LOW_Q - _MAMMEN_HIGH_Q, out=out)
    out += _MAMMEN_HIGH_Q
    return out


def _random_bytes(rng: np.random.Generator, rows: int, row_bytes: int) -> np.ndarray:
    """``rows x row_bytes`` uniform random bytes straight from the bit generator.

    Each row takes whole 64-bit words (the unused bytes of its last word are dropped), so a row's
    bytes do not depend on how many rows are drawn at once: the bootstrap draws are the same whatever
    the chunk size (reproducible for a seed).
    """
    words_per_row = (row_bytes + 7) // 8
    words = np.asarray(rng.bit_generator.random_raw(rows * words_per_row), dtype=np.uint64)
    return words.view(np.uint8).reshape(rows, 8 * words_per_row)[:, :row_bytes]


_MAMMEN_THRESHOLD = int(round(_MAMMEN_P_LOW * 65536))
_P_Q = _MAMMEN_THRESHOLD / 65536
_MAMMEN_LOW_Q = -float(np.sqrt((1 - _P_Q) / _P_Q))
_MAMMEN_HIGH_Q = float(np.sqrt(_P_Q / (1 - _P_Q)))


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap standard errors and the uniform-band critical value.

    Attributes
    ----------
    std_errors
        IQR-based bootstrap standard errors (NaN for degenerate estimates).
    crit_value
        ``1 - alpha`` quantile of ``max_k |draw_k| / se_k`` over non-degenerate estimates.
    n_boot, multiplier
        Number of draws and multiplier law.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from clusterimpact.estimation.influence import InfluenceFunction, SparseBasis
    >>> n = 200
    >>> psi = np.random.default_rng(0).normal(size=n)  # one estimate's influence function
    >>> infl = InfluenceFunction(coef=psi[None, :], basis=SparseBasis(phi=sp.identity(n, format="csr")), n=n)
    >>> from clusterimpact.estimation.influence import multiplier_bootstrap
    >>> boot = multiplier_bootstrap(infl, n_boot=499, rng=np.random.default_rng(1), multiplier="rademacher")
    >>> type(boot).__name__, boot.n_boot, boot.multiplier
    ('BootstrapResult', 499, 'rademacher')
    """

    std_errors: np.ndarray
    crit_value: float
    n_boot: int
    multiplier: str


_IQR_NORMAL = float(stats.norm.ppf(0.75) - stats.norm.ppf(0.25))


def multiplier_bootstrap(
    influence: InfluenceFunction,
    *,
    n_boot: int = 999,
    rng: np.random.Generator,
    alpha: float = 0.05,
    multiplier: Multiplier = "mammen",
    band: np.ndarray | None = None,
    projection: np.ndarray | None = None,
) -> BootstrapResult:
    """Multiplier bootstrap of ``influence``: standard errors and a uniform-band critical value.

    Parameters
    ----------
    influence
        Influence functions of the estimates.
    n_boot
        Number of bootstrap draws.
    rng
        Random generator (the only source of randomness).
    alpha
        One minus the band's coverage.
    multiplier
        ``"mammen"`` (default) or ``"rademacher"`` (R did's and csdid's multipliers).
    band
        Boolean mask of the estimates the uniform band covers (default: all).
    projection
        Draws of the basis functions from :meth:`InfluenceFunction.project_draws` to reuse (then
        ``rng`` and ``multiplier`` are not used and ``n_boot`` is the projection's length).

    Notes
    -----
    Standard errors are ``(q75 - q25) / (z75 - z25)`` of the draws (Callaway & Sant'Anna 2021,
    Algorithm 1, step 4). Estimates whose bootstrap scale is numerically zero are left out of the band.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from clusterimpact.estimation.influence import InfluenceFunction, SparseBasis
    >>> n = 200
    >>> psi = np.random.default_rng(0).normal(size=n)  # one estimate's influence function
    >>> infl = InfluenceFunction(coef=psi[None, :], basis=SparseBasis(phi=sp.identity(n, format="csr")), n=n)
    >>> from clusterimpact.estimation.influence import multiplier_bootstrap
    >>> boot = multiplier_bootstrap(infl, n_boot=999, rng=np.random.default_rng(1))
    >>> bool(abs(boot.std_errors[0] / infl.std_errors()[0] - 1) < 0.15)  # near the analytic SE
    True
    """
    if projection is not None:
        draws = projection @ influence.coef.T
        n_boot = projection.shape[0]
    else:
        draws = influence.bootstrap_draws(n_boot, rng, multiplier)
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / _IQR_NORMAL
    ok = np.isfinite(se) & (se > np.sqrt(np.finfo(float).eps) * 10)
    if band is not None:
        ok &= np.asarray(band, dtype=bool)
    se = np.where(se > np.sqrt(np.finfo(float).eps) * 10, se, np.nan)
    if ok.any():
        tmax = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
        crit = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    else:
        crit = float("nan")
    return BootstrapResult(std_errors=se, crit_value=crit, n_boot=n_boot, multiplier=multiplier)


# -------------------------------------------------------------------------------------------------
# per-firm multipliers (counter-based: the same draws for a firm whatever the data's partitioning)
# -------------------------------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (Steele, Lea & Flood 2014), vectorised on uint64 (wrapping)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def firm_keys(ids: np.ndarray) -> np.ndarray:
    """A uint64 key per firm id, from its text (``123`` and ``"123"`` get the same key).

    The key is pandas' SipHash of the id's string (fixed hash key), so it is the same on every machine
    and in every process.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import firm_keys
    >>> k = firm_keys(np.array(["0200008753", "0200008753", "7"], dtype=object))
    >>> bool(k[0] == k[1]), bool(k[0] == k[2]), bool(firm_keys(np.array([7]))[0] == k[2])
    (True, False, True)
    """
    import pandas as pd

    text = np.asarray(pd.Series(np.asarray(ids)).astype(str).to_numpy(), dtype=object)
    return np.asarray(pd.util.hash_array(text, categorize=False), dtype=np.uint64)


def firm_multipliers(
    keys: np.ndarray, seed: int, start: int, n_draws: int, multiplier: Multiplier = "mammen"
) -> np.ndarray:
    """Multipliers of ``n_draws`` draws from draw number ``start`` on, for firms ``keys`` (draws x firms).

    Each value is a hash of ``(seed, firm key, draw index)`` (splitmix64 twice), so a firm gets the same
    multiplier in a draw however the firms are ordered or split into partitions. Rademacher: the top
    bit; Mammen: the top 16 bits against the same threshold (and the same two values, mean exactly 0
    and variance exactly 1) as :func:`draw_multipliers`.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import firm_keys, firm_multipliers
    >>> keys = firm_keys(np.arange(5000))
    >>> v = firm_multipliers(keys, seed=3, start=0, n_draws=200)
    >>> bool(np.array_equal(v[:, 10:20], firm_multipliers(keys[10:20], 3, 0, 200)))
    True
    >>> bool(abs(v.mean()) < 0.01), bool(abs(v.var() - 1) < 0.01)
    (True, True)
    """
    check_choice("multiplier", multiplier, MULTIPLIERS)
    s = _splitmix64(np.array([int(seed) % 2**64], dtype=np.uint64))[0]
    base = _splitmix64(np.asarray(keys, dtype=np.uint64) ^ s)
    draws = np.arange(start, start + n_draws, dtype=np.uint64)[:, None] * _MIX2
    z = _splitmix64(base[None, :] ^ draws)
    if multiplier == "rademacher":
        return (z >> np.uint64(63)).astype(float) * 2.0 - 1.0
    low = (z >> np.uint64(48)) < np.uint64(_MAMMEN_THRESHOLD)
    return np.where(low, _MAMMEN_LOW_Q, _MAMMEN_HIGH_Q)


def firm_seed(seed: int | np.random.Generator | None) -> int:
    """An integer seed for :func:`firm_multipliers`: ``seed`` itself, one drawn from a generator, or
    fresh entropy for ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import firm_seed
    >>> firm_seed(7), firm_seed(np.random.default_rng(1)) == firm_seed(np.random.default_rng(1))
    (7, True)
    """
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng()
    return int(rng.integers(0, 2**63 - 1))


def project_firm_draws(
    basis: GroupBlockBasis | SparseBasis | ReducedBasis,
    keys: np.ndarray,
    n_boot: int,
    seed: int,
    multiplier: Multiplier = "mammen",
    chunk: int | None = None,
) -> np.ndarray:
    """Draws of the basis ``xi @ Phi`` (n_boot x p, not divided by ``n``) with per-firm multipliers.

    ``keys``: one per cluster of the basis, in its cluster order.

    Additive over firms: the projections of disjoint sets of firms sum to the projection of their
    union, which is how partitions of a panel combine.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from clusterimpact.estimation.influence import SparseBasis, firm_keys, project_firm_draws
    >>> keys = firm_keys(np.array(["0401", "0402", "0403"]))
    >>> whole = project_firm_draws(SparseBasis(phi=sp.csr_matrix([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])), keys, 4, 7)
    >>> part1 = project_firm_draws(SparseBasis(phi=sp.csr_matrix([[1.0, 0.0], [0.0, 1.0]])), keys[:2], 4, 7)
    >>> part2 = project_firm_draws(SparseBasis(phi=sp.csr_matrix([[1.0, 1.0]])), keys[2:], 4, 7)
    >>> whole.shape, bool(np.allclose(whole, part1 + part2))
    ((4, 2), True)
    """
    nc = basis.n_clusters
    if len(keys) != nc:
        raise ValueError(f"need one firm key per cluster ({nc}), got {len(keys)}")
    if chunk is None:  # the hash holds a few uint64 arrays of the chunk's size at once
        chunk = int(max(1, min(n_boot, _CHUNK_CELLS // 8 // max(nc, 1))))
    out = np.empty((n_boot, basis.p))
    for s in range(0, n_boot, chunk):
        b = min(chunk, n_boot - s)
        out[s : s + b] = basis.project(firm_multipliers(keys, seed, s, b, multiplier))
    return out


@dataclass(frozen=True, eq=False)
class ReducedBasis:
    """A basis known only through its Gram matrix (the Dask path: the units stay on the workers).

    ``gram()`` is the sum over partitions of each partition's ``Phi' Phi``; draws of the basis cannot
    be formed here (``project`` raises): the Dask path computes them on the workers with per-firm
    multipliers. ``block_q`` is the group-block width when the coefficients follow the
    :class:`GroupBlockBasis` layout (``None``: the :class:`SparseBasis` layout).

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.estimation.influence import InfluenceFunction, ReducedBasis
    >>> basis = ReducedBasis(gram_matrix=np.array([[4.0]]), n_clusters=4)
    >>> InfluenceFunction(coef=np.array([[1.0]]), basis=basis, n=4).std_errors().tolist()
    [0.5]
    """

    gram_matrix: np.ndarray
    n_clusters: int
    block_q: int | None = None

    @property
    def p(self) -> int:
        return int(self.gram_matrix.shape[0])

    def gram(self) -> np.ndarray:
        return self.gram_matrix

    def project(self, xi: np.ndarray) -> np.ndarray:
        from clusterimpact.errors import SpecError

        raise SpecError(
            "bootstrap draws of a result computed on Dask are made on the workers: bootstrap it in "
            "att_gt (n_boot, multiplier, seed), and aggregate with those settings"
        )

    def unit_matrix(self, coef: np.ndarray) -> sp.csr_matrix | None:
        return None
