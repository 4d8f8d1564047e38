"""Carrying a ticket's mask from one architecture to another of the same family.

- ``widen_masks`` (the linear case): an MLP's mask onto an MLP whose hidden layers are ``factor`` times
  wider, each hidden unit's row and column repeated ``factor`` times (a Kronecker upsampling); the
  input and output dimensions stay, and each layer keeps its density exactly.
- ``deepen_masks`` (Chen et al. 2021, E-LTH's "elastic" ticket): a CIFAR ResNet's mask onto a ResNet with
  another number of blocks per stage; the target's block k of a stage takes the mask of the source's
  block k (n_s - 1) / (n_t - 1), rounded half up, of the same stage (the first block, which changes the width,
  maps to the first; the stem, the shortcuts and the classifier map to themselves).
"""
from __future__ import annotations

import re

import torch

_BLOCK = re.compile(r"^(stage\d+)\.block(\d+)\.(.+)$")


def widen_masks(masks: dict[str, torch.Tensor], factor: int, *, hidden_layers: int = 2) -> dict[str, torch.Tensor]:
    """An MLP's masks (``hidden0.weight``, ..., ``fc.weight``; rows = outputs) for hidden layers ``factor``
    times wider: every hidden unit repeated ``factor`` times along each axis it appears on."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be an integer >= 1; got {factor!r}")
    names = [f"hidden{i}.weight" for i in range(hidden_layers)] + ["fc.weight"]
    if set(masks) != set(names):
        raise ValueError(f"masks must be exactly an MLP's {names}; got {sorted(masks)}")
    out = {}
    for i, name in enumerate(names):
        m = masks[name]
        if i < hidden_layers:                          # rows: this layer's hidden units
            m = m.repeat_interleave(factor, dim=0)
        if i > 0:                                      # columns: the previous layer's hidden units
            m = m.repeat_interleave(factor, dim=1)
        out[name] = m
    return out


def deepen_masks(masks: dict[str, torch.Tensor], source_blocks: int, target_blocks: int) -> dict[str, torch.Tensor]:
    """A CIFAR ResNet's masks (blocks per stage ``source_blocks``) for one with ``target_blocks`` per stage."""
    for name, n in (("source_blocks", source_blocks), ("target_blocks", target_blocks)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {n!r}")
    stages = sorted({m[1] for m in map(_BLOCK.match, masks) if m})
    if not stages:
        raise ValueError("masks hold no residual block (names like 'stage1.block0.conv1.conv.weight')")
    out = {name: m.clone() for name, m in masks.items() if not _BLOCK.match(name)}
    for stage in stages:
        for k in range(target_blocks):
            # half up, not Python's round-half-even: 2 -> 3 blocks maps 0, 1, 2 to 0, 1, 1
            src = 0 if target_blocks == 1 else int(k * (source_blocks - 1) / (target_blocks - 1) + 0.5)
            prefix = f"{stage}.block{src}."
            found = [n for n in masks if n.startswith(prefix)]
            if not found:
                raise ValueError(f"masks have no block {src} in {stage} (source_blocks={source_blocks}?)")
            for name in found:
                rest = name[len(prefix):]
                if k > 0 and src == 0 and rest.startswith("shortcut."):
                    continue                           # only the first block of a stage has a shortcut
                target = f"{stage}.block{k}.{rest}"
                m = masks[name]
                if k > 0 and src == 0 and rest.startswith("conv1."):
                    # the first block's conv1 reads the previous stage's width; later blocks read this one's
                    m = _square_like(m)
                out[target] = m.clone()
    return out


def _square_like(m: torch.Tensor) -> torch.Tensor:
    """A first block's conv1 mask (out, in_prev, k) tiled along its input axis to (out, out, k)."""
    out_ch, in_ch = m.shape[:2]
    if out_ch == in_ch:
        return m
    if out_ch % in_ch:
        raise ValueError(f"cannot map a conv1 mask of {in_ch} inputs onto {out_ch}")
    return m.repeat_interleave(out_ch // in_ch, dim=1)
