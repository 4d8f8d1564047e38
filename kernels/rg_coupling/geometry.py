"""Where each RG layer acts: patch indices, their gather / scatter, and the RG level of every site.

Level h (h = 0..H-1, H = log2(size / kernel) + 1) has two RG layers. Each works on kernel x kernel
patches with dilation 2^h and stride kernel * 2^h, indices taken modulo the image size (periodic
wrap). In the data -> latent direction the first layer of a level has offset 0 and the second offset
kernel * 2^h / 2, the original code's convention (the report's Eq. 15 puts the offset on the first
layer instead: the mirror image).

Within one layer the patches tile the sublattice of sites whose coordinates are multiples of 2^h, so
they are disjoint and each such site is touched exactly once; the layer is a permutation of that
sublattice into a [batch * patches, channels * kernel * kernel] matrix and back. The index tensors are
plain arithmetic so that a fused kernel can reproduce them (``triton.py`` does).

It lives beside the kernels, which need it, so that they import nothing from the rest of rglt;
``rglt.flow`` re-exports it.
"""
from __future__ import annotations

import numbers

import torch


# rglt.validate's message style, restated: the kernels import nothing from the rest of rglt.
def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _require(ok: bool, name: str, allowed: str, value) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


def check_geometry(size, kernel) -> int:
    """Validate (size, kernel) and return the number of RG levels H = log2(size / kernel) + 1."""
    _require(_is_int(kernel) and kernel >= 2 and kernel % 2 == 0, "kernel",
             "an even integer >= 2 (checkerboard, half-patch offset)", kernel)
    _require(_is_int(size) and size >= kernel, "size", f"an integer kernel * 2^k (k >= 0) with kernel={kernel}", size)
    ratio, rest = divmod(int(size), int(kernel))
    if rest or ratio & (ratio - 1):
        raise ValueError(f"size must be kernel * 2^k (k >= 0) with kernel={kernel}, e.g. "
                         f"{[kernel * 2 ** k for k in range(4)]}; got {size!r}")
    return ratio.bit_length()  # log2(ratio) + 1


def layer_index(size: int, kernel: int, level: int, offset: bool) -> torch.Tensor:
    """Flat site indices (row * size + col) of one RG layer: a LongTensor [patches, kernel * kernel].

    Patch (p, q), in row-major order, holds sites (o + s p + d a, o + s q + d b) mod size for a, b in
    0..kernel-1 (row-major, b fastest), with dilation d = 2^level, stride s = kernel * d and offset
    o = kernel * d / 2 when ``offset`` else 0.
    """
    levels = check_geometry(size, kernel)
    _require(_is_int(level) and 0 <= level <= levels - 1, "level", f"an integer in [0, {levels - 1}]", level)
    dilation = 2 ** level
    stride = kernel * dilation
    shift = stride // 2 if offset else 0
    blocks = size // stride
    corner = torch.arange(blocks) * stride + shift             # first row (or column) of each patch
    inner = torch.arange(kernel) * dilation
    rows = (corner[:, None, None, None] + inner[None, None, :, None]) % size   # [p, 1, a, 1]
    cols = (corner[None, :, None, None] + inner[None, None, None, :]) % size   # [1, q, 1, b]
    return (rows * size + cols).reshape(blocks * blocks, kernel * kernel)


def rg_layer_indices(size: int, kernel: int) -> list[torch.Tensor]:
    """The 2H layer indices in data -> latent order: level 0 (offset 0, offset), level 1, ..."""
    levels = check_geometry(size, kernel)
    return [layer_index(size, kernel, h, offset) for h in range(levels) for offset in (False, True)]


def gather_patches(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[B, C, size, size] -> [B * patches, C * kernel * kernel] (channel slowest, then patch row-major)."""
    b, c = x.shape[:2]
    patches, kk = index.shape
    out = x.reshape(b, c, -1)[:, :, index]                     # [B, C, P, K*K]
    return out.permute(0, 2, 1, 3).reshape(b * patches, c * kk)


def scatter_patches(x: torch.Tensor, patches: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`gather_patches`: a copy of ``x`` with the patch values written at ``index``.

    Sites outside the layer's sublattice keep their value. Out of place, so autograd sees it.
    """
    b, c = x.shape[:2]
    n, kk = index.shape
    src = patches.reshape(b, n, c, kk).permute(0, 2, 1, 3).reshape(b, c, n * kk)
    return x.reshape(b, c, -1).index_copy(2, index.reshape(-1), src).reshape(x.shape)


def level_of_sites(size: int, kernel: int) -> torch.Tensor:
    """RG level of every site, a LongTensor [size, size]: min(v2(i), v2(j)) capped at H - 1.

    v2 = number of trailing zero bits (v2(0) = infinity). A site is last touched by the layers of its
    level, so its latent is that level's; at 32 x 32 the counts are 768 / 192 / 48 / 16.
    """
    levels = check_geometry(size, kernel)
    i = torch.arange(size)
    v2 = torch.full((size,), levels - 1, dtype=torch.long)
    for h in range(levels - 1, -1, -1):  # the smallest h with i not divisible by 2^(h+1) wins
        v2 = torch.where(i % 2 ** (h + 1) != 0, torch.full_like(v2, h), v2)
    return torch.minimum(v2[:, None], v2[None, :])
