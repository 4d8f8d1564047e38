"""Several replicates of one 1D network trained as one: every layer computes all of them in one call.

At the book's channel counts (16-64) a one-thread CPU step is bound by many small kernel calls; four
replicates side by side make each call do four networks' work (``benchmarks/imp_step.py``: 1.2-1.3x
more steps per second per replicate). ``GroupedModel(members)`` builds the network whose

- convolutions are grouped (groups = G): replicate r owns channels [r C, (r + 1) C) of every layer;
- BatchNorms normalise those channels, so each replicate keeps its own statistics;
- classifier is a batched matrix product over the replicates' own weights.

It reads ``G * B`` examples member-major (replicate r's batch is rows [r B, (r + 1) B)) and returns
their ``G * B`` logits in the same order, so a cross-entropy summed over them is the sum of each
replicate's own loss: every replicate's gradient, BatchNorm statistics and SGD update are its own.
Only the float reduction order differs from training it alone, so a grouped replicate's tickets are
not the lone run's bit for bit: the group is part of a run's key (:class:`rglt.prune.runs.TicketRun`).

``member_states`` / ``merge_states`` move state dicts (and masks) between the group and its members,
whose parameter names and shapes are the lone network's.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from rglt.models.base import ConvBN, Network, Stage
from rglt.models.resnet import BasicBlock, Bottleneck
from rglt.models.vgg import VGG

# Layers that see each channel (and each example) on its own, so they act on the replicates apart.
_CHANNELWISE = (nn.Identity, nn.ReLU, nn.MaxPool1d, nn.AvgPool1d, Stage, ConvBN, BasicBlock, Bottleneck, VGG)


class GroupedLinear(nn.Module):
    """G linear layers as one: (B, G * in) or (B, G, in) -> (B, G, out), weight (G, out, in)."""

    def __init__(self, linears: Sequence[nn.Linear]):
        super().__init__()
        self.members = len(linears)
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in linears]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in linears])) if linears[0].bias is not None \
            else None

    def forward(self, x):
        y = torch.einsum("bgi,goi->bgo", x.reshape(x.shape[0], self.members, -1), self.weight)
        return y if self.bias is None else y + self.bias


def _grouped_layer(module: nn.Module, copies: list[nn.Module]) -> nn.Module | None:
    """The grouped form of one parameterised layer (its class kept, e.g. a channels-last Conv1d)."""
    g = len(copies)
    if isinstance(module, nn.Conv1d):
        new = type(module)(g * module.in_channels, g * module.out_channels, module.kernel_size, module.stride,
                           module.padding, module.dilation, g * module.groups, module.bias is not None,
                           module.padding_mode)
    elif isinstance(module, nn.BatchNorm1d):
        new = type(module)(g * module.num_features, module.eps, module.momentum, module.affine,
                           module.track_running_stats)
    elif isinstance(module, nn.Linear):
        return GroupedLinear(copies)
    else:
        return None
    # Concatenated along the channels, replicate-major; the step counter is shared (equal in all).
    new.load_state_dict({k: v if v.dim() == 0 else torch.cat([c.state_dict()[k] for c in copies])
                         for k, v in module.state_dict().items()})
    return new


class GroupedModel(nn.Module):
    """``len(members)`` same-architecture 1D ResNets (option-B shortcuts) or VGGs computed as one.

    The members' current parameters and buffers become the group's (they are copied; the members are
    left as they were). A ValueError names any layer that would mix the replicates."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"members must hold at least 2 models to group; got {len(members)}")
        if not isinstance(members[0], Network) or any(type(m) is not type(members[0]) for m in members) or any(
                [(k, v.shape) for k, v in m.state_dict().items()] != [(k, v.shape) for k, v in
                                                                       members[0].state_dict().items()]
                for m in members):
            raise ValueError("members must be rglt networks of one architecture (same class, state names and "
                             "shapes); got " + ", ".join(type(m).__name__ for m in members))
        self.members = len(members)
        self.net = copy.deepcopy(members[0])
        per_member = [dict(m.named_modules()) for m in members]
        for name, module in list(self.net.named_modules()):
            grouped = _grouped_layer(module, [modules[name] for modules in per_member])
            if grouped is not None:
                parent, _, attr = name.rpartition(".")
                setattr(self.net.get_submodule(parent) if parent else self.net, attr, grouped)
            elif name and not isinstance(module, _CHANNELWISE):
                raise ValueError(f"cannot group {type(members[0]).__name__}: its layer {name!r} "
                                 f"({type(module).__name__}) is not one that acts on each channel alone "
                                 "(1D Conv, BatchNorm, Linear, ReLU, pooling); group 1D ResNets with "
                                 "shortcut 'B' or 1D VGGs")

    def forward(self, x):
        g = self.members
        if x.shape[0] % g:
            raise ValueError(f"a GroupedModel of {g} members reads {g} x B examples (member-major); "
                             f"got {x.shape[0]}")
        b = x.shape[0] // g
        # (G B, C, L) member-major -> (B, G C, L): replicate r's batch on its own channels
        side_by_side = x.reshape(g, b, *x.shape[1:]).transpose(0, 1).reshape(b, g * x.shape[1], *x.shape[2:])
        logits = self.net(side_by_side)                                   # (B, G, classes)
        return logits.transpose(0, 1).reshape(g * b, logits.shape[-1])


_PREFIX = "net."


def member_states(group_state: Mapping[str, torch.Tensor], members: int,
                  template: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Each member's part of a group's state dict (or of masks over its parameters), named and shaped as
    ``template`` (a member's state dict) is; a scalar counter is every member's. Only the names in
    ``template`` are taken."""
    out = [{} for _ in range(members)]
    for name, like in template.items():
        value = group_state[_PREFIX + name]
        for r in range(members):
            out[r][name] = value.clone() if value.shape == like.shape and value.dim() == 0 else (
                value[r] if value.dim() == like.dim() + 1 else value.reshape(members, *like.shape)[r]).clone()
    return out


def merge_states(states: Sequence[Mapping[str, torch.Tensor]],
                 group_template: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`member_states`: the group's state (or masks) from its members', for the
    names the members hold; ``group_template`` is the group's state dict (for the shapes)."""
    out = {}
    for name in states[0]:
        like, values = group_template[_PREFIX + name], [s[name] for s in states]
        out[_PREFIX + name] = values[0].clone() if like.dim() == 0 else (
            torch.stack(values) if like.dim() == values[0].dim() + 1 else torch.cat(values))
    return out
