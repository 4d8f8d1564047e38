"""Seeded splits and loaders shared by every data set.

Each split draws from its own ``torch.Generator`` seeded explicitly, so the same seed gives the same
split and the same batch order on every run, and nothing touches the global random state.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from rglt.validate import check_int, check_seed  # check_seed: re-exported, rglt.data.splits.check_seed


class Splits(NamedTuple):
    train: Dataset
    val: Dataset
    test: Dataset


def split_indices(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays: ``val_size`` of range(n) drawn by ``seed``; both kept in ascending order."""
    check_int(val_size, "val_size", 0, n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(check_seed(seed))).numpy()
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def seeded_loader(dataset: Dataset, *, batch_size: int, shuffle: bool = False, seed: int = 0,
                  drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """A DataLoader whose shuffling (and augmentation in workers) follows ``seed`` alone."""
    batch_size = check_int(batch_size, "batch_size", 1)
    num_workers = check_int(num_workers, "num_workers", 0)
    generator = torch.Generator().manual_seed(check_seed(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers, generator=generator)
