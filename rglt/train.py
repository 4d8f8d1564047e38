"""One training loop for every chapter: SGD / AdamW, step / one-cycle / cosine schedules, masks,
seeding, a progress bar, and DDP under ``torchrun``.

Design choices that IMP relies on:

- The learning rate is a pure function of the global step (:func:`lr_at`), so training can start at
  any step (rewinding to step k resumes the schedule from k) and give the same rates as an
  uninterrupted run.
- The order of examples in epoch e is a permutation drawn from (seed, e) alone, so a run resumed at
  step k sees exactly the batches an uninterrupted run sees from step k on.
- Masks are enforced twice: gradients of pruned entries are zeroed before the optimizer step (so
  momentum buffers and AdamW moments of pruned entries stay zero), and the weights are multiplied by
  their masks after it (so weight decay or anything else cannot move a pruned weight off zero).
- Under ``torchrun`` (torch.distributed initialised) each rank takes its contiguous share of every
  global batch and DDP averages the gradients, which equals one process training on the whole global
  batch, except for BatchNorm statistics, which stay per rank (SyncBatchNorm needs CUDA).
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from rglt.data.augment import AUGMENTS, augment, batch_generator
from rglt.identity import hashed_unless_default, normalise_fields
from rglt.models.grouped import GroupedModel
from rglt.progress import progress
from rglt.validate import check_choice, check_int, check_real, check_seed, is_real, require

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "step", "onecycle", "cosine")
MIXES = ("none", "mixup", "cutmix")
PRECISIONS = ("fp32", "bf16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 128              # global batch size (split across ranks under DDP)
    optimizer: str = "sgd"
    lr: float = 0.1                    # peak learning rate
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    milestones: tuple[float, ...] = (0.5, 0.75)  # "step": fractions of training where lr *= gamma
    gamma: float = 0.1
    pct_start: float = 0.3             # "onecycle": fraction of steps spent warming up
    seed: int = 0
    # Mixup / CutMix (see mix_batch); added after tickets were stored, so the default leaves every key as it was.
    mix: str = hashed_unless_default("none")
    mix_alpha: float = hashed_unless_default(1.0)   # lambda ~ Beta(alpha, alpha)
    # "bf16": the forward pass under torch.autocast(bfloat16) (convolutions and matrix products in bfloat16;
    # the weights, gradients, loss and optimizer stay fp32). Faster where the CPU has bfloat16 dot products,
    # and other tickets: the default leaves every key as it was.
    precision: str = hashed_unless_default("fp32")
    # Training-time augmentation (rglt.data.augment): "translate4" for 1D signals, "crop4-flip" for CIFAR
    # images; drawn from (seed, step), so a resumed run augments as an uninterrupted one.
    augment: str = hashed_unless_default("none")

    def __post_init__(self):
        normalise_fields(self)   # NumPy scalars, 1 for 1.0: equal runs get equal keys
        for name in ("epochs", "batch_size"):
            check_int(getattr(self, name), name, 1)
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_real(self.lr, "lr", 0, low_open=True)
        check_real(self.momentum, "momentum", 0, 1, high_open=True)
        check_real(self.weight_decay, "weight_decay", 0)
        require(isinstance(self.milestones, tuple) and all(is_real(m) and 0 < m < 1 for m in self.milestones),
                "milestones", "a tuple of fractions in (0, 1)", self.milestones)
        check_real(self.gamma, "gamma", 0, low_open=True)
        check_real(self.pct_start, "pct_start", 0, 1, low_open=True, high_open=True)
        check_seed(self.seed)
        check_choice(self.mix, "mix", MIXES)
        check_choice(self.precision, "precision", PRECISIONS)
        check_choice(self.augment, "augment", AUGMENTS)
        check_real(self.mix_alpha, "mix_alpha", 0, low_open=True)


class TrainingDiverged(FloatingPointError):
    """Training stopped at a non-finite loss (or gradient) before that step's update: ``step`` and ``lr``
    say where, ``history`` holds what was recorded before it. Raised by :func:`train` and
    :func:`rglt.flow.train_flow`."""

    def __init__(self, message: str, *, step: int, history: dict, lr: float):
        super().__init__(message)
        self.step, self.history, self.lr = step, history, lr


def check_data(data, name: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """``data`` must be (inputs, labels): two tensors with the same non-zero length."""
    if not isinstance(data, (tuple, list)) or len(data) != 2 or not all(isinstance(t, torch.Tensor) for t in data):
        raise TypeError(f"{name} must be a pair (inputs, labels) of tensors; got {type(data).__name__}")
    inputs, labels = data
    if inputs.dim() == 0 or labels.dim() == 0 or inputs.shape[0] != labels.shape[0] or inputs.shape[0] == 0:
        raise ValueError(f"{name} must be (inputs, labels) with the same non-zero length; "
                         f"got shapes {tuple(inputs.shape)} and {tuple(labels.shape)}")
    return inputs, labels


IGNORE_INDEX = -100   # cross_entropy's ignore_index: per-token labels of masked-token tasks


@torch.no_grad()
def check_fits(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], name: str = "data") -> None:
    """``data``'s inputs fit ``model`` and its labels are class indices of its output, checked on one
    forward pass of one example (in eval mode, so no state changes) before any training or evaluation:
    a label out of range would otherwise fail deep inside torch, or silently train on garbage."""
    inputs, labels = data
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{name}[1] (the labels) must hold integer class indices; got dtype {labels.dtype}")
    was_training = model.training
    model.eval()
    # A grouped model reads one example per member.
    one = inputs[:1].expand(model.members, *inputs.shape[1:]) if isinstance(model, GroupedModel) else inputs[:1]
    try:
        logits = model(one.to(next(model.parameters()).device))
    except (RuntimeError, TypeError, ValueError, IndexError) as err:
        raise ValueError(f"{name}[0] (the inputs, shape {tuple(inputs.shape)}, dtype {inputs.dtype}) does not fit "
                         f"the model: {type(err).__name__}: {err}") from None
    finally:
        model.train(was_training)
    classes = logits.shape[1]
    used = labels[labels != IGNORE_INDEX]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= classes):
        raise ValueError(f"{name}[1] (the labels) must be class indices in [0, {classes - 1}] for this model's "
                         f"{classes} outputs (or {IGNORE_INDEX}, ignored); got values in "
                         f"[{int(used.min())}, {int(used.max())}]")


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return math.ceil(n_examples / batch_size)


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """The learning rate at global ``step`` of ``total_steps`` (the same curves as torch's
    MultiStepLR, OneCycleLR with cosine annealing and default divisors, and CosineAnnealingLR)."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "step":
        drops = sum(step >= round(m * total_steps) for m in config.milestones)
        return config.lr * config.gamma ** drops
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * step / total_steps))
    # one-cycle: cosine warm-up from lr/25 to lr, then cosine annealing to lr/25/1e4
    initial, final = config.lr / 25.0, config.lr / 25.0 / 1e4
    warm_end = float(config.pct_start * total_steps) - 1
    if step <= warm_end:
        frac, start, end = step / warm_end, initial, config.lr
    else:
        frac, start, end = (step - warm_end) / (total_steps - 1 - warm_end), config.lr, final
    return end + (start - end) / 2.0 * (math.cos(math.pi * frac) + 1)


def mix_batch(x: torch.Tensor, y: torch.Tensor, config: TrainConfig, step: int):
    """Mixup or CutMix of a batch at global ``step``: (mixed inputs, the partner labels, lambda), drawn
    from (config.seed, step) alone, so a resumed run mixes as an uninterrupted one. The loss is
    lambda CE(y) + (1 - lambda) CE(partner labels).

    - mixup (Zhang et al. 2018): lambda ~ Beta(alpha, alpha), x' = lambda x + (1 - lambda) x[perm];
    - cutmix (Yun et al. 2019): a window of a share 1 - lambda of each input replaced by the partner's,
      in 1D (N, C, L) a contiguous segment, in 2D (N, C, H, W) a box; lambda is then the share kept exactly.
    """
    rng = np.random.default_rng([config.seed, step, 1])   # its own stream: the batch order is untouched
    lam = float(rng.beta(config.mix_alpha, config.mix_alpha))
    perm = torch.from_numpy(rng.permutation(x.shape[0])).to(x.device)
    partner = x[perm]
    if config.mix == "mixup":
        return lam * x + (1 - lam) * partner, y[perm], lam
    if x.dim() not in (3, 4):
        raise ValueError(f"cutmix needs inputs of shape (N, C, L) or (N, C, H, W); got {tuple(x.shape)}")
    sides = x.shape[2:]
    # The window's sides: a share (1 - lambda) of the length, or of the area in 2D (sqrt per side).
    cut = [int(round(n * (1 - lam) ** (1 / len(sides)))) for n in sides]
    starts = [int(rng.integers(0, n - c + 1)) for n, c in zip(sides, cut)]
    window = (slice(None), slice(None)) + tuple(slice(a, a + c) for a, c in zip(starts, cut))
    mixed = x.clone()
    mixed[window] = partner[window]
    kept = 1 - math.prod(cut) / math.prod(sides)
    return mixed, y[perm], kept


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, foreach=True)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def epoch_order(n_examples: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of examples used in ``epoch``: drawn from (seed, epoch) alone."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n_examples, generator=generator)


def init_distributed(backend: str | None = None) -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
    environment); return (rank, world size). Without torchrun this does nothing and returns (0, 1).
    The backend defaults to NCCL on CUDA and gloo on the CPU."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if torch.cuda.is_available() else "gloo"))
    return _rank_world()


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned entries of the named parameters of ``model`` in place."""
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))


def _check_masks(model: nn.Module, masks: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    if masks is None:
        return {}
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in params:
            raise ValueError(f"masks names a parameter the model does not have: {name!r}")
        if mask.shape != params[name].shape or mask.dtype != torch.bool:
            raise ValueError(f"mask for {name!r} must be a bool tensor of shape {tuple(params[name].shape)}; "
                             f"got {mask.dtype} {tuple(mask.shape)}")
    return {name: mask.to(params[name].device) for name, mask in masks.items()}


def _check_group(model, group_seeds, config: TrainConfig, criterion, evaluate_on) -> list[int]:
    """The batch-order seed of each member: ``[config.seed]`` for one model, ``group_seeds`` for a group."""
    grouped = isinstance(model, GroupedModel)
    if group_seeds is None:
        if grouped:
            raise ValueError(f"a GroupedModel of {model.members} members needs group_seeds: one batch-order seed each")
        return [config.seed]
    if not grouped:
        raise ValueError(f"group_seeds applies to a GroupedModel; got a {type(model).__name__}")
    seeds = [check_seed(s, "group_seeds") for s in group_seeds]
    if len(seeds) != model.members:
        raise ValueError(f"group_seeds must give one seed per member ({model.members}); got {len(seeds)}")
    if criterion is not None or config.mix != "none" or evaluate_on is not None or _rank_world()[1] > 1:
        raise ValueError("a group trains with the plain cross-entropy (no criterion, mix 'none'), in one process, "
                         "without evaluate_on (evaluate each member's own weights)")
    return seeds


def train(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], config: TrainConfig, *,
          masks: Mapping[str, torch.Tensor] | None = None, start_step: int = 0,
          on_step: Callable[[int, nn.Module], None] | None = None,
          evaluate_on: tuple[torch.Tensor, torch.Tensor] | None = None, desc: str = "train",
          criterion: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          group_seeds: Sequence[int] | None = None) -> dict:
    """Train ``model`` in place on in-memory ``data = (inputs, labels)`` from global ``start_step``.

    ``masks`` (parameter name -> bool tensor) are kept exactly: pruned weights stay zero.
    ``on_step(step, model)`` is called before each step and once at the end (step = total steps),
    e.g. to keep the weights at a rewind point. ``criterion(logits, labels, inputs)`` replaces the
    cross-entropy: it returns the loss *summed* over the batch (e.g. distillation from a teacher that
    reads ``inputs``); it cannot be combined with ``config.mix``. Returns the per-epoch history (train loss, and the
    accuracy on ``evaluate_on`` when given). A NaN or inf loss stops training at once with
    :class:`TrainingDiverged`, before that step's update.

    ``group_seeds`` trains a :class:`rglt.models.grouped.GroupedModel` (several replicates as one): member
    r orders its batches by ``group_seeds[r]`` (instead of ``config.seed``), and every step feeds each
    member a batch of its own, so each sees exactly the batches it would see alone.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be an rglt.train.TrainConfig; got {type(config).__name__}")
    inputs, labels = check_data(data, "data")
    if criterion is None:   # a custom criterion decides what its labels are
        check_fits(model, data, "data")
    if evaluate_on is not None:
        check_fits(model, check_data(evaluate_on, "evaluate_on"), "evaluate_on")
    masks = _check_masks(model, masks)
    seeds = _check_group(model, group_seeds, config, criterion, evaluate_on)
    if criterion is not None and (not callable(criterion) or config.mix != "none"):
        raise ValueError(f"criterion must be a callable (logits, labels, inputs) -> summed loss, and config.mix "
                         f"'none'; got {criterion!r} with mix={config.mix!r}")
    n = inputs.shape[0]
    per_epoch = steps_per_epoch(n, config.batch_size)
    total = per_epoch * config.epochs
    start_step = check_int(start_step, "start_step", 0, total)
    rank, world = _rank_world()
    if config.batch_size % world:
        raise ValueError(f"batch_size must be divisible by the number of ranks ({world}); got {config.batch_size}")
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    device = next(model.parameters()).device
    params = dict(model.named_parameters())
    optimizer = make_optimizer(model.parameters(), config)
    masked = [(params[name], mask.to(params[name].dtype)) for name, mask in masks.items()]
    masked_params, mask_values = [p for p, _ in masked], [m for _, m in masked]
    apply_masks(model, masks)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    history = {"epoch": [], "loss": [], "accuracy": []}
    step = start_step
    epochs = range(start_step // per_epoch, config.epochs)
    for epoch in progress(epochs, desc=desc, unit="epoch") if rank == 0 else epochs:
        orders = [epoch_order(n, seed, epoch) for seed in seeds]
        model.train()
        loss_sum, count = 0.0, 0
        for b in range(step - epoch * per_epoch, per_epoch):
            if on_step is not None:
                on_step(step, model)
            batches = [order[b * config.batch_size:(b + 1) * config.batch_size] for order in orders]
            global_size = batches[0].numel()   # of one member: its loss is averaged over its own batch
            share = math.ceil(global_size / world)
            shares = [batch[rank * share:(rank + 1) * share] for batch in batches]
            batch = torch.cat(shares)
            if config.augment == "none":
                x = inputs[batch].to(device)
            else:   # each member's share from its own (seed, step): a member sees what it would alone
                x = torch.cat([augment(inputs[s], config.augment, batch_generator(seed * world + rank, step))
                               for s, seed in zip(shares, seeds)]).to(device)
            y = labels[batch].to(device)
            lr = lr_at(step, total, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            if config.mix != "none":
                x, y_other, lam = mix_batch(x, y, config, step)
            with autocast:
                logits = net(x)
            logits = logits.float()   # the loss in fp32 (a no-op at fp32)
            # Sum over this rank's share / global batch, times world because DDP averages over
            # ranks: the gradient is that of the mean loss over the global batch, shares equal or not.
            if criterion is not None:
                loss = criterion(logits, y, x)
            elif config.mix == "none":
                loss = F.cross_entropy(logits, y, reduction="sum")
            else:
                loss = lam * F.cross_entropy(logits, y, reduction="sum") + (1 - lam) * F.cross_entropy(
                    logits, y_other, reduction="sum")
            loss = loss * (world / global_size)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"training diverged: the loss became {value} at step {step} (learning rate "
                                       f"{lr:.4g} at that step); lower the learning rate",
                                       step=step, history=history, lr=lr)
            loss.backward()
            with torch.no_grad():   # one call each over every masked tensor, the masks made float once
                with_grad = [(p.grad, m) for p, m in masked if p.grad is not None]
                if with_grad:
                    torch._foreach_mul_(*map(list, zip(*with_grad)))
                optimizer.step()
                if masked:
                    torch._foreach_mul_(masked_params, mask_values)
            loss_sum += value * global_size / world
            count += y.numel()
            step += 1
        history["epoch"].append(epoch + 1)
        history["loss"].append(loss_sum / max(count, 1))
        if evaluate_on is not None:
            history["accuracy"].append(evaluate(model, evaluate_on)["accuracy"])
    if on_step is not None:
        on_step(step, model)
    return history


@torch.no_grad()
def evaluate(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], batch_size: int = 1024, *,
             per_example: bool = False) -> dict:
    """Mean cross-entropy and accuracy of ``model`` (in eval mode) on ``data = (inputs, labels)``; with
    ``per_example``, also ``"correct"``: whether each example is classified right (a bool tensor)."""
    inputs, labels = check_data(data, "data")
    check_fits(model, data, "data")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    loss_sum, correct, counted, hits = 0.0, 0, 0, []
    for start in range(0, inputs.shape[0], batch_size):
        x, y = inputs[start:start + batch_size].to(device), labels[start:start + batch_size].to(device)
        logits = model(x)
        valid = y != IGNORE_INDEX
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        hit = (logits.argmax(1) == y) & valid
        correct += hit.sum().item()
        counted += valid.sum().item()
        if per_example:
            hits.append(hit.cpu())
    model.train(was_training)
    out = {"loss": loss_sum / max(counted, 1), "accuracy": correct / max(counted, 1)}
    if per_example:
        out["correct"] = torch.cat(hits)
    return out


def accuracy_by_epoch(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor], config: TrainConfig,
                      splits: Sequence[tuple[torch.Tensor, torch.Tensor]], desc: str = "accuracy by epoch"
                      ) -> np.ndarray:
    """Train ``model`` on ``data`` and read its accuracy on each of ``splits`` after every epoch:
    an array of shape (epochs, len(splits)), for curves such as early stopping on a validation split."""
    for i, split in enumerate(splits):
        check_data(split, f"splits[{i}]")
    per_epoch = steps_per_epoch(len(data[1]), config.batch_size)
    curve = []

    def read(step, net):
        if step > 0 and step % per_epoch == 0:
            curve.append([evaluate(net, split)["accuracy"] for split in splits])
    train(model, data, config, on_step=read, desc=desc)
    return np.array(curve, dtype=np.float64).reshape(-1, len(splits))
