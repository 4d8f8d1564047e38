"""Data sets by name, as in-memory (inputs, labels) splits: the tasks an IMP run trains on.

A :class:`Task` is data: a registry name, the seed of its train/val split, and its size and
difficulty knobs. :func:`load_task` turns it into tensors (cached per process), and says what a model
for it needs (input channels, dimension, input size, classes). Registry:

=========  =====================================================  ======================================
name       source                                                 knobs
=========  =====================================================  ======================================
mnist1d    MNIST-1D, generated (x: N x 1 x 40)                    train_size, val_size, noise, shift,
                                                                  templates
digits     scikit-learn's 8x8 digits (x: N x 1 x 8 x 8)           train_size
cifar10    CIFAR-10 from ``$RGLT_DATA`` (normalised, no augmentation)  train_size
cifar100   CIFAR-100 from ``$RGLT_DATA``                          train_size
svhn       SVHN from ``$RGLT_DATA``                               train_size
msds1      RG-Flow's MSDS1 images (uint8, labels = ellipses)      train_size (default 9,000)
msds2      RG-Flow's MSDS2 images                                 train_size (default 9,000)
seq-*      token sequences of ``rglt.data.sequences`` (x: N x 32    train_size (default 20,000 for
           ids): seq-mlm (pretraining), seq-chain, seq-majority,  seq-mlm, 2,000 otherwise)
           seq-firstlast, seq-first, seq-count
=========  =====================================================  ======================================
"""
from __future__ import annotations

import dataclasses
import functools
import numbers

import torch

from rglt.data import sequences
from rglt.data.corruptions import MAIN
from rglt.data.digits import digits_splits
from rglt.data.mnist_1d import KINDS, check_templates, mnist1d_corrupted, mnist1d_splits
from rglt.data.msds import msds
from rglt.data.splits import check_seed
from rglt.data.vision import vision_corrupted, vision_dataset, vision_splits
from rglt.identity import hashed_unless_default, normalise_fields

SEQUENCE_TASKS = ("seq-mlm", "seq-chain", "seq-majority", "seq-firstlast", "seq-first", "seq-count")
TASKS = ("mnist1d", "digits", "cifar10", "cifar100", "svhn", "msds1", "msds2", *SEQUENCE_TASKS)
_VISION = ("cifar10", "cifar100", "svhn")
_MSDS_DEFAULT_TRAIN, _MSDS_TEST = 9000, 1000


@dataclasses.dataclass(frozen=True)
class Task:
    name: str = "mnist1d"
    split_seed: int = 0             # which training examples form the validation split
    train_size: int | None = None   # keep the first n training examples (None: all of them)
    noise: int = 0                  # mnist1d only: noise severity 0..5 on every split
    shift: int = 0                  # mnist1d only: translation severity 0..5 on every split
    # mnist1d only: how many of the generator's 4,000 training signals form the validation split
    # (None: 500); e.g. 10% of the training data, as Lottery Pools' App. Table 3 carves it.
    val_size: int | None = hashed_unless_default(None)
    # mnist1d only: an under-represented subgroup, every signal of it reversed in time (a documented
    # shift): this share of the training and validation signals, and half of the test set
    # (``minority_groups`` says which).
    minority: float = hashed_unless_default(0.0)
    # mnist1d only: the shapes the signals are drawn from (rglt.data.mnist_1d.TEMPLATE_SETS): "digits"
    # (MNIST-1D's 10 classes), "shapes20" (20 other shapes, the same distortions: another label set) or
    # "digits+shapes20" (both, 30 classes).
    templates: str = hashed_unless_default("digits")

    def __post_init__(self):
        normalise_fields(self)   # NumPy scalars, 1 for 1.0: equal runs get equal keys
        if self.name not in TASKS:
            raise ValueError(f"name must be one of {', '.join(TASKS)}; got {self.name!r}")
        check_seed(self.split_seed, "split_seed")
        if self.train_size is not None and (isinstance(self.train_size, bool)
                                            or not isinstance(self.train_size, numbers.Integral)
                                            or self.train_size < 1):
            raise ValueError(f"train_size must be None or an integer >= 1; got {self.train_size!r}")
        if self.val_size is not None:
            if isinstance(self.val_size, bool) or not isinstance(self.val_size, numbers.Integral) \
                    or not 1 <= self.val_size <= 3999:
                raise ValueError(f"val_size must be None or an integer in [1, 3999]; got {self.val_size!r}")
            if self.name != "mnist1d":
                raise ValueError(f"val_size applies to mnist1d only; got val_size={self.val_size} for {self.name!r}")
            if self.train_size is not None and self.train_size + self.val_size > 4000:
                raise ValueError(f"train_size + val_size must be <= 4000 (MNIST-1D's training signals); got "
                                 f"{self.train_size} + {self.val_size}")
        if isinstance(self.minority, bool) or not isinstance(self.minority, numbers.Real) \
                or not 0 <= self.minority < 0.5:
            raise ValueError(f"minority must be a share in [0, 0.5); got {self.minority!r}")
        check_templates(self.templates)
        if self.templates != "digits" and self.name != "mnist1d":
            raise ValueError(f"templates applies to mnist1d only; got templates={self.templates!r} for {self.name!r}")
        if self.minority and self.name != "mnist1d":
            raise ValueError(f"minority applies to mnist1d only; got minority={self.minority} for {self.name!r}")
        for knob in ("noise", "shift"):
            value = getattr(self, knob)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= 5:
                raise ValueError(f"{knob} must be an integer in [0, 5]; got {value!r}")
            if value and self.name != "mnist1d":
                raise ValueError(f"{knob} applies to mnist1d only; got {knob}={value} for {self.name!r}")


@dataclasses.dataclass(frozen=True)
class TaskData:
    """A task's splits as (inputs, labels) tensor pairs, and the shape a model for it needs."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    dim: int
    in_channels: int
    input_size: tuple[int, ...]
    num_classes: int | None        # None: not a classification task (MSDS)
    token_labels: bool = False     # labels per position (B, L), -100 where ignored: masked-token tasks


def _tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A torch Dataset of (input, label) pairs as two stacked tensors."""
    if hasattr(dataset, "tensors"):
        return dataset.tensors
    inputs, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(inputs), torch.as_tensor(labels)


@functools.lru_cache(maxsize=8)
def load_task(task: Task) -> TaskData:
    """The task's train / val / test tensors (cached per process; do not modify them in place).

    CIFAR and SVHN come from ``$RGLT_DATA`` (a clear FileNotFoundError when absent; nothing is
    downloaded), without augmentation: the training loop trains on tensors.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an rglt.data.Task; got {type(task).__name__}")
    n = task.train_size
    if task.name == "mnist1d":
        extra = {} if task.val_size is None else {"val_size": task.val_size}
        splits = mnist1d_splits(split_seed=task.split_seed, train_size=n, noise=task.noise, shift=task.shift,
                                templates=task.templates, **extra)
        parts, shape, classes = [s.tensors for s in splits], (1, 1, (40,)), check_templates(task.templates)
        if task.minority:
            groups = _minority(task, [len(y) for _, y in parts])
            parts = [(torch.where(g[:, None, None], x.flip(-1), x), y) for (x, y), g in zip(parts, groups)]
    elif task.name == "digits":
        parts, shape, classes = [s.tensors for s in digits_splits(seed=task.split_seed)], (2, 1, (8, 8)), 10
    elif task.name in _VISION:
        splits = vision_splits(task.name, augment=False)
        parts = [_tensors(splits.train), _tensors(splits.val), _tensors(vision_dataset(task.name, "test"))]
        shape, classes = (2, 3, (32, 32)), 100 if task.name == "cifar100" else 10
    elif task.name in SEQUENCE_TASKS:
        target = task.name[len("seq-"):]
        size = n or (20000 if target == "mlm" else 2000)
        # Disjoint draws per split and per target family (pretraining corpus vs downstream data).
        base = 1000 * (task.split_seed + 1) + (0 if target == "mlm" else 500)
        parts = [sequences.labelled(target, size, base), sequences.labelled(target, 500, base + 1),
                 sequences.labelled(target, 1000, base + 2)]
        shape, classes = (1, sequences.VOCAB + 1, (sequences.LENGTH,)), sequences.classes(target)
        train, val, test = parts
        return TaskData(train=train, val=val, test=test, dim=1, in_channels=shape[1], input_size=shape[2],
                        num_classes=classes, token_labels=target == "mlm")
    else:
        size = n or _MSDS_DEFAULT_TRAIN
        seed = task.split_seed
        parts = [msds(task.name, size, seed=seed), msds(task.name, _MSDS_TEST, seed=seed + 1),
                 msds(task.name, _MSDS_TEST, seed=seed + 2)]
        shape, classes = (2, 3, (32, 32)), None
    train, val, test = parts
    if n is not None and task.name not in ("mnist1d", "msds1", "msds2"):
        if n > len(train[1]):
            raise ValueError(f"train_size must be <= {len(train[1])} for {task.name!r}; got {n}")
        train = (train[0][:n], train[1][:n])
    dim, channels, size = shape
    return TaskData(train=tuple(train), val=tuple(val), test=tuple(test), dim=dim, in_channels=channels,
                    input_size=size, num_classes=classes)


def _minority(task: Task, sizes: list[int]) -> list[torch.Tensor]:
    """Members of the minority group per split (train, val, test): exactly round(share * n) training and
    validation signals, drawn with the split seed, and every other test signal."""
    out = []
    for k, n in enumerate(sizes[:2]):
        gen = torch.Generator().manual_seed(9001 + 10 * task.split_seed + k)
        members = torch.zeros(n, dtype=torch.bool)
        members[torch.randperm(n, generator=gen)[:round(task.minority * n)]] = True
        out.append(members)
    return out + [torch.arange(sizes[2]) % 2 == 1]


def minority_groups(task: Task) -> dict[str, torch.Tensor]:
    """For a task with a ``minority`` share: which signals of each split ("train", "val", "test") belong
    to the minority group (bool tensors in the order of ``load_task(task)``)."""
    if not isinstance(task, Task) or not task.minority:
        raise ValueError(f"task must be an rglt.data.Task with minority > 0; got {task!r}")
    data = load_task(task)
    return dict(zip(("train", "val", "test"), _minority(task, [len(s[1]) for s in (data.train, data.val, data.test)])))


def corrupted_tests(task: Task) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The task's test set under distribution shift, by "kind:severity": for MNIST-1D every kind of
    ``mnist1d_corrupted`` at each severity stronger than the task's own (a noise-2 task gets noise 3-5,
    shear, scale and shift 1-5); for CIFAR and SVHN the CIFAR-10-C-style corruptions among the
    paper's 15 (``rglt.data.corruptions.MAIN``) at severities 1-5."""
    if not isinstance(task, Task):
        raise TypeError(f"task must be an rglt.data.Task; got {type(task).__name__}")
    if task.name == "mnist1d":
        if task.templates != "digits":
            raise ValueError(f"corrupted test sets exist for templates='digits' only; got {task.templates!r}")
        own = {"noise": task.noise, "shift": task.shift}
        return {f"{kind}:{s}": mnist1d_corrupted(kind, s, noise=task.noise, shift=task.shift).tensors
                for kind in KINDS if kind != "all" for s in range(own.get(kind, 0) + 1, 6)}
    if task.name in _VISION:
        return {f"{c}:{s}": vision_corrupted(task.name, c, s).tensors for c in MAIN for s in range(1, 6)}
    raise ValueError(f"task.name must be mnist1d or one of {', '.join(_VISION)} for corrupted test sets; got {task.name!r}")
