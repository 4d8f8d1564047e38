"""The subnet building blocks: learnable-beta Swish, weight-normalised Linear, residual MLP.

As in the original code (not the report): no batch norm; Linear weights uniform in
+-sqrt(2.81 * 3 / fan_in) (2.81 is the gain the authors use for Swish), biases zero; every Linear
weight-normalised along its output dimension; residual updates x <- (x + block(x)) / sqrt(2); the
MLP ends with a per-feature scale initialised to zero, so it outputs exactly 0 at initialisation.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import nn

SWISH_GAIN = 2.81


def _check_width(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


class Swish(nn.Module):
    """x * sigmoid(beta * x) with a learnable per-feature beta, initialised to 1."""

    def __init__(self, features: int):
        super().__init__()
        self.beta = nn.Parameter(torch.ones(_check_width(features, "features")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


class WNLinear(nn.Module):
    """Linear layer with weight normalisation W = g * v / ||v||_row (dim 0, one g per output).

    g starts at the row norms of v, so the initial weight equals v (as torch's weight_norm does).
    Parameters: v [out, in], g [out], bias [out].
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        in_features = _check_width(in_features, "in_features")
        out_features = _check_width(out_features, "out_features")
        bound = math.sqrt(SWISH_GAIN * 3.0 / in_features)
        v = torch.empty(out_features, in_features).uniform_(-bound, bound)
        self.v = nn.Parameter(v)
        self.g = nn.Parameter(v.norm(dim=1).detach().clone())
        self.bias = nn.Parameter(torch.zeros(out_features))

    def weight(self) -> torch.Tensor:
        return self.v * (self.g / self.v.norm(dim=1))[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight(), self.bias)


class ResidualMLP(nn.Module):
    """``blocks`` pre-activation residual blocks on vectors of ``width``, then a zero-initialised scale.

    Block: Swish(width) -> Linear(width, hidden) -> Swish(hidden) -> Linear(hidden, hidden) ->
    Swish(hidden) -> Linear(hidden, width). Output: scale * x, then tanh if ``final_tanh`` (the S net;
    the T net has none).
    """

    def __init__(self, width: int, hidden: int, blocks: int, final_tanh: bool):
        super().__init__()
        width, hidden = _check_width(width, "width"), _check_width(hidden, "hidden")
        blocks = _check_width(blocks, "blocks")
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
