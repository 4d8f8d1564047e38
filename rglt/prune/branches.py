"""Branches: computations from a finished level of a run's trunk, cached beside its tickets.

A branch reads a level (weights, masks) and the rewind point, and computes something without
retraining the trunk: per-group observables, interpolations, random re-initialisations, transfers of a
mask to another task. Its result is stored as a unit (:func:`rglt.store.write_unit`, checksummed)
under ``<run dir>/branches/<NAME>-<hash of its parameters>/level_NNN.json`` and reused while the
branch's ``VERSION`` is unchanged. Learnt from OpenLTH's ``lottery/branch``, not copied.

Define one by subclassing :class:`Branch` as a frozen dataclass whose fields are its parameters::

    @dataclasses.dataclass(frozen=True)
    class Magnitudes(Branch):
        NAME, VERSION = "magnitudes", 1
        def compute(self, run, store, level):
            return {"mean_abs": ...}
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rglt import identity
from rglt import store as results
from rglt.data.tasks import Task, load_task
from rglt.provenance import environment
from rglt.prune.cache import TICKET_THREADS, without_head, run_dir, train_tickets
from rglt.prune.masks import random_like
from rglt.prune.runs import PRUNABLE, TicketRun
from rglt.prune.ticket_store import TicketStore, density
from rglt.storage import torch_threads
from rglt.train import evaluate, train


@dataclasses.dataclass(frozen=True)
class Branch:
    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def compute(self, run: TicketRun, store: TicketStore, level: int) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def key(self) -> str:
        """The branch's name and a hash of its parameters' science (``rglt.identity.key``)."""
        return f"{self.NAME}-{identity.key(self, length=12)}"


def branch(run: TicketRun, what: Branch, level: int) -> dict[str, Any]:
    """``what.compute(run, store, level)``, cached under the run; trains the trunk first if needed."""
    if not isinstance(what, Branch) or not what.NAME:
        raise TypeError(f"what must be an instance of a named rglt.prune.Branch subclass; got {what!r}")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= run.imp.rounds:
        raise ValueError(f"level must be an integer in [0, {run.imp.rounds}]; got {level!r}")
    base = run_dir(run) / "branches" / what.key
    stem = f"level_{level:03d}"
    place = {"branch": what.NAME, "run": run.key, "level": level}
    try:
        unit = results.read_unit(base / f"{stem}.json", place)
    except results.CorruptResultError as err:
        print(f"[rglt] {err}; recomputing it")
        unit = None
    if unit is not None and unit[0].get("version") == what.VERSION:
        return unit[1]
    store = train_tickets(run)
    data = what.compute(run, store, level)
    provenance = {**place, "version": what.VERSION, "params": dataclasses.asdict(what), **environment()}
    results.write_unit(base, stem, data, provenance)
    return results.read_unit(base / f"{stem}.json", place)[1]


def train_mask(run: TicketRun, masks: dict, task, start: dict | None, seed: int, start_step: int) -> dict:
    """Train the run's model with ``masks`` on ``task`` from the state ``start`` (or a fresh init with
    ``seed``), as the trunk trains; returns test loss and accuracy and the density."""
    data = load_task(task)
    model = run.model.build(data, seed=seed)
    if start is not None:
        if data.num_classes != load_task(run.task).num_classes:
            # another label set: a new, dense classifier from ``seed``, as a downstream head is (TicketRun.init)
            start = {**model.state_dict(), **without_head(start, model)}
            masks = without_head(masks, model)
        model.load_state_dict(start)
    with torch_threads(TICKET_THREADS):
        train(model, data.train, run.train, masks=masks, start_step=start_step, desc=f"branch of {run.label}")
    return {**evaluate(model, data.test), "density": density(masks)}


@dataclasses.dataclass(frozen=True)
class Reinit(Branch):
    """The lottery ticket control: the level's mask trained from a fresh random initialisation ``seed``
    (instead of the rewind point), with the trunk's training settings from step 0."""

    NAME: ClassVar[str] = "reinit"
    VERSION: ClassVar[int] = 1
    seed: int = 1000

    def compute(self, run, store, level):
        return train_mask(run, store.load(level).masks, run.task, None, self.seed, 0)


@dataclasses.dataclass(frozen=True)
class RandomMask(Branch):
    """The random-pruning control: each layer's mask replaced by a uniformly random one with the same
    number of survivors (seeded by ``seed`` and the level), trained from the run's rewind point."""

    NAME: ClassVar[str] = "random-mask"
    VERSION: ClassVar[int] = 1
    seed: int = 2000

    def compute(self, run, store, level):
        masks = {name: random_like(m, self.seed + 1000 * level + i)
                 for i, (name, m) in enumerate(store.load(level).masks.items())}
        return train_mask(run, masks, run.task, store.rewind(), run.replicate, run.imp.rewind_step)


@dataclasses.dataclass(frozen=True)
class MaskTransfer(Branch):
    """The level's mask, from the run's rewind point, trained on another ``task`` of the same input shape
    (e.g. a noisier MNIST-1D, or another label set, whose classifier then starts anew): does the ticket
    carry over?"""

    NAME: ClassVar[str] = "mask-transfer"
    VERSION: ClassVar[int] = 1
    task: Any = None  # an rglt.data.Task

    def compute(self, run, store, level):
        if not isinstance(self.task, Task):
            raise TypeError(f"task must be an rglt.data.Task; got {type(self.task).__name__}")
        return train_mask(run, store.load(level).masks, self.task, store.rewind(), run.replicate,
                           run.imp.rewind_step)


__all__ = ["Branch", "MaskTransfer", "PRUNABLE", "RandomMask", "Reinit", "branch", "train_mask"]
