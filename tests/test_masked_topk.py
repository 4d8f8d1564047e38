"""rglt.kernels.masked_topk: the radix-select reference against a brute-force oracle, and the Triton
kernels (interpreter on CPU, real on CUDA) against the reference, bit for bit."""
import os

import pytest
import torch

from rglt.kernels.masked_topk import masked_topk
from rglt.kernels.masked_topk.naive import naive_masked_topk as oracle

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def tied_weights(dtype, shapes, seed):
    # Two decimals of a small normal: many exact ties, in every dtype, with both signs and zeros.
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(s, generator=g) * 0.05).round(decimals=2).to(dtype) for s in shapes]


def holes(weights, seed, keep=0.7):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(w.shape, generator=g) < keep for w in weights]


SHAPES = [(30, 7), (100,), (5, 4, 3), (0,), (64,), (3, 3, 2, 2)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_reference_follows_tie_rule(dtype, scope):
    weights = tied_weights(dtype, SHAPES, seed=1)
    masks = holes(weights, seed=2)
    masks[1] = None
    # An int prunes that many per group: layerwise, the empty tensor only admits 0.
    for amount in [0.0, 0.1, 0.25, 0.5, 0.9, 1.0, 0] + ([1, 3, 300] if scope == "global" else []):
        got = masked_topk(weights, masks, amount, scope=scope, backend="reference")
        want = oracle(weights, masks, amount, scope)
        assert all(torch.equal(a, b) for a, b in zip(got, want)), amount


def test_rounding_is_half_to_even_like_torch_prune():
    from torch.nn.utils.prune import _compute_nparams_toprune
    w = [torch.arange(1.0, 11.0)]  # 10 survivors: 0.25 -> round(2.5) = 2, 0.35 -> round(3.5) = 4
    for fraction in [0.05, 0.15, 0.25, 0.35, 0.45]:
        pruned = int((~masked_topk(w, None, fraction)[0]).sum())
        assert pruned == _compute_nparams_toprune(fraction, 10) == round(fraction * 10)


def test_zero_weights_in_place_and_masks_kept():
    weights = tied_weights(torch.float32, [(40, 3), (17,)], seed=3)
    masks = holes(weights, seed=4)
    before = [w.clone() for w in weights]
    new = masked_topk(weights, masks, 0.3, zero_weights=True, backend="reference")
    for w, b, m, n in zip(weights, before, masks, new):
        assert not (n & ~m).any()  # pruned entries stay pruned
        assert torch.equal(w, torch.where(n, b, torch.zeros_like(b)))


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_non_contiguous_weights(backend):
    if backend == "triton" and os.environ.get("TRITON_INTERPRET") != "1" and not torch.cuda.is_available():
        pytest.skip("needs CUDA or TRITON_INTERPRET=1")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    base = [w.to(device) for w in tied_weights(torch.float32, [(50, 30), (20, 9)], seed=8)]
    weights = [base[0].t(), base[1][:, ::2]]  # a transpose and a strided slice
    masks = [m.to(device) for m in holes(weights, seed=9)]
    want = oracle([w.contiguous().cpu() for w in weights], [m.cpu() for m in masks], 0.4)
    got = masked_topk(weights, masks, 0.4, backend=backend, zero_weights=True)
    assert all(torch.equal(a.cpu(), b) for a, b in zip(got, want))
    assert all(not w[~m].any() for w, m in zip(weights, got))  # zeroed through the views


def test_bad_input():
    w = [torch.randn(4, 3), torch.randn(5)]
    with pytest.raises(ValueError, match="weights"):
        masked_topk([], None, 0.2)
    with pytest.raises(TypeError, match="weights"):
        masked_topk(torch.randn(3), None, 0.2)
    with pytest.raises(TypeError, match=r"weights\[1\]"):
        masked_topk([w[0], torch.arange(5)], None, 0.2)
    with pytest.raises(TypeError, match="one dtype"):
        masked_topk([w[0], w[1].double()], None, 0.2)
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        masked_topk(w, [torch.ones(3, 4, dtype=torch.bool), None], 0.2)
    with pytest.raises(ValueError, match="masks"):
        masked_topk(w, [None], 0.2)
    with pytest.raises(ValueError, match="amount"):
        masked_topk(w, None, 1.5)
    with pytest.raises(ValueError, match="amount"):
        masked_topk(w, None, 18)
    with pytest.raises(TypeError, match="amount"):
        masked_topk(w, None, True)
    with pytest.raises(ValueError, match="scope"):
        masked_topk(w, None, 0.2, scope="local")
    with pytest.raises(ValueError, match="backend"):
        masked_topk(w, None, 0.2, backend="cuda")
    with pytest.raises(TypeError, match="triton"):
        masked_topk([x.double() for x in w], None, 0.2, backend="triton")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only rule")
def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        masked_topk([torch.randn(5)], None, 0.2, backend="triton")


# Sizes straddle the 4096 block: partial blocks, a tensor of one block, an empty one, a 1-entry one.
TRITON_SHAPES = [(70, 61), (5000,), (1,), (0,), (4096,), (3, 3, 37), (9001,)]


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1" and not torch.cuda.is_available(),
                    reason="needs CUDA or TRITON_INTERPRET=1")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_triton_equals_reference(dtype, scope):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    weights = [w.to(device) for w in tied_weights(dtype, TRITON_SHAPES, seed=5)]
    masks = [m.to(device) for m in holes(weights, seed=6)]
    masks[2] = None
    masks[4] = masks[4].float()  # torch.prune-style float masks work too
    for amount in [0.0, 0.37, 1.0] + ([2] if scope == "global" else [0]):
        want = masked_topk(weights, masks, amount, scope=scope, backend="reference")
        got = masked_topk(weights, masks, amount, scope=scope, backend="triton", block=4096)
        assert all(torch.equal(a, b) for a, b in zip(got, want)), amount
    # zero_weights: the kernel stores zero bits where the new mask is False.
    copies = [w.clone() for w in weights]
    got = masked_topk(copies, masks, 0.5, scope=scope, backend="triton", zero_weights=True, block=4096)
    for w, c, m in zip(weights, copies, got):
        assert torch.equal(c.view(torch.int16 if w.element_size() == 2 else torch.int32),
                           torch.where(m, w, torch.zeros_like(w)).view(c.dtype).view(
                               torch.int16 if w.element_size() == 2 else torch.int32))


@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_on_cuda_for_real(dtype):
    g = torch.Generator().manual_seed(7)
    shapes = [(512, 3, 3, 3), (1000, 1000), (12345,), (64, 64, 3, 3), (10,), (257, 129)]
    weights = [torch.randn(s, generator=g).to(dtype).cuda() for s in shapes]
    masks = [(torch.rand(s, generator=g) < 0.8).cuda() for s in shapes]
    for scope in ["global", "layerwise"]:
        got = masked_topk(weights, masks, 0.2, scope=scope)  # auto: Triton on CUDA
        want = masked_topk([w.cpu() for w in weights], [m.cpu() for m in masks], 0.2, scope=scope)
        assert all(torch.equal(a.cpu(), b) for a, b in zip(got, want))
