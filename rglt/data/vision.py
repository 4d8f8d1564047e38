"""CIFAR-10, CIFAR-100 and SVHN through torchvision, read from a local data root, never downloaded.

The root is the ``root`` argument or else the ``RGLT_DATA`` environment variable, laid out the way
torchvision's own ``download=True`` leaves it:

- ``cifar10``: ``$RGLT_DATA/cifar-10-batches-py/`` (data_batch_1..5, test_batch, batches.meta)
- ``cifar100``: ``$RGLT_DATA/cifar-100-python/`` (train, test, meta)
- ``svhn``: ``$RGLT_DATA/train_32x32.mat`` and ``$RGLT_DATA/test_32x32.mat``

Missing or corrupt files raise a FileNotFoundError naming the path and ``RGLT_DATA``. Training
augmentation is the standard CIFAR one (4-pixel zero-padded random crop + horizontal flip; SVHN: crop
only, a flipped digit is another glyph), then per-channel normalisation with the training set's
mean and std.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Subset, TensorDataset

from rglt.data.corruptions import check_corruption, corrupt
from rglt.data.splits import Splits
from rglt.validate import check_choice, check_int

ENV = "RGLT_DATA"
NAMES = ("cifar10", "cifar100", "svhn")
SPLITS = ("train", "test")
# Per-channel mean and std of each training set, pixels in [0, 1].
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
}
TRAIN_SIZE = {"cifar10": 50000, "cifar100": 50000, "svhn": 73257}


def data_root(root=None) -> Path:
    """``root`` if given, else ``$RGLT_DATA``; a FileNotFoundError when neither is set."""
    if root is None:
        root = os.environ.get(ENV, "").strip() or None
    if root is None:
        raise FileNotFoundError(f"no data root: pass root= or set the {ENV} environment variable to the "
                                f"folder holding the torchvision data sets (nothing is downloaded)")
    return Path(root).expanduser()


def _expected(name: str, split: str, root: Path) -> Path:
    if name == "cifar10":
        return root / "cifar-10-batches-py"
    if name == "cifar100":
        return root / "cifar-100-python"
    return root / f"{split}_32x32.mat"


def _check(name, split) -> None:
    check_choice(name, "name", NAMES)
    check_choice(split, "split", SPLITS)


def transform(name: str, *, augment: bool, normalize: bool = True):
    """The torchvision transform: [random crop 4 (+ flip)] -> tensor in [0, 1] -> [normalise]."""
    from torchvision import transforms as T
    steps = []
    if augment:
        steps.append(T.RandomCrop(32, padding=4))
        if name != "svhn":
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.ToTensor())
    if normalize:
        steps.append(T.Normalize(*STATS[name]))
    return T.Compose(steps)


def vision_dataset(name: str, split: str, *, root=None, augment: bool = False, normalize: bool = True):
    """The torchvision data set ``name`` (cifar10 | cifar100 | svhn), ``split`` train | test."""
    _check(name, split)
    base = data_root(root)
    path = _expected(name, split, base)
    hint = f"(data root {base}, from root= or ${ENV}; nothing is downloaded)"
    if not path.exists():
        raise FileNotFoundError(f"{name} {split} files not found: expected {path} {hint}")
    from torchvision import datasets
    tf = transform(name, augment=augment, normalize=normalize)
    try:
        if name == "svhn":
            return datasets.SVHN(str(base), split=split, transform=tf, download=False)
        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        return cls(str(base), train=split == "train", transform=tf, download=False)
    except RuntimeError as err:  # torchvision's integrity check: present but incomplete or corrupt
        raise FileNotFoundError(f"{name} {split} files at {path} are incomplete or corrupt ({err}) {hint}") from None


def vision_splits(name: str, *, root=None, val_size: int = 5000, augment: bool = True) -> Splits:
    """Train (augmented) / val / test; val = the *last* ``val_size`` training images with test transforms.

    That is the Lottery Pools convention (CIFAR: train 0-44999, validation 45000-49999), which keeps
    the test set out of every selection.
    """
    _check(name, "train")
    val_size = check_int(val_size, "val_size", 0, TRAIN_SIZE[name] - 1)
    train = vision_dataset(name, "train", root=root, augment=augment)
    plain = vision_dataset(name, "train", root=root, augment=False)
    n = len(train)
    return Splits(train=Subset(train, range(n - val_size)), val=Subset(plain, range(n - val_size, n)),
                  test=vision_dataset(name, "test", root=root))


def vision_corrupted(name: str, corruption: str, severity: int, *, root=None, seed: int = 0,
                     chunk: int = 1000) -> TensorDataset:
    """The test set of ``name`` with an image corruption (``rglt.data.corruptions``) applied, normalised.

    The corruption acts on pixels in [0, 1] before normalisation, in chunks of ``chunk`` images whose
    seeds derive from ``seed`` and the chunk index.
    """
    check_corruption(corruption, severity)
    chunk = check_int(chunk, "chunk", 1)
    raw = vision_dataset(name, "test", root=root, normalize=False)
    images = torch.stack([raw[i][0] for i in range(len(raw))])
    labels = torch.tensor([int(raw[i][1]) for i in range(len(raw))])
    parts = [corrupt(images[i:i + chunk], corruption, severity, seed=seed + i // chunk)
             for i in range(0, len(images), chunk)]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in STATS[name])
    return TensorDataset((torch.cat(parts) - mean) / std, labels)
