"""A channel ticket made physically smaller, and what that buys at inference.

An MLP whose hidden units were pruned as whole rows (``IMPConfig(granularity="channels")``) still holds
every unit: a pruned unit's output is the constant ReLU(bias). ``compact_mlp`` removes those units and
folds their constant into the next layer's bias, giving a smaller MLP that computes exactly the same
function; ``forward_seconds`` times models' forward passes (inference only, one thread, interleaved).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch
from torch import nn

from rglt.models.mlp import MLP
from rglt.storage import torch_threads


def compact_mlp(model: MLP, masks: dict[str, torch.Tensor]) -> MLP:
    """The smaller MLP equal to ``model`` under ``masks`` (hidden rows pruned whole; other entries kept)."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an rglt MLP; got {type(model).__name__}")
    layers = [getattr(model, f"hidden{i}") for i in range(len(model.hidden))] + [model.fc]
    weights = [(layer.weight * masks.get(f"{name}.weight", torch.ones_like(layer.weight, dtype=torch.bool))).detach()
               for layer, name in zip(layers, [f"hidden{i}" for i in range(len(model.hidden))] + ["fc"])]
    biases = [layer.bias.detach().clone() for layer in layers]
    keep_in = torch.ones(model.in_features, dtype=torch.bool)
    kept_w, kept_b = [], []
    for i, (w, b) in enumerate(zip(weights, biases)):
        w = w[:, keep_in]
        if i < len(model.hidden):
            alive = w.any(1)
            # a dead unit outputs relu(b) whatever the input: fold it into the next layer's bias
            constant = torch.relu(b) * ~alive
            biases[i + 1] = biases[i + 1] + weights[i + 1] @ constant
            w, b = w[alive], b[alive]
            keep_in = alive
        kept_w.append(w)
        kept_b.append(b)
    hidden = tuple(max(int(w.shape[0]), 1) for w in kept_w[:-1])
    small = MLP(model.in_features, model.fc.out_features, hidden=hidden).to(kept_w[0].dtype)
    with torch.no_grad():
        for layer, w, b in zip([getattr(small, f"hidden{i}") for i in range(len(hidden))] + [small.fc], kept_w, kept_b):
            if w.numel() == 0:             # every unit of a layer pruned: one unit that outputs relu(0) = 0
                w, b = torch.zeros_like(layer.weight), torch.zeros_like(layer.bias)
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    return small


def weight_count(model: nn.Module) -> int:
    """The number of weight entries (biases excluded) of a model's Linear layers."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def forward_seconds(models: Sequence[nn.Module], x: torch.Tensor, repeats: int = 20) -> list[float]:
    """The median wall time of ``model(x)`` for each of ``models``, inference only, on one thread, over
    ``repeats`` rounds after one warm-up. The models take turns within each round, so that a drift of
    the machine (clock, a neighbour's load) reaches them all alike."""
    times = [[] for _ in models]
    with torch_threads(1), torch.inference_mode():
        for model in models:
            model.eval()
            model(x)
        for _ in range(repeats):
            for model, spent in zip(models, times):
                start = time.perf_counter()
                model(x)
                spent.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]
