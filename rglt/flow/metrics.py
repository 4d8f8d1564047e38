"""Bits per dimension of 8-bit images under a flow, on held-out data.

    nll_nats/dim = -(log p_flow(y) + logdet_logit) / D,   bpd = (nll_nats/dim + ln 256) / ln 2

The ln 256 turns the density of x_tilde = (k + u) / 256 on [0, 1)^D into one on the integer scale;
by Jensen this is an upper bound on the discrete model's code length. (The original code printed
training-batch bpd only.)
"""
from __future__ import annotations

import math

import torch

from rglt.flow.preprocess import preprocess
from rglt.validate import check_int


def bits_per_dim(log_prob: torch.Tensor, logdet_logit: torch.Tensor, dims: int) -> torch.Tensor:
    """Per-sample bpd from the flow's log p(y) (nats) and the logit log-det, D = ``dims``."""
    check_int(dims, "dims", 1)
    for name, v in (("log_prob", log_prob), ("logdet_logit", logdet_logit)):
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor; got "
                            f"{v.dtype if isinstance(v, torch.Tensor) else type(v).__name__}")
    # One value per sample in each: shapes (B,) and (B, 1) would broadcast to a (B, B) table.
    if log_prob.dim() != 1 or log_prob.shape != logdet_logit.shape:
        raise ValueError(f"log_prob and logdet_logit must be 1-D tensors of the same shape [batch]; "
                         f"got {list(log_prob.shape)} and {list(logdet_logit.shape)}")
    nll = -(log_prob + logdet_logit) / dims
    return (nll + math.log(256.0)) / math.log(2.0)


@torch.no_grad()
def evaluate_bpd(flow, images: torch.Tensor, *, batch_size: int = 256, seed: int = 0) -> float:
    """Mean bpd of uint8 ``images`` [N, C, L, L] under ``flow`` (eval mode), dequantised with ``seed``."""
    batch_size = check_int(batch_size, "batch_size", 1)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4 \
            or len(images) == 0:
        raise ValueError("images must be a non-empty torch.uint8 tensor [N, C, L, L]")
    was_training = flow.training
    flow.eval()
    gen = torch.Generator().manual_seed(seed)
    param = next(flow.parameters())
    total = 0.0
    try:
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            y, ldj = preprocess(batch, generator=gen, dtype=param.dtype)
            y, ldj = y.to(param.device), ldj.to(param.device)
            total += bits_per_dim(flow.log_prob(y), ldj, y[0].numel()).sum().item()
    finally:
        flow.train(was_training)
    return total / len(images)
