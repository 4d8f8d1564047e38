"""The subnet building blocks: learnable-beta Swish, weight-normalised Linear, residual MLP.

As in the original code (not the report): no batch norm; Linear weights uniform in
+-sqrt(2.81 * 3 / fan_in) (2.81 is the gain the authors use for Swish), biases zero; every Linear
weight-normalised along its output dimension; residual updates x <- (x + block(x)) / sqrt(2); the
MLP ends with a per-feature scale initialised to zero, so it outputs exactly 0 at initialisation.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from rglt.validate import check_int

SWISH_GAIN = 2.81


class Swish(nn.Module):
    """x * sigmoid(beta * x) with a learnable per-feature beta, initialised to 1."""

    def __init__(self, features: int):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(check_int(features, "features", 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


class WNLinear(nn.Module):
    """Linear layer with weight normalisation W = g * v / ||v||_row (dim 0, one g per output).

    g starts at the row norms of v, so the initial weight equals v (as torch's weight_norm does).
    Parameters: v [out, in], g [out], bias [out].
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        in_features = check_int(in_features, "in_features", 1)
        out_features = check_int(out_features, "out_features", 1)
        bound = math.sqrt(SWISH_GAIN * 3.0 / in_features)
        v = torch.empty(out_features, in_features).uniform_(-bound, bound)
        self.v = nn.Parameter(v)
        self.g = nn.Parameter(v.norm(dim=1).detach().clone())
        self.bias = nn.Parameter(torch.zeros(out_features))

    def weight(self) -> torch.Tensor:
        return self.v * (self.g / self.v.norm(dim=1))[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Under autocast (rglt.flow.fast's bf16 option) only the product runs in lower precision: the
        # result comes back in x's dtype. Without autocast the cast is a no-op.
        return nn.functional.linear(x, self.weight(), self.bias).to(x.dtype)


class ResidualMLP(nn.Module):
    """``blocks`` pre-activation residual blocks on vectors of ``width``, then a zero-initialised scale.

    Block: Swish(width) -> Linear(width, hidden) -> Swish(hidden) -> Linear(hidden, hidden) ->
    Swish(hidden) -> Linear(hidden, width). Output: scale * x, then tanh if ``final_tanh`` (the S net;
    the T net has none).
    """

    def __init__(self, width: int, hidden: int, blocks: int, final_tanh: bool):
        super().__init__()
        width, hidden = check_int(width, "width", 1), check_int(hidden, "hidden", 1)
        blocks = check_int(blocks, "blocks", 1)
        widths = (width, hidden, hidden, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(*[m for a, b in zip(widths[:-1], widths[1:]) for m in (Swish(a), WNLinear(a, b))])
            for _ in range(blocks))
        self.scale = nn.Parameter(torch.zeros(width))
        self.final_tanh = bool(final_tanh)

    def pre_scale(self, x: torch.Tensor) -> torch.Tensor:
        """The residual blocks' output before the final ``scale`` (and tanh): what the fused coupling
        kernels (``rglt.kernels.rg_coupling``) take as s_raw / t_raw, with ``scale`` as a / b."""
        for block in self.blocks:
            x = (x + block(x)) / math.sqrt(2.0)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale * self.pre_scale(x)
        return torch.tanh(x) if self.final_tanh else x
