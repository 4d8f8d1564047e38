"""How much two tickets share: the Jaccard index of their masks, against two random masks' expectation."""
from __future__ import annotations

import torch


def _flat(masks, name: str) -> torch.Tensor:
    if isinstance(masks, torch.Tensor):
        masks = [masks]
    if not len(masks):
        raise ValueError(f"{name} must hold at least one mask")
    return torch.cat([torch.as_tensor(m).detach().cpu().reshape(-1).bool() for m in masks])


def jaccard(masks_a, masks_b) -> float:
    """|A and B| / |A or B| over all entries of two masks (a tensor or a list of tensors, same shapes)."""
    a, b = _flat(masks_a, "masks_a"), _flat(masks_b, "masks_b")
    if a.shape != b.shape:
        raise ValueError(f"the masks differ in size: {a.numel()} and {b.numel()} entries")
    union = int((a | b).sum())
    if union == 0:
        raise ValueError("both masks are empty: the Jaccard index is undefined")
    return int((a & b).sum()) / union


def random_jaccard(density_a: float, density_b: float | None = None) -> float:
    """The expected Jaccard index of two independent uniform random masks of these densities (large n):
    p q / (p + q - p q); for one density p, p / (2 - p)."""
    p = float(density_a)
    q = p if density_b is None else float(density_b)
    for name, v in (("density_a", p), ("density_b", q)):
        if not 0 < v <= 1:
            raise ValueError(f"{name} must lie in (0, 1]; got {v}")
    return p * q / (p + q - p * q)
