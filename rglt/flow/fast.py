"""The CPU fast path of a subnet layer: the same map, fewer FLOPs and fewer passes over memory.

:class:`rglt.flow.coupling.SubnetLayer` is the reference: it multiplies by the mask, runs both MLPs on
all ``C * m * m`` inputs and masks their outputs. Here the same two couplings are one function of
tensors, :func:`subnet_layer`, which

- reads only the conditioning half: the first Linear of each MLP sees the kept columns alone (the
  other inputs are zero, and Swish(0) = 0), and the last Linear produces only the updated columns
  (the others are multiplied by zero), which drops those GEMM columns;
- is compiled once with ``torch.compile`` for every subnet layer of the flow (the weights are
  arguments, not constants), so the Swish, weight-norm, residual and coupling arithmetic around the
  GEMMs is fused into a few loops;
- optionally (``bf16=True``) runs the MLP GEMMs in bfloat16 with fp32 accumulation, while the
  residual stream, the couplings' exp, the log-determinants and everything outside the MLPs stay in
  fp32. The map is still a bijection with an exact log-det: the inverse recomputes S and T on the
  same kept half, so it sees the same rounded values.

``RGFlow(backend="fast")`` runs every subnet layer through it; the reference path stays the oracle.
"""
from __future__ import annotations

import math
import os
import shutil
import warnings

import torch
from torch.nn import functional as F

SQRT2 = math.sqrt(2.0)


def _mlp_params(net) -> list[torch.Tensor]:
    """A ResidualMLP's parameters in :func:`_mlp` order: per block (beta, v, g, bias) x 3, then scale."""
    out = []
    for block in net.blocks:
        for swish, linear in zip(block[0::2], block[1::2]):
            out += [swish.beta, linear.v, linear.g, linear.bias]
    return out + [net.scale]


def _weight(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return v * (g / v.norm(dim=1))[:, None]   # WNLinear.weight


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, bf16: bool) -> torch.Tensor:
    if bf16:
        return F.linear(x.to(torch.bfloat16), weight.to(torch.bfloat16), bias.to(torch.bfloat16)).float()
    return F.linear(x, weight, bias)


def _mlp(cond: torch.Tensor, params: list[torch.Tensor], kept: torch.Tensor, updated: torch.Tensor,
         final_tanh: bool, bf16: bool) -> torch.Tensor:
    """ResidualMLP of the full-width vector that is ``cond`` on the ``kept`` columns and 0 elsewhere,
    returned on the ``updated`` columns only (the coupling's mask discards the others)."""
    blocks = (len(params) - 1) // 12
    x = cond   # the residual stream, on the kept columns only until the first block adds to it
    for i in range(blocks):
        h = x
        for j in range(3):
            beta, v, g, bias = params[12 * i + 4 * j: 12 * i + 4 * j + 4]
            weight = _weight(v, g)
            if i == 0 and j == 0:                  # the input is zero off the kept columns
                beta, weight = beta[kept], weight[:, kept]
            if i == blocks - 1 and j == 2:         # only the updated outputs are used
                weight, bias = weight[updated], bias[updated]
            h = _linear(h * torch.sigmoid(beta * h), weight, bias, bf16)
        if i == 0:
            x = cond.new_zeros(len(cond), len(kept) + len(updated)).index_copy(1, kept, x)
        if i == blocks - 1:
            x = x[:, updated]
        x = (x + h) / SQRT2
    x = params[-1][updated] * x
    return torch.tanh(x) if final_tanh else x


def _couple(x, s_params, t_params, kept, updated, inverse: bool, bf16: bool):
    cond = x[:, kept]
    s = _mlp(cond, s_params, kept, updated, True, bf16)
    t = _mlp(cond, t_params, kept, updated, False, bf16)
    part = x[:, updated]
    new = (part - t) * torch.exp(-s) if inverse else part * torch.exp(s) + t
    return x.index_copy(1, updated, new), (-s if inverse else s).sum(dim=1)


def subnet_layer(x: torch.Tensor, s_params: list[torch.Tensor], t_params: list[torch.Tensor],
                 even: torch.Tensor, odd: torch.Tensor, inverse: bool, bf16: bool):
    """SubnetLayer.forward (or .inverse) on patches x [N, C * m * m]: (y, log|det J| per row).

    ``even`` / ``odd``: the column indices where the checkerboard mask is 1 / 0.
    """
    # (kept, updated): forward couples with the mask, then with 1 - mask; inverse undoes them in reverse.
    steps = ((odd, even), (even, odd)) if inverse else ((even, odd), (odd, even))
    x, ld1 = _couple(x, s_params, t_params, *steps[0], inverse, bf16)
    x, ld2 = _couple(x, s_params, t_params, *steps[1], inverse, bf16)
    return x, ld1 + ld2


_compiled = None


def compiled_subnet_layer():
    """:func:`subnet_layer` under ``torch.compile``: one compiled function for every subnet layer (the
    weights are its arguments). Eager instead when RGLT_FLOW_COMPILE=0 or no C++ compiler is found
    (inductor needs one on the CPU), with a warning: the same map, without the fusion."""
    global _compiled
    if _compiled is None:
        if os.environ.get("RGLT_FLOW_COMPILE", "1") == "0":
            _compiled = subnet_layer
        elif not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            warnings.warn("rglt.flow.fast: no C++ compiler (g++, c++, clang++ or $CXX) for torch.compile; the "
                          "fast path runs eagerly (install g++ for the fused version)", RuntimeWarning)
            _compiled = subnet_layer
        else:
            # Rows = batch x patches differ per level, direction and grad mode: after the second shape
            # dynamo compiles one graph with a symbolic row count, so the count of graphs stays small.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 32)
            _compiled = torch.compile(subnet_layer, dynamic=None)
    return _compiled


def run_subnet(subnet, x: torch.Tensor, inverse: bool, bf16: bool):
    """Apply ``subnet`` (a SubnetLayer) to patches x on the fast path."""
    mask = subnet.mask
    even, odd = mask.nonzero().flatten(), (mask == 0).nonzero().flatten()
    return compiled_subnet_layer()(x, _mlp_params(subnet.s_net), _mlp_params(subnet.t_net), even, odd,
                                   inverse, bf16)
