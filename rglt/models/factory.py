"""One entry point, ``build(name, ...)``, for every model by name, in 1D or 2D.

Names: ``resnet{6n+2}`` (CIFAR ResNets: resnet8, resnet14, resnet20, resnet32, resnet44, resnet56,
resnet110, ...), ``resnet18`` (CIFAR-style ResNet-18), ``resnet50_bottleneck`` (CIFAR-style ResNet-50), ``vgg11`` / ``vgg13`` / ``vgg16`` / ``vgg19``
(CIFAR VGG with BN), ``mlp`` (two hidden layers of ``width`` units), ``gru`` (a GRU of ``width`` hidden
units reading a 1D signal as a sequence), ``gru_untied`` (the same GRU with a recurrent map of its own per
time step; ``input_size`` is the number of steps) and ``transformer{L}`` (an encoder of L layers over token ids;
``in_channels`` is the vocabulary, ``input_size`` the sequence length).
"""
from __future__ import annotations

import numbers
import re

import torch

from rglt.models.base import check_dim
from rglt.models.gru import GRU, UntiedGRU
from rglt.models.mlp import MLP
from rglt.models.resnet import cifar_resnet, resnet18, resnet50_bottleneck
from rglt.models.transformer import Transformer
from rglt.models.vgg import MIN_INPUT_SIZE, PLANS, VGG
from rglt.validate import check_int, is_int, require

NAMES = ("resnet{6n+2}", "resnet18", "resnet50_bottleneck", *(f"vgg{d}" for d in PLANS), "mlp", "gru", "gru_untied", "transformer{L}")
DEFAULT_WIDTH = {"cifar_resnet": 16, "resnet18": 64, "resnet50_bottleneck": 64, "vgg": 64, "mlp": 100, "gru": 64, "gru_untied": 64,
                 "transformer": 32}


def _input_size(input_size, dim: int):
    """``input_size`` as a tuple of ``dim`` positive ints (an int means the same along every axis)."""
    if input_size is None:
        return None
    sizes = (input_size,) * dim if isinstance(input_size, numbers.Integral) else input_size
    if not isinstance(sizes, (tuple, list)) or len(sizes) != dim:
        raise ValueError(f"input_size must be an int or {dim} ints for dim={dim}; got {input_size!r}")
    return tuple(check_int(s, "input_size", 1) for s in sizes)


def model_family(name) -> tuple[str, int]:
    match = re.fullmatch(r"(resnet|vgg|transformer)(\d+)", name) if isinstance(name, str) else None
    if name in ("mlp", "gru", "gru_untied"):
        return name, 0
    if name == "resnet50_bottleneck":
        return "resnet50_bottleneck", 50
    if match and match[1] == "transformer" and int(match[2]) >= 1:
        return "transformer", int(match[2])
    if match and match[1] == "resnet" and match[2] == "18":
        return "resnet18", 18
    if match and match[1] == "resnet" and int(match[2]) >= 8 and (int(match[2]) - 2) % 6 == 0:
        return "cifar_resnet", int(match[2])
    if match and match[1] == "vgg" and int(match[2]) in PLANS:
        return "vgg", int(match[2])
    raise ValueError(f"name must be one of {', '.join(NAMES)}; got {name!r}")


def build(name: str, *, dim: int = 2, in_channels: int = 3, num_classes: int = 10, width: int | None = None,
          input_size=None, shortcut: str | None = None, seed: int | None = None, per_token: bool = False):
    """Build model ``name`` for inputs (B, in_channels, L) (dim=1) or (B, in_channels, H, W) (dim=2).

    ``width``: first-stage channels of the ResNets (default 16 for resnet{6n+2}, 64 for resnet18; later
    stages double it), VGG's first-stage channels (default 64, every stage scaled alike), or the MLP's
    hidden units (default 100). ``input_size`` (L, or H = W, or a tuple): required by the MLP, checked
    against VGG's four pools, optional for the ResNets (global pooling takes any size). ``shortcut``:
    ``"B"`` (default, 1x1 conv + BN) or ``"A"``, ResNets only. ``seed``: initialise under
    ``torch.manual_seed(seed)`` without touching the global generator's state. ``per_token``: the
    transformer's classifier at every position (masked-token pretraining), transformers only.
    """
    family, depth = model_family(name)
    dim = check_dim(dim)
    in_channels = check_int(in_channels, "in_channels", 1)
    num_classes = check_int(num_classes, "num_classes", 1)
    width = DEFAULT_WIDTH[family] if width is None else check_int(width, "width", 1)
    sizes = _input_size(input_size, dim)
    if shortcut is not None and family not in ("cifar_resnet", "resnet18", "resnet50_bottleneck"):
        raise ValueError(f"shortcut applies to the ResNets only; got shortcut={shortcut!r} for {name!r}")
    if per_token and family != "transformer":
        raise ValueError(f"per_token applies to the transformers only; got per_token=True for {name!r}")
    if family == "transformer" and (dim != 1 or sizes is None):
        raise ValueError(f"{name!r} takes token sequences: dim=1 and input_size=(length,); got dim={dim}, "
                         f"input_size={input_size!r}")
    if family in ("gru", "gru_untied") and dim != 1:
        raise ValueError(f"{name!r} reads 1D signals as sequences: dim must be 1; got dim={dim}")
    if family == "gru_untied" and sizes is None:
        raise ValueError("input_size is required for 'gru_untied' (it sets the number of time steps, one "
                         "recurrent map each)")
    if family == "mlp" and sizes is None:
        raise ValueError("input_size is required for 'mlp' (it sets the number of input features)")
    if family == "vgg" and sizes is not None and min(sizes) < MIN_INPUT_SIZE:
        raise ValueError(f"input_size must be >= {MIN_INPUT_SIZE} per axis for {name!r} (four 2x max pools); "
                         f"got {input_size!r}")
    require(seed is None or is_int(seed) and seed >= 0, "seed", "None or an integer >= 0", seed)

    def make():
        if family == "cifar_resnet":
            return cifar_resnet(depth, dim=dim, in_channels=in_channels, num_classes=num_classes, width=width,
                                shortcut=shortcut or "B")
        if family == "resnet50_bottleneck":
            return resnet50_bottleneck(dim=dim, in_channels=in_channels, num_classes=num_classes, width=width,
                                       shortcut=shortcut or "B")
        if family == "resnet18":
            return resnet18(dim=dim, in_channels=in_channels, num_classes=num_classes, width=width,
                            shortcut=shortcut or "B")
        if family == "transformer":
            return Transformer(in_channels, sizes[0], num_classes, width=width, layers=depth, per_token=per_token)
        if family == "vgg":
            return VGG(depth, dim=dim, in_channels=in_channels, num_classes=num_classes, width=width)
        if family == "gru":
            return GRU(in_channels, num_classes, hidden=width)
        if family == "gru_untied":
            return UntiedGRU(in_channels, num_classes, hidden=width, steps=sizes[0])
        features = in_channels
        for s in sizes:
            features *= s
        return MLP(features, num_classes, hidden=(width, width))

    if seed is None:
        return make()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return make()
