"""CIFAR VGG with batch norm (OpenLTH ``cifar_vgg_N``), in 1D and 2D.

Each conv is 3x3 (padding 1, with bias, as OpenLTH) -> BN -> ReLU; a 2x max pool closes every stage
but the last; global average pooling (for 32x32 inputs the same as OpenLTH's final 2x2 average pool)
and one linear ``fc``. VGG-16 on CIFAR-10: 14,728,266 parameters (OpenLTH's own test).
Stages hold ``conv0``, ``conv1``, ... and ``pool``; the stem is ``stage1.conv0``. Four max pools need
inputs of at least 16 positions per axis.
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from rglt.models.base import ConvBN, Network, Stage, check_dim, global_avg_pool
from rglt.validate import check_choice, check_int

# Channels per stage at width 64 (OpenLTH's plans with the 'M's turned into stage boundaries).
PLANS = {
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
}
MIN_INPUT_SIZE = 16  # four 2x max pools


class VGG(Network):
    stem_layer = "stage1.conv0"

    def __init__(self, depth: int = 16, *, dim: int = 2, in_channels: int = 3, num_classes: int = 10,
                 width: int = 64):
        super().__init__()
        check_choice(depth, "depth", PLANS)
        dim = check_dim(dim)
        c_in = check_int(in_channels, "in_channels", 1)
        num_classes = check_int(num_classes, "num_classes", 1)
        width = check_int(width, "width", 1)
        pool = nn.MaxPool1d if dim == 1 else nn.MaxPool2d
        self.depth, self.dim, self.num_stages = depth, dim, len(PLANS[depth])
        for s, channels in enumerate(PLANS[depth]):
            layers = OrderedDict()
            for i, c in enumerate(channels):
                c_out = max(1, c * width // 64)  # width scales every stage, 64 = OpenLTH
                layers[f"conv{i}"] = ConvBN(dim, c_in, c_out, 3, 1, bias=True, relu=True)
                c_in = c_out
            if s < len(PLANS[depth]) - 1:
                layers["pool"] = pool(2, 2)
            self.add_module(f"stage{s + 1}", Stage(layers))
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        for s in range(self.num_stages):
            x = getattr(self, f"stage{s + 1}")(x)
        return self.fc(global_avg_pool(x))
