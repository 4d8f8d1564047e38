"""RG-Flow: geometry, invertibility, exact log-dets against autograd Jacobians, priors, preprocessing,
bits/dim, the closed-form parameter count, and the input checks."""
import math

import pytest
import torch

from rglt.flow import (RGFlow, ResidualMLP, bits_per_dim, check_geometry, evaluate_bpd, gather_patches,
                       inverse_logit_transform, layer_index, level_of_sites, logit_transform, parameter_count,
                       preprocess, prior_log_prob, prior_sample, prior_scale, rg_layer_indices, scatter_patches,
                       to_uint8)
from _flows import randomize

TINY = dict(channels=3, size=8, kernel=4, layers_per_level=(2, 1), residual_blocks=1, hidden=16)


def tiny_flow(dtype=torch.float64, seed=0, **kw):
    """A tiny flow whose zero-initialised scales a, b (and betas, g's) are randomised: not the identity."""
    torch.manual_seed(seed)
    return randomize(RGFlow(**{**TINY, **kw}).to(dtype))


# ---- geometry ----

def test_level_counts_32_and_8():
    lv = level_of_sites(32, 4)
    assert [int((lv == h).sum()) for h in range(4)] == [768, 192, 48, 16]
    assert torch.equal(torch.nonzero(lv == 3), torch.tensor([[i, j] for i in (0, 8, 16, 24) for j in (0, 8, 16, 24)]))
    lv8 = level_of_sites(8, 4)
    assert [int((lv8 == h).sum()) for h in range(2)] == [48, 16]
    assert check_geometry(32, 4) == 4 and check_geometry(8, 4) == 2 and check_geometry(4, 4) == 1


@pytest.mark.parametrize("size,kernel", [(32, 4), (16, 2)])
def test_level_is_the_last_layer_touching_each_site(size, kernel):
    # Independent oracle for min(v2(i), v2(j)) capped at H - 1: the level of the last RG layer (data ->
    # latent order) whose patches contain the site.
    last = torch.full((size * size,), -1)
    for k, index in enumerate(rg_layer_indices(size, kernel)):
        last[index.reshape(-1)] = k // 2
    assert torch.equal(last.reshape(size, size), level_of_sites(size, kernel))
    top = rg_layer_indices(size, kernel)[-2:]                          # the top level: one block, reordered
    assert top[0].shape[0] == top[1].shape[0] == 1 and torch.equal(top[0].sort().values, top[1].sort().values)
    assert not torch.equal(top[0], top[1]) or size == kernel


def test_flow_layer_order_is_offset_zero_then_offset():
    flow = RGFlow(**TINY)
    assert [(layer.level, layer.offset, len(layer.subnets)) for layer in flow.layers] == \
        [(0, False, 2), (0, True, 2), (1, False, 1), (1, True, 1)]
    assert torch.equal(flow.layers[1].index, layer_index(8, 4, 0, True))


@pytest.mark.parametrize("size,kernel", [(32, 4), (8, 4), (16, 2), (8, 8)])
def test_layers_touch_each_site_at_most_once_and_exactly_their_sublattice(size, kernel):
    for k, index in enumerate(rg_layer_indices(size, kernel)):
        h = k // 2
        flat = index.reshape(-1)
        assert flat.unique().numel() == flat.numel()                     # disjoint patches, no repeats
        rows, cols = flat // size, flat % size
        assert bool(((rows % 2 ** h == 0) & (cols % 2 ** h == 0)).all())
        assert flat.numel() == (size // 2 ** h) ** 2                     # the whole sublattice


def test_layer_index_matches_direct_formula():
    # Independent oracle: the patch formula written out with loops, offset m 2^h / 2 on the 2nd layer.
    size, m = 16, 4
    for h in range(check_geometry(size, m)):
        d, s = 2 ** h, m * 2 ** h
        for offset in (False, True):
            o = s // 2 if offset else 0
            want = [[((o + s * p + d * a) % size) * size + (o + s * q + d * b) % size
                     for a in range(m) for b in range(m)]
                    for p in range(size // s) for q in range(size // s)]
            assert layer_index(size, m, h, offset).tolist() == want


def test_gather_scatter_roundtrip_and_layout():
    x = torch.randn(2, 3, 8, 8)
    index = layer_index(8, 4, 1, True)
    patches = gather_patches(x, index)
    assert patches.shape == (2 * 1, 3 * 16)
    # Row b, feature c * 16 + k holds x[b, c] at flat site index[0, k].
    assert torch.equal(patches[1, 2 * 16 + 5], x[1, 2].reshape(-1)[index[0, 5]])
    assert torch.equal(scatter_patches(x, patches, index), x)
    changed = scatter_patches(x, patches + 1, index)
    touched = torch.zeros(64, dtype=torch.bool)
    touched[index.reshape(-1)] = True
    diff = (changed - x).reshape(2, 3, 64)
    assert torch.allclose(diff[:, :, touched], torch.ones(())) and bool((diff[:, :, ~touched] == 0).all())


# ---- the flow ----

def test_identity_at_initialisation():
    torch.manual_seed(0)
    flow = RGFlow(**TINY)
    x = torch.randn(4, 3, 8, 8)
    z, ldj = flow(x)
    assert torch.equal(z, x) and torch.equal(ldj, torch.zeros(4))
    assert torch.equal(flow.inverse(x), x)


def test_inverse_roundtrip_float32():
    flow = tiny_flow(torch.float32)
    x = torch.randn(5, 3, 8, 8)
    z, ldj = flow(x)
    assert (z - x).abs().max() > 1e-2 and ldj.abs().min() > 1e-3          # not the identity
    assert torch.allclose(flow.inverse(z), x, atol=1e-5, rtol=0)
    x2, inv_ldj = flow.inverse_and_logdet(z)
    assert torch.allclose(inv_ldj, -ldj, atol=1e-4)
    zz = torch.randn(5, 3, 8, 8)
    assert torch.allclose(flow(flow.inverse(zz))[0], zz, atol=1e-5, rtol=0)


def _jacobian_logdet(fn, x):
    jac = torch.autograd.functional.jacobian(lambda v: fn(v.reshape(1, *x.shape))[0].reshape(-1), x.reshape(-1),
                                             vectorize=True)
    return torch.linalg.slogdet(jac)[1]


def test_logdet_matches_autograd_jacobian_whole_flow():
    flow = tiny_flow()
    for seed in (1, 2):
        x = torch.randn(3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        _, ldj = flow(x[None])
        assert abs(ldj.item()) > 0.1
        assert torch.allclose(ldj[0], _jacobian_logdet(flow, x), atol=1e-9, rtol=1e-9)


def test_logdet_matches_autograd_jacobian_single_rg_layers():
    flow = tiny_flow()
    x = torch.randn(3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for layer in flow.layers:
        _, ldj = layer(x[None])
        assert torch.allclose(ldj[0], _jacobian_logdet(layer, x), atol=1e-9, rtol=1e-9)
        x_back, inv_ldj = layer.inverse(layer(x[None])[0])
        assert torch.allclose(x_back[0], x, atol=1e-12) and torch.allclose(inv_ldj, -ldj, atol=1e-12)


def test_only_the_layers_sublattice_changes():
    flow = tiny_flow()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    layer = flow.layers[2]                                              # level 1: sites at even coordinates
    y = layer(x)[0]
    even = torch.zeros(8, 8, dtype=torch.bool)
    even[::2, ::2] = True
    assert torch.equal(y[:, :, ~even], x[:, :, ~even]) and not torch.equal(y[:, :, even], x[:, :, even])


def test_checkpointing_gives_the_same_loss_and_gradients():
    flow = tiny_flow(torch.float32)
    x = torch.randn(3, 3, 8, 8)
    grads = []
    for ckpt in (False, True):
        flow.checkpointing = ckpt
        flow.zero_grad()
        loss = -flow.log_prob(x).mean()
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in flow.parameters()]))
    assert torch.allclose(grads[0][0], grads[1][0])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(grads[0][1], grads[1][1]))
    assert RGFlow(**TINY, checkpointing=True).checkpointing


def test_log_prob_sample_and_levels():
    flow = tiny_flow(torch.float32, prior="gaussian")
    x = torch.randn(4, 3, 8, 8)
    z, ldj = flow(x)
    want = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(dim=(1, 2, 3)) + ldj
    assert torch.allclose(flow.log_prob(x), want, atol=1e-4)
    s1 = flow.sample(3, temperature=0.5, generator=torch.Generator().manual_seed(7))
    s2 = flow.sample(3, temperature=0.5, generator=torch.Generator().manual_seed(7))
    assert s1.shape == (3, 3, 8, 8) and torch.equal(s1, s2) and torch.isfinite(s1).all()
    parts = flow.latents_by_level(z)
    assert [p.shape for p in parts] == [(4, 3, 48), (4, 3, 16)]
    assert torch.equal(parts[1], z[:, :, ::2, ::2].reshape(4, 3, 16))
    assert int(flow.level_mask(0).sum()) == 48 and torch.equal(flow.level_of_sites(), level_of_sites(8, 4))


def test_32x32_flow_runs_and_inverts():
    torch.manual_seed(0)
    flow = RGFlow(3, 32, 4, layers_per_level=1, residual_blocks=1, hidden=8)
    with torch.no_grad():
        for m in flow.modules():
            if isinstance(m, ResidualMLP):
                m.scale.normal_(0.0, 0.5)
        x = torch.randn(2, 3, 32, 32)
        z, _ = flow(x)
        assert torch.allclose(flow.inverse(z), x, atol=1e-5)


# ---- parameter count ----

@pytest.mark.parametrize("lpl,expected", [(4, 80_518_144), ((8, 6, 4, 2), 100_647_680)])
def test_parameter_count_closed_form_matches_numel(lpl, expected):
    with torch.device("meta"):                                         # shapes only, no memory
        flow = RGFlow(3, 32, 4, layers_per_level=lpl, residual_blocks=4, hidden=512)
    counted = sum(p.numel() for p in flow.parameters())
    pc = parameter_count(3, 32, 4, lpl, 4, 512)
    assert counted == pc["total"] == expected
    assert pc["mlp"] == 1_258_096 and pc["subnet_layers"] == (32 if lpl == 4 else 40)
    assert pc["total"] == sum(pc[k] for k in ("linear_weight", "weight_norm_g", "linear_bias", "swish_beta",
                                              "output_scale"))


def test_parameter_count_components_tiny():
    flow = RGFlow(**TINY)
    pc = parameter_count(**TINY)
    by_name = {"linear_weight": 0, "weight_norm_g": 0, "linear_bias": 0, "swish_beta": 0, "output_scale": 0}
    for name, p in flow.named_parameters():
        key = {"v": "linear_weight", "g": "weight_norm_g", "bias": "linear_bias", "beta": "swish_beta",
               "scale": "output_scale"}[name.rsplit(".", 1)[1]]
        by_name[key] += p.numel()
    assert all(by_name[k] == pc[k] for k in by_name)


# ---- priors, preprocessing, bits/dim ----

@pytest.mark.parametrize("t", [0.3, 1.0, 2.0])
def test_priors_against_torch_distributions(t):
    z = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 2
    D = torch.distributions
    cases = {("gaussian", "original"): D.Normal(0.0, t), ("gaussian", "report"): D.Normal(0.0, math.sqrt(t)),
             ("laplace", "original"): D.Laplace(0.0, t / math.sqrt(2)), ("laplace", "report"): D.Laplace(0.0, t)}
    for (prior, par), dist in cases.items():
        want = dist.log_prob(z).sum(dim=(1, 2, 3))
        assert torch.allclose(prior_log_prob(z, prior, t, par), want, atol=1e-10)
        draws = prior_sample((200_000,), prior, t, par, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64)
        assert abs(draws.std().item() / dist.stddev - 1) < 0.02 and abs(draws.mean().item()) < 0.02 * t
    assert prior_scale("laplace", 1.0) == pytest.approx(1 / math.sqrt(2))


def test_logit_logdet_against_autograd_and_inverse():
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    y, ldj = logit_transform(x)
    for b in range(2):
        jac = torch.autograd.functional.jacobian(lambda v: logit_transform(v.reshape(1, 3, 4, 4))[0].reshape(-1),
                                                 x[b].reshape(-1))
        assert torch.allclose(ldj[b], torch.linalg.slogdet(jac)[1], atol=1e-10)
    assert torch.allclose(inverse_logit_transform(y), x, atol=1e-12)
    assert inverse_logit_transform(torch.tensor([-50.0, 50.0])).tolist() == [0.0, 1.0]   # clamped


def test_preprocess_dequantisation_and_to_uint8():
    images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    y, _ = preprocess(images, generator=torch.Generator().manual_seed(1))
    xt = inverse_logit_transform(y)
    assert bool(((xt * 256 - images.float() >= -1e-3) & (xt * 256 - images.float() < 1 + 1e-3)).all())
    assert torch.equal(to_uint8(y), images)


def test_bits_per_dim_known_cases():
    # Uniform density on [0, 1)^D in x_tilde: log p = 0, so 8 bits per dimension.
    assert bits_per_dim(torch.zeros(3), torch.zeros(3), 12).tolist() == [8.0] * 3
    # Density 2^D on x_tilde: one bit per dimension less.
    assert bits_per_dim(torch.tensor([12 * math.log(2)]), torch.zeros(1), 12).item() == pytest.approx(7.0)


def test_evaluate_bpd_identity_flow_against_closed_form():
    # Independent oracle: identity flow + unit Gaussian, written out by hand in float64.
    torch.manual_seed(0)
    flow = RGFlow(**{**TINY, "prior": "gaussian"}).double()
    images = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    got = evaluate_bpd(flow, images, batch_size=2, seed=3)
    gen = torch.Generator().manual_seed(3)
    total = 0.0
    for start in (0, 2, 4):
        u = torch.rand(images[start:start + 2].shape, generator=gen, dtype=torch.float64)
        xr = 0.05 + 0.9 * (images[start:start + 2].double() + u) / 256
        y = torch.log(xr / (1 - xr))
        log_density = (-0.5 * y ** 2 - 0.5 * math.log(2 * math.pi) + torch.log(0.9 / (xr * (1 - xr)))).sum()
        total += (-log_density.item() / 192 + len(y) * math.log(256)) / math.log(2)
    assert got == pytest.approx(total / 5, rel=1e-12)


# ---- bad input ----

def test_bad_inputs_raise_before_work():
    with pytest.raises(ValueError, match="size must be kernel"):
        RGFlow(3, 24, 4, layers_per_level=1)
    with pytest.raises(ValueError, match="size must be"):
        RGFlow(3, 2, 4, layers_per_level=1)
    with pytest.raises(ValueError, match="kernel must be an even"):
        RGFlow(3, 27, 3, layers_per_level=1)
    with pytest.raises(ValueError, match="layers_per_level"):
        RGFlow(3, 8, 4, layers_per_level=(1, 1, 1))
    with pytest.raises(ValueError, match="prior must be one of gaussian, laplace"):
        RGFlow(**TINY, prior="cauchy")
    with pytest.raises(ValueError, match="parametrisation must be one of original, report"):
        RGFlow(**TINY, parametrisation="paper")
    with pytest.raises(ValueError, match="parametrisation"):
        prior_log_prob(torch.zeros(1, 2), "laplace", 1.0, "paper")
    with pytest.raises(TypeError, match="checkpointing"):
        RGFlow(**TINY, checkpointing="yes")
    flow = RGFlow(**TINY)
    with pytest.raises(ValueError, match="x must have shape \\[batch, 3, 8, 8\\]"):
        flow(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="z must have shape"):
        flow.inverse(torch.zeros(2, 3, 4, 4))
    for t in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            flow.sample(2, temperature=t)
        with pytest.raises(ValueError, match="temperature"):
            prior_scale("gaussian", t)
    with pytest.raises(ValueError, match="temperature"):
        flow.log_prob(torch.zeros(1, 3, 8, 8), temperature=0)
    for bad in (float("nan"), float("inf")):
        x = torch.zeros(2, 3, 8, 8)
        x[1, 0, 3, 3] = bad
        with pytest.raises(ValueError, match="x must be finite"):
            flow.log_prob(x)
    with pytest.raises(TypeError, match="uint8"):
        preprocess(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        logit_transform(torch.full((1, 3), 1.5))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        flow.sample(0)
    with pytest.raises(ValueError, match="level must be"):
        flow.level_mask(2)
