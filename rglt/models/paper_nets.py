"""The networks behind seed 000's tables, at initialisation, as their source code builds them.

Only parameter shapes, names and initial values matter here (the F = identity null of
:mod:`rglt.experiments.imp_null_paper` passes no data), so each builder returns a :class:`PaperNet`:
every parameter at its seeded initialisation, the weights the source's IMP prunes, and the groups the
paper reports sigma for.

How the source builds it (read from the public code, facts not copied code):

- **Tables 2 and 5, ResNet-50** (``VITA-Group/CV_LTH_Pre-training``). ``models/resnet.py`` is
  torchvision's ResNet (Bottleneck, layers 3-4-6-3, the stride on the 3x3 conv) with the CIFAR stem:
  ``conv1`` a 3x3 stride-1 conv and ``maxpool = nn.Identity()``. Init: every ``nn.Conv2d`` by
  ``kaiming_normal_(mode='fan_out', nonlinearity='relu')`` (std sqrt(2 / (out_channels k^2))), BN
  weight 1 and bias 0, ``fc`` left at ``nn.Linear``'s default (uniform +-1/sqrt(fan_in), weight and
  bias); ``zero_init_residual`` is False. ``pruning_utils.py`` ``pruning_model`` prunes every
  ``nn.Conv2d`` weight by ``prune.global_unstructured(L1Unstructured)``, skipping the module named
  ``conv1`` unless ``--conv1`` is given (default off); ``fc``, biases and BN are never pruned; the
  ``downsample`` 1x1 convs are pruned. ``main_imp_downstream.py`` builds it with ``num_classes`` 10 or
  100 (``utils.py`` ``setup_model_dataset``). Table 5's ImageNet run, ``main_imp_imagenet.py``, takes
  ``torchvision.models.resnet50`` as it is (7x7 stride-2 ``conv1``, max pool, 1000 classes) and calls
  ``pruning_model(model, percent, False)``: ``conv1`` skipped. App. D says that run pruned "all layers
  of each residual block ..., including the first one", so both ``prune_conv1`` readings are built.
- **Tables 4, 6, 7, CIFAR ResNet-6n+2** (``VITA-Group/ElasticLTH``, an OpenLTH fork, and
  ``facebookresearch/open_lth``). ``models/cifar_resnet.py``: a 3x3 ``conv`` (16 filters) + BN, three
  segments of n basic blocks of widths 16, 32, 64 (stride 2 at the first block of segments 2, 3), the
  shortcut a 1x1 stride-2 conv + BN where the shape changes (else identity), ``fc`` Linear(64, 10).
  Default hparams ``model_init='kaiming_normal'``, ``batchnorm_init='uniform'``:
  ``models/initializers.py`` ``kaiming_normal_`` (fan_in, gain sqrt 2) on every Conv2d and Linear
  weight; ``models/bn_initializers.py`` ``uniform``: BN weight ``torch.rand`` (U(0, 1)), bias 0; the
  ``fc`` bias keeps ``nn.Linear``'s default. ``models/base.py`` ``prunable_layer_names``: every Conv2d
  and Linear weight (stem, shortcuts and ``fc`` included); ``pruning/sparse_global.py`` prunes them
  globally (``pruning_layers_to_ignore`` empty by default). Here the same network is
  :func:`rglt.models.cifar_resnet` (shortcut option B), with OpenLTH's init applied.
- **Table 3, BERT-base** (``VITA-Group/BERT-Tickets``). ``LT_glue.py`` ``pruning_model`` prunes, by
  ``global_unstructured(L1Unstructured)``, the query, key, value and attention-output dense weights and
  the intermediate and output dense weights of each of the 12 layers, plus ``bert.pooler.dense``;
  embeddings, LayerNorms, biases and the classifier are not pruned. Its vendored
  ``transformers-master/src/transformers/modeling_bert.py`` ``_init_weights``: Linear and Embedding
  weights normal(0, ``initializer_range`` = 0.02) (the padding row too, in that version), Linear biases
  0, LayerNorm weight 1 and bias 0. Shapes of ``bert-base-uncased``: vocabulary 30522, 512 positions,
  2 token types, width 768, 12 layers, FFN 3072, a pooler and a ``classifier`` Linear(768, labels).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch
from torch import nn

from rglt.models.resnet import cifar_resnet
from rglt.validate import check_bool, check_choice, check_int, check_seed, require

STEMS = ("cifar", "imagenet")


@dataclasses.dataclass(frozen=True)
class PaperNet:
    """One network at initialisation: ``parameters`` (every parameter, in the source's order and,
    where it has them, its names), ``prunable`` (the names the source's IMP prunes) and ``groups``
    (group -> name prefixes, as :func:`rglt.rg.imp_flow.flow` takes them)."""

    name: str
    parameters: dict[str, torch.Tensor]
    prunable: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]

    def __post_init__(self):
        missing = [n for n in self.prunable if n not in self.parameters]
        if missing:
            raise ValueError(f"PaperNet {self.name!r}: prunable names {missing} are not parameters")

    def split(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(prunable weights, every other parameter): the two sums of Eq. 13's two readings."""
        prunable = set(self.prunable)
        return ({n: self.parameters[n] for n in self.prunable},
                {n: t for n, t in self.parameters.items() if n not in prunable})


def _seeded(seed: int, build):
    """``build()`` under ``torch.manual_seed(seed)``, leaving the global generator as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_seed(seed))
        return build()


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in model.named_parameters()}


def cv_lth_resnet50(seed: int, *, num_classes: int = 10, stem: str = "cifar", prune_conv1: bool = False) -> PaperNet:
    """CV_LTH_Pre-training's ResNet-50 at its init: torchvision's ResNet-50 (whose init CV_LTH's copy
    keeps), with the CIFAR stem (3x3 ``conv1``, no max pool) or the ImageNet one (7x7, max pool); every
    conv weight prunable but ``conv1`` unless ``prune_conv1``; groups ``layer1`` .. ``layer4``."""
    from torchvision.models import resnet50

    num_classes = check_int(num_classes, "num_classes", 1)
    check_choice(stem, "stem", STEMS)
    check_bool(prune_conv1, "prune_conv1")

    def build():
        model = resnet50(weights=None, num_classes=num_classes)
        if stem == "cifar":
            model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
            model.maxpool = nn.Identity()
        return model

    model = _seeded(seed, build)
    prunable = tuple(f"{n}.weight" for n, m in model.named_modules()
                     if isinstance(m, nn.Conv2d) and (n != "conv1" or prune_conv1))
    return PaperNet(f"resnet50_{stem}", _parameters(model), prunable,
                    {f"layer{i}": (f"layer{i}",) for i in range(1, 5)})


def open_lth_init(model: nn.Module) -> nn.Module:
    """OpenLTH's default init in place: ``kaiming_normal_`` (fan_in) on every Conv and Linear weight,
    BN weight U(0, 1) and bias 0; Linear biases keep PyTorch's default."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape))
                m.bias.zero_()
    return model


def open_lth_resnet(depth: int, seed: int, *, width: int = 16, num_classes: int = 10) -> PaperNet:
    """OpenLTH / E-LTH ``cifar_resnet_<depth>`` at its default init; every conv and linear weight
    prunable; one group per residual block ``stage<s>.block<b>`` (its shortcut included)."""
    model = _seeded(seed, lambda: open_lth_init(cifar_resnet(depth, dim=2, num_classes=num_classes, width=width,
                                                             shortcut="B")))
    prunable = tuple(f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    blocks = [name for name, _ in model.groups("block").items() if name.startswith("stage")]
    return PaperNet(f"resnet{depth}", _parameters(model), prunable, {b: (b,) for b in blocks})


BERT_BASE = {"vocab": 30522, "positions": 512, "types": 2, "width": 768, "layers": 12, "ffn": 3072}


def _bert_shapes(labels: int, vocab: int, positions: int, types: int, width: int, layers: int, ffn: int):
    """(name, shape, kind) of every BertForSequenceClassification parameter, in module order; kind is
    ``"normal"`` (Linear / Embedding weight), ``"zeros"`` (bias) or ``"ones"`` (LayerNorm weight)."""
    out = [("bert.embeddings.word_embeddings.weight", (vocab, width), "normal"),
           ("bert.embeddings.position_embeddings.weight", (positions, width), "normal"),
           ("bert.embeddings.token_type_embeddings.weight", (types, width), "normal"),
           ("bert.embeddings.LayerNorm.weight", (width,), "ones"),
           ("bert.embeddings.LayerNorm.bias", (width,), "zeros")]
    linears = [("attention.self.query", width, width), ("attention.self.key", width, width),
               ("attention.self.value", width, width), ("attention.output.dense", width, width),
               ("intermediate.dense", width, ffn), ("output.dense", ffn, width)]
    for i in range(layers):
        p = f"bert.encoder.layer.{i}"
        for name, fan_in, fan_out in linears:
            out += [(f"{p}.{name}.weight", (fan_out, fan_in), "normal"), (f"{p}.{name}.bias", (fan_out,), "zeros")]
            if name in ("attention.output.dense", "output.dense"):   # each followed by its LayerNorm
                ln = f"{p}.{name.rsplit('.', 1)[0]}.LayerNorm"
                out += [(f"{ln}.weight", (width,), "ones"), (f"{ln}.bias", (width,), "zeros")]
    out += [("bert.pooler.dense.weight", (width, width), "normal"), ("bert.pooler.dense.bias", (width,), "zeros"),
            ("classifier.weight", (labels, width), "normal"), ("classifier.bias", (labels,), "zeros")]
    return out


def bert_base(seed: int, *, num_labels: int = 2, std: float = 0.02, sizes: Mapping[str, int] | None = None) -> PaperNet:
    """BERT-base (``BertForSequenceClassification``) at BERT-Tickets' random init: Linear and Embedding
    weights N(0, ``std``^2), biases 0, LayerNorm weights 1; the 72 encoder Linear weights and the pooler
    prunable; groups ``layer1`` .. ``layer12``. ``sizes`` overrides :data:`BERT_BASE` (tests)."""
    num_labels = check_int(num_labels, "num_labels", 1)
    require(isinstance(std, float) and std > 0, "std", "a float > 0", std)
    sizes = {**BERT_BASE, **(sizes or {})}
    require(set(sizes) == set(BERT_BASE) and all(isinstance(v, int) and v >= 1 for v in sizes.values()), "sizes",
            f"integers >= 1 for {sorted(BERT_BASE)}", sizes)
    shapes = _bert_shapes(num_labels, **sizes)
    fill = {"zeros": torch.zeros, "ones": torch.ones}

    def build():
        return {n: torch.randn(shape) * std if kind == "normal" else fill[kind](shape) for n, shape, kind in shapes}

    parameters = _seeded(seed, build)
    linears = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
               "intermediate.dense", "output.dense")
    prunable = tuple(f"bert.encoder.layer.{i}.{n}.weight" for i in range(sizes["layers"]) for n in linears)
    return PaperNet("bert_base", parameters, prunable + ("bert.pooler.dense.weight",),
                    {f"layer{i + 1}": (f"bert.encoder.layer.{i}",) for i in range(sizes["layers"])})
