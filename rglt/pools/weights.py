"""Whole model states: interpolation, re-pruning to a ticket's density, BatchNorm recalibration."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from rglt.prune.masks import magnitude_masks
from rglt.train import evaluate
from rglt.validate import check_choice, check_int, check_real

State = Mapping[str, torch.Tensor]


def interpolate(a: State, b: State, alpha: float) -> dict[str, torch.Tensor]:
    """``alpha * a + (1 - alpha) * b`` for every floating entry of two state dicts (weights, BN affine
    parameters and running statistics alike, as the authors' code does); integer entries (BN's
    ``num_batches_tracked``) are taken from ``a``. Algorithm 2, line 5, with a = theta_best."""
    alpha = check_real(alpha, "alpha", 0, 1)
    if set(a) != set(b):
        raise ValueError(f"the two states must hold the same entries; they differ in {sorted(set(a) ^ set(b))}")
    out = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            raise ValueError(f"entry {name!r} has shape {tuple(x.shape)} in one state and {tuple(y.shape)} in the other")
        out[name] = alpha * x + (1 - alpha) * y if x.is_floating_point() else x.clone()
    return out


TIES = ("exact", "keep")


def reprune(state: State, target_masks: Mapping[str, torch.Tensor], *, ties: str = "exact"
            ) -> tuple[dict[str, torch.Tensor], dict]:
    """Magnitude-prune the prunable entries of ``state`` (the names of ``target_masks``) globally to
    the target ticket's count k of surviving weights; returns (state with the pruned weights zeroed,
    the new masks). A dense target (every mask all ones) is returned unpruned: the paper never
    re-prunes the dense network. ``ties="exact"``: exactly k survive, ties at the threshold going by
    rglt's one tie rule (magnitude_masks). ``ties="keep"``: every |w| >= the k-th largest survives, as
    the authors' code does (topk threshold, ``>=``), so ties keep more than k."""

    check_choice(ties, "ties", TIES)
    names = list(target_masks)
    missing = [n for n in names if n not in state]
    if missing:
        raise ValueError(f"state lacks the prunable entries {missing}")
    total = sum(target_masks[n].numel() for n in names)
    keep = sum(int(target_masks[n].sum()) for n in names)
    out = dict(state)
    if keep == total:
        return out, {n: torch.ones_like(target_masks[n], dtype=torch.bool) for n in names}
    if ties == "keep":
        threshold = torch.topk(torch.cat([state[n].detach().abs().flatten() for n in names]), keep).values[-1]
        masks = [state[n].abs() >= threshold for n in names]
    else:
        masks = magnitude_masks([state[n] for n in names], None, total - keep)
    for n, m in zip(names, masks):
        out[n] = state[n] * m
    return out, dict(zip(names, masks))


@torch.no_grad()
def recalibrate_bn(model: nn.Module, inputs: torch.Tensor, *, batches: int, batch_size: int = 128) -> nn.Module:
    """Recompute every BatchNorm's running mean and variance on the first ``batches`` batches of
    ``inputs`` (training data without augmentation), as ``torch.optim.swa_utils.update_bn`` does: the
    statistics are reset and averaged equally over the batches (momentum None). In place; returns it."""
    batches = check_int(batches, "batches", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    momenta = {m: m.momentum for m in norms}
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    device = next(model.parameters()).device
    for start in range(0, min(len(inputs), batches * batch_size), batch_size):
        model(inputs[start:start + batch_size].to(device))
    for m, momentum in momenta.items():
        m.momentum = momentum
    model.train(was_training)
    return model


def finisher(model: nn.Module, target_masks: Mapping[str, torch.Tensor] | None, inputs: torch.Tensor, *,
             batches: int, batch_size: int = 128, ties: str = "exact",
             augment: Callable[[torch.Tensor], torch.Tensor] | None = None):
    """``finish(state)`` for the searches: re-prune to the target ticket's density (skipped when
    ``target_masks`` is None: "prune after" re-prunes once at the end; ``ties`` as in reprune), load
    into ``model``, recalibrate its BatchNorm on ``inputs`` (passed through ``augment`` afresh at every
    call when given, as the authors' augmented training loader), and return a detached copy."""
    check_choice(ties, "ties", TIES)
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be None or a callable on a batch of inputs; got {type(augment).__name__}")

    def finish(state: State) -> dict[str, torch.Tensor]:
        if target_masks is not None:
            state, _ = reprune(state, target_masks, ties=ties)
        model.load_state_dict(dict(state))
        recalibrate_bn(model, inputs if augment is None else augment(inputs), batches=batches, batch_size=batch_size)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    return finish


def scorer(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]):
    """``score(state)``: the accuracy of ``model`` with ``state`` on ``data`` (the validation split)."""

    def score(state: State) -> float:
        model.load_state_dict(dict(state))
        return evaluate(model, data)["accuracy"]
    return score
