"""Seeded splits and loaders shared by every data set.

Each split draws from its own ``torch.Generator`` seeded explicitly, so the same seed gives the same
split and the same batch order on every run, and nothing touches the global random state.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class Splits(NamedTuple):
    train: Dataset
    val: Dataset
    test: Dataset


def check_seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:
        raise ValueError(f"{name} must be an integer in [0, 2**63); got {seed!r}")
    return int(seed)


def split_indices(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays: ``val_size`` of range(n) drawn by ``seed``; both kept in ascending order."""
    if isinstance(val_size, bool) or not isinstance(val_size, numbers.Integral) or not 0 <= val_size < n:
        raise ValueError(f"val_size must be an integer in [0, {n - 1}]; got {val_size!r}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(check_seed(seed))).numpy()
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def seeded_loader(dataset: Dataset, *, batch_size: int, shuffle: bool = False, seed: int = 0,
                  drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """A DataLoader whose shuffling (and augmentation in workers) follows ``seed`` alone."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
        raise ValueError(f"num_workers must be an integer >= 0; got {num_workers!r}")
    generator = torch.Generator().manual_seed(check_seed(seed))
    return DataLoader(dataset, batch_size=int(batch_size), shuffle=shuffle, drop_last=drop_last,
                      num_workers=int(num_workers), generator=generator)
