"""Issue 8 for rglt.flow: a diverging run keeps its history and its last finite weights, and bad inputs get a
clear error (naming the argument) before any work instead of a deep RuntimeError or a wrong value."""
import copy
import math

import numpy as np
import pytest
import torch

from _flows import randomize
from rglt.flow import (RGFlow, TrainingDiverged, bits_per_dim, dequantize, latent_sensitivity, logit_transform,
                       prior_log_prob, to_uint8)
from rglt.flow import training
from rglt.flow.analysis import centre_on_sites
from rglt.flow.training import FlowTrainConfig, train_flow

TINY = dict(channels=1, size=8, kernel=4, layers_per_level=1, residual_blocks=1, hidden=8)


def _flow(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return randomize(RGFlow(**TINY)).to(dtype)


def _images(n, seed):
    return torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# ---- 6: train_flow diverging, and its arguments ----

class _NaNGradient(torch.autograd.Function):
    """The identity forward, a NaN gradient backward: a finite loss whose update would poison every weight."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * math.nan


def _poison_step(monkeypatch, step, kind):
    """Make train_flow's loss (kind "loss") or its gradient (kind "gradient") NaN at ``step`` only.

    train_flow calls its bits_per_dim once per step; evaluate_bpd (the held-out records) has its own binding.
    """
    real, calls = training.bits_per_dim, [0]

    def bpd(*args):
        calls[0] += 1
        out = real(*args)
        if calls[0] == step:
            out = out * math.nan if kind == "loss" else _NaNGradient.apply(out)
        return out

    monkeypatch.setattr(training, "bits_per_dim", bpd)


@pytest.mark.parametrize("step, kind", [(1, "gradient"), (4, "loss"), (5, "gradient"), (5, "loss")])
def test_divergence_keeps_the_history_and_the_last_finite_weights(monkeypatch, step, kind):
    images, held = _images(12, 0), _images(4, 1)
    cfg = dict(batch_size=4, eval_every=2, lr=1e-2, seed=3)
    model = _flow()
    initial = copy.deepcopy(model)
    _poison_step(monkeypatch, step, kind)
    with pytest.raises(TrainingDiverged, match=rf"at step {step} \(lr=0.01\)") as err:
        train_flow(model, images, FlowTrainConfig(steps=8, **cfg), held_out=held)
    assert isinstance(err.value, FloatingPointError)
    assert err.value.step == step and err.value.lr == 0.01
    assert ("loss" if kind == "loss" else "gradient norm") in str(err.value)
    params = list(model.parameters())
    assert all(torch.isfinite(p).all() for p in params)
    assert not model.training

    # Oracle: the same seed and data for step - 1 steps (the batches and the noise come from the seed alone).
    monkeypatch.undo()
    oracle = initial
    if step > 1:
        hist = train_flow(oracle, images, FlowTrainConfig(steps=step - 1, **cfg), held_out=held)
    else:
        hist = {"step": [0], "train_bpd": [math.nan], "held_out_bpd": [err.value.history["held_out_bpd"][0]]}
    for p, q in zip(params, oracle.parameters()):
        assert torch.equal(p, q)
    got = err.value.history
    assert got["step"] == hist["step"] and got["step"][-1] == step - 1   # the last good step is recorded
    np.testing.assert_array_equal(got["train_bpd"], hist["train_bpd"])   # NaN at step 0 in both
    assert got["held_out_bpd"] == hist["held_out_bpd"]
    assert len(got["train_seconds"]) == len(got["step"])


def test_train_flow_learning_rate_flip_and_batch_size_are_checked_up_front():
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, 1\]"):
        FlowTrainConfig(steps=1, lr=1.5)
    FlowTrainConfig(steps=1, lr=1.0)   # the largest allowed
    model, images = _flow(), _images(8, 0)
    before = [p.clone() for p in model.parameters()]
    for flip in (1, "yes", None):
        with pytest.raises(TypeError, match="flip must be a bool"):
            train_flow(model, images, FlowTrainConfig(steps=1, batch_size=4), flip=flip)
    with pytest.raises(ValueError, match=r"batch_size \(9\) is larger than the number of images \(8\)"):
        train_flow(model, images, FlowTrainConfig(steps=1, batch_size=9))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    hist = train_flow(model, images, FlowTrainConfig(steps=2, batch_size=8, eval_every=1))   # all images: fine
    assert hist["step"] == [0, 1, 2]


# ---- 7: RGFlow inputs ----

@pytest.mark.parametrize("method", ["forward", "log_prob", "inverse"])
def test_flow_refuses_empty_batches_other_dtypes_and_meta_tensors(method):
    flow = _flow()
    name = "z" if method == "inverse" else "x"
    call = getattr(flow, method)
    with pytest.raises(ValueError, match=f"{name} must hold at least one sample"):
        call(torch.zeros(0, 1, 8, 8))
    with pytest.raises(TypeError, match=f"{name} has dtype torch.float64 but the flow's parameters are torch.float32"):
        call(torch.zeros(2, 1, 8, 8, dtype=torch.float64))
    with pytest.raises(TypeError, match=f"{name} has dtype torch.float32 but the flow's parameters are torch.float64"):
        getattr(_flow(dtype=torch.float64), method)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=f"{name} is on device meta"):
        call(torch.zeros(2, 1, 8, 8, device="meta"))
    out = call(torch.zeros(2, 1, 8, 8))   # and a good input still runs
    assert (out[0] if isinstance(out, tuple) else out).shape[0] == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device")
def test_flow_names_the_device_of_a_tensor_elsewhere():
    with pytest.raises(ValueError, match="x is on device cuda:0, the flow's parameters on cpu"):
        _flow()(torch.zeros(2, 1, 8, 8, device="cuda"))


def test_prior_log_prob_and_logit_transform_check_their_tensor():
    for fn, name in ((lambda t: prior_log_prob(t, "laplace"), "z"), (logit_transform, "x")):
        with pytest.raises(TypeError, match=f"{name} must be a floating-point torch.Tensor"):
            fn([[0.5]])
        with pytest.raises(TypeError, match=f"{name} must be a floating-point torch.Tensor"):
            fn(torch.zeros(2, 3, dtype=torch.long))
        with pytest.raises(ValueError, match=f"{name} must hold at least one sample"):
            fn(torch.zeros(0, 1, 8, 8))
        with pytest.raises(ValueError, match=f"{name} must hold at least one sample"):
            fn(torch.tensor(0.5))
        with pytest.raises(ValueError, match=f"{name} is on the meta device"):
            fn(torch.zeros(2, 1, 8, 8, device="meta"))
    # Values: Laplace(0, 1/sqrt(2)) summed per sample (torch.distributions as the oracle).
    z = torch.randn(3, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    want = torch.distributions.Laplace(0.0, 1 / math.sqrt(2)).log_prob(z).flatten(1).sum(1)
    torch.testing.assert_close(prior_log_prob(z, "laplace"), want)


def test_to_uint8_refuses_nan_and_maps_infinities_to_the_ends():
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(torch.tensor([0.0, math.nan]))
    with pytest.raises(TypeError, match="y must be a floating-point"):
        to_uint8(torch.tensor([1, 2]))
    assert to_uint8(torch.tensor([-math.inf, math.inf, -50.0, 50.0])).tolist() == [0, 255, 0, 255]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_dequantize_stays_below_one_in_every_dtype(dtype):
    # All-255 images: (255 + u) / 256 rounds up to 1.0 for u near 1 (often in half precision; in float32
    # for u > 1 - 2^-17, a few times in a million draws).
    x = dequantize(torch.full((1_000_000,), 255, dtype=torch.uint8), generator=torch.Generator().manual_seed(0),
                   dtype=dtype)
    assert x.dtype == dtype
    assert float(x.max()) < 1.0 and float(x.min()) >= 255 / 256
    assert float(x.max()) == 1.0 - torch.finfo(dtype).eps / 2   # the largest value below 1 is hit, not passed


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dequantize_keeps_the_seeded_values(dtype):
    # Oracle: the formula computed in dtype with u drawn from the same seed; only values of 1.0 move down.
    images = torch.cat([torch.full((200_000,), 255, dtype=torch.uint8), _images(100, 0).flatten()])
    got = dequantize(images, generator=torch.Generator().manual_seed(1), dtype=dtype)
    u = torch.rand(images.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    old = (images.to(dtype) + u) / 256
    below = 1.0 - torch.finfo(dtype).eps / 2
    assert torch.equal(got, torch.where(old == 1.0, torch.tensor(below, dtype=dtype), old))
    if dtype == torch.float32:
        assert bool((old == 1.0).any())   # the case this guards against occurs with this seed


def test_dequantize_refuses_a_non_floating_dtype():
    for dtype in (torch.int32, "float32", torch.bool):
        with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
            dequantize(_images(1, 0), dtype=dtype)


def test_bits_per_dim_refuses_shapes_that_broadcast():
    with pytest.raises(ValueError, match=r"log_prob and logdet_logit must be 1-D .* got \[2\] and \[2, 1\]"):
        bits_per_dim(torch.zeros(2), torch.zeros(2, 1), 4)
    with pytest.raises(ValueError, match="log_prob and logdet_logit"):
        bits_per_dim(torch.zeros(2, 1), torch.zeros(2, 1), 4)
    with pytest.raises(ValueError, match="log_prob and logdet_logit"):
        bits_per_dim(torch.zeros(2), torch.zeros(3), 4)
    with pytest.raises(TypeError, match="logdet_logit must be a floating-point"):
        bits_per_dim(torch.zeros(2), [0.0, 0.0], 4)
    assert bits_per_dim(torch.zeros(2), torch.zeros(2), 4).tolist() == [8.0, 8.0]


def test_sampling_at_a_temperature_too_large_for_the_dtype_is_refused():
    flow = _flow()
    with pytest.raises(ValueError, match=r"temperature=1e\+200 is too large .* latents are not finite"):
        flow.sample(2, temperature=1e200)
    with pytest.raises(ValueError, match=r"temperature=1e\+200"):
        flow.sample_latents(2, temperature=1e200)
    # Latents finite in float32 (up to ~1e38) but the flow's inverse overflows on them.
    z = flow.sample_latents(4, 1e37, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(z).all()
    with pytest.raises(ValueError, match=r"temperature=1e\+37: the samples are not finite"):
        flow.sample(4, 1e37, generator=torch.Generator().manual_seed(0))
    # No fixed bound: float64 holds T = 1e200 (the identity flow returns the latents themselves).
    torch.manual_seed(0)
    wide = RGFlow(**TINY).double()
    with torch.no_grad():
        x = wide.sample(2, 1e200, generator=torch.Generator().manual_seed(0))
        assert torch.isfinite(x).all() and float(x.abs().max()) > 1e199
        x = flow.sample(3, 2.0, generator=torch.Generator().manual_seed(4))
        z = flow.sample_latents(3, 2.0, generator=torch.Generator().manual_seed(4))
        torch.testing.assert_close(x, flow.inverse(z))


# ---- 8: latent_sensitivity sites ----

def test_latent_sensitivity_refuses_non_integer_sites():
    flow, z = _flow(), torch.zeros(2, 1, 8, 8)
    for sites in ([[1.7, 2.0]], torch.tensor([[1.0, 2.0]]), np.array([[1.5, 2.5]]), torch.tensor([[True, False]])):
        with pytest.raises(ValueError, match="sites must be integer"):
            latent_sensitivity(flow, z, sites)
        with pytest.raises(ValueError, match="sites must be integer"):
            centre_on_sites(torch.zeros(1, 8, 8), sites)
    got = latent_sensitivity(flow, z, np.array([[1, 2]], dtype=np.int32))
    assert torch.equal(got, latent_sensitivity(flow, z, [[1, 2]]))
