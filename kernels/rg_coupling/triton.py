"""RG-Flow patch coupling glue as Triton kernels: the same maps as ``reference.py``.

Every kernel works on a tile of BLOCK_R patch rows x BLOCK_W columns (BLOCK_W = W = C * kernel^2
rounded up to a power of 2, e.g. 48 -> 64, the padding masked off). The image address of patch
entry (row, col) is computed in the kernel from the layer geometry, never from an index tensor:

    row = b * P + p,  p = (pi, qi) row-major over blocks x blocks patches,
    col = c * kernel^2 + (i * kernel + j),
    image site = (shift + pi * stride + i * dilation) mod size, (shift + qi * stride + j * dilation) mod size

with dilation 2^level, stride kernel * dilation, shift stride / 2 for the offset layer, the same
arithmetic as ``geometry.layer_index``. Within one layer each site belongs to at most one
patch, so every scatter is a plain store (no atomics), and per-row log-dets are written, not summed.

- ``_gather_kernel``: image -> contiguous patches [B * P, W].
- ``_scatter_kernel``: patches -> image sites (into a copy of the image), or zeros there (backward).
- ``_coupling_fwd_kernel``: s = (1 - keep) tanh(a s_raw), t = (1 - keep) b t_raw, the affine map
  (forward or inverse) and the per-row log-det; the result goes to a patch matrix or straight into the
  image sites (fused scatter).
- ``_coupling_bwd_kernel``: the matching backward. It reads the output gradient from a patch matrix or
  from the image (fused gather), zeroes the overwritten sites of the image gradient, writes dx, ds_raw,
  dt_raw and per-program partial sums of da, db (summed afterwards in torch: deterministic).

tanh is written 2 sigmoid(2x) - 1 (the interpreter has no libdevice.tanh). float32 and float64 are
computed in their own precision.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@triton.jit
def _tile(n_rows, W, BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid.to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R).to(tl.int64)
    cols = tl.arange(0, BLOCK_W).to(tl.int64)
    rmask = rows < n_rows
    cmask = cols < W
    return pid, rows, cols, rmask, cmask, rmask[:, None] & cmask[None, :]


@triton.jit
def _image_offsets(rows, cols, C, size, kernel, dilation, shift, blocks):
    """Flat image offsets [BLOCK_R, BLOCK_W] of patch entries (rows, cols) of one RG layer."""
    n_patches = blocks * blocks
    kk = kernel * kernel
    stride = kernel * dilation
    bi = rows // n_patches
    p = rows % n_patches
    r0 = (p // blocks) * stride + shift
    c0 = (p % blocks) * stride + shift
    ch = cols // kk
    j = cols % kk
    r = (r0[:, None] + ((j // kernel) * dilation)[None, :]) % size
    c = (c0[:, None] + ((j % kernel) * dilation)[None, :]) % size
    return ((bi[:, None] * C + ch[None, :]) * size + r) * size + c


@triton.jit
def _gather_kernel(img_ptr, out_ptr, n_rows, W, C, size, kernel, dilation, shift, blocks,
                   BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    pid, rows, cols, rmask, cmask, m = _tile(n_rows, W, BLOCK_R, BLOCK_W)
    src = _image_offsets(rows, cols, C, size, kernel, dilation, shift, blocks)
    v = tl.load(img_ptr + src, mask=m, other=0.0)
    tl.store(out_ptr + rows[:, None] * W + cols[None, :], v, mask=m)


@triton.jit
def _scatter_kernel(patches_ptr, img_ptr, n_rows, W, C, size, kernel, dilation, shift, blocks,
                    ZERO: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    pid, rows, cols, rmask, cmask, m = _tile(n_rows, W, BLOCK_R, BLOCK_W)
    dst = _image_offsets(rows, cols, C, size, kernel, dilation, shift, blocks)
    if ZERO:
        v = tl.zeros([BLOCK_R, BLOCK_W], dtype=img_ptr.dtype.element_ty)
    else:
        v = tl.load(patches_ptr + rows[:, None] * W + cols[None, :], mask=m, other=0.0)
    tl.store(img_ptr + dst, v, mask=m)


@triton.jit
def _load_coupling(x_ptr, s_ptr, t_ptr, keep_ptr, a_ptr, b_ptr, off, cols, m, cmask):
    """A tile of the coupling's row inputs (x, s_raw, t_raw) and its per-feature vectors (keep, a, b)."""
    x = tl.load(x_ptr + off, mask=m, other=0.0)
    sr = tl.load(s_ptr + off, mask=m, other=0.0)
    tr = tl.load(t_ptr + off, mask=m, other=0.0)
    keep = tl.load(keep_ptr + cols, mask=cmask, other=1.0)[None, :]
    a = tl.load(a_ptr + cols, mask=cmask, other=0.0)[None, :]
    b = tl.load(b_ptr + cols, mask=cmask, other=0.0)[None, :]
    return x, sr, tr, keep, a, b


@triton.jit
def _coupling_fwd_kernel(x_ptr, s_ptr, t_ptr, keep_ptr, a_ptr, b_ptr, y_ptr, ld_ptr,
                         n_rows, W, C, size, kernel, dilation, shift, blocks,
                         INVERSE: tl.constexpr, TO_IMAGE: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    pid, rows, cols, rmask, cmask, m = _tile(n_rows, W, BLOCK_R, BLOCK_W)
    off = rows[:, None] * W + cols[None, :]
    x, sr, tr, keep, a, b = _load_coupling(x_ptr, s_ptr, t_ptr, keep_ptr, a_ptr, b_ptr, off, cols, m, cmask)
    upd = 1.0 - keep
    s = upd * _tanh(a * sr)
    t = upd * b * tr
    if INVERSE:
        y = keep * x + upd * (x - t) * tl.exp(-s)
        ld = -tl.sum(s, axis=1)
    else:
        y = keep * x + upd * (x * tl.exp(s) + t)
        ld = tl.sum(s, axis=1)
    if TO_IMAGE:
        dst = _image_offsets(rows, cols, C, size, kernel, dilation, shift, blocks)
    else:
        dst = off
    tl.store(y_ptr + dst, y, mask=m)
    tl.store(ld_ptr + rows, ld, mask=rmask)


@triton.jit
def _coupling_bwd_kernel(g_ptr, gld_ptr, x_ptr, s_ptr, t_ptr, keep_ptr, a_ptr, b_ptr,
                         dx_ptr, ds_ptr, dt_ptr, da_ptr, db_ptr, dimg_ptr,
                         n_rows, W, C, size, kernel, dilation, shift, blocks,
                         INVERSE: tl.constexpr, FROM_IMAGE: tl.constexpr,
                         BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr):
    pid, rows, cols, rmask, cmask, m = _tile(n_rows, W, BLOCK_R, BLOCK_W)
    off = rows[:, None] * W + cols[None, :]
    if FROM_IMAGE:
        src = _image_offsets(rows, cols, C, size, kernel, dilation, shift, blocks)
        g = tl.load(g_ptr + src, mask=m, other=0.0)
        # The image input's sites under the patches were overwritten: no gradient reaches them.
        tl.store(dimg_ptr + src, tl.zeros_like(g), mask=m)
    else:
        g = tl.load(g_ptr + off, mask=m, other=0.0)
    gl = tl.load(gld_ptr + rows, mask=rmask, other=0.0)[:, None]
    x, sr, tr, keep, a, b = _load_coupling(x_ptr, s_ptr, t_ptr, keep_ptr, a_ptr, b_ptr, off, cols, m, cmask)
    upd = 1.0 - keep
    th = _tanh(a * sr)
    s = upd * th
    if INVERSE:
        einv = tl.exp(-s)
        t = upd * b * tr
        dx = g * (keep + upd * einv)
        gt = -g * upd * einv
        gs = -g * upd * (x - t) * einv - gl
    else:
        e = tl.exp(s)
        dx = g * (keep + upd * e)
        gt = g * upd
        gs = g * upd * x * e + gl
    du = gs * upd * (1.0 - th * th)
    gtb = gt * upd
    tl.store(dx_ptr + off, dx, mask=m)
    tl.store(ds_ptr + off, du * a, mask=m)
    tl.store(dt_ptr + off, gtb * b, mask=m)
    # Padded rows and columns contribute exact zeros (g, gl = 0 there; upd = 0 in padded columns).
    tl.store(da_ptr + pid * BLOCK_W + cols, tl.sum(du * sr, axis=0))
    tl.store(db_ptr + pid * BLOCK_W + cols, tl.sum(gtb * tr, axis=0))


def _geometry(size: int, kernel: int, level: int, offset: bool):
    dilation = 2 ** level
    stride = kernel * dilation
    return dilation, (stride // 2 if offset else 0), size // stride


def _blocks(n_rows: int, width: int, device) -> tuple[int, int, int]:
    block_w = triton.next_power_of_2(width)
    if device.type == "cuda":
        block_r = max(1, 2048 // block_w)
    else:  # the interpreter pays per program: few, large tiles
        block_r = max(1, min(triton.next_power_of_2(max(n_rows, 1)), 16384 // block_w))
    return block_r, block_w, triton.cdiv(n_rows, block_r)


def gather(x: torch.Tensor, kernel: int, level: int, offset: bool) -> torch.Tensor:
    """Contiguous x [B, C, size, size] -> patches [B * P, C * kernel^2]."""
    bsz, c, size, _ = x.shape
    dilation, shift, blocks = _geometry(size, kernel, level, offset)
    n, w = bsz * blocks * blocks, c * kernel * kernel
    out = torch.empty(n, w, dtype=x.dtype, device=x.device)
    block_r, block_w, grid = _blocks(n, w, x.device)
    _gather_kernel[(grid,)](x, out, n, w, c, size, kernel, dilation, shift, blocks,
                            BLOCK_R=block_r, BLOCK_W=block_w)
    return out


def scatter(x: torch.Tensor, patches: torch.Tensor | None, kernel: int, level: int,
            offset: bool) -> torch.Tensor:
    """A copy of contiguous x with the layer's sites set to ``patches`` (zeros when None)."""
    bsz, c, size, _ = x.shape
    dilation, shift, blocks = _geometry(size, kernel, level, offset)
    n, w = bsz * blocks * blocks, c * kernel * kernel
    out = x.clone()
    block_r, block_w, grid = _blocks(n, w, x.device)
    _scatter_kernel[(grid,)](out if patches is None else patches, out, n, w, c, size, kernel,
                             dilation, shift, blocks, ZERO=patches is None,
                             BLOCK_R=block_r, BLOCK_W=block_w)
    return out


def _image_args(image, geometry) -> tuple[int, ...]:
    """(C, size, kernel, dilation, shift, blocks) of the image a coupling kernel scatters into or
    gathers from; placeholders of 1 when it works on the patch matrix only."""
    if image is None:
        return (1,) * 6
    kernel, level, offset = geometry
    size = image.shape[-1]
    return (image.shape[1], size, kernel, *_geometry(size, kernel, level, offset))


def coupling_forward(x, s_raw, t_raw, keep, a, b, *, inverse=False, image=None, geometry=None):
    """(y, logdet per row). With ``image`` (and geometry = (kernel, level, offset)) y is scattered
    into a copy of the image, which is returned in place of the patch matrix."""
    n, w = x.shape
    ld = torch.empty(n, dtype=x.dtype, device=x.device)
    out = torch.empty_like(x) if image is None else image.clone()
    block_r, block_w, grid = _blocks(n, w, x.device)
    _coupling_fwd_kernel[(grid,)](x, s_raw, t_raw, keep, a, b, out, ld, n, w,
                                  *_image_args(image, geometry), INVERSE=bool(inverse),
                                  TO_IMAGE=image is not None, BLOCK_R=block_r, BLOCK_W=block_w)
    return out, ld


def coupling_backward(grad_out, grad_ld, x, s_raw, t_raw, keep, a, b, *, inverse=False,
                      geometry=None):
    """(dx, ds_raw, dt_raw, da, db, dimage). ``grad_out`` is a patch matrix, or an image gradient when
    ``geometry`` is given (then dimage is it with the layer's sites zeroed; else None)."""
    n, w = x.shape
    dx, ds, dt = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    block_r, block_w, grid = _blocks(n, w, x.device)
    da = torch.empty(grid, block_w, dtype=x.dtype, device=x.device)
    db = torch.empty(grid, block_w, dtype=x.dtype, device=x.device)
    dimg = None if geometry is None else grad_out.clone()
    _coupling_bwd_kernel[(grid,)](grad_out, grad_ld, x, s_raw, t_raw, keep, a, b, dx, ds, dt, da, db,
                                  dx if dimg is None else dimg, n, w, *_image_args(dimg, geometry),
                                  INVERSE=bool(inverse), FROM_IMAGE=dimg is not None,
                                  BLOCK_R=block_r, BLOCK_W=block_w)
    return dx, ds, dt, da.sum(dim=0)[:w], db.sum(dim=0)[:w], dimg
