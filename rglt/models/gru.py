"""A GRU classifier that reads a 1D signal as a sequence, built from Linear maps so that pruning sees
its input weights (``stem``: x_t -> the three gates) and its recurrent weights (``recurrent``: h_{t-1}
-> the three gates, the same matrix at every time step) as ordinary linear weights.

The cell is torch's ``nn.GRU`` cell (gates r, z, n in that order):
r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h; the classifier reads the last h.
"""
from __future__ import annotations

import torch
from torch import nn

from rglt.models.base import Network
from rglt.validate import check_int


class GRU(Network):
    stem_layer = "stem"
    output_layer = "fc"

    def __init__(self, in_features: int, num_classes: int = 10, hidden: int = 64):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.hidden = check_int(hidden, "hidden", 1)
        num_classes = check_int(num_classes, "num_classes", 1)
        self.stem = nn.Linear(self.in_features, 3 * self.hidden)
        self.recurrent = nn.Linear(self.hidden, 3 * self.hidden)
        self.fc = nn.Linear(self.hidden, num_classes)
        bound = self.hidden ** -0.5          # torch's nn.GRU initialisation: U(-1/sqrt(hidden), 1/sqrt(hidden))
        for p in (*self.stem.parameters(), *self.recurrent.parameters()):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        """``x``: (B, C, L) signals, read as L time steps of C features."""
        if x.dim() != 3 or x.shape[1] != self.in_features:
            raise ValueError(f"x must be (batch, {self.in_features}, length); got {tuple(x.shape)}")
        inputs = self.stem(x.transpose(1, 2))             # all time steps' input gates at once: (B, L, 3h)
        h = x.new_zeros(x.shape[0], self.hidden)
        for t in range(inputs.shape[1]):
            i_r, i_z, i_n = inputs[:, t].chunk(3, dim=1)
            h_r, h_z, h_n = self.recurrent(h).chunk(3, dim=1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
        return self.fc(h)


class UntiedGRU(GRU):
    """The :class:`GRU` with its recurrent weights untied across time: step t applies its own
    hidden-to-hidden map ``recurrent[t]`` (weight and bias), ``steps`` of them, so the network reads
    sequences of exactly ``steps`` time steps. The input weights ``stem`` stay shared, as in the GRU.

    The control of chapter 5's weight-tying claim: the same cell, fan-in (``hidden``) and initialisation.
    Built under a seed, it draws exactly what the GRU draws and starts every step's map from the GRU's
    recurrent map, so at initialisation it computes the same function as the GRU built under that seed;
    only training unties the steps."""

    def __init__(self, in_features: int, num_classes: int = 10, hidden: int = 64, steps: int = 40):
        super().__init__(in_features, num_classes, hidden)
        self.steps = check_int(steps, "steps", 1)
        tied = self.recurrent
        untied = nn.ModuleList(nn.Linear(self.hidden, 3 * self.hidden) for _ in range(self.steps))
        with torch.no_grad():
            for step in untied:
                step.weight.copy_(tied.weight)
                step.bias.copy_(tied.bias)
        self.recurrent = untied          # keeps its place among the children: stem, recurrent, fc

    def forward(self, x):
        """``x``: (B, C, steps) signals, read as ``steps`` time steps of C features."""
        if x.dim() != 3 or x.shape[1] != self.in_features or x.shape[2] != self.steps:
            raise ValueError(f"x must be (batch, {self.in_features}, {self.steps}); got {tuple(x.shape)}")
        inputs = self.stem(x.transpose(1, 2))
        h = x.new_zeros(x.shape[0], self.hidden)
        for t, recurrent in enumerate(self.recurrent):
            i_r, i_z, i_n = inputs[:, t].chunk(3, dim=1)
            h_r, h_z, h_n = recurrent(h).chunk(3, dim=1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
        return self.fc(h)
