"""The oracle of masked magnitude top-k: a plain Python sort, slow and obviously right.

Survivors are sorted by (the reference's key of |w|, tensor position, flat index) and the first k of
each group pruned: the tie rule the reference (radix select) and the Triton kernels must follow bit
for bit. Used by the tests and by chapter 6; never on a hot path.
"""
from __future__ import annotations

import torch

from . import reference


def naive_masked_topk(weights, masks, amount, scope: str = "global") -> list[torch.Tensor]:
    """Masks after pruning ``amount`` (a fraction of the survivors, rounded half to even, or an int
    count) of the smallest surviving weights, globally or per tensor (``scope="layerwise"``)."""
    flat_masks = [torch.ones(w.numel(), dtype=torch.bool) if m is None else m.reshape(-1).cpu() != 0
                  for w, m in zip(weights, masks)]
    items = []
    for t, (w, m) in enumerate(zip(weights, flat_masks)):
        keys = reference.keys(w.cpu()).tolist()
        items.append(sorted((keys[i], t, i) for i in range(w.numel()) if m[i]))
    groups = [sorted(x for its in items for x in its)] if scope == "global" else items
    for group in groups:
        k = amount if isinstance(amount, int) else round(amount * len(group))
        for _, t, i in group[:k]:
            flat_masks[t][i] = False
    return [m.reshape(w.shape) for m, w in zip(flat_masks, weights)]
