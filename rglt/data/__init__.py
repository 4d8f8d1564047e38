"""Data sets: generated or shipped ones that need no download, torchvision ones from a local root.

- ``mnist1d_splits`` / ``mnist1d_corrupted``: MNIST-1D (N, 1, 40) and its graded shifts (mnist_1d.py);
- ``digits_splits``: scikit-learn's 8x8 digits (N, 1, 8, 8);
- ``msds1`` / ``msds2``: the seeded multi-scale ellipse data sets of RG-Flow (msds.py);
- ``vision_dataset`` / ``vision_splits`` / ``vision_corrupted``: CIFAR-10/100, SVHN from ``$RGLT_DATA``;
- ``celeba`` / ``celeba_images``: CelebA at 32 x 32 with RG-Flow's transforms, from ``$RGLT_DATA``;
- ``corrupt``: CIFAR-10-C style image corruptions on tensors in [0, 1] (corruptions.py);
- ``sequences``: generated token sequences from 4 Markov chains, for the transformer (sequences.py);
- ``seeded_loader`` / ``split_indices``: seeded DataLoaders and splits;
- ``Task`` / ``load_task``: the registry of tasks by name, as in-memory (inputs, labels) splits (tasks.py).
"""
from rglt.data.celeba import celeba, celeba_images
from rglt.data.corruptions import CORRUPTIONS, corrupt
from rglt.data.digits import digits_splits
from rglt.data.mnist_1d import KINDS as MNIST1D_KINDS
from rglt.data.mnist_1d import SEVERITY_TABLE as MNIST1D_SEVERITY_TABLE
from rglt.data.mnist_1d import mnist1d_corrupted, mnist1d_splits, random_translation
from rglt.data.msds import msds, msds1, msds2
from rglt.data.splits import Splits, seeded_loader, split_indices
from rglt.data.tasks import TASKS, Task, TaskData, corrupted_tests, load_task, minority_groups
from rglt.data.vision import data_root, vision_corrupted, vision_dataset, vision_splits

__all__ = ["CORRUPTIONS", "MNIST1D_KINDS", "TASKS", "Task", "TaskData", "corrupted_tests", "load_task", "minority_groups", "MNIST1D_SEVERITY_TABLE", "Splits", "celeba", "celeba_images", "corrupt", "data_root",
           "digits_splits", "mnist1d_corrupted", "mnist1d_splits", "random_translation", "msds", "msds1", "msds2", "seeded_loader", "split_indices",
           "vision_corrupted", "vision_dataset", "vision_splits"]
