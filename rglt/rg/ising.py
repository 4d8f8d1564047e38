"""Monte Carlo sampling of the periodic 2D Ising model, H = -sum_<ij> s_i s_j (J = k_B = 1).

Three seeded, vectorised update rules, each acting on a batch of independent chains at once:

- ``"metropolis"``: checkerboard Metropolis, one sweep = both sublattices once;
- ``"swendsen-wang"``: bonds between equal neighbours with p = 1 - exp(-2/T), every cluster flipped
  with probability 1/2 (clusters found with scipy's connected components, periodic wrap included);
- ``"wolff"``: the same bonds, but only the cluster of one random site per chain is flipped.

Cluster updates remove most of the critical slowing down that Metropolis suffers near T_c.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from rglt.validate import check_choice, check_int, check_real, require

T_CRITICAL = 2.0 / math.log(1.0 + math.sqrt(2.0))  # Onsager: 2.269185...
ALGORITHMS = ("metropolis", "swendsen-wang", "wolff")


def onsager_magnetization(temperature):
    """Onsager's exact spontaneous magnetisation (1 - sinh(2/T)^-4)^(1/8) below T_c, 0 above.

    ``temperature``: a real number or an array of them (ints or floats; not bools, strings, complex).
    """
    t = np.asarray(temperature)
    # np.asarray("2", dtype=float) would quietly parse the string: check the kind before converting.
    if t.dtype.kind not in "iuf":
        raise TypeError(f"temperature must be a real number or an array of real numbers; got "
                        f"{temperature!r} (dtype {t.dtype})")
    t = t.astype(float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"temperature must be finite and > 0; got {temperature!r}")
    with np.errstate(divide="ignore", over="ignore"):
        inner = 1.0 - np.sinh(2.0 / t) ** -4.0
    m = np.where(t < T_CRITICAL, np.clip(inner, 0.0, None) ** 0.125, 0.0)
    return float(m) if m.ndim == 0 else m


def check_spins(spins, name: str = "spins") -> np.ndarray:
    """Return ``spins`` as an int8 array of shape (..., L, L) after checking every entry is +-1.

    Entries must be real integers or floats; complex, bool, string and object arrays are refused
    (complex +-1 would pass the value check and lose its imaginary part silently in the cast).
    """
    arr = np.asarray(spins)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real integers or floats equal to +-1; got dtype {arr.dtype}")
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"{name} must have shape (..., L, L); got {arr.shape}")
    if arr.size == 0 or not np.all((arr == 1) | (arr == -1)):
        raise ValueError(f"{name} must contain only +1 and -1")
    return arr.astype(np.int8, copy=False)


def magnetization(spins) -> np.ndarray:
    """Magnetisation per site of each configuration: mean over the last two axes."""
    return check_spins(spins).mean(axis=(-2, -1), dtype=np.float64)


def nn_correlation(spins) -> np.ndarray:
    """Nearest-neighbour correlation <s_i s_j> of each configuration (periodic, both directions)."""
    s = check_spins(spins).astype(np.int32)
    right = (s * np.roll(s, -1, axis=-1)).mean(axis=(-2, -1))
    down = (s * np.roll(s, -1, axis=-2)).mean(axis=(-2, -1))
    return (right + down) / 2.0


def energy(spins) -> np.ndarray:
    """Energy per site, -<s_i s_j> summed over the two bonds each site owns."""
    return -2.0 * nn_correlation(spins)


def _metropolis_sweep(s: np.ndarray, beta: float, rng: np.random.Generator, parity: np.ndarray) -> None:
    # Flipping s_i costs dE = 2 s_i h_i in {-8, ..., 8}; accept with probability min(1, exp(-beta dE)).
    accept = np.exp(-beta * np.arange(9))  # indexed by max(dE, 0)
    for colour in (0, 1):
        h = np.roll(s, 1, -1) + np.roll(s, -1, -1) + np.roll(s, 1, -2) + np.roll(s, -1, -2)
        d_energy = 2 * s.astype(np.int64) * h
        flip = (parity == colour) & (rng.random(s.shape) < accept[np.clip(d_energy, 0, 8)])
        s[flip] *= -1


def _cluster_labels(s: np.ndarray, beta: float, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Swendsen-Wang clusters of a batch (chains, L, L): labels per site, and their number."""
    p_bond = 1.0 - math.exp(-2.0 * beta)
    idx = np.arange(s.size).reshape(s.shape)
    rows, cols = [], []
    for axis in (-1, -2):
        neighbour = np.roll(idx, -1, axis)
        bonded = (s == np.roll(s, -1, axis)) & (rng.random(s.shape) < p_bond)
        rows.append(idx[bonded])
        cols.append(neighbour[bonded])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(s.size, s.size)).tocsr()
    n, labels = connected_components(graph, directed=False)
    return labels.reshape(s.shape), n


def _swendsen_wang_sweep(s: np.ndarray, beta: float, rng: np.random.Generator) -> None:
    labels, n = _cluster_labels(s, beta, rng)
    flip = rng.random(n) < 0.5
    s[flip[labels]] *= -1


def _wolff_sweep(s: np.ndarray, beta: float, rng: np.random.Generator) -> None:
    labels, _ = _cluster_labels(s, beta, rng)
    chains, size = s.shape[0], s.shape[-1]
    seeds = rng.integers(0, size * size, chains)
    seed_labels = labels.reshape(chains, -1)[np.arange(chains), seeds]
    s[labels == seed_labels[:, None, None]] *= -1


def _validated(size, temperature, sweeps, seed, chains, algorithm, start) -> tuple:
    size = check_int(size, "size", 2)
    beta = 1.0 / check_real(temperature, "temperature", 0, low_open=True)
    sweeps = check_int(sweeps, "sweeps", 0)
    seed = check_int(seed, "seed", 0)
    chains = check_int(chains, "chains", 1)
    check_choice(algorithm, "algorithm", ALGORITHMS)
    if algorithm == "metropolis" and size % 2:
        raise ValueError(f"size must be even for checkerboard Metropolis on a periodic lattice; got {size}")
    require(start in ("hot", "cold"), "start", "'hot' or 'cold'", start)
    return size, beta, sweeps, seed, chains, algorithm, start


def _sweeps(size, beta, sweeps, seed, chains, algorithm, start) -> Iterator[np.ndarray]:
    """Yield the start configuration, then the configuration after each sweep (updated in place)."""
    rng = np.random.default_rng(seed)
    if start == "hot":
        s = np.where(rng.random((chains, size, size)) < 0.5, 1, -1).astype(np.int8)
    else:
        s = np.ones((chains, size, size), dtype=np.int8)
    yield s
    parity = np.add.outer(np.arange(size), np.arange(size)) % 2
    for _ in range(sweeps):
        if algorithm == "metropolis":
            _metropolis_sweep(s, beta, rng, parity)
        elif algorithm == "swendsen-wang":
            _swendsen_wang_sweep(s, beta, rng)
        else:
            _wolff_sweep(s, beta, rng)
        yield s


def trajectory(size: int, temperature: float, *, sweeps: int, seed: int, chains: int = 1,
               algorithm: str = "metropolis", start: str = "hot") -> Iterator[np.ndarray]:
    """Yield the configurations (chains, size, size) after each of ``sweeps`` sweeps.

    Arguments as in :func:`sample`. The yielded array is updated in place by the next sweep: copy
    it to keep it. Arguments are checked when this is called, before any sweep.
    """
    it = _sweeps(*_validated(size, temperature, sweeps, seed, chains, algorithm, start))
    next(it)  # the start configuration
    return it


def sample(size: int, temperature: float, *, sweeps: int, seed: int, chains: int | None = None,
           algorithm: str = "metropolis", start: str = "hot") -> np.ndarray:
    """Configurations of the periodic ``size`` x ``size`` Ising model at ``temperature``.

    Runs ``sweeps`` sweeps of ``algorithm`` (one of ``ALGORITHMS``) on ``chains`` independent
    chains from a ``start`` configuration (``"hot"``: random spins, ``"cold"``: all +1) and returns
    int8 +-1 spins of shape (size, size), or (chains, size, size) when ``chains`` is given. The same
    seed gives the same spins, bit for bit.
    """
    args = _validated(size, temperature, sweeps, seed, 1 if chains is None else chains, algorithm, start)
    for s in _sweeps(*args):
        pass
    return s.copy() if chains is not None else s[0].copy()
