"""rglt.models.paper_nets: the networks behind seed 000's tables at init, their parameter counts against
the published counts and hand formulas, their init against the formulas of the source code."""
import math

import pytest
import torch

from rglt.models import paper_nets


def _count(net, names=None):
    return sum(net.parameters[n].numel() for n in (net.parameters if names is None else names))


def _bottleneck_resnet50(classes: int, stem: int) -> tuple[int, int]:
    """(all parameters, conv weights) of He et al.'s ResNet-50 by hand (Table 1 of their paper): a
    ``stem`` x ``stem`` first conv, stages of 3, 4, 6, 3 bottlenecks of width w and output 4w."""
    convs = 3 * 64 * stem * stem
    bn = 2 * 64
    c_in = 64
    for w, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            convs += c_in * w + 9 * w * w + w * 4 * w + (c_in * 4 * w if b == 0 else 0)
            bn += 2 * (w + w + 4 * w + (4 * w if b == 0 else 0))
            c_in = 4 * w
    return convs + bn + 2048 * classes + classes, convs


def test_resnet50_counts_match_the_published_and_hand_counts():
    imagenet = paper_nets.cv_lth_resnet50(0, num_classes=1000, stem="imagenet")
    assert _count(imagenet) == 25_557_032 == _bottleneck_resnet50(1000, 7)[0]   # torchvision's published count
    cifar = paper_nets.cv_lth_resnet50(0, num_classes=10)
    total, convs = _bottleneck_resnet50(10, 3)
    assert _count(cifar) == total and abs(total - 23.5e6) < 0.05e6                # CV_LTH's CIFAR ResNet-50: 23.5M
    # CV_LTH prunes every conv but conv1; fc and BN never
    assert _count(cifar, cifar.prunable) == convs - 3 * 64 * 9
    assert "conv1.weight" not in cifar.prunable and not any(n.startswith(("fc", "bn")) for n in cifar.prunable)
    assert "layer2.0.downsample.0.weight" in cifar.prunable
    assert "conv1.weight" in paper_nets.cv_lth_resnet50(0, stem="imagenet", prune_conv1=True).prunable
    assert list(cifar.groups) == ["layer1", "layer2", "layer3", "layer4"]


def test_resnet50_init_is_kaiming_fan_out_and_linear_default():
    net = paper_nets.cv_lth_resnet50(3)
    p = net.parameters
    for name, tol in (("layer4.0.conv2.weight", 0.01), ("layer1.0.conv1.weight", 0.05), ("conv1.weight", 0.05)):
        w = p[name]
        assert float(w.std()) == pytest.approx(math.sqrt(2 / (w.shape[0] * w.shape[2] * w.shape[3])), rel=tol), name
    bound = 1 / math.sqrt(2048)
    assert float(p["fc.weight"].abs().max()) <= bound
    assert float(p["fc.weight"].std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert torch.all(p["bn1.weight"] == 1) and torch.all(p["layer3.2.bn3.bias"] == 0)


def test_open_lth_resnet20_count_and_init():
    net = paper_nets.open_lth_resnet(20, 0)
    # by hand: stem 3x3x3x16; stage widths 16, 32, 64 with 3 blocks of two 3x3 convs; 1x1 shortcuts
    # 16->32 and 32->64; fc 64x10 + 10; each BN 2 x channels
    convs = 3 * 16 * 9 + 16 * 16 * 9 * 6 + (16 * 32 * 9 + 32 * 32 * 9 * 5 + 16 * 32) + (32 * 64 * 9 + 64 * 64 * 9 * 5 + 32 * 64)
    bn = 2 * (16 + 16 * 6 + 32 * 7 + 64 * 7)
    assert _count(net) == convs + bn + 650 == 272_474           # OpenLTH's ResNet-20: 0.27M
    assert _count(net, net.prunable) == convs + 640             # every conv and the fc weight
    p = net.parameters
    for name, fan_in in (("stage3.block1.conv1.conv.weight", 64 * 9), ("stage2.block0.shortcut.conv.weight", 16),
                         ("fc.weight", 64), ("stem.conv.weight", 27)):
        assert float(p[name].std()) == pytest.approx(math.sqrt(2 / fan_in), rel=0.12), name
    bn_weights = torch.cat([t for n, t in p.items() if n.endswith("bn.weight")])
    assert bn_weights.min() >= 0 and bn_weights.max() < 1 and abs(float(bn_weights.mean()) - 0.5) < 0.03
    assert list(net.groups)[:2] == ["stage1.block0", "stage1.block1"] and len(net.groups) == 9


def test_bert_base_count_and_init():
    net = paper_nets.bert_base(0)
    # bert-base-uncased's BertModel has 109,482,240 parameters; the classifier adds 768 x 2 + 2
    assert _count(net) == 109_482_240 + 768 * 2 + 2
    assert _count(net, net.prunable) == 12 * (4 * 768 ** 2 + 2 * 768 * 3072) + 768 ** 2   # ~85.5M
    p = net.parameters
    assert float(p["bert.encoder.layer.5.intermediate.dense.weight"].std()) == pytest.approx(0.02, rel=0.01)
    assert float(p["bert.embeddings.word_embeddings.weight"].std()) == pytest.approx(0.02, rel=0.01)
    assert torch.all(p["bert.encoder.layer.0.attention.output.LayerNorm.weight"] == 1)
    assert torch.all(p["bert.encoder.layer.11.output.dense.bias"] == 0)
    assert "bert.pooler.dense.weight" in net.prunable and "classifier.weight" not in net.prunable
    assert list(net.groups) == [f"layer{i}" for i in range(1, 13)]


def test_builders_are_seeded_and_leave_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = paper_nets.open_lth_resnet(14, 7)
    assert torch.equal(torch.rand(1), before)
    b = paper_nets.open_lth_resnet(14, 7)
    c = paper_nets.open_lth_resnet(14, 8)
    assert all(torch.equal(a.parameters[n], b.parameters[n]) for n in a.parameters)
    assert not torch.equal(a.parameters["fc.weight"], c.parameters["fc.weight"])


def test_builders_refuse_bad_input():
    with pytest.raises(ValueError, match="stem must be one of cifar, imagenet"):
        paper_nets.cv_lth_resnet50(0, stem="svhn")
    with pytest.raises(ValueError, match="seed must be an integer"):
        paper_nets.open_lth_resnet(20, -1)
    with pytest.raises(ValueError, match="depth must be 6n"):
        paper_nets.open_lth_resnet(21, 0)
    with pytest.raises(ValueError, match="sizes must be integers"):
        paper_nets.bert_base(0, sizes={"layer": 2})
    with pytest.raises(ValueError, match="std must be a float > 0"):
        paper_nets.bert_base(0, std=0)
