"""rglt.models: parameter counts from layer shapes, forward shapes in 1D and 2D, groups, prunable sets."""
import pytest
import torch
from torch import nn

from rglt.models import LEVELS, MLP, VGG, UntiedGRU, build, cifar_resnet, prunable_parameters


def count(model):
    return sum(p.numel() for p in model.parameters())


# ---- independent oracles: parameter counts from the layer shapes, written out by hand ----

def conv(c_in, c_out, k, dim, bias=False):
    return c_in * c_out * k ** dim + (c_out if bias else 0)


def bn(c):
    return 2 * c  # weight and bias; running statistics are buffers


def cifar_resnet_count(depth, dim, c_in, classes, w=16, shortcut="B"):
    n = (depth - 2) // 6
    total = conv(c_in, w, 3, dim) + bn(w)
    prev = w
    for width in (w, 2 * w, 4 * w):
        for b in range(n):
            total += conv(prev, width, 3, dim) + bn(width) + conv(width, width, 3, dim) + bn(width)
            if prev != width and shortcut == "B":
                total += conv(prev, width, 1, dim) + bn(width)
            prev = width
    return total + 4 * w * classes + classes


def test_resnet20_counts_match_hand_computation_and_published_numbers():
    # 2D, CIFAR-10: option A (He et al., no shortcut parameters) and option B (OpenLTH's 1x1 conv + BN).
    assert cifar_resnet_count(20, 2, 3, 10, shortcut="A") == 269_722
    assert cifar_resnet_count(20, 2, 3, 10, shortcut="B") == 269_722 + (16 * 32 + 64) + (32 * 64 + 128) == 272_474
    assert count(build("resnet20", shortcut="A")) == 269_722
    assert count(build("resnet20")) == 272_474            # OpenLTH's own test asserts 272474
    assert count(build("resnet110")) == 1_730_714         # ... and 1730714 for cifar_resnet_110
    assert count(build("resnet14", width=128)) == 11_093_130  # ... and cifar_resnet_14_128
    # 1D on MNIST-1D (1 channel): option B gives the ~94k of the CPU timing notes, option A 91k.
    assert count(build("resnet20", dim=1, in_channels=1)) == cifar_resnet_count(20, 1, 1, 10) == 93_914
    assert count(build("resnet20", dim=1, in_channels=1, shortcut="A")) == 91_162
    assert count(build("resnet56", dim=1, in_channels=1)) == cifar_resnet_count(56, 1, 1, 10) == 290_138


@pytest.mark.parametrize("depth", [14, 20, 32, 44, 56])
@pytest.mark.parametrize("dim", [1, 2])
def test_cifar_resnet_counts_every_depth(depth, dim):
    assert count(build(f"resnet{depth}", dim=dim, in_channels=2, num_classes=7, width=8)) == \
        cifar_resnet_count(depth, dim, 2, 7, w=8)


def test_resnet18_and_vgg_counts():
    total = conv(3, 64, 3, 2) + bn(64)
    prev = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for b in range(2):
            total += conv(prev, width, 3, 2) + bn(width) + conv(width, width, 3, 2) + bn(width)
            if prev != width or (stride == 2 and b == 0):
                total += conv(prev, width, 1, 2) + bn(width)
            prev = width
    total += 512 * 100 + 100
    assert count(build("resnet18", num_classes=100)) == total == 11_220_132
    assert count(build("resnet18")) == 11_173_962  # kuangliu/pytorch-cifar's ResNet18 for CIFAR-10

    plan = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    vgg16 = sum(conv(a, b, 3, 2, bias=True) + bn(b) for a, b in zip([3] + plan[:-1], plan)) + 512 * 10 + 10
    assert count(build("vgg16")) == vgg16 == 14_728_266  # OpenLTH's test for cifar_vgg_16
    assert count(build("vgg11")) == 9_231_114 and count(build("vgg19")) == 20_040_522
    plan1d = [16, 16, 32, 32, 64, 64, 64, 128, 128, 128, 128, 128, 128]  # width 16 = a quarter
    assert count(build("vgg16", dim=1, in_channels=1, width=16)) == \
        sum(conv(a, b, 3, 1, bias=True) + bn(b) for a, b in zip([1] + plan1d[:-1], plan1d)) + 128 * 10 + 10
    assert count(build("mlp", dim=1, in_channels=1, input_size=40, width=100)) == \
        40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10


@pytest.mark.parametrize("name,kwargs", [
    ("resnet20", {}), ("resnet20", {"shortcut": "A"}), ("resnet18", {"width": 8}), ("vgg16", {"width": 8}),
    ("mlp", {"width": 16}),
])
def test_forward_shapes_1d_and_2d(name, kwargs):
    torch.manual_seed(0)
    m1 = build(name, dim=1, in_channels=1, num_classes=10, input_size=40, **kwargs)
    assert m1(torch.randn(3, 1, 40)).shape == (3, 10)
    m2 = build(name, dim=2, in_channels=3, num_classes=100, input_size=32, **kwargs)
    assert m2(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    if name != "mlp":  # convs: 1D nets use Conv1d/BatchNorm1d only, 2D nets the 2D ones
        assert {type(m) for m in m1.modules()} & {nn.Conv2d, nn.BatchNorm2d} == set()
        assert {type(m) for m in m2.modules()} & {nn.Conv1d, nn.BatchNorm1d} == set()


def test_small_inputs_and_backward():
    m = build("resnet20", dim=2, in_channels=1, input_size=8, width=4)  # sklearn digits are 8x8
    out = m(torch.randn(4, 1, 8, 8))
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "vgg16", "mlp"])
@pytest.mark.parametrize("dim", [1, 2])
def test_groups_partition_parameters_in_order(name, dim):
    model = build(name, dim=dim, in_channels=1, input_size=32, width=4)
    params = list(model.named_parameters())
    weights = [n for n, _ in prunable_parameters(model, include_fc=True)]
    for level in LEVELS:
        groups = model.groups(level)
        flat = [(n, p) for members in groups.values() for n, p in members]
        assert [n for n, _ in flat] == [n for n, _ in params]               # every parameter once, in order
        assert all(p is q for (_, p), (_, q) in zip(flat, params))
        assert [n for n in (x for x, _ in flat) if n in weights] == weights  # every prunable weight once
        assert all(n.startswith(g + ".") for g, members in groups.items() for n, _ in members)
        assert list(groups)[-1] == "fc"


def test_group_names_of_resnet20():
    model = build("resnet20", dim=1, in_channels=1)
    assert list(model.groups("stage")) == ["stem", "stage1", "stage2", "stage3", "fc"]
    blocks = list(model.groups("block"))
    assert blocks == ["stem"] + [f"stage{s}.block{b}" for s in (1, 2, 3) for b in range(3)] + ["fc"]
    layers = model.groups("layer")
    assert "stage2.block0.shortcut" in layers and "stage3.block0.shortcut" in layers
    assert "stage1.block0.shortcut" not in layers  # identity shortcut: no parameters
    assert [n for n, _ in layers["stem"]] == ["stem.conv.weight", "stem.bn.weight", "stem.bn.bias"]
    assert [n for n, _ in layers["fc"]] == ["fc.weight", "fc.bias"]
    a = build("resnet20", dim=1, in_channels=1, shortcut="A")
    assert not any("shortcut" in g for g in a.groups("layer")) and a.shortcut_layers() == []
    with pytest.raises(ValueError, match="level must be one of stage, block, layer"):
        model.groups("blocks")


def test_prunable_parameters_options():
    model = build("resnet20", dim=2)
    convs = [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 18 + 2
    every = prunable_parameters(model, include_fc=True)
    assert [n for n, _ in every] == convs + ["fc.weight"]
    assert all(p is dict(model.named_parameters())[n] for n, p in every)
    assert [n for n, _ in prunable_parameters(model)] == convs  # default: fc excluded
    no_stem = [n for n, _ in prunable_parameters(model, include_first_conv=False)]
    assert no_stem == convs[1:]
    no_short = [n for n, _ in prunable_parameters(model, include_shortcuts=False)]
    assert no_short == [n for n in convs if ".shortcut." not in n] and len(no_short) == 19
    assert sum(p.numel() for _, p in prunable_parameters(model, include_fc=True)) == \
        272_474 - 10 - sum(2 * c for c in [16] * 7 + [32] * 7 + [64] * 7)  # minus fc bias and every BN
    vgg = build("vgg11", width=8)
    assert [n for n, _ in prunable_parameters(vgg, include_first_conv=False, include_fc=True)][0] == \
        "stage2.conv0.conv.weight"
    assert all(n.endswith(".weight") and "bn" not in n for n, _ in prunable_parameters(vgg))
    mlp = build("mlp", dim=1, in_channels=1, input_size=40)
    assert [n for n, _ in prunable_parameters(mlp, include_first_conv=False, include_fc=True)] == \
        ["hidden1.weight", "fc.weight"]


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b = build("resnet20", dim=1, in_channels=1, seed=3), build("resnet20", dim=1, in_channels=1, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build("resnet20", dim=1, in_channels=1, seed=4)
    assert not torch.equal(a.stem.conv.weight, c.stem.conv.weight)


@pytest.mark.parametrize("call,message", [
    (lambda: build("resnet21"), "name must be one of"),
    (lambda: build("vgg15"), "name must be one of"),
    (lambda: build(20), "name must be one of"),
    (lambda: build("resnet20", dim=3), "dim must be 1"),
    (lambda: build("resnet20", in_channels=0), "in_channels must be an integer >= 1"),
    (lambda: build("resnet20", num_classes=1.5), "num_classes must be an integer >= 1"),
    (lambda: build("resnet20", width=-1), "width must be an integer >= 1"),
    (lambda: build("resnet20", shortcut="C"), "shortcut must be 'A'"),
    (lambda: build("vgg16", shortcut="A"), "shortcut applies to the ResNets only"),
    (lambda: build("mlp"), "input_size is required"),
    (lambda: build("vgg16", input_size=8), "input_size must be >= 16"),
    (lambda: build("resnet20", dim=1, input_size=(32, 32)), "input_size must be an int or 1 ints"),
    (lambda: build("resnet20", seed=-1), "seed must be None or an integer >= 0"),
    (lambda: cifar_resnet(21), "depth must be 6n \\+ 2"),
    (lambda: VGG(17), "depth must be one of 11, 13, 16, 19"),
    (lambda: MLP(40, hidden=()), "hidden must be a non-empty tuple"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_prunable_parameters_bad_input():
    with pytest.raises(TypeError, match="model must be an rglt.models Network"):
        prunable_parameters(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="include_fc must be a bool"):
        prunable_parameters(build("resnet20"), include_fc=1)
    with pytest.raises(ValueError, match="x must flatten to 40 features"):
        build("mlp", dim=1, in_channels=1, input_size=40)(torch.randn(2, 1, 41))


def test_resnet50_bottleneck_has_torchvisions_parameter_count_with_a_cifar_stem():
    torchvision = pytest.importorskip("torchvision")
    from torch import nn
    from rglt.models import build
    ours = build("resnet50_bottleneck", dim=2, in_channels=3, num_classes=10)
    theirs = torchvision.models.resnet50(num_classes=10)
    theirs.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)   # CIFAR stem: 3x3, no max pool
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(ours) == count(theirs)
    assert list(ours.groups("stage")) == ["stem", "stage1", "stage2", "stage3", "stage4", "fc"]
    assert [len(getattr(ours, f"stage{i}")) for i in range(1, 5)] == [3, 4, 6, 3]


def test_gru_equals_torchs_gru_cell_and_exposes_its_weights_to_pruning():
    model = build("gru", dim=1, in_channels=2, num_classes=5, width=8, seed=0).double()
    ref = nn.GRU(2, 8, batch_first=True).double()
    with torch.no_grad():          # torch's oracle with the same weights (gate order r, z, n in both)
        ref.weight_ih_l0.copy_(model.stem.weight)
        ref.bias_ih_l0.copy_(model.stem.bias)
        ref.weight_hh_l0.copy_(model.recurrent.weight)
        ref.bias_hh_l0.copy_(model.recurrent.bias)
    x = torch.randn(3, 2, 11, dtype=torch.float64)
    _, h = ref(x.transpose(1, 2))
    assert torch.allclose(model(x), model.fc(h[0]), atol=1e-12)
    names = [n for n, _ in prunable_parameters(model, include_fc=True)]
    assert names == ["stem.weight", "recurrent.weight", "fc.weight"]
    assert list(model.groups("stage")) == ["stem", "recurrent", "fc"]
    with pytest.raises(ValueError, match="dim must be 1"):
        build("gru", dim=2, in_channels=1, num_classes=10)


def test_untied_gru_with_every_step_equal_is_the_tied_gru_and_unties_on_training():
    """The oracle is the tied GRU (itself checked against torch's nn.GRU above): built under one seed, the
    untied GRU draws the same weights and starts every step from the recurrent map, so it computes the
    same outputs bit for bit; set its steps to other maps and it differs."""
    tied = build("gru", dim=1, in_channels=2, num_classes=5, width=8, seed=3).double()
    untied = build("gru_untied", dim=1, in_channels=2, num_classes=5, width=8, input_size=11, seed=3).double()
    x = torch.randn(4, 2, 11, dtype=torch.float64)
    assert torch.equal(untied(x), tied(x))
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(untied) == count(tied) + 10 * (3 * 8 * 8 + 3 * 8)        # 11 steps: 10 recurrent maps more
    names = [n for n, _ in prunable_parameters(untied, include_fc=True)]
    assert names == ["stem.weight", *(f"recurrent.{t}.weight" for t in range(11)), "fc.weight"]
    assert list(untied.groups("stage")) == ["stem", "recurrent", "fc"]
    with torch.no_grad():
        untied.recurrent[5].weight.mul_(-1)
    assert not torch.allclose(untied(x), tied(x))
    # steps set one by one to another GRU's map reproduce that GRU
    other = build("gru", dim=1, in_channels=2, num_classes=5, width=8, seed=4).double()
    with torch.no_grad():
        for p, q in ((untied.stem, other.stem), (untied.fc, other.fc), *((s, other.recurrent) for s in untied.recurrent)):
            p.weight.copy_(q.weight)
            p.bias.copy_(q.bias)
    assert torch.equal(untied(x), other(x))


def test_untied_gru_refuses_bad_arguments_by_name():
    with pytest.raises(ValueError, match="input_size is required for 'gru_untied'"):
        build("gru_untied", dim=1, in_channels=1, num_classes=10)
    with pytest.raises(ValueError, match="dim must be 1"):
        build("gru_untied", dim=2, in_channels=1, num_classes=10, input_size=8)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        UntiedGRU(1, 10, hidden=8, steps=0)
    with pytest.raises(ValueError, match=r"x must be \(batch, 1, 7\)"):
        UntiedGRU(1, 10, hidden=8, steps=7)(torch.randn(2, 1, 8))
