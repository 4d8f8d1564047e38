"""Frechet distance between image sets in the feature space of a pluggable network.

    FD = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))        (the report's Eq. 30)

FID is this distance with Inception-v3 pool3 features (2048-d). Inception-v3 needs ImageNet weights,
which cannot be downloaded at run time here: :func:`inception_features` uses them only when a weights
file is present locally. The offline stand-in is :class:`MSDSFeatureNet`, a small CNN trained on the
MSDS labels whose penultimate layer gives the features (:func:`train_msds_feature_net`). Distances in
different feature spaces are not comparable with each other, nor with the report's FID values.
"""
from __future__ import annotations

import os
import warnings
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from scipy import linalg
from torch import nn

from rglt.validate import check_int, check_real, check_seed

# torchvision's ImageNet weights for inception_v3 (Inception_V3_Weights.IMAGENET1K_V1).
INCEPTION_WEIGHTS_FILE = "inception_v3_google-0cc3c7bd.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@runtime_checkable
class FeatureNet(Protocol):
    """Anything that maps uint8 images [N, 3, H, W] to float features [N, d]."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


# ---- the distance ----

def _as_float64(x, name: str) -> np.ndarray:
    arr = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _sqrtm(a: np.ndarray) -> np.ndarray | None:
    """scipy's sqrtm, or None when it fails (non-finite, or its square is off by > 1e-3 relative)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular products are handled below
        root = linalg.sqrtm(a)
    if not np.isfinite(root).all():
        return None
    scale = max(np.linalg.norm(a), np.finfo(np.float64).tiny)
    return root if np.linalg.norm(root @ root - a) <= 1e-3 * scale else None


def frechet_distance(mu1, sigma1, mu2, sigma2, *, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2); mu [d], sigma [d, d] symmetric PSD.

    The matrix square root is scipy.linalg.sqrtm. When S_1 S_2 is (nearly) singular, as with fewer
    samples than feature dimensions, sqrtm can return non-finite values; then, as in the reference FID
    code, eps * I is added to both covariances (here also when the root's square misses S_1 S_2 by more
    than 1e-3 relative). A small imaginary part from rounding is dropped (a large
    one raises). The distance is >= 0 in exact arithmetic, so a rounding-level negative result is
    returned as 0.
    """
    mu1, mu2 = _as_float64(mu1, "mu1"), _as_float64(mu2, "mu2")
    sigma1, sigma2 = _as_float64(sigma1, "sigma1"), _as_float64(sigma2, "sigma2")
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"mu1 and mu2 must be vectors of the same length; got {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match the means; got {s.shape}")
    check_real(eps, "eps", 0, low_open=True)
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if covmean is None:
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if covmean is None:
            raise ValueError(f"sqrtm(sigma1 sigma2) failed even with eps={eps} added to the diagonals")
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm(sigma1 sigma2) has an imaginary part up to "
                             f"{np.max(np.abs(covmean.imag)):.3g}: are sigma1 and sigma2 covariance matrices?")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean [d], covariance [d, d] with the N - 1 normalisation) of features [N, d], N >= 2, float64."""
    f = _as_float64(features, "features")
    if f.ndim != 2 or f.shape[0] < 2 or f.shape[1] < 1:
        raise ValueError(f"features must have shape [N, d] with N >= 2 and d >= 1; got {list(f.shape)}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _check_images(images, name: str) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"{name} must be a torch.uint8 tensor [N, 3, H, W]")
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] < 2:
        raise ValueError(f"{name} must have shape [N, 3, H, W] with N >= 2; got {list(images.shape)}")
    return images


@torch.no_grad()
def extract_features(feature_net: FeatureNet, images: torch.Tensor, *, batch_size: int = 256) -> np.ndarray:
    """Features [N, d] (float64) of uint8 ``images``, in batches; an nn.Module runs in eval mode."""
    if not callable(feature_net):
        raise TypeError(f"feature_net must be callable (images -> features); got {type(feature_net).__name__}")
    images = _check_images(images, "images")
    batch_size = check_int(batch_size, "batch_size", 1)
    was_training = isinstance(feature_net, nn.Module) and feature_net.training
    if isinstance(feature_net, nn.Module):
        feature_net.eval()
    try:
        parts = [feature_net(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    finally:
        if was_training:
            feature_net.train()
    feats = torch.cat([p.reshape(p.shape[0], -1) for p in parts]).double().cpu().numpy()
    return feats


def frechet_distance_between(images_a: torch.Tensor, images_b: torch.Tensor, feature_net: FeatureNet, *,
                             batch_size: int = 256) -> float:
    """Frechet distance between two uint8 image sets [N, 3, H, W] in ``feature_net``'s feature space.

    The estimate is biased upwards at small N (and needs N well above the feature dimension for a
    full-rank covariance); compare values only at equal N and with the same feature network.
    """
    _check_images(images_a, "images_a")
    _check_images(images_b, "images_b")
    mu1, s1 = feature_statistics(extract_features(feature_net, images_a, batch_size=batch_size))
    mu2, s2 = feature_statistics(extract_features(feature_net, images_b, batch_size=batch_size))
    return frechet_distance(mu1, s1, mu2, s2)


# ---- Inception-v3, when its weights are on disk ----

class InceptionFeatures(nn.Module):
    """uint8 images -> 2048-d Inception-v3 pool3 features (bilinear resize to 299, ImageNet normalisation).

    torchvision's Inception-v3 (transform_input=True, as its ImageNet weights expect), not the TF-ported
    network of the reference FID code, so values differ somewhat from published FIDs.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.mean.dtype) / 255.0 if images.dtype == torch.uint8 else images
        x = nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net((x - self.mean) / self.std)


def inception_features(weights_path: str | os.PathLike | None = None) -> InceptionFeatures:
    """An Inception-v3 pool3 extractor from a local weights file; never downloads.

    ``weights_path``: a torchvision inception_v3 state dict; by default
    ``<torch.hub.get_dir()>/checkpoints/inception_v3_google-0cc3c7bd.pth`` (where torchvision caches it).
    Raises FileNotFoundError naming the missing file when it is absent.
    """
    if weights_path is None:
        weights_path = os.path.join(torch.hub.get_dir(), "checkpoints", INCEPTION_WEIGHTS_FILE)
    elif not isinstance(weights_path, (str, os.PathLike)):
        raise TypeError(f"weights_path must be a path or None; got {type(weights_path).__name__}")
    weights_path = os.fspath(weights_path)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(
            f"Inception-v3 weights not found at {weights_path}: FID needs torchvision's ImageNet weights "
            f"({INCEPTION_WEIGHTS_FILE}), which cannot be downloaded here. Put the file there (or pass "
            f"weights_path), or use a locally trained feature network such as train_msds_feature_net.")
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    net.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    net.fc = nn.Identity()  # the 2048-d average-pooled features ("pool3")
    return InceptionFeatures(net).eval()


# ---- an offline feature network trained on MSDS labels ----

ELLIPSES = 16
TARGETS_PER_ELLIPSE = 7  # x, y, cos 2a, sin 2a, r, g, b


def msds_targets(labels: torch.Tensor) -> torch.Tensor:
    """MSDS labels [N, 16, 6] = (x, y, angle in degrees, r, g, b) -> regression targets [N, 112].

    Positions / 32 lie in [-1/32, 25/32] (paste corners 8 i + jitter), colours / 255 in [0, 1]; an ellipse
    looks the same after a half turn, so the angle enters as (cos 2a, sin 2a), continuous across 0 = 180.
    """
    if not isinstance(labels, torch.Tensor) or labels.dim() != 3 or tuple(labels.shape[1:]) != (ELLIPSES, 6):
        raise ValueError(f"labels must be a tensor [N, {ELLIPSES}, 6] of (x, y, angle, r, g, b)")
    lab = labels.double()
    a = torch.deg2rad(2 * lab[..., 2])
    out = torch.stack([lab[..., 0] / 32, lab[..., 1] / 32, torch.cos(a), torch.sin(a),
                       lab[..., 3] / 255, lab[..., 4] / 255, lab[..., 5] / 255], dim=-1)
    return out.reshape(len(labels), -1).float()


class MSDSFeatureNet(nn.Module):
    """A small CNN on 32 x 32 RGB: three stride-2 conv blocks, a ``features``-wide hidden layer, a head.

    ``forward`` returns the penultimate (hidden) features, so the network is a :class:`FeatureNet`;
    ``predict`` adds the linear head that regresses :func:`msds_targets`.
    """

    def __init__(self, features: int = 128, width: int = 32):
        super().__init__()
        features, width = check_int(features, "features", 1), check_int(width, "width", 1)
        w = int(width)
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, stride=2, padding=1), nn.ReLU(),           # 16 x 16
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),       # 8 x 8
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.ReLU(),   # 4 x 4: one cell per ellipse
            nn.Flatten(), nn.Linear(4 * w * 16, int(features)), nn.ReLU())
        self.head = nn.Linear(int(features), ELLIPSES * TARGETS_PER_ELLIPSE)

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        dtype = self.head.weight.dtype
        x = images.to(dtype) / 255.0 if images.dtype == torch.uint8 else images.to(dtype)
        return x - 0.5

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images [N, 3, 32, 32] (or floats in [0, 1]) -> features [N, features]."""
        return self.body(self._input(images))

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self(images))


def msds_feature_net(features: int = 128, width: int = 32, *, seed: int = 0) -> MSDSFeatureNet:
    """An untrained :class:`MSDSFeatureNet` whose initial weights are drawn with ``seed``."""
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MSDSFeatureNet(features, width)


def train_msds_feature_net(images: torch.Tensor, labels: torch.Tensor, *, epochs: int, seed: int,
                           batch_size: int = 128, lr: float = 2e-3, features: int = 128,
                           width: int = 32) -> MSDSFeatureNet:
    """Train :class:`MSDSFeatureNet` to regress the MSDS labels with Adam, returned in eval mode.

    Loss: MSE on :func:`msds_targets` standardised per target over ``images`` (so the nearly constant
    positions weigh as much as colours and angles); ``predict`` gives standardised targets. Initial
    weights and batch order come from ``seed`` alone.
    """
    _check_images(images, "images")
    if tuple(images.shape[2:]) != (32, 32):
        raise ValueError(f"images must be 32 x 32 MSDS images [N, 3, 32, 32]; got {list(images.shape)}")
    targets = msds_targets(labels)
    if len(targets) != len(images):
        raise ValueError(f"labels must have one entry per image; got {len(targets)} for {len(images)} images")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    check_real(lr, "lr", 0, low_open=True)
    seed = check_seed(seed)
    targets = (targets - targets.mean(dim=0)) / targets.std(dim=0).clamp_min(1e-6)
    net = msds_feature_net(features, width, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(int(epochs)):
        for idx in torch.randperm(len(images), generator=gen).split(int(batch_size)):
            loss = nn.functional.mse_loss(net.predict(images[idx]), targets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


__all__ = ["FeatureNet", "INCEPTION_WEIGHTS_FILE", "InceptionFeatures", "MSDSFeatureNet", "extract_features",
           "feature_statistics", "frechet_distance", "frechet_distance_between", "inception_features",
           "msds_feature_net", "msds_targets", "train_msds_feature_net"]
