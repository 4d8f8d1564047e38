"""Masked magnitude top-k: prune the surviving entries of smallest |w| over a list of tensors.

``masked_topk`` is the public function: it checks its input, then runs the Triton kernels
(``triton.py``) when every tensor is on CUDA and the PyTorch radix select (``reference.py``) otherwise.
Both give the same masks, bit for bit:

- how many: an int ``amount`` prunes exactly that many; a float prunes ``round(amount * n)`` of the n
  surviving entries (Python's round, half to even: torch.nn.utils.prune's rule), over the whole list
  (``scope="global"``) or per tensor (``scope="layerwise"``);
- which: the smallest |w|; ties at the threshold |w| are pruned first in (tensor order, flat row-major
  index) order. -0.0 and +0.0 tie. Without ties this equals torch.nn.utils.prune's L1Unstructured.
- non-finite weights are ranked, not refused: +inf and -inf tie above every finite |w|, NaN (either
  sign) above inf, so they are pruned last (see ``masked_topk``).
"""
from __future__ import annotations

import math
import numbers
import os

import torch

from . import reference

SCOPES = ("global", "layerwise")
BACKENDS = ("auto", "reference", "triton")
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def check_inputs(weights, masks):
    """Check the weight list and its masks (before any work); return the masks as a list."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list or tuple of tensors; got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights must hold at least one tensor; got an empty list")
    for i, w in enumerate(weights):
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"weights[{i}] must be a torch.Tensor; got {type(w).__name__}")
        if w.dtype not in reference.DTYPES:
            names = ", ".join(str(d).removeprefix("torch.") for d in reference.DTYPES)
            raise TypeError(f"weights[{i}] must have a floating dtype ({names}); got {w.dtype}")
        if w.dtype != weights[0].dtype:
            raise TypeError(f"weights must share one dtype; weights[0] is {weights[0].dtype}, "
                            f"weights[{i}] is {w.dtype}")
        if w.device != weights[0].device:
            raise ValueError(f"weights must be on one device; weights[0] is on {weights[0].device}, "
                             f"weights[{i}] on {w.device}")
        if w.device.type == "meta":  # no data to rank: refuse here, not deep inside torch
            raise ValueError(f"weights[{i}] must hold data; got a tensor on device {w.device} "
                             f"(move it to the CPU or a GPU)")
    if masks is None:
        return [None] * len(weights)
    if not isinstance(masks, (list, tuple)):
        raise TypeError(f"masks must be None or a list of tensors; got {type(masks).__name__}")
    if len(masks) != len(weights):
        raise ValueError(f"masks must hold one mask per weight ({len(weights)}); got {len(masks)}")
    for i, (w, m) in enumerate(zip(weights, masks)):
        if m is None:
            continue
        if not isinstance(m, torch.Tensor):
            raise TypeError(f"masks[{i}] must be a torch.Tensor or None; got {type(m).__name__}")
        if m.shape != w.shape:
            raise ValueError(f"masks[{i}] must have the shape of weights[{i}], {tuple(w.shape)}; "
                             f"got {tuple(m.shape)}")
        if m.device != w.device:  # also refuses a meta mask: its weight is not on meta (checked above)
            raise ValueError(f"masks[{i}] must be on the device of weights[{i}], {w.device}; "
                             f"got {m.device}")
    return list(masks)


def _check_amount(amount):
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"amount must be an int (entries) or a float (fraction); got {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"amount must be >= 0 when an int; got {amount}")
        return int(amount)
    amount = float(amount)
    if not math.isfinite(amount) or not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1] when a float; got {amount!r}")
    return amount


def _pick_backend(backend: str, weights) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    on_cuda = weights[0].is_cuda
    if backend == "auto":
        return "triton" if on_cuda and weights[0].dtype in TRITON_DTYPES else "reference"
    if backend == "triton":
        if weights[0].dtype not in TRITON_DTYPES:
            raise TypeError(f"backend 'triton' supports float32, float16 and bfloat16 weights; "
                            f"got {weights[0].dtype}")
        if not on_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError("backend 'triton' needs CUDA tensors, or TRITON_INTERPRET=1 (set before "
                             "rglt.kernels.masked_topk.triton is imported) to run on the CPU")
    return backend


def masked_topk(weights, masks=None, amount=0.2, *, scope="global", backend="auto",
                zero_weights=False, block=None) -> list[torch.Tensor]:
    """Boolean masks with ``amount`` of the surviving entries of smallest |w| pruned.

    Args:
        weights: list of float32 / float16 / bfloat16 tensors (float64 on the reference backend only),
            one dtype, one device. Read only, unless ``zero_weights``.
        masks: None (every entry survives) or one tensor per weight, same shape, nonzero = survives;
            an entry may be None. Pruned entries stay pruned.
        amount: an int prunes that many surviving entries (per tensor when layerwise); a float in
            [0, 1] prunes ``round(amount * survivors)`` (half to even, like torch.nn.utils.prune).
        scope: ``"global"`` (one threshold over the list) or ``"layerwise"`` (one per tensor).
        backend: ``"auto"`` (Triton when the tensors are on CUDA, else reference), ``"reference"`` or
            ``"triton"`` (on the CPU only under TRITON_INTERPRET=1).
        zero_weights: also set the weights outside the new masks to zero, in place.
        block: Triton block size (a power of 2; default 4096 on CUDA, 8192 in the interpreter).

    Returns:
        New boolean masks, one per weight, of the same shapes. Ties at the threshold |w| are pruned
        first in (tensor order, flat row-major index) order.

    Non-finite weights are ranked by the bits of |w| like any other, not refused: +inf and -inf tie
    just above the largest finite |w|, and NaN (of either sign) ranks above inf (NaNs with different
    payloads in the order of their bits; equal ones tie). So they are pruned last, only when the
    count exceeds the finite survivors, by the same tie rule; ``amount=1.0`` prunes them too. Both
    backends agree. Refusing them would cost a pass over the weights and a host sync that the Triton
    path avoids; ``rglt.prune.magnitude_masks`` refuses them.

    The Triton path syncs with the host only for an int ``amount`` (to check it against the survivors).
    """
    masks = check_inputs(weights, masks)
    amount = _check_amount(amount)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    backend = _pick_backend(backend, weights)
    if not isinstance(zero_weights, bool):
        raise TypeError(f"zero_weights must be a bool; got {zero_weights!r}")
    if block is not None and (isinstance(block, bool) or not isinstance(block, int) or block < 16
                              or block & (block - 1)):
        raise ValueError(f"block must be None or a power of 2 >= 16; got {block!r}")
    with torch.no_grad():
        if backend == "reference" or isinstance(amount, int):
            counts = _counts(weights, masks, amount, scope)
        if backend == "reference":
            return reference.masked_bottomk([w.detach() for w in weights], masks, counts, scope,
                                            zero_weights)
        return _run_triton(weights, masks, amount, counts if isinstance(amount, int) else None,
                           scope, zero_weights, block)


def _counts(weights, masks, amount, scope):
    """Entries to prune: one int (global) or one per tensor (layerwise)."""
    survivors = reference.survivor_counts(weights, masks)
    groups = [sum(survivors)] if scope == "global" else survivors
    if isinstance(amount, int):
        for i, n in enumerate(groups):
            if amount > n:
                where = "the list" if scope == "global" else f"weights[{i}]"
                raise ValueError(f"amount must be <= the surviving entries of {where} ({n}); "
                                 f"got {amount}")
        counts = [amount] * len(groups)
    else:
        counts = [reference.prune_count(amount, n) for n in groups]
    return counts[0] if scope == "global" else counts


def _run_triton(weights, masks, amount, counts, scope, zero_weights, block):
    from . import triton as kernels  # imported late: defining the kernels reads TRITON_INTERPRET

    if block is None:
        block = 4096 if weights[0].is_cuda else 8192
    flat = [w.detach() if w.is_contiguous() else w.detach().contiguous() for w in weights]
    bool_masks = [None if m is None else m.to(torch.bool).contiguous() for m in masks]
    fraction = None if isinstance(amount, int) else amount
    out = kernels.masked_bottomk(flat, bool_masks, fraction=fraction, counts=counts, scope=scope,
                                 zero_weights=zero_weights, block=block)
    if zero_weights:
        for w, c, m in zip(weights, flat, out):
            if c.data_ptr() != w.data_ptr():  # the kernel zeroed a contiguous copy
                w.detach().masked_fill_(~m, 0)
    return out
