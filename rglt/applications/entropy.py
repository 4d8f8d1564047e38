"""How many bits a pruning mask costs: code lengths of boolean masks under simple two-part codes.

A mask with k survivors among n entries, drawn uniformly among such masks, needs log2 C(n, k) bits
(the enumerative code) plus the bits that say k: log2(n + 1). That is the bound for a random mask of
the same density. A mask with structure costs less under a code that models it: IMP prunes some
output units (rows) or inputs (columns) far more than others, so coding each row with its own count
can beat the global count. ``code_lengths`` gives every model's length; the smallest is the bound a
compressor that knows the model could reach.
"""
from __future__ import annotations

import math

import numpy as np
import torch

MODELS = ("iid", "rows", "columns")


def log2_binomial(n: int, k: int) -> float:
    """log2 of the binomial coefficient C(n, k), exact to float precision for large n (via lgamma)."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n; got n={n}, k={k}")
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def binary_entropy(p) -> np.ndarray:
    """H(p) = -p log2 p - (1 - p) log2 (1 - p) in bits, elementwise, 0 at p = 0 and 1."""
    p = np.asarray(p, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p must lie in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.where((p == 0) | (p == 1), 0.0, h)


def _matrix(mask) -> np.ndarray:
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if m.ndim == 0:
        raise ValueError("mask must have at least one dimension")
    m = m.astype(bool)
    return m.reshape(len(m), -1) if m.ndim > 1 else m.reshape(1, -1)   # rows: output units


def _grouped(counts: np.ndarray, size: int) -> float:
    """Each group of ``size`` entries sends its count (log2(size + 1) bits), then its pattern."""
    return float(sum(log2_binomial(size, int(k)) for k in counts) + len(counts) * math.log2(size + 1))


def code_length(mask, model: str = "iid") -> float:
    """Bits to send ``mask`` (bool, any shape; dim 0 = output units) under ``model``:

    - ``"iid"``: the survivor count, then which of the C(n, k) masks it is;
    - ``"rows"``: per output unit (dim 0), its count and its pattern;
    - ``"columns"``: the same per input position (the other dims flattened).
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}; got {model!r}")
    m = _matrix(mask)
    if model == "iid":
        return _grouped(np.array([m.sum()]), m.size)
    if model == "rows":
        return _grouped(m.sum(1), m.shape[1])
    return _grouped(m.sum(0), m.shape[0])


def code_lengths(mask) -> dict[str, float]:
    """``code_length`` under every model, plus ``"bound"``: the smallest, and one bit per mask to say which."""
    out = {model: code_length(mask, model) for model in MODELS}
    out["bound"] = min(out.values()) + math.log2(len(MODELS))
    return out


def empirical_entropy_bits(mask) -> float:
    """n H(k / n): the iid entropy of a mask of the same density (the asymptote of the iid code)."""
    m = _matrix(mask)
    return float(m.size * binary_entropy(m.mean()))
