"""rglt.applications.structured: the compacted MLP against the masked one it replaces."""
import time

import pytest
import torch

from rglt.models import build
from rglt.applications.structured import compact_mlp, forward_seconds, weight_count


def test_the_compact_mlp_computes_the_masked_mlp_exactly():
    model = build("mlp", dim=1, in_channels=1, num_classes=10, width=16, input_size=12, seed=0).double()
    g = torch.Generator().manual_seed(0)
    rows0, rows1 = torch.rand(16, generator=g) < 0.5, torch.rand(16, generator=g) < 0.6
    masks = {"hidden0.weight": rows0[:, None].expand(16, 12).clone(),
             "hidden1.weight": rows1[:, None].expand(16, 16) & (torch.rand(16, 16, generator=g) < 0.8)}
    with torch.no_grad():
        model.hidden0.bias.uniform_(-1, 1)        # dead units with positive biases feed the next layer
    masked = build("mlp", dim=1, in_channels=1, num_classes=10, width=16, input_size=12, seed=0).double()
    masked.load_state_dict(model.state_dict())
    with torch.no_grad():
        for name, m in masks.items():
            masked.get_parameter(name).mul_(m)
    small = compact_mlp(model, masks)
    assert small.hidden == (int(rows0.sum()), int(rows1.sum()))
    x = torch.randn(7, 1, 12, dtype=torch.float64)
    assert torch.allclose(small(x), masked(x), atol=1e-12)
    assert weight_count(small) == 12 * rows0.sum() + rows0.sum() * rows1.sum() + 10 * rows1.sum()


def test_timing_and_bad_input():
    model = build("mlp", dim=1, in_channels=1, num_classes=10, width=8, input_size=12, seed=0)
    assert forward_seconds([model], torch.randn(4, 1, 12), repeats=3)[0] > 0
    with pytest.raises(TypeError, match="rglt MLP"):
        compact_mlp(torch.nn.Linear(2, 2), {})


class _Sleeps(torch.nn.Module):
    """A forward pass of known length that records whether autograd was on."""
    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.grad_enabled = seconds, []

    def forward(self, x):
        self.grad_enabled.append(torch.is_grad_enabled())
        time.sleep(self.seconds)
        return x


def test_forward_seconds_times_each_model_in_inference_mode():
    short, long = _Sleeps(0.002), _Sleeps(0.006)
    fast, slow = forward_seconds([short, long], torch.zeros(1), repeats=5)
    # sleep() lasts at least as asked, and a loaded machine may stretch it (a CI run saw 9.8 ms for 6)
    assert 0.002 <= fast < 0.006 <= slow < 0.03
    assert short.grad_enabled == long.grad_enabled == [False] * 6  # warm-up + 5 rounds, no graph built
