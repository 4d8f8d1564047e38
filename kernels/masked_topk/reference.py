"""Masked magnitude bottom-k over a list of tensors in plain PyTorch: the CPU path and the test oracle.

Given weights w_i and masks m_i (true = the entry survives), prune the k surviving entries with the
smallest |w| and return the new boolean masks. Nothing is concatenated and nothing is sorted:

1. key = the bits of |w| as an integer (fp32: int32 bits & 0x7FFFFFFF; fp16/bf16: int16 bits & 0x7FFF;
   fp64: int64 bits with the sign cleared). For IEEE floats without the sign bit, integer order == order
   of |w|, and -0.0 and +0.0 share key 0 (NaN keys sort above +inf: ``masked_topk`` documents
   this; ``rglt.prune.magnitude_masks`` refuses non-finite weights).
2. A radix select on the keys of surviving entries, most significant digit first: each pass runs
   ``torch.bincount`` tensor by tensor and adds into one histogram, then picks the digit where the
   cumulative count reaches the number still to prune. Keys of 15 bits need one pass (32 K bins), 31 bits
   two (15 + 16 bits), 63 bits four. The result is the threshold key T and r, the number of surviving
   entries with key == T to prune (every surviving entry with key < T is pruned).
3. A last pass tensor by tensor writes ``mask & (key > T)`` and hands back the entries with key == T
   except the first r in (tensor order, flat row-major index) order: the tie rule.

Peak extra memory is two scratch buffers the size of the largest single tensor (reused by every tensor
and pass: fresh allocations cost more than the arithmetic, in page faults) and a bool one, plus a 64 K-bin
histogram;
it does not grow with the number of tensors. The returned masks are the only per-tensor allocations.
"""
from __future__ import annotations

import torch

# (integer view, sign-clearing mask, key bits) per weight dtype.
_KEYS = {
    torch.float32: (torch.int32, 0x7FFFFFFF, 31),
    torch.float16: (torch.int16, 0x7FFF, 15),
    torch.bfloat16: (torch.int16, 0x7FFF, 15),
    torch.float64: (torch.int64, 0x7FFFFFFFFFFFFFFF, 63),
}
DTYPES = tuple(_KEYS)
_DIGIT_BITS = 16  # at most 2**16 bins per pass


def keys(w: torch.Tensor) -> torch.Tensor:
    """Integer keys of |w| (same-width signed integers, never negative), flattened row-major."""
    int_dtype, sign_off, _ = _KEYS[w.dtype]
    return w.reshape(-1).view(int_dtype) & sign_off


def digit_plan(bits: int, digit_bits: int = _DIGIT_BITS) -> list[tuple[int, int]]:
    """(shift, width) per radix pass, most significant digit first; the top digit takes the remainder."""
    passes = -(-bits // digit_bits)
    widths = [bits - digit_bits * (passes - 1)] + [digit_bits] * (passes - 1)
    plan, shift = [], bits
    for width in widths:
        shift -= width
        plan.append((shift, width))
    return plan


def prune_count(fraction: float, n: int) -> int:
    """Entries to prune out of n survivors: ``round(fraction * n)``, Python's round (half to even).

    This is exactly torch.nn.utils.prune's ``_compute_nparams_toprune`` for a float amount.
    """
    return round(fraction * n)


def survivor_counts(weights, masks) -> list[int]:
    """Number of surviving entries per tensor (every entry where the mask is None)."""
    return [w.numel() if m is None else int(torch.count_nonzero(m)) for w, m in zip(weights, masks)]


class _Scratch:
    """Reusable flat buffers (two integer, one bool) as large as the largest tensor."""

    def __init__(self, weights):
        int_dtype = _KEYS[weights[0].dtype][0]
        n = max((w.numel() for w in weights), default=0)
        self.device = weights[0].device
        self.ints = torch.empty(n, dtype=int_dtype, device=self.device)
        self.more = torch.empty(n, dtype=int_dtype, device=self.device)
        self.flags = torch.empty(n, dtype=torch.bool, device=self.device)

    def views(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.ints[:n], self.more[:n], self.flags[:n]


def _flat(w: torch.Tensor, m: torch.Tensor | None):
    v = w.reshape(-1).view(_KEYS[w.dtype][0])
    if m is None:
        return v, None
    m = m.reshape(-1)
    return v, (m if m.dtype == torch.bool else m != 0)


def _select(pairs, k: int, bits: int, scratch: _Scratch) -> tuple[int, int, int]:
    """Radix select over (weight, mask) pairs: (T, r, c) with c = surviving entries whose key == T."""
    if k == 0:
        return -1, 0, 0  # no key is < -1 and there is no tie to prune
    sign_off = (1 << bits) - 1
    prefix, remaining, tied = 0, k, 0
    for shift, width in digit_plan(bits):
        top, bins = shift + width, 1 << width
        hist = torch.zeros(bins, dtype=torch.int64, device=scratch.device)
        for w, m in pairs:
            v, surv = _flat(w, m)
            if v.numel() == 0:
                continue
            a, b, flag = scratch.views(v.numel())
            if top == bits:  # first pass: every survivor takes part
                torch.bitwise_right_shift(v, shift, out=a)
                torch.bitwise_and(a, bins - 1, out=a)
                if surv is not None:
                    # Pruned entries go to digit 0 and are taken back out of bin 0: a multiply
                    # costs less than masked_fill or boolean indexing.
                    b.copy_(surv)
                    a.mul_(b)
                    hist[0] -= v.numel() - int(torch.count_nonzero(surv))
                hist += torch.bincount(a, minlength=bins)
            else:  # later passes: only survivors whose higher digits equal the prefix so far
                torch.bitwise_and(v, sign_off & ~((1 << top) - 1), out=a)
                torch.eq(a, prefix << top, out=flag)
                if surv is not None:
                    flag &= surv
                sub = v[flag]
                hist += torch.bincount((sub >> shift) & (bins - 1), minlength=bins)
        cum = torch.cumsum(hist, 0)
        d = int(torch.searchsorted(cum, torch.tensor([remaining], device=scratch.device)))
        remaining -= int(cum[d - 1]) if d > 0 else 0
        tied = int(hist[d])
        prefix = (prefix << width) | d
    return prefix, remaining, tied


def _write_masks(pairs, threshold: int, ties: int, tied: int, scratch: _Scratch, zero_weights: bool):
    """New masks: survivors with key > T, plus those with key == T after the first ``ties`` of them."""
    sign_off = (1 << _KEYS[pairs[0][0].dtype][2]) - 1
    out = []
    for w, m in pairs:
        v, surv = _flat(w, m)
        a, _, flag = scratch.views(v.numel())
        torch.bitwise_and(v, sign_off, out=a)
        if ties == 0:  # the remaining ties all survive
            new = torch.ge(a, threshold)
        else:
            new = torch.gt(a, threshold)
        if surv is not None:
            new &= surv
        if 0 < ties < tied:  # some, not all, of the remaining ties are pruned: count this tensor's
            torch.eq(a, threshold, out=flag)
            if surv is not None:
                flag &= surv
            idx = torch.nonzero(flag).reshape(-1)
            pruned = min(ties, idx.numel())
            new[idx[pruned:]] = True
            ties, tied = ties - pruned, tied - idx.numel()
        elif ties > 0:  # ties == tied: every remaining tie is pruned; count what this tensor used
            torch.eq(a, threshold, out=flag)
            if surv is not None:
                flag &= surv
            here = int(torch.count_nonzero(flag))
            ties, tied = ties - here, tied - here
        new = new.reshape(w.shape)
        if zero_weights:
            w.masked_fill_(~new, 0)
        out.append(new)
    return out


def masked_bottomk(weights, masks, counts, scope: str, zero_weights: bool = False) -> list[torch.Tensor]:
    """New boolean masks with ``counts`` surviving entries of smallest |w| pruned.

    ``masks`` is a list of tensors (nonzero = survives) or None entries (all survive); ``counts`` is one
    int for ``scope="global"`` or one int per tensor for ``scope="layerwise"``. Inputs are assumed
    checked (see ``rglt.kernels.masked_topk.masked_topk``). Ties at the threshold |w| are pruned first
    in (tensor order, flat row-major index) order. With ``zero_weights`` the pruned weights are set to
    zero in place.
    """
    bits = _KEYS[weights[0].dtype][2]
    scratch = _Scratch(weights)
    pairs = list(zip(weights, masks))
    if scope == "global":
        threshold, ties, tied = _select(pairs, counts, bits, scratch)
        return _write_masks(pairs, threshold, ties, tied, scratch, zero_weights)
    out = []
    for pair, k in zip(pairs, counts):
        threshold, ties, tied = _select([pair], k, bits, scratch)
        out += _write_masks([pair], threshold, ties, tied, scratch, zero_weights)
    return out
