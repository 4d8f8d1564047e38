"""rglt.prune.masks against torch.nn.utils.prune (no ties) and brute-force oracles (ties)."""
import math
import os

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from rglt.prune import magnitude_masks, structured_masks


def model(seed=0):
    """Six layers of assorted shapes whose |w| are all distinct (a shuffled grid with random signs)."""
    torch.manual_seed(seed)
    net = nn.ModuleList([nn.Conv2d(3, 8, 3), nn.Conv2d(8, 16, 3), nn.Linear(64, 30),
                         nn.Conv1d(4, 6, 5), nn.Linear(30, 10), nn.Linear(10, 1)])
    n = sum(m.weight.numel() for m in net)
    values = torch.linspace(0.001, 1.0, n)[torch.randperm(n)] * (torch.randint(0, 2, (n,)) * 2 - 1)
    with torch.no_grad():
        for m, v in zip(net, values.split([m.weight.numel() for m in net])):
            m.weight.copy_(v.reshape(m.weight.shape))
    return net


def distinct(weights):
    flat = torch.cat([w.detach().abs().reshape(-1) for w in weights])
    return flat.unique().numel() == flat.numel()


def test_global_equals_torch_global_unstructured_over_rounds():
    net = model(0)
    params = [(m, "weight") for m in net]
    assert distinct([m.weight for m in net])
    masks = None
    for _ in range(3):  # iterative rounds: torch's weights and masks are fed back each time
        weights = [getattr(m, "weight_orig", m.weight).detach().clone() for m in net]
        ours = magnitude_masks(weights, masks, 0.2)
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.2)
        masks = [m.weight_mask.clone() for m in net]  # float 0/1 buffers, as torch keeps them
        assert all(torch.equal(a, b.bool()) for a, b in zip(ours, masks))
    assert 0.45 < 1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks) < 0.55


def test_layerwise_equals_torch_l1_unstructured_over_rounds():
    net = model(1)
    masks = None
    for _ in range(3):
        weights = [getattr(m, "weight_orig", m.weight).detach().clone() for m in net]
        ours = magnitude_masks(weights, masks, 0.3, scope="layerwise")
        for m in net:
            prune.l1_unstructured(m, "weight", amount=0.3)
        masks = [m.weight_mask.clone() for m in net]
        assert all(torch.equal(a, b.bool()) for a, b in zip(ours, masks))


def test_ties_follow_the_documented_rule():
    # bf16 values on a coarse grid: hundreds of exact ties at the threshold.
    g = torch.Generator().manual_seed(2)
    shapes = [(17, 5), (40,), (3, 3, 3), (64,), (2, 50)]
    weights = [(torch.randint(-6, 7, s, generator=g) * 0.125).to(torch.bfloat16) for s in shapes]
    masks = None
    for _ in range(3):
        ours = magnitude_masks(weights, masks, 0.25)
        # Oracle: survivors sorted by (|w|, tensor position, flat index); the first k are pruned.
        items = sorted((abs(float(v)), t, i) for t, w in enumerate(weights)
                       for i, v in enumerate(w.reshape(-1).tolist())
                       if masks is None or masks[t].reshape(-1)[i])
        want = [torch.ones(w.numel(), dtype=torch.bool) if masks is None else masks[t].reshape(-1).clone()
                for t, w in enumerate(weights)]
        for _, t, i in items[:round(0.25 * len(items))]:
            want[t][i] = False
        assert all(torch.equal(a, b.reshape(a.shape)) for a, b in zip(ours, want))
        masks = ours


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not torch.cuda.is_available(),
                    reason="needs CUDA or TRITON_INTERPRET=1")
def test_triton_backend_gives_the_same_masks():
    weights = [m.weight.detach() for m in model(3)]
    masks = magnitude_masks(weights, None, 0.2)
    for scope in ["global", "layerwise"]:
        want = magnitude_masks(weights, masks, 0.2, scope=scope, backend="reference")
        got = magnitude_masks(weights, masks, 0.2, scope=scope, backend="triton")
        assert all(torch.equal(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("call", [magnitude_masks, structured_masks])
def test_bad_input(call):
    w = [torch.randn(4, 3), torch.randn(5, 2)]
    cases = [
        (ValueError, "fraction", dict(weights=w, fraction=1.0)),
        (ValueError, "fraction", dict(weights=w, fraction=-0.1)),
        (ValueError, "fraction", dict(weights=w, fraction=math.nan)),
        (ValueError, "fraction", dict(weights=w, fraction=True)),
        (ValueError, "masks", dict(weights=w, masks=[torch.ones(4, 3)])),
        (ValueError, r"masks\[1\]", dict(weights=w, masks=[torch.ones(4, 3), torch.ones(2, 5)])),
        (ValueError, r"weights\[1\]", dict(weights=[w[0], torch.tensor([[1.0, math.inf]])])),
        (ValueError, r"weights\[0\]", dict(weights=[torch.tensor([math.nan]), w[1]])),
        (TypeError, r"weights\[1\]", dict(weights=[w[0], torch.ones(3, dtype=torch.int64)])),
        (TypeError, r"weights\[0\]", dict(weights=[torch.ones(3, dtype=torch.bool)])),
        (TypeError, r"weights\[1\]", dict(weights=[w[0], [1.0, 2.0]])),
        (ValueError, "scope", dict(weights=w, scope="per-layer")),
        (ValueError, "weights", dict(weights=[])),
        (TypeError, "weights", dict(weights=w[0])),
    ]
    if call is magnitude_masks:
        cases.append((ValueError, "backend", dict(weights=w, backend="gpu")))
    for error, match, kwargs in cases:
        with pytest.raises(error, match=match):
            call(**kwargs)


def structured_oracle(weights, masks, fraction, scope):
    """Channels ranked by (mean |w| over surviving entries, tensor, channel); the first k pruned."""
    masks = [torch.ones_like(w, dtype=torch.bool) if masks is None else masks[i].clone()
             for i, w in enumerate(weights)]
    rows = []
    for t, (w, m) in enumerate(zip(weights, masks)):
        for c in range(w.shape[0]):
            if m[c].any():
                score = sum(abs(float(v)) for v, keep in zip(w[c].reshape(-1).tolist(),
                                                             m[c].reshape(-1).tolist()) if keep)
                rows.append((score / w[c].numel(), t, c))
    groups = [rows] if scope == "global" else [[r for r in rows if r[1] == t] for t in range(len(weights))]
    for group in groups:
        for _, t, c in sorted(group)[:round(fraction * len(group))]:
            masks[t][c] = False
    return masks


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_structured_against_oracle(scope):
    g = torch.Generator().manual_seed(4)
    weights = [torch.randn(s, generator=g) for s in [(8, 3, 3, 3), (16, 8), (5,), (12, 4, 2)]]
    weights[1][3] = weights[1][7]  # two equal channels: the tie rule keeps their order
    weights[1][5] = -weights[1][7]
    masks = [torch.rand(w.shape, generator=g) < 0.9 for w in weights]
    for _ in range(3):
        ours = structured_masks(weights, masks, 0.3, scope=scope)
        assert all(torch.equal(a, b) for a, b in zip(ours, structured_oracle(weights, masks, 0.3, scope)))
        masks = ours


def test_structured_layerwise_equals_torch_ln_structured():
    net = model(5)
    masks = None
    for _ in range(3):
        weights = [getattr(m, "weight_orig", m.weight).detach().clone() for m in net]
        ours = structured_masks(weights, masks, 0.25, scope="layerwise")
        for m in net:
            prune.ln_structured(m, "weight", amount=0.25, n=1, dim=0)
        masks = [m.weight_mask.clone() for m in net]
        assert all(torch.equal(a, b.bool()) for a, b in zip(ours, masks))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_magnitude_masks_on_cuda_equal_cpu():
    weights = [m.weight.detach() for m in model(6)]
    want = magnitude_masks(weights, None, 0.2)
    got = magnitude_masks([w.cuda() for w in weights], None, 0.2)
    assert all(torch.equal(a.cpu(), b) for a, b in zip(got, want))
