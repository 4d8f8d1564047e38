"""Frechet distance: closed forms (diagonal Gaussians, an eigendecomposition oracle), symmetry, zero on
identical statistics, rank-deficient covariances; feature statistics; the Inception loader's missing-file
error and (with stand-in random weights) its output; the MSDS feature network; input checks."""
import numpy as np
import pytest
import torch

from rglt.data.msds import msds1
from rglt.flow.frechet import (FeatureNet, MSDSFeatureNet, extract_features, feature_statistics, frechet_distance,
                               frechet_distance_between, inception_features, msds_targets, train_msds_feature_net)


def random_cov(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d + 3))
    return a @ a.T / a.shape[1]


def psd_sqrt(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_diagonal_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_full_covariance_against_eigendecomposition_and_symmetry():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = random_cov(rng, 5), random_cov(rng, 5)
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), both roots of symmetric PSD matrices via eigh.
    r1 = psd_sqrt(s1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.trace(psd_sqrt(r1 @ s2 @ r1))
    d12 = frechet_distance(mu1, s1, mu2, s2)
    assert d12 == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(d12, rel=1e-9)
    assert frechet_distance(torch.tensor(mu1), torch.tensor(s1), mu2, s2) == pytest.approx(d12, rel=1e-12)


def test_identical_statistics_give_zero_and_values_are_non_negative():
    rng = np.random.default_rng(2)
    for d in (1, 4, 30):
        mu, s = rng.normal(size=d), random_cov(rng, d)
        assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
        for _ in range(3):
            assert frechet_distance(mu, s, rng.normal(size=d), random_cov(rng, d)) >= 0.0


def test_rank_deficient_covariances_stay_finite():
    rng = np.random.default_rng(3)
    s1, s2 = random_cov(rng, 20, rank=5), random_cov(rng, 20, rank=5)   # fewer samples than dimensions
    value = frechet_distance(np.zeros(20), s1, np.ones(20), s2)
    assert np.isfinite(value) and value >= 0.0
    # Whether or not eps * I had to be added, the eigendecomposition formula holds to O(sqrt(eps)).
    r1 = psd_sqrt(s1)
    expected = 20.0 + np.trace(s1 + s2) - 2 * np.trace(psd_sqrt(r1 @ s2 @ r1))
    assert value == pytest.approx(expected, abs=1e-2)


def test_feature_statistics():
    f = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    mu, sigma = feature_statistics(f)
    np.testing.assert_allclose(mu, [3.0, 2.0])
    centred = f - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / 2)
    mu1, sigma1 = feature_statistics(torch.tensor(f[:, :1]))
    assert sigma1.shape == (1, 1) and sigma1[0, 0] == pytest.approx(4.0)


def mean_colour(images):
    return images.float().mean(dim=(2, 3))


def test_frechet_distance_between_with_a_plain_callable():
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (40, 3, 8, 8), generator=gen, dtype=torch.uint8)
    b = torch.randint(0, 128, (30, 3, 8, 8), generator=gen, dtype=torch.uint8)
    assert isinstance(mean_colour, FeatureNet)
    fa, fb = mean_colour(a).double().numpy(), mean_colour(b).double().numpy()
    np.testing.assert_allclose(extract_features(mean_colour, a, batch_size=7), fa, rtol=1e-12)
    expected = frechet_distance(*feature_statistics(fa), *feature_statistics(fb))
    assert frechet_distance_between(a, b, mean_colour, batch_size=16) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance_between(a, a, mean_colour) == pytest.approx(0.0, abs=1e-8)


def test_inception_features_missing_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="Inception-v3 weights not found"):
        inception_features(tmp_path / "nothing.pth")
    with pytest.raises(TypeError, match="weights_path"):
        inception_features(3)


def test_inception_features_loads_a_local_file(tmp_path):
    # Stand-in weights (a random initialisation) to exercise the loader; no real FID is computed here.
    from torchvision.models import inception_v3
    torch.manual_seed(0)
    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    net = inception_features(path)
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        feats = net(images)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()


@pytest.fixture(scope="module")
def msds_data():
    return msds1(160, seed=0)


def test_msds_targets(msds_data):
    _, labels = msds_data
    t = msds_targets(labels).reshape(-1, 16, 7)
    np.testing.assert_allclose(t[..., 2] ** 2 + t[..., 3] ** 2, 1.0, rtol=1e-6)
    pos, colour = t[..., :2], t[..., 4:]
    assert pos.min() >= -1 / 32 and pos.max() <= 25 / 32 and colour.min() >= 0 and colour.max() <= 1
    np.testing.assert_allclose(t[:, 5, :2] * 32, labels[:, 5, :2].float())


def test_train_msds_feature_net(msds_data):
    images, labels = msds_data
    kw = dict(epochs=2, seed=3, batch_size=32, features=16, width=8)
    net = train_msds_feature_net(images[:96], labels[:96], **kw)
    again = train_msds_feature_net(images[:96], labels[:96], **kw)
    assert isinstance(net, MSDSFeatureNet) and not net.training
    for p, q in zip(net.parameters(), again.parameters()):
        assert torch.equal(p, q)                       # seeded: the same weights bit for bit
    with torch.no_grad():
        assert net(images[:5]).shape == (5, 16) and net.predict(images[:5]).shape == (5, 112)
    held = images[96:]
    noise = torch.randint(0, 256, held.shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    near = frechet_distance_between(held[:32], held[32:], net)
    far = frechet_distance_between(held[:32], noise[:32], net)
    assert 0 <= near < far


def test_bad_inputs(msds_data):
    images, labels = msds_data
    eye = np.eye(3)
    with pytest.raises(ValueError, match="mu1 and mu2"):
        frechet_distance(np.zeros(3), eye, np.zeros(2), eye)
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(np.zeros(3), eye, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="finite"):
        frechet_distance(np.array([0, np.nan, 0]), eye, np.zeros(3), eye)
    with pytest.raises(ValueError, match="eps"):
        frechet_distance(np.zeros(3), eye, np.zeros(3), eye, eps=0)
    with pytest.raises(ValueError, match="features"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(TypeError, match="images_a"):
        frechet_distance_between(images.float(), images, mean_colour)
    with pytest.raises(ValueError, match="images_b"):
        frechet_distance_between(images, images[:1], mean_colour)
    with pytest.raises(TypeError, match="feature_net"):
        frechet_distance_between(images, images, "inception")
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(mean_colour, images, batch_size=0)
    with pytest.raises(ValueError, match="labels"):
        train_msds_feature_net(images, labels[:10], epochs=1, seed=0)
    with pytest.raises(ValueError, match="labels"):
        train_msds_feature_net(images, labels[..., :3], epochs=1, seed=0)
    with pytest.raises(ValueError, match="epochs"):
        train_msds_feature_net(images, labels, epochs=0, seed=0)
    with pytest.raises(ValueError, match="32 x 32"):
        train_msds_feature_net(images[:, :, :16, :16], labels, epochs=1, seed=0)
