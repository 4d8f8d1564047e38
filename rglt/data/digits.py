"""scikit-learn's handwritten digits: 1,797 real 8x8 images (pixel counts 0..16), 10 classes, no download."""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch.utils.data import TensorDataset

from rglt.data.splits import Splits
from rglt.validate import check_seed, is_int, require

N_DIGITS = 1797


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x, y = x.reshape(-1, 1, 8, 8) / 16.0, y.astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def digits_splits(*, val_size: int = 180, test_size: int = 360, seed: int = 0) -> Splits:
    """Stratified, seeded train / val / test TensorDatasets: x (N, 1, 8, 8) float32 in [0, 1], y int64.

    Defaults: 1,257 train / 180 val / 360 test. Every class keeps its share in every split.
    """
    for name, value in (("val_size", val_size), ("test_size", test_size)):
        require(is_int(value) and value >= 10, name, "an integer >= 10 (one example per class)", value)
    if val_size + test_size > N_DIGITS - 10:
        raise ValueError(f"val_size + test_size must leave >= 10 training images of {N_DIGITS}; "
                         f"got {val_size} + {test_size}")
    seed = check_seed(seed)
    from sklearn.model_selection import train_test_split
    x, y = _load()
    idx = np.arange(N_DIGITS)
    rest, test = train_test_split(idx, test_size=int(test_size), stratify=y, random_state=seed % 2**32)
    train, val = train_test_split(rest, test_size=int(val_size), stratify=y[rest], random_state=seed % 2**32)

    def make(i):
        i = np.sort(i)
        return TensorDataset(torch.tensor(x[i], dtype=torch.float32), torch.tensor(y[i]))

    return Splits(train=make(train), val=make(val), test=make(test))
