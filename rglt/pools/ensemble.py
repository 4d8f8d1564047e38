"""Output ensembles and prediction disagreement between tickets."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rglt.pools.checks import check_inputs, check_model, check_probabilities, device_of
from rglt.validate import check_int, check_tensor


@torch.no_grad()
def predictions(model: nn.Module, inputs: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Softmax class probabilities (N, classes) of ``model`` in eval mode."""
    check_model(model)
    check_inputs(inputs, "inputs", model)
    batch_size = check_int(batch_size, "batch_size", 1)
    was_training = model.training
    model.eval()
    device = device_of(model)
    try:
        return torch.cat([torch.softmax(model(inputs[i:i + batch_size].to(device)), dim=1).cpu()
                          for i in range(0, len(inputs), batch_size)])
    finally:
        model.train(was_training)


def ensemble_accuracy(probabilities: Sequence[torch.Tensor], labels: torch.Tensor) -> float:
    """Accuracy of the mean of the members' class probabilities (the output ensemble)."""
    probabilities = check_probabilities(probabilities)
    n, classes = probabilities[0].shape
    check_tensor(labels, "labels", kind="integer")
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must be one integer class per example, shape ({n},) as the members predict; "
                         f"got shape {tuple(labels.shape)}")
    if labels.device != probabilities[0].device:
        raise ValueError(f"labels must be on the device of probabilities, {probabilities[0].device}; "
                         f"got {labels.device}")
    if bool(((labels < 0) | (labels >= classes)).any()):
        raise ValueError(f"labels must be classes in [0, {classes}) (the members predict {classes} classes); "
                         f"got values in [{int(labels.min())}, {int(labels.max())}]")
    mean = torch.stack(list(probabilities)).mean(0)
    return float((mean.argmax(1) == labels).float().mean())


def disagreement(probabilities: Sequence[torch.Tensor]) -> torch.Tensor:
    """(M, M): the share of examples on which members i and j predict different classes."""
    probabilities = check_probabilities(probabilities)
    labels = torch.stack([p.argmax(1) for p in probabilities])            # (M, N)
    return (labels[:, None, :] != labels[None, :, :]).float().mean(-1)
