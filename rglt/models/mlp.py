"""A fully connected ReLU network on flattened inputs: ``hidden0``, ``hidden1``, ..., ``fc``.

The input (B, C, L) or (B, C, H, W) is flattened, so ``in_features = C * L`` or ``C * H * W``.
OpenLTH's LeNet-300-100 is ``MLP(784, 10, hidden=(300, 100))``. The stem is ``hidden0``.
"""
from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from rglt.models.base import Network
from rglt.validate import check_int


class MLP(Network):
    stem_layer = "hidden0"

    def __init__(self, in_features: int, num_classes: int = 10, hidden=(100, 100)):
        super().__init__()
        c_in = check_int(in_features, "in_features", 1)
        num_classes = check_int(num_classes, "num_classes", 1)
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise ValueError(f"hidden must be a non-empty tuple of layer widths; got {hidden!r}")
        self.hidden = tuple(check_int(h, "hidden width", 1) for h in hidden)
        self.in_features = c_in
        for i, h in enumerate(self.hidden):
            self.add_module(f"hidden{i}", nn.Linear(c_in, h))
            c_in = h
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ValueError(f"x must flatten to {self.in_features} features per example; got {x.shape[1]}")
        for i in range(len(self.hidden)):
            x = F.relu(getattr(self, f"hidden{i}")(x))
        return self.fc(x)
