"""From 8-bit images to the flow's logit space and back (the original code's transform).

    x_tilde = (k + u) / 256,  k in 0..255, u ~ U[0, 1)        (dequantise)
    x_r     = 0.05 + 0.9 x_tilde                               (keep away from 0 and 1)
    y       = logit(x_r),  log|dy/dx_tilde| = sum[ln 0.9 - ln x_r - ln(1 - x_r)]

The log-det is taken with respect to x_tilde, whose density on [0, 1)^D relates to the probability
of the integer image by a factor 256^-D; :func:`rglt.flow.metrics.bits_per_dim` adds that ln 256.
"""
from __future__ import annotations

import math

import torch

ALPHA = 0.05
BETA = 0.9


def dequantize(images: torch.Tensor, *, generator: torch.Generator | None = None,
               dtype=torch.float32) -> torch.Tensor:
    """uint8 images -> (k + u) / 256 in [0, 1) with u ~ U[0, 1) drawn from ``generator``."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"images must be a torch.uint8 tensor; got "
                        f"{images.dtype if isinstance(images, torch.Tensor) else type(images).__name__}")
    u = torch.rand(images.shape, generator=generator, dtype=dtype, device=images.device)
    return (images.to(dtype) + u) / 256.0


def logit_transform(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_tilde in [0, 1] -> (y = logit(0.05 + 0.9 x), log|det| per sample)."""
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor in [0, 1]; got {x.dtype}")
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError("x must be finite and in [0, 1]")
    xr = ALPHA + BETA * x
    y = torch.log(xr) - torch.log1p(-xr)
    ldj = (math.log(BETA) - torch.log(xr) - torch.log1p(-xr)).reshape(x.shape[0], -1).sum(dim=1)
    return y, ldj


def inverse_logit_transform(y: torch.Tensor) -> torch.Tensor:
    """y -> (sigmoid(y) - 0.05) / 0.9, clamped to [0, 1] (samples can leave the data range)."""
    return ((torch.sigmoid(y) - ALPHA) / BETA).clamp(0.0, 1.0)


def preprocess(images: torch.Tensor, *, generator: torch.Generator | None = None,
               dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images -> (logit-space inputs for the flow, logit log-det per sample)."""
    return logit_transform(dequantize(images, generator=generator, dtype=dtype))


def to_uint8(y: torch.Tensor) -> torch.Tensor:
    """Logit-space images (e.g. samples) -> uint8 images, floor(256 x) clipped to 0..255."""
    return (inverse_logit_transform(y) * 256).floor().clamp(0, 255).to(torch.uint8)
