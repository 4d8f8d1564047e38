"""RGFlow(backend=...): the fused rglt.kernels.rg_coupling path (Triton on CUDA, its interpreter on the CPU)
computes the same flow as the eager reference path: z, log-dets, inverse, and parameter gradients."""
import os

import pytest
import torch

import rglt.kernels.rg_coupling as rg_coupling
from rglt.flow import RGFlow, backend_outputs
from _flows import randomize

HAS_TRITON = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="needs CUDA or TRITON_INTERPRET=1")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# (2, 1) subnet layers: a level whose first subnet runs the plain epilogue and whose last one the fused
# epilogue + scatter. Small sizes: the Triton interpreter costs per kernel launch.
CONFIGS = [dict(channels=3, size=8, kernel=4, layers_per_level=(2, 1), residual_blocks=1, hidden=16),
           dict(channels=2, size=4, kernel=2, layers_per_level=(2, 1), residual_blocks=2, hidden=16)]


def random_flow(seed=0, **config):
    """A small flow with its zero-initialised scales a, b (and betas) randomised: not the identity."""
    torch.manual_seed(seed)
    return randomize(RGFlow(**config).to(DEVICE))


def run(flow, backend, x):
    out = backend_outputs(flow, backend, x)
    return (*(out[k] for k in ("latents", "logdet", "inverse", "inverse_logdet", "loss", "input_grad")),
            out["gradients"])


@needs_triton
@pytest.mark.parametrize("config", CONFIGS, ids=["k4-size8", "k2-size4"])
def test_triton_backend_equals_reference(config):
    flow = random_flow(**config)
    shape = (3, config["channels"], config["size"], config["size"])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(DEVICE)
    ref = run(flow, "reference", x)
    tri = run(flow, "triton", x)
    for name, got, want in zip(("z", "logdet", "inverse", "inverse logdet", "loss", "dx"), tri[:6], ref[:6]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=lambda m: f"{name}: {m}")
    torch.testing.assert_close(tri[2], x, rtol=1e-5, atol=1e-5)  # the inverse undoes the forward
    torch.testing.assert_close(tri[3], -tri[1], rtol=1e-5, atol=1e-5)
    assert tri[6].keys() == ref[6].keys()
    for name, want in ref[6].items():   # float32 sums in another order: atol relative to the tensor's scale
        torch.testing.assert_close(tri[6][name], want, rtol=1e-4, atol=1e-5 * max(1.0, want.abs().max().item()),
                                   msg=lambda m: f"d{name}: {m}")


@needs_triton
def test_triton_backend_with_checkpointing_and_sampling():
    flow = random_flow(**CONFIGS[1])
    x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(2)).to(DEVICE)
    flow.checkpointing = True
    ref, tri = run(flow, "reference", x), run(flow, "triton", x)
    for name in ref[6]:
        torch.testing.assert_close(tri[6][name], ref[6][name], rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        flow.backend = "reference"
        s_ref = flow.sample(2, generator=torch.Generator().manual_seed(3))
        flow.backend = "triton"
        s_tri = flow.sample(2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(s_tri, s_ref, rtol=1e-5, atol=1e-5)


def test_reference_and_auto_on_cpu_never_call_the_kernels(monkeypatch):
    """"reference" and "auto" on CPU tensors never touch the kernels: "reference" is the eager code bit
    for bit, "auto" the fast path of rglt.flow.fast (float32: the same map to float rounding)."""
    flow = random_flow(**CONFIGS[0]).cpu()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    want = flow(x)
    want_inverse = flow.inverse(want[0])

    def boom(*args, **kwargs):
        raise AssertionError("the eager path called a fused kernel")

    for name in ("gather_patches", "affine_coupling", "affine_coupling_scatter"):
        monkeypatch.setattr(rg_coupling, name, boom)
    flow.backend = "reference"
    got = flow(x)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert torch.equal(flow.inverse(got[0]), want_inverse)
    flow.backend = "auto"
    got = flow(x)
    for a, b in ((got[0], want[0]), (got[1], want[1]), (flow.inverse(got[0]), want_inverse)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_uses_triton_on_cuda():
    flow = random_flow(**CONFIGS[0])
    x = torch.randn(2, 3, 8, 8, device="cuda")
    flow.backend = "triton"
    want = flow(x)
    flow.backend = "auto"
    got = flow(x)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_backend_argument():
    config = CONFIGS[0]
    assert RGFlow(**config).backend == "reference"
    flow = RGFlow(**config, backend="auto")
    assert flow.backend == "auto" and all(layer.backend == "auto" for layer in flow.layers)
    flow.backend = "triton"
    assert all(layer.backend == "triton" for layer in flow.layers)
    for bad in ("cuda", "Triton", "", None, 1):
        with pytest.raises(ValueError, match="backend must be one of reference, fast, fast-bf16, triton, auto"):
            RGFlow(**config, backend=bad)
    with pytest.raises(ValueError, match="backend must be one of"):
        flow.backend = "eager"
    assert flow.backend == "triton"  # a rejected value leaves the setting as it was


def test_triton_backend_on_cpu_without_interpreter_says_so(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    flow = RGFlow(**CONFIGS[0], backend="triton")
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        flow(torch.randn(1, 3, 8, 8))
