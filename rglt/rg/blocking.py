"""Kadanoff block spins: the majority rule of Eq. 9 in Redman et al. (seed 000)."""
from __future__ import annotations

import numpy as np

from rglt.rg.ising import check_spins
from rglt.validate import check_choice, check_int, is_int, require

TIES = ("up", "random")


def block_spin(spins, b: int = 2, ties: str = "up", *, seed: int | None = None) -> np.ndarray:
    """Coarse-grain (..., L, L) +-1 spins into (..., L/b, L/b) block spins by majority vote.

    ``ties`` decides blocks whose spins sum to zero (only possible for even b): ``"up"`` gives +1,
    as in Fig. 1 of the RG-Flow report (seed 001); ``"random"`` gives +-1 with equal probability,
    drawn from ``seed``, which keeps the rule symmetric under a global spin flip.
    """
    b = check_int(b, "b", 2)
    check_choice(ties, "ties", TIES)
    if ties == "random":
        require(is_int(seed) and seed >= 0, "seed", "an integer >= 0 when ties='random'", seed)
    s = check_spins(spins)
    size = s.shape[-1]
    if size % b:
        raise ValueError(f"lattice size {size} must be divisible by b={b}")
    n = size // b
    sums = s.reshape(*s.shape[:-2], n, b, n, b).sum(axis=(-3, -1), dtype=np.int32)
    blocks = np.sign(sums).astype(np.int8)
    tied = blocks == 0
    if ties == "up":
        blocks[tied] = 1
    elif tied.any():
        rng = np.random.default_rng(seed)
        blocks[tied] = np.where(rng.random(int(tied.sum())) < 0.5, 1, -1)
    return blocks
