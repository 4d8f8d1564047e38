"""Magnitude pruning masks over a list of weight tensors: unstructured and structured (whole channels).

Both functions prune a ``fraction`` of what currently survives, the way IMP does (20% of the surviving
weights per round), and return new boolean masks; pruned entries stay pruned. Rounding follows
torch.nn.utils.prune: ``round(fraction * survivors)``, Python's round (half to even). Ties are broken
by position, so the same weights always give the same masks, bit for bit, on every backend.
"""
from __future__ import annotations

import math

import torch

from rglt.kernels.masked_topk import BACKENDS, SCOPES, check_inputs, masked_topk
from rglt.kernels.masked_topk.reference import prune_count, survivor_counts
from rglt.validate import (check_choice, check_int, check_real, check_seed, check_tensor, is_int, is_real,
                           require)


def _check_inputs(weights, masks, scope, min_ndim=0):
    """Checks shared by both functions, all before any work: a ValueError/TypeError naming the input."""
    masks = check_inputs(weights, masks)
    for i, w in enumerate(weights):
        if w.ndim < min_ndim:
            raise ValueError(f"weights[{i}] must have at least {min_ndim} dimension(s); got shape "
                             f"{tuple(w.shape)}")
    for i, m in enumerate(masks):
        if m is not None:  # nonzero survives: a NaN mask entry would survive as if it were 1
            check_tensor(m, f"masks[{i}]", finite=True)
    check_choice(scope, "scope", SCOPES)
    return masks


def _check_finite(weights):
    for i, w in enumerate(weights):
        check_tensor(w, f"weights[{i}]", finite=True)


def _check_fraction(fraction, weights, masks, scope):
    """magnitude_masks' ``fraction``: a float in [0, 1), or an int count of surviving entries that
    every group (the list, or each tensor when layerwise) has."""
    if not is_int(fraction):
        require(is_real(fraction) and 0 <= fraction < 1, "fraction",
                "a number in [0, 1) (a share of the survivors) or an int >= 0 (a count of entries)", fraction)
        return float(fraction)
    fraction = check_int(fraction, "fraction (as a count of entries)", 0)
    survivors = survivor_counts(weights, masks)
    groups = [sum(survivors)] if scope == "global" else survivors
    for i, n in enumerate(groups):
        if fraction > n:
            where = "the list" if scope == "global" else f"weights[{i}]"
            raise ValueError(f"fraction (as a count of entries) must be <= the surviving entries of {where} "
                             f"({n}); got {fraction}")
    return fraction


def magnitude_masks(weights, masks=None, fraction=0.2, *, scope="global", backend="auto"):
    """Prune ``fraction`` of the surviving entries with the smallest |w|; return boolean masks.

    Args:
        weights: list of float tensors (float32, float16, bfloat16, float64), one dtype, one device.
        masks: None (every entry survives) or one tensor per weight of the same shape; nonzero (or
            True) survives. torch.nn.utils.prune's float ``weight_mask`` buffers work as they are.
        fraction: in [0, 1): the share of the *surviving* entries to prune. The count is
            ``round(fraction * survivors)`` with Python's round (half to even), exactly as
            torch.nn.utils.prune computes it, over the whole list (``scope="global"``) or per tensor
            (``scope="layerwise"``). An int prunes exactly that many surviving entries.
        backend: ``"auto"`` (Triton on CUDA, else the PyTorch reference), ``"reference"``, ``"triton"``.

    Returns:
        One boolean mask per weight, same shape; entries already pruned stay pruned.

    Tie rule: entries are ranked by |w| (bit-exact: -0.0 and +0.0 tie), then by tensor position in
    ``weights``, then by flat row-major index; the first k are pruned. So among entries equal to the
    threshold |w|, those in earlier tensors and at lower indices go first. Without ties the masks
    equal torch.nn.utils.prune.global_unstructured / l1_unstructured with ``L1Unstructured``.
    """
    checked = _check_inputs(weights, masks, scope)
    # an int is an exact count, e.g. re-pruning an interpolation to a ticket's density
    fraction = _check_fraction(fraction, weights, checked, scope)
    check_choice(backend, "backend", BACKENDS)
    _check_finite(weights)
    return masked_topk([w.detach() for w in weights], masks, fraction, scope=scope, backend=backend)


def structured_masks(weights, masks=None, fraction=0.2, *, scope="global"):
    """Prune ``fraction`` of the surviving output channels (dim 0) with the smallest mean |w|.

    A channel (``w[c]``, all entries with index c along dim 0: a filter of a conv, a row of a linear
    weight) survives while any of its entries survives. Its score is the L1 norm of its surviving
    entries divided by the channel's size (entries per channel): within one tensor that is the L1 norm
    ranking of torch.nn.utils.prune.ln_structured(n=1, dim=0); across tensors the division keeps wide
    layers from looking important just for their fan-in. Scores are summed in float64.

    The count is ``round(fraction * surviving channels)`` (half to even), over all tensors
    (``scope="global"``) or per tensor (``scope="layerwise"``). Tie rule: channels are ranked by
    (score, tensor position, channel index) and the first k are pruned. A pruned channel's mask is all
    False; the other channels keep their masks. Every tensor needs at least one channel and one entry
    per channel (a ValueError otherwise). Runs in PyTorch on the tensors' device (the number of
    channels is small, so no kernel is needed).
    """
    _check_inputs(weights, masks, scope, min_ndim=1)
    for i, w in enumerate(weights):
        # A tensor with no channel, or channels with no entry, has nothing to rank (and the
        # reshape below cannot infer its row length).
        if w.numel() == 0:
            raise ValueError(f"weights[{i}] must have at least one channel (dim 0) and one entry per "
                             f"channel; got shape {tuple(w.shape)}")
    fraction = check_real(fraction, "fraction", 0, 1, high_open=True)
    _check_finite(weights)
    with torch.no_grad():
        masks = [torch.ones_like(w, dtype=torch.bool) if masks is None else masks[i] != 0
                 for i, w in enumerate(weights)]
        scores, alive = [], []
        for w, m in zip(weights, masks):
            flat_w, flat_m = w.detach().reshape(w.shape[0], -1), m.reshape(w.shape[0], -1)
            size = max(flat_w.shape[1], 1)
            scores.append((flat_w.to(torch.float64).abs() * flat_m).sum(1) / size)
            alive.append(flat_m.any(1))
        groups = [range(len(weights))] if scope == "global" else [[i] for i in range(len(weights))]
        for group in groups:
            score = torch.cat([scores[i] for i in group])
            live = torch.cat([alive[i] for i in group])
            k = prune_count(fraction, int(live.sum()))
            if k == 0:
                continue
            # Stable sort keeps (tensor position, channel index) order among equal scores.
            order = torch.sort(torch.where(live, score, math.inf), stable=True).indices[:k]
            start = 0
            for i in group:
                n = weights[i].shape[0]
                chosen = order[(order >= start) & (order < start + n)] - start
                masks[i][chosen] = False  # masks[i] is a fresh tensor (from `!= 0` or ones_like)
                start += n
    return masks


def random_like(mask: torch.Tensor, seed: int) -> torch.Tensor:
    """A uniformly random bool mask of ``mask``'s shape with exactly as many survivors (the random-pruning
    control at the same per-layer count)."""
    check_tensor(mask, "mask")
    if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"mask must be a bool tensor or hold only 0 and 1 (its survivors are counted); "
                         f"got {mask.dtype} values other than 0 and 1")
    seed = check_seed(seed)
    flat = torch.zeros(mask.numel(), dtype=torch.bool)
    flat[torch.randperm(mask.numel(), generator=torch.Generator().manual_seed(seed))[:int(mask.sum())]] = True
    return flat.reshape(mask.shape)
