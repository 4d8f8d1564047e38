"""The memory layout a 1D convolutional network computes in: today's (N, C, L), or channels-last.

On the CPU, oneDNN's convolutions and torch's BatchNorm are faster on channels-last tensors than on
(N, C, L) ones at the book's channel counts (``benchmarks/imp_step.py``: 3-tap convolutions 1.2-1.3x,
BatchNorm 1.3-9.8x, one thread). ``to_layout(model, "channels-last")`` makes a model's Conv1d and
BatchNorm1d layers compute as 2D layers on (N, C, 1, L) tensors in ``torch.channels_last`` and hand on
their outputs as (N, C, L) views of that memory, so the layout carries from layer to layer (ReLU and
additions keep their input's strides) and only the network's input is copied. Parameters, buffers,
their names and shapes stay as they are: a state dict, masks and tickets read the same either way.
The arithmetic is the same; its float rounding is not (another reduction order), so a ticket trained
in one layout is not the other's bit for bit, and the layout is part of a run's key
(:class:`rglt.prune.runs.ModelSpec`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rglt.validate import check_choice

LAYOUTS = ("default", "channels-last")


def _channels_last_4d(x: torch.Tensor) -> torch.Tensor:
    """(N, C, L) as (N, C, 1, L) in channels-last memory: a view when it already is, else one copy."""
    x4 = x.unsqueeze(2)
    return x4 if x4.is_contiguous(memory_format=torch.channels_last) else x4.contiguous(
        memory_format=torch.channels_last)


class Conv1dChannelsLast(nn.Conv1d):
    """A Conv1d that computes as a 1 x k Conv2d on channels-last memory (its weight stays 3D)."""

    def _conv_forward(self, input, weight, bias):
        y = F.conv2d(_channels_last_4d(input), weight.unsqueeze(2), bias, (1, self.stride[0]), (0, self.padding[0]),
                     (1, self.dilation[0]), self.groups)
        return y.squeeze(2)


class BatchNorm1dChannelsLast(nn.BatchNorm1d):
    """A BatchNorm1d that normalises (N, C, L) inputs as (N, C, 1, L) channels-last ones (the running
    statistics and their updates are BatchNorm's own)."""

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")

    def forward(self, input):
        if input.dim() != 3:
            return super().forward(input)
        return super().forward(_channels_last_4d(input)).squeeze(2)


def _convertible(module: nn.Module) -> bool:
    if type(module) is nn.BatchNorm1d:
        return True
    return (type(module) is nn.Conv1d and module.padding_mode == "zeros"
            and isinstance(module.padding, tuple))


def to_layout(model: nn.Module, layout: str) -> nn.Module:
    """``model`` (in place, and returned) computing in ``layout`` (one of :data:`LAYOUTS`). A ValueError
    when ``layout`` is unknown, or is channels-last for a model with no 1D convolution."""
    check_choice(layout, "layout", LAYOUTS)
    if layout == "default":
        return model
    if not any(type(m) is nn.Conv1d for m in model.modules()):
        raise ValueError(f"layout {layout!r} applies to 1D convolutional networks (Conv1d layers); "
                         f"{type(model).__name__} has none: use layout 'default'")
    for module in model.modules():
        if _convertible(module):
            # The same object, parameters and buffers, computing in the other layout.
            module.__class__ = Conv1dChannelsLast if isinstance(module, nn.Conv1d) else BatchNorm1dChannelsLast
    return model
