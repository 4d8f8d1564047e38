"""RG-Flow analyses: receptive fields against brute-force Jacobians and the identity flow's deltas,
their measured extent, generation across scales, mixing along scale, mixed temperature, input checks."""
import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from rglt.flow import RGFlow
from rglt.flow.preprocess import inverse_logit_transform
from rglt.flow.analysis import (colour_share, generation_across_scales, latent_sensitivity, mix_along_scale, mix_latents,
                                mixed_temperature_latents, receptive_field_extent, receptive_fields,
                                sample_mixed_temperature)
from _flows import randomize

TINY = dict(channels=3, size=8, kernel=4, layers_per_level=1, residual_blocks=1, hidden=16)


def tiny_flow(random=True, seed=0, **kw):
    """float64 tiny flow; ``random`` draws the zero-initialised output scales (and the Swish betas) so
    that the flow is not the identity."""
    torch.manual_seed(seed)
    flow = RGFlow(**{**TINY, **kw}).double()
    return randomize(flow) if random else flow


def latents(flow, n, seed, temperature=1.0):
    # The draw receptive_fields documents.
    return flow.sample_latents(n, temperature, generator=torch.Generator().manual_seed(seed))


def brute_force_site_maps(flow, z, space="logit"):
    """[L, L, L, L] maps: entry (i, j) is E_z sum_c' |dG_c' / dz_{c, i, j}| averaged over c, from full
    reverse-mode Jacobians of the flattened inverse (in pixel space: followed by the sigmoid back to [0, 1])."""
    c, size = flow.channels, flow.size
    out = (lambda y: y) if space == "logit" else inverse_logit_transform
    total = 0
    for zs in z:
        jac = jacobian(lambda v: out(flow.inverse(v.reshape(1, c, size, size))).reshape(-1), zs.reshape(-1))
        jac = jac.reshape(c, size, size, c, size, size).abs().sum(dim=0)      # [L, L (out), c, L, L (in)]
        total = total + jac.mean(dim=2).permute(2, 3, 0, 1)                  # [i, j, out row, out col]
    return (total / len(z)).numpy()


@pytest.fixture(scope="module")
def flow():
    return tiny_flow()


@pytest.fixture(scope="module")
def rf_random(flow):
    return receptive_fields(flow, samples=3, seed=5)


def test_identity_flow_receptive_fields_are_deltas():
    flow = tiny_flow(random=False)
    rf = receptive_fields(flow, samples=2, seed=0, space="logit")
    delta = np.zeros((8, 8))
    delta[4, 4] = 1.0
    assert rf.shape == (2, 8, 8)
    for h in range(2):
        np.testing.assert_array_equal(rf[h], delta)
    np.testing.assert_array_equal(receptive_field_extent(rf), [1.0, 1.0])
    np.testing.assert_array_equal(receptive_field_extent(rf, method="rms"), [0.0, 0.0])
    # In pixel space the delta's height is the mean slope of the sigmoid back to [0, 1], at most 0.25 / 0.9.
    pixel = receptive_fields(flow, samples=2, seed=0)
    np.testing.assert_array_equal(pixel != 0, rf != 0)
    assert (pixel[:, 4, 4] > 0).all() and (pixel[:, 4, 4] <= 0.25 / 0.9).all()


@pytest.mark.parametrize("space", ["pixel", "logit"])
def test_receptive_fields_match_brute_force_jacobian(flow, rf_random, space):
    z = latents(flow, 3, seed=5)
    maps = brute_force_site_maps(flow, z, space)
    # One site, uncentred, against its Jacobian column.
    one = latent_sensitivity(flow, z, [[3, 6]], batch_size=4, space=space)
    np.testing.assert_allclose(one[0].numpy(), maps[3, 6], rtol=1e-10, atol=1e-12)
    # Whole levels: mean over the level's sites of maps rolled so that the site sits at (4, 4).
    rf = rf_random if space == "pixel" else receptive_fields(flow, samples=3, seed=5, space=space)
    levels = flow.level_of_sites().numpy()
    for h in range(2):
        sites = np.argwhere(levels == h)
        expected = np.mean([np.roll(maps[i, j], (4 - i, 4 - j), axis=(0, 1)) for i, j in sites], axis=0)
        np.testing.assert_allclose(rf[h], expected, rtol=1e-10, atol=1e-12)


def test_pixel_space_down_weights_saturated_pixels(flow):
    # Where G's logits are large the sigmoid is flat: the pixel-space map is the logit-space map times
    # the sigmoid's slope there, so the two differ by far more than rounding for a random flow.
    z = latents(flow, 3, seed=5)
    logit, pixel = (latent_sensitivity(flow, z, [[3, 6]], space=s)[0] for s in ("logit", "pixel"))
    assert (pixel <= logit * 0.25 / 0.9 + 1e-12).all()
    assert not torch.allclose(pixel, logit * 0.25 / 0.9)


def test_random_flow_receptive_field_grows_with_level(rf_random):
    square = receptive_field_extent(rf_random, 0.9)
    rms = receptive_field_extent(rf_random, method="rms")
    assert square[0] > 1 and rms[0] > 0          # not a delta: the flow is not the identity
    assert square[1] >= square[0] and rms[1] >= rms[0]


def test_receptive_fields_are_seeded_and_subsample_sites(flow):
    a = receptive_fields(flow, samples=2, seed=1, max_sites=3)
    b = receptive_fields(flow, samples=2, seed=1, max_sites=3)
    np.testing.assert_array_equal(a, b)
    assert (a >= 0).all() and np.isfinite(a).all()


def test_extent_on_known_maps():
    delta = np.zeros((8, 8))
    delta[4, 4] = 2.0
    assert receptive_field_extent(delta) == 1.0 and receptive_field_extent(delta, method="rms") == 0.0
    block = np.zeros((8, 8))
    block[3:6, 3:6] = 1.0
    assert receptive_field_extent(block, 1.0) == 3.0
    assert receptive_field_extent(block, 1 / 9) == 1.0
    assert receptive_field_extent(block, method="rms") == pytest.approx(np.sqrt(12 / 9))
    # Uniform 8 x 8: the 7 x 7 square holds 49 / 64 < 0.9, so only the whole image (side 8) will do.
    assert receptive_field_extent(np.ones((8, 8)), 0.9) == 8.0
    assert receptive_field_extent(np.ones((8, 8)), 0.7) == 7.0


def test_generation_across_scales(flow):
    z = latents(flow, 2, seed=3)
    x = flow.inverse(z).detach()
    for mode in ("intermediate", "truncated"):
        panels = generation_across_scales(flow, z, mode=mode)
        assert len(panels) == flow.levels
        torch.testing.assert_close(panels[-1], x, rtol=0, atol=1e-12)
    # Identity flow: the exact panels.
    ident = tiny_flow(random=False)
    inter = generation_across_scales(ident, z)
    coarse = z[:, :, ::2, ::2].repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(inter[0], coarse, rtol=0, atol=0)
    trunc = generation_across_scales(ident, z, mode="truncated")
    top = (ident.level_of_sites() >= 1).to(z.dtype)
    torch.testing.assert_close(trunc[0], z * top, rtol=0, atol=0)


def test_mix_along_scale(flow):
    za, zb = latents(flow, 2, seed=1), latents(flow, 2, seed=2)
    xa, xb = flow.inverse(za).detach(), flow.inverse(zb).detach()
    torch.testing.assert_close(mix_along_scale(flow, za, zb, 0), xa, rtol=0, atol=0)
    torch.testing.assert_close(mix_along_scale(flow, za, zb, flow.levels), xb, rtol=0, atol=0)
    mixed = mix_latents(flow, za, zb, 1)
    top = flow.level_mask(1)
    assert torch.equal(mixed[:, :, top], za[:, :, top]) and torch.equal(mixed[:, :, ~top], zb[:, :, ~top])
    # The finer details change the image, the coarse latents are kept.
    assert not torch.allclose(mix_along_scale(flow, za, zb, 1), xa)


@pytest.mark.parametrize("prior,parametrisation", [("laplace", "original"), ("gaussian", "report")])
def test_mixed_temperature(prior, parametrisation):
    flow = tiny_flow(prior=prior, parametrisation=parametrisation)
    same = sample_mixed_temperature(flow, 3, (0.6, 0.6), seed=4)
    ref = flow.sample(3, 0.6, generator=torch.Generator().manual_seed(4)).detach()
    torch.testing.assert_close(same, ref, rtol=1e-12, atol=1e-12)
    z = mixed_temperature_latents(flow, 3, (0.2, 0.8), seed=4)
    z1 = latents(flow, 3, seed=4)
    ratio = {"original": (0.2, 0.8), "report": (0.2 ** 0.5, 0.8 ** 0.5)}[parametrisation]
    for h in range(2):
        m = flow.level_mask(h)
        torch.testing.assert_close(z[:, :, m], z1[:, :, m] * ratio[h], rtol=1e-12, atol=0)


def test_bad_inputs(flow):
    z = latents(flow, 2, seed=0)
    with pytest.raises(TypeError, match="model"):
        receptive_fields(torch.nn.Linear(2, 2), samples=2, seed=0)
    with pytest.raises(ValueError, match="samples"):
        receptive_fields(flow, samples=0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        receptive_fields(flow, samples=2, seed=-1)
    with pytest.raises(ValueError, match="temperature"):
        receptive_fields(flow, samples=2, seed=0, temperature=0.0)
    with pytest.raises(ValueError, match="max_sites"):
        receptive_fields(flow, samples=2, seed=0, max_sites=0)
    with pytest.raises(ValueError, match="sites"):
        latent_sensitivity(flow, z, [[0, 8]])
    with pytest.raises(ValueError, match="space.*pixel.*logit"):
        latent_sensitivity(flow, z, [[0, 1]], space="image")
    with pytest.raises(ValueError, match="space"):
        receptive_fields(flow, samples=2, seed=0, space="logits")
    with pytest.raises(ValueError, match="method"):
        receptive_field_extent(np.ones((8, 8)), method="fwhm")
    with pytest.raises(ValueError, match="fraction"):
        receptive_field_extent(np.ones((8, 8)), 0.0)
    with pytest.raises(ValueError, match="rf_map"):
        receptive_field_extent(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="rf_map"):
        receptive_field_extent(np.ones((8, 7)))
    with pytest.raises(ValueError, match="mode"):
        generation_across_scales(flow, z, mode="fine")
    with pytest.raises(ValueError, match="z"):
        generation_across_scales(flow, z[:, :2])
    with pytest.raises(ValueError, match="level"):
        mix_along_scale(flow, z, z, flow.levels + 1)
    with pytest.raises(ValueError, match="level"):
        mix_along_scale(flow, z, z, -1)
    with pytest.raises(ValueError, match="same shape"):
        mix_along_scale(flow, z, z[:1], 1)
    with pytest.raises(TypeError, match="z_b"):
        mix_along_scale(flow, z, z.long(), 1)
    with pytest.raises(ValueError, match="temperatures_per_level"):
        sample_mixed_temperature(flow, 2, (0.5,), seed=0)
    with pytest.raises(ValueError, match="temperatures_per_level"):
        sample_mixed_temperature(flow, 2, (0.5, -1.0), seed=0)
    with pytest.raises(ValueError, match="n must"):
        sample_mixed_temperature(flow, 0, (0.5, 0.5), seed=0)


def test_colour_share_on_hand_made_mixes():
    # A is red, B blue; the middle columns are hand-mixed colours: 3/4, 1/2 and 0 of A's.
    size = 6
    def image(rgb):
        img = np.zeros((3, size, size), dtype=np.uint8)
        img[:, 1:4, 2:5] = np.array(rgb, dtype=np.uint8)[:, None, None]   # a blob on black
        return img
    red, blue = np.array([200, 0, 0]), np.array([0, 0, 200])
    cols = [red, 0.75 * red + 0.25 * blue, 0.5 * red + 0.5 * blue, blue, blue]
    mixing = np.stack([image(c)[None] for c in cols])                          # [H + 1 = 5, n = 1, 3, 6, 6]
    np.testing.assert_allclose(colour_share(mixing)[:, 0], [1.0, 0.75, 0.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="same colour"):
        colour_share(np.stack([image(red)[None]] * 3))
    with pytest.raises(ValueError, match="mixing"):
        colour_share(np.zeros((3, 3, 6, 6)))
