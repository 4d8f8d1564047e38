"""CelebA at 32 x 32 for RG-Flow, through torchvision, read from the local data root, never downloaded.

Layout (what torchvision's ``download=True`` leaves): ``$RGLT_DATA/celeba/img_align_celeba/`` plus
``list_eval_partition.txt`` and the other annotation files next to it. The transforms are the original
RG-Flow code's: CenterCrop(148), Resize(32) (torchvision's default, bilinear with antialiasing), and
RandomHorizontalFlip(0.5) when ``augment``; images come out as uint8 [3, 32, 32] for the flow's
dequantisation.
"""
from __future__ import annotations

import torch

from rglt.data.vision import ENV, data_root
from rglt.validate import check_choice, is_int, require

SPLITS = ("train", "valid", "test", "all")


def celeba_transform(*, augment: bool):
    from torchvision import transforms as T
    steps = [T.CenterCrop(148), T.Resize(32)]
    if augment:
        steps.append(T.RandomHorizontalFlip(0.5))
    steps.append(T.PILToTensor())
    return T.Compose(steps)


def celeba(split: str = "train", *, root=None, augment: bool = False):
    """torchvision's CelebA ``split`` (train | valid | test | all) with the original transforms."""
    check_choice(split, "split", SPLITS)
    base = data_root(root)
    folder = base / "celeba"
    hint = f"(data root {base}, from root= or ${ENV}; nothing is downloaded)"
    if not (folder / "img_align_celeba").is_dir():
        raise FileNotFoundError(f"CelebA not found: expected {folder / 'img_align_celeba'} and the annotation "
                                f"files beside it {hint}")
    from torchvision import datasets
    try:
        return datasets.CelebA(str(base), split=split, target_type=[], transform=celeba_transform(augment=augment),
                               download=False)
    except RuntimeError as err:  # torchvision's integrity check on the annotation files
        raise FileNotFoundError(f"CelebA files in {folder} are incomplete or corrupt ({err}) {hint}") from None


def celeba_images(split: str = "train", *, root=None, limit: int | None = None) -> torch.Tensor:
    """The first ``limit`` (default all) images of ``split`` as one uint8 tensor [N, 3, 32, 32], no flips."""
    require(limit is None or is_int(limit) and limit >= 1, "limit", "an integer >= 1 or None", limit)
    ds = celeba(split, root=root, augment=False)
    n = len(ds) if limit is None else min(limit, len(ds))
    return torch.stack([ds[i][0] for i in range(n)])
