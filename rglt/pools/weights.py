"""Whole model states: interpolation, re-pruning to a ticket's density, BatchNorm recalibration."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from rglt.pools.checks import (check_callable, check_inputs, check_masks, check_model, check_state,
                               device_of)
from rglt.prune.masks import magnitude_masks
from rglt.train import check_data, evaluate
from rglt.validate import check_choice, check_int, check_real

State = Mapping[str, torch.Tensor]


def interpolate(a: State, b: State, alpha: float) -> dict[str, torch.Tensor]:
    """``alpha * a + (1 - alpha) * b`` for every floating entry of two state dicts (weights, BN affine
    parameters and running statistics alike, as the authors' code does); integer entries (BN's
    ``num_batches_tracked``) are taken from ``a``. Algorithm 2, line 5, with a = theta_best."""
    alpha = check_real(alpha, "alpha", 0, 1)
    check_state(a, "a")
    check_state(b, "b", like=a, like_name="a")
    return _mix(a, b, alpha)


def _mix(a: State, b: State, alpha: float) -> dict[str, torch.Tensor]:
    """interpolate without its checks, for callers that checked both states."""
    return {name: alpha * x + (1 - alpha) * b[name] if x.is_floating_point() else x.clone() for name, x in a.items()}


TIES = ("exact", "keep")


def reprune(state: State, target_masks: Mapping[str, torch.Tensor], *, ties: str = "exact"
            ) -> tuple[dict[str, torch.Tensor], dict]:
    """Magnitude-prune the prunable entries of ``state`` (the names of ``target_masks``) globally to
    the target ticket's count k of surviving weights; returns (state with the pruned weights zeroed,
    the new masks). A dense target (every mask all ones) is returned unpruned: the paper never
    re-prunes the dense network. ``ties="exact"``: exactly k survive, ties at the threshold going by
    rglt's one tie rule (magnitude_masks). ``ties="keep"``: every |w| >= the k-th largest survives, as
    the authors' code does (topk threshold, ``>=``), so ties keep more than k. ``target_masks``: bool
    tensors (True survives) of the shapes of the floating, finite entries of ``state`` they name, which
    share one dtype; together they keep at least one entry."""

    check_choice(ties, "ties", TIES)
    check_state(state, "state")
    check_masks(target_masks, "target_masks", state=state, state_name="state")
    names = list(target_masks)
    for n in names:
        if not state[n].is_floating_point():
            raise TypeError(f"state[{n!r}] must be a floating tensor (target_masks prunes it by magnitude); "
                            f"got {state[n].dtype}")
        if state[n].dtype != state[names[0]].dtype:
            raise TypeError(f"the entries of state that target_masks names must share one dtype; "
                            f"state[{names[0]!r}] is {state[names[0]].dtype}, state[{n!r}] is {state[n].dtype}")
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
    statistics are reset and averaged equally over the batches (momentum None). In place; returns it.
    ``inputs``: a tensor of the model's floating dtype (or integer token ids), finite in the batches
    used. A forward pass that fails leaves the statistics, momenta and mode as they were."""
    check_model(model)
    batches = check_int(batches, "batches", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    check_inputs(inputs, "inputs", model, limit=batches * batch_size)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    momenta = {m: m.momentum for m in norms}
    saved = {m: [b.clone() for b in m.buffers()] for m in norms}
    was_training = model.training
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        device = device_of(model)
        for start in range(0, min(len(inputs), batches * batch_size), batch_size):
            batch = inputs[start:start + batch_size]
            try:
                model(batch.to(device))
            except ValueError as error:
                if len(batch) == 1:  # BatchNorm on (N, C) features cannot take a batch of one
                    raise ValueError(f"inputs[{start}:{start + 1}] is a batch of one example (batch_size "
                                     f"{batch_size}, {len(inputs)} inputs), which BatchNorm cannot average "
                                     f"({error}); use a batch_size that leaves no batch of one") from error
                raise
    except BaseException:  # a forward pass that fails leaves the statistics as they were
        for m, buffers in saved.items():
            for b, old in zip(m.buffers(), buffers):
                b.copy_(old)
        raise
    finally:  # and the momenta and mode
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
    check_model(model)
    if target_masks is not None:
        check_masks(target_masks, "target_masks", state=model.state_dict(), state_name="the model's state",
                    devices=False)
    limit = check_int(batches, "batches", 1) * check_int(batch_size, "batch_size", 1)
    check_inputs(inputs, "inputs", model, limit=limit)
    check_choice(ties, "ties", TIES)
    check_callable(augment, "augment", "on a batch of inputs", optional=True)

    def finish(state: State) -> dict[str, torch.Tensor]:
        check_state(state, "state", like=model.state_dict(), like_name="the model's state", devices=False)
        if target_masks is not None:
            state, _ = reprune(state, target_masks, ties=ties)
        model.load_state_dict(dict(state))
        batch = inputs if augment is None else check_inputs(augment(inputs), "augment(inputs)", model, limit=limit)
        recalibrate_bn(model, batch, batches=batches, batch_size=batch_size)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    return finish


def scorer(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]):
    """``score(state)``: the accuracy of ``model`` with ``state`` on ``data`` (the validation split)."""
    check_model(model)
    check_inputs(check_data(data, "data")[0], "data[0]", model)

    def score(state: State) -> float:
        check_state(state, "state", like=model.state_dict(), like_name="the model's state", devices=False)
        model.load_state_dict(dict(state))
        return evaluate(model, data)["accuracy"]
    return score
