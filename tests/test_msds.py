"""MSDS1 / MSDS2: determinism by seed, shapes, label ranges, and ellipses where the labels put them."""
import numpy as np
import pytest
import torch

from rglt.data.msds import KINDS, msds, msds1, msds2, render


@pytest.fixture(scope="module")
def data():
    return {kind: msds(kind, 300, seed=1) for kind in KINDS}


def test_same_seed_same_bits_other_seed_differs():
    a, la = msds1(20, seed=5)
    b, lb = msds1(20, seed=5)
    assert torch.equal(a, b) and torch.equal(la, lb)
    c, _ = msds1(20, seed=6)
    assert not torch.equal(a, c)
    d, _ = msds2(20, seed=5)
    assert not torch.equal(a, d)
    # A prefix of a longer run is not promised, but n images are reproducible on their own.
    assert torch.equal(msds2(3, seed=0)[0], msds2(3, seed=0)[0])


def test_shapes_and_dtypes(data):
    for kind, (images, labels) in data.items():
        assert images.shape == (300, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.shape == (300, 16, 6) and labels.dtype == torch.float64
        assert images.float().mean() > 10                        # not blank


def test_label_ranges(data):
    for kind, (_, labels) in data.items():
        lab = labels.numpy()
        cell = np.arange(16)
        jitter_x = lab[:, :, 0] - 8 * (cell // 4)
        jitter_y = lab[:, :, 1] - 8 * (cell % 4)
        assert set(np.unique(jitter_x)) == {-1, 0, 1} and set(np.unique(jitter_y)) == {-1, 0, 1}
        colour = lab[:, :, 3:]
        assert np.all(colour == np.round(colour)) and colour.min() >= 0 and colour.max() <= 255
        angle = lab[:, :, 2]
        if kind == "msds1":
            assert angle.min() >= 0 and angle.max() < 180
            # A per-image base colour in 32..223 within +-32 of every ellipse's colour: the midrange of
            # the 16 colours is within 32 of the base, and their spread at most 64.
            spread = colour.max(axis=1) - colour.min(axis=1)
            assert spread.max() <= 64
            lo, hi = colour.max(axis=1) - 32, colour.min(axis=1) + 32   # feasible base interval
            assert np.all(np.maximum(lo, 32) <= np.minimum(hi, 223))
            assert np.ptp(angle, axis=1).mean() > 120              # independent angles
        else:
            assert angle.min() >= 0 and angle.max() < 225
            assert np.ptp(angle, axis=1).max() < 45                # one shared angle + [0, 45)
            assert np.ptp(colour, axis=1).mean() > 150             # independent colours


def test_render_reproduces_images(data):
    images, labels = data["msds2"]
    for n in (0, 7, 123):
        assert np.array_equal(render(labels[n].numpy()).transpose(2, 0, 1), images[n].numpy())


def _centroids(images, labels):
    """Intensity centroid of the 5 x 5 window around each labelled tile centre (paste + 4), minus that centre."""
    out = []
    for n in range(len(images)):
        img = images[n].double().sum(0)
        for k in range(16):
            x, y = int(labels[n, k, 0]), int(labels[n, k, 1])
            if labels[n, k, 3:].sum() < 150:                        # too dark to locate
                continue
            r0, r1, c0, c1 = max(y + 2, 0), min(y + 7, 32), max(x + 2, 0), min(x + 7, 32)
            w = img[r0:r1, c0:c1]
            rows = torch.arange(r0, r1, dtype=torch.float64)[:, None]
            cols = torch.arange(c0, c1, dtype=torch.float64)[None, :]
            out.append(((w * rows).sum() / w.sum() - y - 4, (w * cols).sum() / w.sum() - x - 4,
                        x - 8 * (k // 4), y - 8 * (k % 4)))
    return torch.tensor(out)


def test_ellipses_sit_where_the_labels_say(data):
    for kind, (images, labels) in data.items():
        c = _centroids(images, labels)
        dy, dx, jx, jy = c.unbind(1)
        assert dy.abs().max() < 1.5 and dx.abs().max() < 1.5
        assert dy.abs().mean() < 0.6 and dx.abs().mean() < 0.6
        # The jitter in the labels moves the ellipse: +1 and -1 groups lie 2 pixels apart.
        assert abs((dx[jx == 1].mean() - dx[jx == -1].mean()).item()) < 0.3
        assert abs((dy[jy == 1].mean() - dy[jy == -1].mean()).item()) < 0.3


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of msds1, msds2"):
        msds("msds3", 2)
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            msds1(n)
    with pytest.raises(ValueError, match="seed"):
        msds2(2, seed=-1)
