"""rglt.applications.transfer: masks carried across width and depth, against function-preserving widening
and the target model's own parameter shapes."""
import pytest
import torch

from rglt.models import build, prunable_parameters
from rglt.applications.transfer import deepen_masks, widen_masks


def _masks(model, seed=0, density=0.3):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.rand(p.shape, generator=g) < density for n, p in prunable_parameters(model, include_fc=True)}


def test_widening_is_the_support_of_the_function_preserving_wider_mlp():
    small = build("mlp", dim=1, in_channels=1, num_classes=10, width=6, input_size=12, seed=0).double()
    masks = _masks(small)
    with torch.no_grad():
        for n, p in small.named_parameters():
            if n in masks:
                p.mul_(masks[n])
    # The oracle: duplicate each hidden unit twice (rows and biases), halve the outgoing weights; the
    # wider MLP computes the same function, and its non-zero weights are the widened mask.
    wide = build("mlp", dim=1, in_channels=1, num_classes=10, width=12, input_size=12, seed=1).double()
    with torch.no_grad():
        for name in ("hidden0", "hidden1", "fc"):
            w, b = getattr(small, name).weight, getattr(small, name).bias
            if name != "fc":
                w, b = w.repeat_interleave(2, 0), b.repeat_interleave(2, 0)
            if name != "hidden0":
                w = w.repeat_interleave(2, 1) / 2
            getattr(wide, name).weight.copy_(w)
            getattr(wide, name).bias.copy_(b)
    x = torch.randn(5, 1, 12, dtype=torch.float64)
    assert torch.allclose(small(x), wide(x), atol=1e-12)
    widened = widen_masks(masks, 2)
    for n, m in widened.items():
        assert torch.equal(m, getattr(wide, n.split(".")[0]).weight != 0)
        assert m.float().mean() == pytest.approx(masks[n].float().mean())


def test_deepening_fits_the_target_and_keeps_each_mapped_layer():
    source, target = (build(n, dim=1, in_channels=1, num_classes=10, width=8) for n in ("resnet14", "resnet20"))
    masks = _masks(source)
    deep = deepen_masks(masks, 2, 3)
    shapes = {n: p.shape for n, p in prunable_parameters(target, include_fc=True)}
    assert {n: m.shape for n, m in deep.items()} == shapes
    # 2 -> 3 blocks: target blocks 0, 1, 2 take source blocks 0, 1, 1
    assert torch.equal(deep["stage2.block0.conv1.conv.weight"], masks["stage2.block0.conv1.conv.weight"])
    assert torch.equal(deep["stage2.block1.conv2.conv.weight"], masks["stage2.block1.conv2.conv.weight"])
    assert torch.equal(deep["stage2.block2.conv1.conv.weight"], masks["stage2.block1.conv1.conv.weight"])
    assert torch.equal(deep["stem.conv.weight"], masks["stem.conv.weight"]) and torch.equal(deep["fc.weight"], masks["fc.weight"])
    same = deepen_masks(masks, 2, 2)
    assert all(torch.equal(same[n], masks[n]) for n in masks) and set(same) == set(masks)
    shallow = deepen_masks(deepen_masks(masks, 2, 3), 3, 1)     # one block per stage: every block 0
    assert {n: m.shape for n, m in shallow.items()} == {n: p.shape for n, p in prunable_parameters(
        build("resnet8", dim=1, in_channels=1, num_classes=10, width=8), include_fc=True)}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="factor"):
        widen_masks({}, 0)
    with pytest.raises(ValueError, match="exactly an MLP"):
        widen_masks({"fc.weight": torch.ones(2, 2, dtype=torch.bool)}, 2)
    with pytest.raises(ValueError, match="no residual block"):
        deepen_masks({"fc.weight": torch.ones(2, 2, dtype=torch.bool)}, 2, 3)
