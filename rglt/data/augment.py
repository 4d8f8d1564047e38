"""Training-time data augmentation, named so that a :class:`rglt.train.TrainConfig` can carry it:

- ``"translate4"``: each 1D signal (N, C, L) moved by its own offset in [-4, 4] with zeros shifted in
  (:func:`rglt.data.mnist_1d.random_translation`, the 1D analogue of CIFAR's padded random crop);
- ``"crop4-flip"``: each image (N, C, H, W) zero-padded by 4 pixels, cropped back to H x W at a random
  place and flipped left-right with probability 1/2: the standard CIFAR recipe (He et al. 2016), as
  Lottery Pools' and OpenLTH's loaders do it.

Every draw comes from a generator the caller seeds, so a batch's augmentation is a function of
(seed, step) and a resumed run augments as an uninterrupted one.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from rglt.data.mnist_1d import random_translation
from rglt.validate import check_choice, check_int

AUGMENTS = ("none", "translate4", "crop4-flip")


def random_crop_flip(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W): zero-padded by ``pad`` on every side, cropped back to H x W at
    an offset uniform in [0, 2 pad] per axis, then flipped left-right with probability 1/2."""
    if x.dim() != 4:
        raise ValueError(f"x must be shaped (N, C, H, W); got {tuple(x.shape)}")
    pad = check_int(pad, "pad", 0, min(x.shape[-2:]))
    n, _, h, w = x.shape
    rows = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    cols = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    padded = F.pad(x, (pad, pad, pad, pad))
    # out[i, :, r, c] = padded[i, :, rows[i] + r, cols[i] + c'], c' = c or w - 1 - c when flipped
    r = (rows[:, None] + torch.arange(h)[None, :]).to(x.device)                     # (N, H)
    c = torch.arange(w)[None, :].expand(n, w)
    c = torch.where(flip[:, None], w - 1 - c, c)
    c = (cols[:, None] + c).to(x.device)                                          # (N, W)
    index = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, r[:, :, None], c[:, None, :]].permute(0, 3, 1, 2)


def augment(x: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """``x`` augmented as ``kind`` (one of :data:`AUGMENTS`) with draws from ``generator``."""
    check_choice(kind, "augment", AUGMENTS)
    if kind == "none":
        return x
    if kind == "translate4":
        if x.dim() != 3:
            raise ValueError(f"augment 'translate4' needs 1D signals shaped (N, C, L); got {tuple(x.shape)}")
    elif x.dim() != 4:
        raise ValueError(f"augment 'crop4-flip' needs images shaped (N, C, H, W); got {tuple(x.shape)}")
    return padded_shift(x, 4, generator)


def padded_shift(x: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """The CIFAR recipe at any padding, for either kind of input: a random translation by up to ``shift``
    samples for 1D signals (N, C, L), a random crop after ``shift`` pixels of padding and a flip for
    images (N, C, H, W)."""
    if x.dim() == 3:
        return random_translation(x, shift, generator)
    if x.dim() == 4:
        return random_crop_flip(x, shift, generator)
    raise ValueError(f"x must be 1D signals (N, C, L) or images (N, C, H, W); got {tuple(x.shape)}")


def batch_generator(seed: int, step: int) -> torch.Generator:
    """The generator of the augmentation of one member's batch at a global step: its own stream, apart
    from the batch order (``rglt.train.epoch_order``) and from Mixup / CutMix."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 4 + 3)
