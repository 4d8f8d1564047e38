"""Masked magnitude bottom-k as Triton kernels: the same selection as ``reference.py``, on the GPU.

One launch per pass covers every tensor: a table of int64 data pointers (weights, masks, new masks) and a
block table of (tensor id, start offset) replace ``torch.cat``, so no weight is copied. Per pass:

1. ``_hist_kernel``: each block takes the keys (bits of |w|) of its surviving entries whose higher digits
   equal the prefix chosen so far, builds a ``tl.histogram`` of the next digit and atomically adds it to
   a global histogram (one per group: the whole list for ``global``, each tensor for ``layerwise``).
   fp32 keys (31 bits) take three passes of 11 + 10 + 10 bits, fp16/bf16 keys (15 bits) two of 8 + 7.
2. ``_select_kernel``: one program per group scans the histogram and keeps, in device memory, the
   prefix and how many entries are still to prune inside it. No host sync: the next pass reads them.

After the last pass the group's state holds the threshold key T and r, the number of surviving entries
with key == T to prune. ``_tie_count_kernel`` counts such entries per block, an exclusive prefix sum over
blocks (``torch.cumsum``, blocks are in (tensor, offset) order) gives each block its rank base, and
``_write_kernel`` writes the new masks: survivors with key > T, plus ties whose rank within the group is
>= r. Optionally it zeroes the pruned weights in place (by storing integer 0 bits).

Only integer bit patterns are loaded and compared: bf16 arithmetic is broken in the interpreter, and
integer keys are exact anyway. The number to prune, k = round(fraction * n_surviving), is computed on the
device from the first histogram with ``torch.round`` in float64 (half to even, the same IEEE product as
Python's ``round(fraction * n)``), so a fraction needs no host sync either.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

# (shift, width) per radix pass, most significant digit first; 2**11 bins fit a block's registers.
PLANS = {31: ((20, 11), (10, 10), (0, 10)), 15: ((7, 8), (0, 7))}
_KEY_BITS = {torch.float32: 31, torch.float16: 15, torch.bfloat16: 15}
DTYPES = tuple(_KEY_BITS)


@triton.jit
def _block(w_ptrs, m_ptrs, numels, blk_tid, blk_start, BLOCK: tl.constexpr, IS16: tl.constexpr):
    """Tensor id, offsets, in-bounds flags, integer keys and survivor flags of this program's block."""
    pid = tl.program_id(0)
    tid = tl.load(blk_tid + pid)
    offs = tl.load(blk_start + pid) + tl.arange(0, BLOCK).to(tl.int64)
    inb = offs < tl.load(numels + tid)
    if IS16:
        wp = tl.load(w_ptrs + tid).to(tl.pointer_type(tl.int16))
        key = tl.load(wp + offs, mask=inb, other=0).to(tl.int32) & 0x7FFF
    else:
        wp = tl.load(w_ptrs + tid).to(tl.pointer_type(tl.int32))
        key = tl.load(wp + offs, mask=inb, other=0) & 0x7FFFFFFF
    # A null mask pointer means "every entry survives": the masked load never dereferences it.
    m_addr = tl.load(m_ptrs + tid)
    mp = m_addr.to(tl.pointer_type(tl.int8))
    surv = inb & (tl.load(mp + offs, mask=inb & (m_addr != 0), other=1) != 0)
    return pid, tid, offs, inb, key, surv


@triton.jit
def _group(tid, LAYERWISE: tl.constexpr):
    # Global scope: one group (0) for the whole list; layerwise: one group per tensor.
    if LAYERWISE:
        return tid.to(tl.int64)
    else:
        return tid.to(tl.int64) * 0


@triton.jit
def _hist_kernel(w_ptrs, m_ptrs, numels, blk_tid, blk_start, state, hist,
                 SHIFT: tl.constexpr, WIDTH: tl.constexpr, FIRST: tl.constexpr,
                 LAYERWISE: tl.constexpr, BLOCK: tl.constexpr, IS16: tl.constexpr):
    pid, tid, offs, inb, key, surv = _block(w_ptrs, m_ptrs, numels, blk_tid, blk_start, BLOCK, IS16)
    g = _group(tid, LAYERWISE)
    if not FIRST:
        prefix = tl.load(state + g * 2)
        surv = surv & ((key >> (SHIFT + WIDTH)).to(tl.int64) == prefix)
    digit = (key >> SHIFT) & ((1 << WIDTH) - 1)
    counts = tl.histogram(digit, 1 << WIDTH, mask=surv)
    # Empty bins are skipped: after the first pass most of a block's bins are empty.
    tl.atomic_add(hist + g * (1 << WIDTH) + tl.arange(0, 1 << WIDTH), counts.to(tl.int64),
                  mask=counts != 0)


@triton.jit
def _select_kernel(hist, state, WIDTH: tl.constexpr):
    # Smallest digit d whose cumulative count reaches the number still to prune; d joins the prefix.
    g = tl.program_id(0).to(tl.int64)
    bins = tl.arange(0, 1 << WIDTH)
    counts = tl.load(hist + g * (1 << WIDTH) + bins)
    cum = tl.cumsum(counts, 0)
    remaining = tl.load(state + g * 2 + 1)
    d = tl.sum((cum < remaining).to(tl.int64), 0)
    below = tl.sum(tl.where(bins < d, counts, 0), 0)
    prefix = tl.load(state + g * 2)
    tl.store(state + g * 2, (prefix << WIDTH) | d)
    tl.store(state + g * 2 + 1, remaining - below)


@triton.jit
def _tie_count_kernel(w_ptrs, m_ptrs, numels, blk_tid, blk_start, state, ties,
                      LAYERWISE: tl.constexpr, BLOCK: tl.constexpr, IS16: tl.constexpr):
    pid, tid, offs, inb, key, surv = _block(w_ptrs, m_ptrs, numels, blk_tid, blk_start, BLOCK, IS16)
    g = _group(tid, LAYERWISE)
    eq = surv & (key.to(tl.int64) == tl.load(state + g * 2))
    tl.store(ties + pid, tl.sum(eq.to(tl.int64), 0))


@triton.jit
def _write_kernel(w_ptrs, m_ptrs, out_ptrs, numels, blk_tid, blk_start, state, tie_base,
                  LAYERWISE: tl.constexpr, ZERO: tl.constexpr, BLOCK: tl.constexpr,
                  IS16: tl.constexpr):
    pid, tid, offs, inb, key, surv = _block(w_ptrs, m_ptrs, numels, blk_tid, blk_start, BLOCK, IS16)
    g = _group(tid, LAYERWISE)
    threshold = tl.load(state + g * 2)
    to_prune = tl.load(state + g * 2 + 1)
    k64 = key.to(tl.int64)
    eq = (surv & (k64 == threshold)).to(tl.int64)
    # Rank of each tie within its group, in (tensor order, flat index) order.
    rank = tl.load(tie_base + pid) + tl.cumsum(eq, 0) - eq
    keep = surv & ((k64 > threshold) | ((eq != 0) & (rank >= to_prune)))
    op = tl.load(out_ptrs + tid).to(tl.pointer_type(tl.int8))
    tl.store(op + offs, keep.to(tl.int8), mask=inb)
    if ZERO:
        if IS16:
            wp = tl.load(w_ptrs + tid).to(tl.pointer_type(tl.int16))
            tl.store(wp + offs, tl.zeros((BLOCK,), tl.int16), mask=inb & ~keep)
        else:
            wp = tl.load(w_ptrs + tid).to(tl.pointer_type(tl.int32))
            tl.store(wp + offs, tl.zeros((BLOCK,), tl.int32), mask=inb & ~keep)


def _block_table(numels: list[int], block: int, device):
    """(tensor id, start offset) of every block, and the index of the first block of each tensor."""
    per = torch.tensor([-(-n // block) for n in numels], dtype=torch.int64)
    tids = torch.repeat_interleave(torch.arange(len(numels), dtype=torch.int32), per)
    first = torch.cumsum(per, 0) - per
    starts = (torch.arange(tids.numel(), dtype=torch.int64) - first[tids.long()]) * block
    return tids.to(device), starts.to(device), first.to(device)


def masked_bottomk(weights, masks, *, fraction=None, counts=None, scope="global",
                   zero_weights=False, block=4096) -> list[torch.Tensor]:
    """New boolean masks with the surviving entries of smallest |w| pruned, on Triton kernels.

    ``masks[i]`` is a contiguous bool tensor or None (all survive). Give either ``fraction`` (k is
    round(fraction * survivors) per group, computed on the device) or ``counts`` (an int for global, a
    list of ints for layerwise). Weights must be contiguous, of one dtype in ``DTYPES``, on one device.
    Inputs are assumed checked (see ``rglt.kernels.masked_topk.masked_topk``).
    """
    device = weights[0].device
    bits = _KEY_BITS[weights[0].dtype]
    layerwise = scope == "layerwise"
    groups = len(weights) if layerwise else 1
    numels = [w.numel() for w in weights]
    outs = [torch.empty(w.shape, dtype=torch.bool, device=device) for w in weights]
    if sum(numels) == 0:
        return outs

    def table(ts):
        return torch.tensor([0 if t is None else t.data_ptr() for t in ts], dtype=torch.int64,
                            device=device)

    w_ptrs, m_ptrs, out_ptrs = table(weights), table(masks), table(outs)
    n_t = torch.tensor(numels, dtype=torch.int64, device=device)
    blk_tid, blk_start, first = _block_table(numels, block, device)
    grid = (blk_tid.numel(),)
    common = dict(BLOCK=block, IS16=bits == 15)
    state = torch.zeros(groups, 2, dtype=torch.int64, device=device)  # (prefix, still to prune)
    for p, (shift, width) in enumerate(PLANS[bits]):
        hist = torch.zeros(groups, 1 << width, dtype=torch.int64, device=device)
        _hist_kernel[grid](w_ptrs, m_ptrs, n_t, blk_tid, blk_start, state, hist, SHIFT=shift,
                           WIDTH=width, FIRST=p == 0, LAYERWISE=layerwise, **common)
        if p == 0:  # the first histogram counts every survivor of each group: k follows from it
            if fraction is not None:
                state[:, 1] = torch.round(fraction * hist.sum(1).to(torch.float64)).to(torch.int64)
            else:
                state[:, 1] = torch.as_tensor(counts, dtype=torch.int64, device=device)
        _select_kernel[(groups,)](hist, state, WIDTH=width)
    ties = torch.empty(grid[0], dtype=torch.int64, device=device)
    _tie_count_kernel[grid](w_ptrs, m_ptrs, n_t, blk_tid, blk_start, state, ties,
                            LAYERWISE=layerwise, **common)
    excl = torch.cumsum(ties, 0) - ties
    # Ranks restart at each group's first block (the whole list is one group when global).
    base = excl - excl[first[blk_tid.long()]] if layerwise else excl
    _write_kernel[grid](w_ptrs, m_ptrs, out_ptrs, n_t, blk_tid, blk_start, state, base,
                        LAYERWISE=layerwise, ZERO=bool(zero_weights), **common)
    return outs
