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
from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
from torch import nn

from rglt.kernels.masked_topk import BACKENDS, SCOPES
from rglt.models.grouped import GroupedModel, member_states, merge_states
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
    return imp_group([make_model], prunable, data, [train_config], config, [store], evaluate_on=evaluate_on,
                     on_level=on_level)[0]


def imp_group(make_models: Sequence[Callable[[], nn.Module]], prunable: Callable[[nn.Module], list[str]],
              data: tuple[torch.Tensor, torch.Tensor], train_configs: Sequence[TrainConfig], config: IMPConfig,
              stores: Sequence[TicketStore | str], *, evaluate_on: tuple[torch.Tensor, torch.Tensor] | None = None,
              on_level: Callable[[int], None] | None = None) -> list[TicketStore]:
    """:func:`imp` of several replicates at once, trained side by side as one
    :class:`~rglt.models.grouped.GroupedModel`: replicate r is built by ``make_models[r]``, trains with
    ``train_configs[r]`` (the same but for the seed, which orders its batches) and keeps its tickets in
    ``stores[r]``. Each replicate is pruned, rewound and evaluated on its own weights, as alone. With one
    replicate this is :func:`imp`, the model trained by itself. A level missing from any store is trained
    for the whole group (the group's runs are deterministic) and saved where it is missing.
    """
    g = len(make_models)
    if g < 1 or len(train_configs) != g or len(stores) != g:
        raise ValueError(f"make_models, train_configs and stores must have one entry per replicate; got "
                         f"{len(make_models)}, {len(train_configs)}, {len(stores)}")
    for c in train_configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"train_config must be an rglt.train.TrainConfig; got {type(c).__name__}")
    if len({dataclasses.replace(c, seed=0) for c in train_configs}) > 1:
        raise ValueError("a group's train_configs must be equal but for their seeds; got "
                         + ", ".join(repr(c) for c in train_configs))
    if not isinstance(config, IMPConfig):
        raise TypeError(f"config must be an rglt.prune.IMPConfig; got {type(config).__name__}")
    check_data(data, "data")
    if evaluate_on is not None:
        check_data(evaluate_on, "evaluate_on")
    train_config = train_configs[0]
    total_steps = steps_per_epoch(len(data[1]), train_config.batch_size) * train_config.epochs
    if config.rewind_step > total_steps:
        raise ValueError(f"rewind_step must be <= the {total_steps} training steps; got {config.rewind_step}")
    stores = [s if isinstance(s, TicketStore) else TicketStore(s) for s in stores]
    models = [make() for make in make_models]
    names = list(prunable(models[0]))
    params = dict(models[0].named_parameters())
    unknown = [n for n in names if n not in params]
    if not names or unknown:
        raise ValueError(f"prunable(model) must name parameters of the model; unknown: {unknown or 'none given'}")
    seeds = [c.seed for c in train_configs]
    fingerprints = {"train": fingerprint(data), "evaluate_on": fingerprint(evaluate_on) if evaluate_on else None}
    for store, c in zip(stores, train_configs):
        record = {"imp": dataclasses.asdict(config), "train": dataclasses.asdict(c), "prunable": names,
                  "data": fingerprints, **({"group_seeds": seeds} if g > 1 else {})}
        _on_main_rank(lambda: store.bind(record))
    metrics = lambda m: evaluate(m, evaluate_on) if evaluate_on is not None else {}  # noqa: E731

    def train_level(models, masks, start_step, desc, rewind_at=None):
        """Train the replicates (alone, or as one group): each one's state dict after, and at ``rewind_at``."""
        if g == 1:
            net, net_masks, grouping = models[0], masks and masks[0], {}
            split = lambda state: [state]  # noqa: E731
        else:
            net = GroupedModel(models)
            net_masks, grouping = masks and merge_states(masks, net.state_dict()), {"group_seeds": seeds}
            template = models[0].state_dict()
            split = lambda state: member_states(state, g, template)  # noqa: E731
        kept = []

        def keep(step, model):
            if step == rewind_at and not kept:
                kept.extend(split({k: v.detach().clone() for k, v in model.state_dict().items()}))

        train(net, data, train_config, masks=net_masks, start_step=start_step,
              on_step=keep if rewind_at is not None else None, desc=desc, **grouping)
        return split(net.state_dict()), kept

    def save(level, states, masks, rewinds=None):
        for r, (store, model, state) in enumerate(zip(stores, models, states)):
            if level in store.levels():
                continue
            model.load_state_dict(state)
            level_metrics = metrics(model)
            _on_main_rank(lambda: store.save(level, state, masks[r], level_metrics,
                                             **({"rewind": rewinds[r]} if rewinds else {})))

    if any(0 not in store.levels() for store in stores):
        if on_level:
            on_level(0)
        states, rewinds = train_level(models, None, 0, "IMP level 0 (dense)" + (f", {g} replicates" if g > 1 else ""),
                                      rewind_at=config.rewind_step)
        dense = [{n: torch.ones_like(params[n], dtype=torch.bool) for n in names} for _ in range(g)]
        save(0, states, dense, rewinds)

    for t in progress(range(1, config.rounds + 1), desc="IMP rounds", unit="level"):
        if all(t in store.levels() for store in stores):
            continue
        if on_level:
            on_level(t)
        masks = []
        for store in stores:
            previous = store.load(t - 1)
            # On the model's device (the store holds CPU tensors): on CUDA the masks come from the Triton
            # kernels, which give the reference's masks bit for bit.
            device = next(models[0].parameters()).device
            survivors = ([previous.weights[n].to(device) for n in names],
                         [previous.masks[n].to(device) for n in names], round_fraction(config, t))
            new_masks = (magnitude_masks(*survivors, scope=config.scope, backend=config.backend)
                         if config.granularity == "weights" else structured_masks(*survivors, scope=config.scope))
            masks.append(dict(zip(names, new_masks)))
        models = [make() for make in make_models]
        for model, store in zip(models, stores):
            model.load_state_dict(store.rewind())
        states, _ = train_level(models, masks, config.rewind_step, f"IMP level {t}")
        save(t, states, masks)
    return stores
