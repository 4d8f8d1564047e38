"""Knowledge distillation as a training criterion: a student fits a teacher's softened outputs.

Hinton et al. 2015: with temperature T, the student's loss per example is
w T^2 KL(softmax(t / T) || softmax(s / T)) + (1 - w) CE(s, y), for teacher logits t and student logits s;
the T^2 keeps the soft term's gradient, T (softmax(s / T) - softmax(t / T)), on the scale of the hard one's.

A teacher may be an ensemble (:func:`ensemble_teacher`): its logits are the log of its members' mean class
probabilities, so at T = 1 the soft targets are exactly that mean (the output ensemble's prediction), and
a temperature softens the ensemble's distribution as it would one network's.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from rglt.validate import check_real


class _Ensemble(torch.nn.Module):
    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x):
        logp = torch.stack([F.log_softmax(m(x), dim=1) for m in self.members])     # (members, N, classes)
        return torch.logsumexp(logp, dim=0) - math.log(len(self.members))          # log of the mean probability


def ensemble_teacher(members: Sequence[torch.nn.Module]) -> torch.nn.Module:
    """One teacher from several networks: its output is log(mean over members of softmax(member logits)),
    the output ensemble's log-probabilities (used as logits by :func:`distillation_criterion`)."""
    members = list(members)
    if not members or not all(isinstance(m, torch.nn.Module) for m in members):
        raise TypeError(f"members must be a non-empty sequence of torch.nn.Module; got {[type(m).__name__ for m in members]}")
    return _Ensemble(members).eval()


def distillation_criterion(teacher: torch.nn.Module, temperature: float = 4.0,
                           weight: float = 0.9) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """A ``criterion(logits, labels, inputs)`` for :func:`rglt.train.train`: the distillation loss summed
    over the batch, the teacher (kept in eval mode, no gradient) reading the same ``inputs``."""
    if not isinstance(teacher, torch.nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module; got {type(teacher).__name__}")
    t = check_real(temperature, "temperature", 0, low_open=True)
    w = check_real(weight, "weight", 0, 1)
    teacher.eval()

    def criterion(logits, labels, inputs):
        with torch.no_grad():
            soft = F.log_softmax(teacher(inputs) / t, dim=1)
        kl = F.kl_div(F.log_softmax(logits / t, dim=1), soft, log_target=True, reduction="sum")
        return w * t * t * kl + (1 - w) * F.cross_entropy(logits, labels, reduction="sum")

    return criterion
