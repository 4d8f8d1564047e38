"""The channels-last layout against today's (N, C, L) layers as the oracle: the same network, the same
parameters and state, the same arithmetic to float rounding; bit-identical on a rerun; part of the key."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rglt import identity
from rglt.models import build, to_layout
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.train import TrainConfig, train


def _pair(name, **kw):
    default = build(name, dim=1, in_channels=1, num_classes=10, width=4, input_size=40, seed=0, **kw)
    return default, to_layout(copy.deepcopy(default), "channels-last")


@pytest.mark.parametrize("name", ["resnet20", "vgg16"])
def test_forward_backward_and_batchnorm_state_match_the_default_layout(name):
    default, fast = _pair(name)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 1, 40, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    assert list(default.state_dict()) == list(fast.state_dict())
    assert all(a.shape == b.shape for a, b in zip(default.state_dict().values(), fast.state_dict().values()))
    for model in (default, fast):
        F.cross_entropy(model(x), y).backward()
    torch.testing.assert_close(fast(x), default(x), rtol=1e-4, atol=1e-5)
    # a conv bias followed by BatchNorm has a zero gradient up to rounding: compare on the model's largest
    scale = max(float(p.grad.abs().max()) for p in default.parameters())
    for (name_a, a), (_, b) in zip(default.named_parameters(), fast.named_parameters()):
        assert float((a.grad - b.grad).abs().max()) <= 1e-3 * scale, name_a
    for (key, a), b in zip(default.state_dict().items(), fast.state_dict().values()):
        if a.is_floating_point():
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=key)   # running statistics updated alike
        else:
            assert torch.equal(a, b), key
    default.eval(), fast.eval()
    torch.testing.assert_close(fast(x), default(x), rtol=1e-4, atol=1e-5)


def test_the_layout_carries_from_layer_to_layer():
    _, fast = _pair("resnet20")
    seen = []
    conv = [m for m in fast.modules() if isinstance(m, nn.Conv1d)][2]
    conv.register_forward_hook(lambda m, i, o: seen.append(o.stride()))
    fast(torch.randn(8, 1, 40))
    n, c, length = 8, conv.out_channels, 40
    assert seen == [(c * length, 1, c)]      # (N, C, L) strides of channels-last memory, not (C L, L, 1)


def test_training_in_the_channels_last_layout_is_bit_identical_on_a_rerun():
    x, y = torch.randn(64, 1, 40), torch.randint(0, 10, (64,))
    config = TrainConfig(epochs=2, batch_size=16, lr=0.05)
    runs = []
    for _ in range(2):
        _, fast = _pair("resnet20")
        train(fast, (x, y), config, desc="layout")
        runs.append(fast.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(runs[0].values(), runs[1].values()))


def test_the_layout_is_part_of_the_key_and_the_default_keeps_every_key():
    default, fast = ModelSpec("resnet20", width=16), ModelSpec("resnet20", width=16, layout="channels-last")
    assert identity.key(default) == identity.key(ModelSpec("resnet20", width=16, layout="default"))
    assert "layout" not in identity.hashed_fields(default)
    assert identity.key(TicketRun(model=fast)) != identity.key(TicketRun(model=default))


@pytest.mark.parametrize("kw,match", [
    (dict(name="resnet20", layout="nhwc"), "layout must be one of"),
    (dict(name="mlp", layout="channels-last"), "applies to the convolutional networks"),
    (dict(name="gru", layout="channels-last"), "applies to the convolutional networks"),
])
def test_a_bad_layout_is_refused_naming_the_allowed_values(kw, match):
    with pytest.raises(ValueError, match=match):
        ModelSpec(**kw)


def test_a_network_without_1d_convolutions_is_refused():
    image_net = build("resnet20", dim=2, in_channels=3, num_classes=10, width=4, seed=0)
    with pytest.raises(ValueError, match="1D convolutional"):
        to_layout(image_net, "channels-last")
