"""Iterative magnitude pruning with rewinding (Algorithm 1 of Lottery Pools, seed 003).

    1: train theta to completion; keep theta_k, the weights at step k
    2: for round t = 1..T:
    3:     prune the lowest-magnitude fraction of the surviving prunable weights -> mask m_t
    4:     train m_t * theta_k to completion, the schedule resuming at step k

k = 0 is the original lottery ticket hypothesis. Every level goes to a :class:`TicketStore` as soon as
it is trained; calling :func:`imp` again on the same store resumes after the last complete level.
Under ``torchrun`` every rank runs the same rounds (DDP keeps their weights equal) and rank 0 writes.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from rglt.kernels.masked_topk import BACKENDS, SCOPES
from rglt.progress import progress
from rglt.prune.masks import magnitude_masks, structured_masks
from rglt.identity import hashed_unless_default, normalise_fields, unhashed
from rglt.prune.ticket_store import TicketStore, fingerprint
from rglt.train import TrainConfig, check_data, evaluate, steps_per_epoch, train
from rglt.validate import check_choice, check_real, is_int, require

SCHEDULES = ("survivors", "original")
GRANULARITIES = ("weights", "channels")


@dataclasses.dataclass(frozen=True)
class IMPConfig:
    rounds: int = 10
    fraction: float = 0.2          # per round: of the survivors, or of the original count
    schedule: str = "survivors"    # "survivors" (vision, 20%) or "original" (BERT, 10% of the original)
    rewind_step: int = 0           # k: the step whose weights every round restarts from
    scope: str = "global"          # passed to magnitude_masks
    # "weights" (unstructured) or "channels": whole output channels (filters, rows) by mean |w|
    # (structured_masks); added after tickets were stored, so the default leaves every key as it was.
    granularity: str = hashed_unless_default("weights")
    backend: str = unhashed("auto")   # every backend gives the same masks, bit for bit

    def __post_init__(self):
        normalise_fields(self)   # NumPy scalars, 1 for 1.0: equal runs get equal keys
        # Every field is checked here, so that a typo is found before level 0 trains, not after.
        for name in ("rounds", "rewind_step"):
            value = getattr(self, name)
            # A Python int, not any Integral: a run's identity is hashed from the config's repr.
            require(is_int(value) and isinstance(value, int) and value >= 0, name, "an integer >= 0", value)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_real(self.fraction, "fraction", 0, 1, low_open=True, high_open=True)
        if self.schedule == "original" and self.rounds * self.fraction >= 1:
            raise ValueError(f"rounds * fraction must be < 1 for schedule='original'; got {self.rounds} * {self.fraction}")
        check_choice(self.scope, "scope", SCOPES)
        check_choice(self.granularity, "granularity", GRANULARITIES)
        check_choice(self.backend, "backend", BACKENDS)


def round_fraction(config: IMPConfig, t: int) -> float:
    """The fraction of survivors pruned in round t (1-based): constant, or p / (1 - p (t - 1))."""
    if config.schedule == "survivors":
        return config.fraction
    return config.fraction / (1.0 - config.fraction * (t - 1))


def _on_main_rank(write: Callable[[], None]) -> None:
    """Under torchrun only rank 0 writes the store; every rank waits until it has."""
    distributed = dist.is_available() and dist.is_initialized()
    if not distributed or dist.get_rank() == 0:
        write()
    if distributed:
        dist.barrier()


def imp(make_model: Callable[[], nn.Module], prunable: Callable[[nn.Module], list[str]],
        data: tuple[torch.Tensor, torch.Tensor], train_config: TrainConfig, config: IMPConfig,
        store: TicketStore | str, *, evaluate_on: tuple[torch.Tensor, torch.Tensor] | None = None,
        on_level: Callable[[int], None] | None = None) -> TicketStore:
    """Run (or resume) IMP; returns the ticket store holding levels 0..config.rounds.

    ``make_model()`` builds the network at its seeded initialisation; ``prunable(model)`` names the
    parameters to prune (e.g. conv and linear weights). ``on_level(level)`` is called before each level
    is trained (tests use it to interrupt a run).

    ``run.json`` records the configs, the prunable names and fingerprints of ``data`` and
    ``evaluate_on``: resuming with other settings or other data is refused. A level whose training
    diverges raises :class:`rglt.train.TrainingDiverged` and is not stored.
    """
    if not isinstance(train_config, TrainConfig):
        raise TypeError(f"train_config must be an rglt.train.TrainConfig; got {type(train_config).__name__}")
    if not isinstance(config, IMPConfig):
        raise TypeError(f"config must be an rglt.prune.IMPConfig; got {type(config).__name__}")
    check_data(data, "data")
    if evaluate_on is not None:
        check_data(evaluate_on, "evaluate_on")
    total_steps = steps_per_epoch(len(data[1]), train_config.batch_size) * train_config.epochs
    if config.rewind_step > total_steps:
        raise ValueError(f"rewind_step must be <= the {total_steps} training steps; got {config.rewind_step}")
    store = store if isinstance(store, TicketStore) else TicketStore(store)
    model = make_model()
    names = list(prunable(model))
    params = dict(model.named_parameters())
    unknown = [n for n in names if n not in params]
    if not names or unknown:
        raise ValueError(f"prunable(model) must name parameters of the model; unknown: {unknown or 'none given'}")
    fingerprints = {"train": fingerprint(data), "evaluate_on": fingerprint(evaluate_on) if evaluate_on else None}
    _on_main_rank(lambda: store.bind({"imp": dataclasses.asdict(config), "train": dataclasses.asdict(train_config),
                                      "prunable": names, "data": fingerprints}))
    done = store.levels()
    metrics = lambda m: evaluate(m, evaluate_on) if evaluate_on is not None else {}

    if 0 not in done:
        if on_level:
            on_level(0)
        kept = {}
        keep = lambda step, m: kept.setdefault("rewind", {k: v.detach().clone() for k, v in m.state_dict().items()}) \
            if step == config.rewind_step else None
        train(model, data, train_config, on_step=keep, desc="IMP level 0 (dense)")
        dense = {n: torch.ones_like(params[n], dtype=torch.bool) for n in names}
        level_metrics = metrics(model)
        _on_main_rank(lambda: store.save(0, model.state_dict(), dense, level_metrics, rewind=kept["rewind"]))

    for t in progress(range(1, config.rounds + 1), desc="IMP rounds", unit="level"):
        if t in store.levels():
            continue
        if on_level:
            on_level(t)
        previous = store.load(t - 1)
        # On the model's device (the store holds CPU tensors): on CUDA the masks come from the Triton
        # kernels, which give the reference's masks bit for bit.
        device = next(model.parameters()).device
        survivors = ([previous.weights[n].to(device) for n in names], [previous.masks[n].to(device) for n in names],
                     round_fraction(config, t))
        new_masks = (magnitude_masks(*survivors, scope=config.scope, backend=config.backend)
                     if config.granularity == "weights" else structured_masks(*survivors, scope=config.scope))
        masks = dict(zip(names, new_masks))
        model = make_model()
        model.load_state_dict(store.rewind())
        train(model, data, train_config, masks=masks, start_step=config.rewind_step, desc=f"IMP level {t}")
        level_metrics = metrics(model)
        _on_main_rank(lambda: store.save(t, model.state_dict(), masks, level_metrics))
    return store
