"""RGFlow(backend="fast" / "fast-bf16"): the CPU fast path of rglt.flow.fast (torch.compile, optionally
bf16 GEMMs) computes the reference path's flow; its log-det is the brute-force Jacobian's."""
import pytest
import torch

from rglt.flow import RGFlow, backend_outputs
from rglt.flow.training import FlowTrainConfig, train_flow
from _flows import randomize

# One, two (with kernel 2: C * m * m = 8) and three residual blocks; several subnet layers per level.
CONFIGS = [dict(channels=3, size=8, kernel=4, layers_per_level=(2, 1), residual_blocks=1, hidden=16),
           dict(channels=2, size=8, kernel=2, layers_per_level=(1, 2, 1), residual_blocks=2, hidden=8),
           dict(channels=1, size=4, kernel=4, layers_per_level=1, residual_blocks=3, hidden=8)]
FIELDS = ("latents", "logdet", "inverse", "inverse_logdet", "loss", "input_grad")


def random_flow(config, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return randomize(RGFlow(**config)).to(dtype)


def sample_input(config, n=3, dtype=torch.float64, seed=1):
    shape = (n, config["channels"], config["size"], config["size"])
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("config", CONFIGS, ids=["blocks1", "blocks2-k2", "blocks3-1level"])
def test_fast_equals_reference_in_float64(config):
    flow, x = random_flow(config), sample_input(config)
    ref, fast = backend_outputs(flow, "reference", x), backend_outputs(flow, "fast", x)
    for name in FIELDS:
        torch.testing.assert_close(fast[name], ref[name], rtol=1e-10, atol=1e-10, msg=lambda m: f"{name}: {m}")
    torch.testing.assert_close(fast["inverse"], x, rtol=1e-10, atol=1e-10)
    assert fast["gradients"].keys() == ref["gradients"].keys()
    for name, want in ref["gradients"].items():
        torch.testing.assert_close(fast["gradients"][name], want, rtol=1e-9, atol=1e-10, msg=lambda m: f"d{name}: {m}")


def test_fast_logdet_is_the_brute_force_jacobian():
    config = CONFIGS[1]
    flow, x = random_flow(config), sample_input(config, n=1)
    flow.backend = "fast"
    # Row i of the Jacobian: the gradient of output i of copy i of x (the flow acts per sample).
    dims = x[0].numel()
    copies = x.expand(dims, *x.shape[1:]).clone().requires_grad_()
    flow(copies)[0].reshape(dims, dims).diagonal().sum().backward()
    jac = copies.grad.reshape(dims, dims)
    torch.testing.assert_close(flow(x)[1][0], torch.linalg.slogdet(jac)[1], rtol=1e-10, atol=1e-10)


def test_fast_bf16_is_an_exact_bijection_close_to_float32():
    # bf16 changes S and T a little, but the inverse recomputes them on the same kept half: the map is
    # still inverted to float32 rounding and the log-dets cancel.
    config = CONFIGS[0]
    flow, x = random_flow(config, torch.float32), sample_input(config, n=4, dtype=torch.float32)
    with torch.no_grad(), flow.using("fast-bf16"):
        z, ld = flow(x)
        back, ld_inv = flow.inverse_and_logdet(z)
    torch.testing.assert_close(back, x, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ld_inv, -ld, rtol=1e-5, atol=1e-4)
    with torch.no_grad():
        z32, ld32 = flow(x)
    assert not torch.equal(ld, ld32)                       # the GEMMs did run in bf16
    torch.testing.assert_close(ld, ld32, rtol=0.05, atol=0.05 * ld32.abs().max().item())


def test_auto_is_fast_for_cpu_float32_only():
    flow = random_flow(CONFIGS[0], torch.float32)
    flow.backend = "auto"
    layer = flow.layers[0]
    assert layer._eager_backend(torch.zeros(2, 48)) == "fast"
    assert layer._eager_backend(torch.zeros(2, 48, dtype=torch.float64)) == "reference"


def test_train_flow_fast_matches_reference_and_restores_the_backend():
    config = dict(channels=3, size=8, kernel=4, layers_per_level=1, residual_blocks=1, hidden=16)
    images = torch.randint(0, 256, (32, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    train = FlowTrainConfig(steps=4, batch_size=8, eval_every=2, seed=3)
    curves = {}
    for backend in ("reference", "fast"):
        flow = random_flow(config, torch.float32)
        curves[backend] = train_flow(flow, images, train, held_out=images[:8], backend=backend)
        assert flow.backend == "reference"   # restored
    torch.testing.assert_close(torch.tensor(curves["fast"]["held_out_bpd"]),
                               torch.tensor(curves["reference"]["held_out_bpd"]), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="backend must be one of"):
        train_flow(random_flow(config, torch.float32), images, train, backend="gpu")
