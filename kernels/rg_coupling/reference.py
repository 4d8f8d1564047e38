"""RG-Flow patch coupling glue in plain PyTorch: the CPU path and the test oracle.

One RG layer gathers kernel x kernel patches of an image [B, C, size, size] into a matrix
[B * P, C * kernel * kernel] (``geometry.py``: same index tensor, same row / column order),
runs its affine couplings on the rows and scatters the result back. A coupling with the float mask
``keep`` [W] (1 = conditioned on, 0 = updated; W = C * kernel * kernel) is, as in
``rglt.flow.coupling.SubnetLayer`` with ``rglt.flow.layers.ResidualMLP``:

    s = (1 - keep) * tanh(a * s_raw),   t = (1 - keep) * b * t_raw,
    y = keep * x + (1 - keep) * (x * exp(s) + t),   logdet_row = sum_j s,

where ``s_raw`` / ``t_raw`` are the S / T residual MLPs' outputs *before* their final per-feature
``scale`` (a = ``s_net.scale``, b = ``t_net.scale``, both [W]). The MLPs (the GEMMs) stay in torch;
only this elementwise epilogue (and the gather / scatter around it) is what the kernels fuse.

The inverse maps y back: x = keep * y + (1 - keep) * (y - t) * exp(-s), logdet_row = -sum_j s
(s and t depend only on the kept half, which the coupling leaves unchanged).
"""
from __future__ import annotations

import functools

import torch

from . import geometry


@functools.lru_cache(maxsize=256)
def _cpu_index(size: int, kernel: int, level: int, offset: bool) -> torch.Tensor:
    return geometry.layer_index(size, kernel, level, offset)


def layer_index(size: int, kernel: int, level: int, offset: bool, device=None) -> torch.Tensor:
    """``geometry.layer_index`` (cached), on ``device``: LongTensor [P, kernel * kernel]."""
    index = _cpu_index(int(size), int(kernel), int(level), bool(offset))
    return index if device is None else index.to(device)


def gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[B, C, size, size] -> patches [B * P, C * kernel * kernel] (``geometry.gather_patches``)."""
    return geometry.gather_patches(x, index)


def scatter(x: torch.Tensor, patches: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` with the patch values written at ``index`` (``geometry.scatter_patches``)."""
    return geometry.scatter_patches(x, patches, index)


def _st(s_raw, t_raw, keep, a, b):
    upd = 1 - keep
    return upd * torch.tanh(a * s_raw), upd * b * t_raw


def affine_epilogue(x, s_raw, t_raw, keep, a, b):
    """Forward coupling epilogue on patch rows: (y [N, W], logdet per row [N])."""
    s, t = _st(s_raw, t_raw, keep, a, b)
    return keep * x + (1 - keep) * (x * torch.exp(s) + t), s.sum(dim=1)


def affine_epilogue_inverse(y, s_raw, t_raw, keep, a, b):
    """Inverse coupling epilogue on patch rows: (x [N, W], logdet of the inverse per row [N])."""
    s, t = _st(s_raw, t_raw, keep, a, b)
    return keep * y + (1 - keep) * (y - t) * torch.exp(-s), -s.sum(dim=1)


def affine_epilogue_backward(grad_out, grad_logdet, x, s_raw, t_raw, keep, a, b, inverse=False):
    """Hand-written backward of :func:`affine_epilogue` (or of the inverse when ``inverse``).

    ``x`` is the epilogue's input (the patches before the coupling). Returns the gradients
    (dx, ds_raw, dt_raw, da, db); da and db are summed over the rows. With u = 1 - keep,
    th = tanh(a * s_raw), s = u * th, e = exp(s) and g = grad_out, G = grad_logdet:

    forward:  dx = g (keep + u e),     dL/dt = g u,            dL/ds = g u x e + G
    inverse:  dx = g (keep + u / e),   dL/dt = -g u / e,       dL/ds = -g u (x - t) / e - G
    then      d(a s_raw) = dL/ds * u * (1 - th^2),  ds_raw = that * a,  da = sum(that * s_raw),
              dt_raw = dL/dt * u * b,  db = sum(dL/dt * u * t_raw).

    For a 0/1 mask u^2 = u and th^2 = s^2 on the updated entries: the notes' formula.
    """
    upd = 1 - keep
    th = torch.tanh(a * s_raw)
    s = upd * th
    g = grad_out
    gl = grad_logdet[:, None]
    if inverse:
        einv = torch.exp(-s)
        t = upd * b * t_raw
        dx = g * (keep + upd * einv)
        gt = -g * upd * einv
        gs = -g * upd * (x - t) * einv - gl
    else:
        e = torch.exp(s)
        dx = g * (keep + upd * e)
        gt = g * upd
        gs = g * upd * x * e + gl
    du = gs * upd * (1 - th * th)
    return dx, du * a, gt * upd * b, (du * s_raw).sum(dim=0), (gt * upd * t_raw).sum(dim=0)
