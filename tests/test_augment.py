"""Training-time augmentation (rglt.data.augment) against brute force: every augmented image is one of
the padded crops of its own image (flipped or not), every signal one of its translations; the training
loop feeds the model exactly the augmented batch its (seed, step) draws; bad names are refused."""
import numpy as np
import pytest
import torch
from torch import nn

from rglt.data.augment import augment, batch_generator, random_crop_flip
from rglt.train import TrainConfig, epoch_order, train


def _crops(image: np.ndarray, pad: int) -> list[np.ndarray]:
    """Every crop of the zero-padded image, flipped and not (numpy, the oracle)."""
    c, h, w = image.shape
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)))
    out = []
    for i in range(2 * pad + 1):
        for j in range(2 * pad + 1):
            crop = padded[:, i:i + h, j:j + w]
            out += [crop, crop[:, :, ::-1]]
    return out


def test_crop_flip_gives_one_of_the_padded_crops_of_each_image_and_both_orientations():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 6, 5, generator=gen) + 1          # no zeros: a crop is told from its padding
    out = random_crop_flip(x, 2, torch.Generator().manual_seed(1))
    flipped = 0
    for i in range(x.shape[0]):
        crops = _crops(x[i].numpy(), 2)
        hits = [k for k, crop in enumerate(crops) if np.array_equal(out[i].numpy(), crop)]
        assert len(hits) >= 1, i
        flipped += hits[0] % 2
    assert 10 < flipped < 54          # about half flipped (binomial(64, 1/2): 99.99% inside)
    assert torch.equal(out, random_crop_flip(x, 2, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, random_crop_flip(x, 2, torch.Generator().manual_seed(2)))
    same = random_crop_flip(x, 0, torch.Generator().manual_seed(3))      # no padding: the image or its mirror
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(same, x))


def test_translate4_moves_each_signal_by_at_most_four_samples():
    x = torch.rand(32, 1, 40, generator=torch.Generator().manual_seed(0)) + 1
    out = augment(x, "translate4", torch.Generator().manual_seed(0))
    for i in range(32):
        ok = []
        for k in range(-4, 5):
            expected = np.zeros(40, dtype=np.float32)
            if k >= 0:
                expected[k:] = x[i, 0, :40 - k].numpy()
            else:
                expected[:k] = x[i, 0, -k:].numpy()
            ok.append(np.array_equal(out[i, 0].numpy(), expected))
        assert sum(ok) == 1, i
    assert augment(x, "none", torch.Generator()) is x


def test_bad_augmentations_are_refused_by_name_before_any_work():
    with pytest.raises(ValueError, match="augment must be one of"):
        TrainConfig(augment="rotate")
    with pytest.raises(ValueError, match="augment must be one of"):
        augment(torch.zeros(2, 1, 8), "rotate", torch.Generator())
    with pytest.raises(ValueError, match="needs images shaped"):
        augment(torch.zeros(2, 1, 8), "crop4-flip", torch.Generator())
    with pytest.raises(ValueError, match="needs 1D signals"):
        augment(torch.zeros(2, 1, 8, 8), "translate4", torch.Generator())
    assert TrainConfig() == TrainConfig(augment="none")


class _Recorder(nn.Module):
    """A linear model that records every batch it is fed in training."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(40, 10)
        self.seen = []

    def forward(self, x):
        if self.training and x.shape[0] > 1:
            self.seen.append(x.detach().clone())
        return self.linear(x.flatten(1))


def test_training_feeds_the_batch_augmented_from_its_seed_and_step():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(96, 1, 40, generator=gen), torch.randint(0, 10, (96,), generator=gen)
    config = TrainConfig(epochs=2, batch_size=32, lr=0.01, seed=5, augment="translate4")
    model = _Recorder()
    train(model, (x, y), config)
    assert len(model.seen) == 6
    for step, batch in enumerate(model.seen):
        epoch, b = divmod(step, 3)
        rows = epoch_order(96, 5, epoch)[32 * b:32 * (b + 1)]
        assert torch.equal(batch, augment(x[rows], "translate4", batch_generator(5, step)))
        assert not torch.equal(batch, x[rows])
