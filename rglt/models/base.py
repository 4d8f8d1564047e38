"""What every rglt model shares: 1D/2D layer choice, a conv+norm unit, and named parameter groups.

A model is a :class:`Network` whose top-level children, in order, are its *stages* (``"stem"``,
``"stage1"``, ..., ``"fc"``). A stage that is a :class:`Stage` holds *blocks* (``"stage1.block0"``),
and the finest unit is a *layer*: a conv with its norm (:class:`ConvBN`) or a linear map. So
``groups(level)`` partitions the parameters three ways, each parameter exactly once, in the order of
``named_parameters()``:

- ``"stage"``: stem, stage1, stage2, ..., fc;
- ``"block"``: stem, stage1.block0, stage1.block1, ..., fc (a block keeps its shortcut);
- ``"layer"``: stem, stage1.block0.conv1, stage1.block0.conv2, stage2.block0.shortcut, ..., fc.

:func:`prunable_parameters` picks conv/linear *weights* only (never biases or norm layers), with the
stem, the shortcuts and the classifier each switchable, because the public codebases disagree
(OpenLTH prunes everything in ResNet-20 but skips ``fc`` in VGG; CV_LTH skips the first conv).
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from rglt.validate import check_bool, check_choice, require

DIMS = (1, 2)
LEVELS = ("stage", "block", "layer")
_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)


def check_dim(dim) -> int:
    require(not isinstance(dim, bool) and dim in DIMS, "dim", "1 (signals, (B, C, L)) or 2 (images, (B, C, H, W))",
            dim)
    return int(dim)


def conv_cls(dim: int):
    return nn.Conv1d if dim == 1 else nn.Conv2d


def norm_cls(dim: int):
    return nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d


def global_avg_pool(x):
    """Mean over every spatial axis: (B, C, ...) -> (B, C), whatever the input size."""
    return x.flatten(2).mean(-1)


class ConvBN(nn.Module):
    """One layer: conv -> batch norm (-> ReLU if ``relu``). The unit ``groups(level="layer")`` names."""

    def __init__(self, dim: int, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1,
                 bias: bool = False, relu: bool = False):
        super().__init__()
        self.conv = conv_cls(dim)(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=bias)
        self.bn = norm_cls(dim)(c_out)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return nn.functional.relu(x) if self.relu else x


class Stage(nn.Sequential):
    """A sequence of named blocks; marks the children ``groups(level="block")`` splits into."""


class Network(nn.Module):
    """Base of every rglt model. Subclasses set ``stem_layer``/``output_layer`` and list shortcuts."""

    stem_layer = "stem"   # module name of the first layer applied to the input
    output_layer = "fc"   # module name of the classifier

    def shortcut_layers(self) -> list[str]:
        """Module names of the shortcut layers that have weights (option-B 1x1 convs)."""
        return []

    def groups(self, level: str = "block") -> "OrderedDict[str, list[tuple[str, nn.Parameter]]]":
        """Ordered name -> [(parameter name, Parameter)] partition of all parameters (see module doc)."""
        check_choice(level, "level", LEVELS)
        units = []
        for name, child in self.named_children():
            if level == "stage" or not isinstance(child, Stage):
                subs = [(name, child)]
            else:
                subs = [(f"{name}.{b}", block) for b, block in child.named_children()]
            for sub_name, sub in subs:
                if level == "layer":
                    units.extend(_layer_units(sub_name, sub))
                else:
                    units.append((sub_name, sub))
        out = OrderedDict()
        for name, module in units:
            params = [(f"{name}.{n}", p) for n, p in module.named_parameters()]
            if params:
                out[name] = params
        # A subclass with parameters outside the stage/block/layer layout would break the partition.
        covered = [n for ps in out.values() for n, _ in ps]
        expected = [n for n, _ in self.named_parameters()]
        if covered != expected:
            raise RuntimeError(f"{type(self).__name__}.groups({level!r}) does not partition the parameters")
        return out


def _layer_units(prefix: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The finest units under ``module``: ConvBN (its conv stays with its norm) or a bare conv/linear."""
    if isinstance(module, (ConvBN, *_WEIGHTED)):
        return [(prefix, module)]
    return [u for name, child in module.named_children() for u in _layer_units(f"{prefix}.{name}", child)]


def prunable_parameters(model: Network, *, include_first_conv: bool = True, include_shortcuts: bool = True,
                        include_fc: bool = False) -> list[tuple[str, nn.Parameter]]:
    """Ordered (name, weight) of the conv and linear weights that pruning may touch.

    Biases and norm layers are never included. Every other conv/linear weight is, except:

    - ``include_first_conv=False`` drops the stem, the first layer applied to the input (ResNets: the
      3x3 ``stem`` conv; VGG: ``stage1.conv0``; MLP: the first hidden linear ``hidden0``);
    - ``include_shortcuts=False`` drops the option-B 1x1 shortcut convs of the ResNets (no effect on
      VGG, MLP, or option-A ResNets, which have none);
    - ``include_fc=False`` (the default) drops the classifier ``fc``.

    OpenLTH's ResNet-20 = all three True; OpenLTH's VGG and Lottery Pools = ``include_fc=False``;
    CV_LTH's default additionally sets ``include_first_conv=False``.
    """
    if not isinstance(model, Network):
        raise TypeError(f"model must be an rglt.models Network (ResNet, VGG, MLP); got {type(model).__name__}")
    for flag, value in (("include_first_conv", include_first_conv), ("include_shortcuts", include_shortcuts),
                        ("include_fc", include_fc)):
        check_bool(value, flag)
    shortcuts = model.shortcut_layers()
    out = []
    for name, module in model.named_modules():
        if not isinstance(module, _WEIGHTED):
            continue
        if _within(name, model.stem_layer) and not include_first_conv:
            continue
        if any(_within(name, s) for s in shortcuts) and not include_shortcuts:
            continue
        if _within(name, model.output_layer) and not include_fc:
            continue
        out.append((f"{name}.weight", module.weight))
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")
