"""Output ensembles and prediction disagreement between tickets."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


@torch.no_grad()
def predictions(model: nn.Module, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Softmax class probabilities (N, classes) of ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([torch.softmax(model(inputs[i:i + batch_size].to(device)), dim=1).cpu()
                     for i in range(0, len(inputs), batch_size)])
    model.train(was_training)
    return out


def ensemble_accuracy(probabilities: Sequence[torch.Tensor], labels: torch.Tensor) -> float:
    """Accuracy of the mean of the members' class probabilities (the output ensemble)."""
    if not probabilities:
        raise ValueError("probabilities must hold at least one member's predictions")
    shapes = {tuple(p.shape) for p in probabilities}
    if len(shapes) != 1 or next(iter(shapes))[0] != len(labels):
        raise ValueError(f"every member must predict (N, classes) for the {len(labels)} labels; got {sorted(shapes)}")
    mean = torch.stack(list(probabilities)).mean(0)
    return float((mean.argmax(1) == labels).float().mean())


def disagreement(probabilities: Sequence[torch.Tensor]) -> torch.Tensor:
    """(M, M): the share of examples on which members i and j predict different classes."""
    labels = torch.stack([p.argmax(1) for p in probabilities])            # (M, N)
    return (labels[:, None, :] != labels[None, :, :]).float().mean(-1)
