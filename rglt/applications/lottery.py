"""The original lottery: a single subnetwork rarely wins, yet some subnetwork almost surely does.

Two measurements of the same arithmetic:

- ``subset_sum_lottery``: the strong-ticket argument (Pensia et al. 2020, after Lueker 1998). A target
  weight is approximated by a *subset* of n random weights; a subset wins when its sum is within eps of
  the target. Every one of the 2^n subsets is enumerated, so both the share of winning subsets (the
  chance of a given ticket) and whether any subset wins are exact for each draw of the n weights.
  Pensia et al. show that n = O(log(1 / eps)) weights suffice with high probability.
- ``wilson_interval``: the binomial confidence interval for a share of sampled masks that win.
"""
from __future__ import annotations

import math

import numpy as np


def subset_sums(weights: np.ndarray) -> np.ndarray:
    """The sums of all 2^n subsets of ``weights`` (n <= 24), subset s holding the weights whose bits s sets."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size > 24:
        raise ValueError(f"weights must hold at most 24 values (2^n subsets are enumerated); got {w.size}")
    sums = np.zeros(1)
    for x in w:
        sums = np.concatenate([sums, sums + x])
    return sums


def subset_sum_lottery(n: int, target: float, eps: float, draws: int, seed: int = 0) -> dict:
    """Over ``draws`` draws of n weights uniform on [-1, 1]: the share of the 2^n subsets whose sum lies
    within ``eps`` of ``target`` (the chance of a given ticket) and whether any subset does."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 24:
        raise ValueError(f"n must be an integer in [1, 24]; got {n!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0; got {eps!r}")
    rng = np.random.default_rng(seed)
    share, any_win = [], []
    for _ in range(draws):
        wins = np.abs(subset_sums(rng.uniform(-1, 1, n)) - target) <= eps
        share.append(wins.mean())
        any_win.append(wins.any())
    return {"share": np.array(share), "any": np.array(any_win)}


def wilson_interval(wins: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a binomial share ``wins / trials``."""
    if trials < 1 or not 0 <= wins <= trials:
        raise ValueError(f"need 0 <= wins <= trials and trials >= 1; got {wins}, {trials}")
    p = wins / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
