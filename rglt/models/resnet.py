"""Residual networks with basic blocks, in 1D (Conv1d, signals) and 2D (Conv2d, images).

- CIFAR ResNet-(6n+2) (He et al. 2016, Sec. 4.2; OpenLTH ``cifar_resnet_N_W``): a 3x3 stem conv, three
  stages of n basic blocks with widths W, 2W, 4W (W = 16 by default), strides 1, 2, 2, global average
  pooling and a linear ``fc``. ResNet-20 is n = 3, ResNet-56 is n = 9.
- ResNet-18, CIFAR style (the Lottery Pools / ``kuangliu/pytorch-cifar`` network): a 3x3 stem conv
  (no max pool), four stages of two basic blocks, widths W, 2W, 4W, 8W (W = 64), strides 1, 2, 2, 2.

Where a block changes the shape, the shortcut is either option ``"B"`` (a strided 1x1 conv + batch
norm, as OpenLTH and the ResNet-18 above) or option ``"A"`` (He et al.'s parameter-free shortcut:
subsample by 2 and zero-pad the new channels). Convs have no bias; ``fc`` has one.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torch.nn import functional as F

from rglt.models.base import ConvBN, Network, Stage, check_dim, global_avg_pool
from rglt.validate import check_int, is_int, require

SHORTCUTS = ("A", "B")


class PadShortcut(nn.Module):
    """Option A: take every ``stride``-th position and zero-pad the channels up to ``c_out``."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.extra, self.stride = c_out - c_in, stride

    def forward(self, x):
        spatial = (slice(None), slice(None)) + (slice(None, None, self.stride),) * (x.ndim - 2)
        x = x[spatial]
        pad = [0, 0] * (x.ndim - 2) + [self.extra // 2, self.extra - self.extra // 2]
        return F.pad(x, pad)


def _shortcut(dim: int, c_in: int, c_out: int, stride: int, shortcut: str) -> nn.Module:
    """Identity where the shape is kept, else option B (1x1 conv + BN) or A (subsample and zero-pad)."""
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    if shortcut == "B":
        return ConvBN(dim, c_in, c_out, 1, stride)
    return PadShortcut(c_in, c_out, stride)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x)), the first conv strided when downsampling."""

    def __init__(self, dim: int, c_in: int, c_out: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = ConvBN(dim, c_in, c_out, 3, stride, relu=True)
        self.conv2 = ConvBN(dim, c_out, c_out, 3, 1)
        self.shortcut = _shortcut(dim, c_in, c_out, stride, shortcut)

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1 x))))))) + shortcut(x)): 1x1 down to ``width``, 3x3
    (strided when downsampling), 1x1 up to 4 x ``width`` (He et al. 2016's ResNet-50 block)."""

    expansion = 4

    def __init__(self, dim: int, c_in: int, width: int, stride: int, shortcut: str):
        super().__init__()
        c_out = self.expansion * width
        self.conv1 = ConvBN(dim, c_in, width, 1, 1, relu=True)
        self.conv2 = ConvBN(dim, width, width, 3, stride, relu=True)
        self.conv3 = ConvBN(dim, width, c_out, 1, 1)
        self.shortcut = _shortcut(dim, c_in, c_out, stride, shortcut)

    def forward(self, x):
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + self.shortcut(x))


class ResNet(Network):
    """A basic-block ResNet from a plan ``[(width, blocks), ...]``; stage i > 1 starts with stride 2.

    Modules: ``stem`` (ConvBN), ``stage1`` ... ``stageK`` (each ``block0``, ``block1``, ...; a block has
    ``conv1``, ``conv2`` and, where the shape changes under option B, ``shortcut``), ``fc``.
    """

    def __init__(self, plan, *, dim: int = 2, in_channels: int = 3, num_classes: int = 10, shortcut: str = "B",
                 block=BasicBlock):
        super().__init__()
        dim = check_dim(dim)
        in_channels = check_int(in_channels, "in_channels", 1)
        num_classes = check_int(num_classes, "num_classes", 1)
        require(shortcut in SHORTCUTS, "shortcut", "'A' (zero-pad, no parameters) or 'B' (1x1 conv + BN)", shortcut)
        if not isinstance(plan, (list, tuple)) or not plan:
            raise ValueError(f"plan must be a non-empty list of (width, blocks) pairs; got {plan!r}")
        plan = [(check_int(w, "plan width", 1), check_int(b, "plan blocks", 1)) for w, b in plan]
        self.plan, self.dim, self.shortcut = plan, dim, shortcut
        self.stem = ConvBN(dim, in_channels, plan[0][0], 3, 1, relu=True)
        c_in = plan[0][0]
        for s, (width, blocks) in enumerate(plan):
            layers = OrderedDict()
            for b in range(blocks):
                stride = 2 if s > 0 and b == 0 else 1
                layers[f"block{b}"] = block(dim, c_in, width, stride, shortcut)
                c_in = width * getattr(block, "expansion", 1)
            self.add_module(f"stage{s + 1}", Stage(layers))
        self.fc = nn.Linear(c_in, num_classes)

    def shortcut_layers(self) -> list[str]:
        return [name for name, m in self.named_modules() if name.endswith(".shortcut") and isinstance(m, ConvBN)]

    def forward(self, x):
        x = self.stem(x)
        for s in range(len(self.plan)):
            x = getattr(self, f"stage{s + 1}")(x)
        return self.fc(global_avg_pool(x))


def cifar_resnet(depth: int, *, dim: int = 2, in_channels: int = 3, num_classes: int = 10, width: int = 16,
                 shortcut: str = "B") -> ResNet:
    """CIFAR ResNet-``depth``, depth = 6n + 2 (8, 14, 20, 32, 44, 56, 110, ...), stage widths W, 2W, 4W."""
    require(is_int(depth) and depth >= 8 and (depth - 2) % 6 == 0, "depth",
            "6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...)", depth)
    width = check_int(width, "width", 1)
    n = (int(depth) - 2) // 6
    return ResNet([(width, n), (2 * width, n), (4 * width, n)], dim=dim, in_channels=in_channels,
                  num_classes=num_classes, shortcut=shortcut)


def resnet18(*, dim: int = 2, in_channels: int = 3, num_classes: int = 10, width: int = 64,
             shortcut: str = "B") -> ResNet:
    """CIFAR-style ResNet-18: four stages of two basic blocks, widths W, 2W, 4W, 8W (W = 64)."""
    width = check_int(width, "width", 1)
    return ResNet([(width, 2), (2 * width, 2), (4 * width, 2), (8 * width, 2)], dim=dim,
                  in_channels=in_channels, num_classes=num_classes, shortcut=shortcut)


def resnet50_bottleneck(*, dim: int = 2, in_channels: int = 3, num_classes: int = 10, width: int = 64,
                        shortcut: str = "B") -> ResNet:
    """ResNet-50 with bottleneck blocks, CIFAR style (3x3 stem, no max pool; as CV_LTH_Pre-training's
    CIFAR ResNet-50): four stages of 3, 4, 6, 3 blocks of widths W, 2W, 4W, 8W, outputs 4x wider."""
    width = check_int(width, "width", 1)
    return ResNet([(width, 3), (2 * width, 4), (4 * width, 6), (8 * width, 3)], dim=dim, in_channels=in_channels,
                  num_classes=num_classes, shortcut=shortcut, block=Bottleneck)
