"""Models for the book, each in 1D (signals) and 2D (images), each naming its stages, blocks and layers.

``build(name, dim=..., in_channels=..., num_classes=...)`` makes any of them; ``model.groups(level)``
partitions its parameters by stage, block or layer; ``prunable_parameters(model, ...)`` lists the
conv/linear weights that pruning acts on.
"""
from rglt.models.base import LEVELS, ConvBN, Network, Stage, prunable_parameters
from rglt.models.factory import NAMES, build
from rglt.models.gru import GRU, UntiedGRU
from rglt.models.layout import LAYOUTS, to_layout
from rglt.models.mlp import MLP
from rglt.models.resnet import SHORTCUTS, BasicBlock, ResNet, cifar_resnet, resnet18
from rglt.models.transformer import Transformer
from rglt.models.vgg import VGG

__all__ = ["LAYOUTS", "LEVELS", "NAMES", "SHORTCUTS", "BasicBlock", "ConvBN", "GRU", "MLP", "Network", "ResNet", "Stage", "Transformer", "UntiedGRU", "VGG",
           "build", "cifar_resnet", "prunable_parameters", "resnet18", "to_layout"]
