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

from rglt.flow.priors import check_batch

ALPHA = 0.05
BETA = 0.9


def dequantize(images: torch.Tensor, *, generator: torch.Generator | None = None,
               dtype=torch.float32) -> torch.Tensor:
    """uint8 images -> (k + u) / 256 in [0, 1) with u ~ U[0, 1) drawn from ``generator``.

    u is drawn in ``dtype`` (float32 for float16 / bfloat16) and the sum is formed in float64, then
    rounded to ``dtype`` and kept below 1: (255 + u) / 256 rounds up to 1.0 in float32 for u > 1 - 2^-17,
    and far more often in float16 / bfloat16, so the result is clamped to the largest value below 1.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"images must be a torch.uint8 tensor; got "
                        f"{images.dtype if isinstance(images, torch.Tensor) else type(images).__name__}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype (e.g. torch.float32); got {dtype!r}")
    # float32 and float64 keep their own draws (the seeded results); half types draw in float32.
    draw = dtype if torch.finfo(dtype).bits >= 32 else torch.float32
    u = torch.rand(images.shape, generator=generator, dtype=draw, device=images.device)
    # k + u is exact in float64 and / 256 is exact, so the only rounding is the one to dtype.
    x = ((images.to(torch.float64) + u.to(torch.float64)) / 256.0).to(dtype)
    return x.clamp(max=1.0 - torch.finfo(dtype).eps / 2)


def logit_transform(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x_tilde in [0, 1] -> (y = logit(0.05 + 0.9 x), log|det| per sample)."""
    check_batch(x, "x")
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
    """Logit-space images (e.g. samples) -> uint8 images, floor(256 x) clipped to 0..255.

    -inf and +inf map to 0 and 255; NaN is refused (it has no pixel value, and the cast made it 0).
    """
    if not isinstance(y, torch.Tensor) or not y.is_floating_point():
        raise TypeError(f"y must be a floating-point torch.Tensor; got "
                        f"{y.dtype if isinstance(y, torch.Tensor) else type(y).__name__}")
    if y.is_meta:
        raise ValueError("y is on the meta device (no data); move it to a real device first")
    if torch.isnan(y).any():
        raise ValueError(f"y holds {int(torch.isnan(y).sum())} NaN value(s), which have no pixel value")
    return (inverse_logit_transform(y) * 256).floor().clamp(0, 255).to(torch.uint8)
