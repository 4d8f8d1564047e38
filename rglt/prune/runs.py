"""An IMP run described as data: everything that decides its tickets, and nothing else.

A :class:`TicketRun` names the model, the task, the training and pruning settings, which parameters
are prunable and the replicate. Its :attr:`~TicketRun.key` is a hash of those scientific fields only:
how a run is executed (workers, threads, progress bars, the pruning kernel's backend, which gives the
same masks bit for bit) is not part of it, so the same run launched anywhere finds the same tickets in
the cache (:func:`rglt.prune.train_tickets`). Learnt from OpenLTH's hparams/desc, not copied.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from rglt.data.tasks import Task
from rglt.identity import hashed_fields, hashed_unless_default, key, normalise_fields
from rglt.models import LAYOUTS, build, to_layout
from rglt.models.factory import model_family
from rglt.prune.imp import IMPConfig
from rglt.train import TrainConfig
from rglt.validate import check_choice, check_int

KEY_FORMAT = 1
GROUPABLE = ("cifar_resnet", "resnet18", "resnet50_bottleneck", "vgg")   # rglt.models.grouped.GroupedModel
# Which parameters IMP prunes (always conv/linear weights, never biases or norms), as flags of
# rglt.models.prunable_parameters: OpenLTH's ResNet-20 prunes the classifier too; OpenLTH's VGG and
# Lottery Pools do not; CV_LTH also spares the first convolution.
PRUNABLE = {
    "weights": dict(include_first_conv=True, include_shortcuts=True, include_fc=True),
    "no-fc": dict(include_first_conv=True, include_shortcuts=True, include_fc=False),
    "no-stem-no-fc": dict(include_first_conv=False, include_shortcuts=True, include_fc=False),
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model of :func:`rglt.models.build` by name; its dimension, channels and classes come from the task."""

    name: str = "resnet20"
    width: int | None = None        # None: the family's default
    shortcut: str | None = None     # ResNets: "A" or "B" (None: "B")
    # The memory layout the convolutions compute in (rglt.models.layout): it changes the float rounding,
    # so it is part of the key; added after tickets were stored, so the default leaves every key as it was.
    layout: str = hashed_unless_default("default")

    def __post_init__(self):
        normalise_fields(self)   # NumPy scalars, 1 for 1.0: equal runs get equal keys
        # Everything build() checks of these fields, checked now: a bad spec fails when the run is made,
        # not when a worker builds it after other runs have trained.
        family, _ = model_family(self.name)  # a ValueError listing the names when unknown
        if self.width is not None:
            check_int(self.width, "width", 1)
        if self.shortcut not in (None, "A", "B"):
            raise ValueError(f"shortcut must be None, 'A' or 'B'; got {self.shortcut!r}")
        if self.shortcut is not None and family not in ("cifar_resnet", "resnet18", "resnet50_bottleneck"):
            raise ValueError(f"shortcut applies to the ResNets only; got shortcut={self.shortcut!r} for {self.name!r}")
        check_choice(self.layout, "layout", LAYOUTS)
        if self.layout != "default" and family not in ("cifar_resnet", "resnet18", "resnet50_bottleneck", "vgg"):
            raise ValueError(f"layout {self.layout!r} applies to the convolutional networks (ResNets, VGG); "
                             f"got it for {self.name!r}")

    def build(self, data, seed: int):
        """The model for a task's ``data`` (an ``rglt.data.TaskData``), initialised with ``seed``."""
        model = build(self.name, dim=data.dim, in_channels=data.in_channels, num_classes=data.num_classes,
                      width=self.width, input_size=data.input_size, shortcut=self.shortcut, seed=seed,
                      per_token=data.token_labels)
        return to_layout(model, self.layout)


@dataclasses.dataclass(frozen=True)
class TicketRun:
    model: ModelSpec = ModelSpec()
    task: Task = Task()
    train: TrainConfig = TrainConfig()  # its seed orders the batches
    imp: IMPConfig = IMPConfig()
    prunable: str = "weights"           # a key of PRUNABLE
    replicate: int = 0                  # seeds the model's initialisation
    # Pretraining: start level 0 from the dense trained weights (level 0) of this run, on its own
    # task, with the classifier re-initialised from ``replicate`` (as a downstream head is). None:
    # a random initialisation. Use a run with ``rounds=0`` to pretrain without pruning.
    init: TicketRun | None = hashed_unless_default(None)
    # The replicates trained side by side as one network (rglt.models.grouped), this one included; ()
    # trains it alone. The group changes the float rounding, so it is part of the key: a grouped ticket
    # is never served for a lone one, and every member of a group is bit-identical whichever worker
    # trains the group. Added after tickets were stored, so the default leaves every key as it was.
    group: tuple[int, ...] = hashed_unless_default(())

    def __post_init__(self):
        normalise_fields(self)   # NumPy scalars, 1 for 1.0: equal runs get equal keys
        for name, cls in (("model", ModelSpec), ("task", Task), ("train", TrainConfig), ("imp", IMPConfig)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"{name} must be a {cls.__name__}; got {type(getattr(self, name)).__name__}")
        if self.init is not None:
            if not isinstance(self.init, TicketRun):
                raise TypeError(f"init must be None or a TicketRun; got {type(self.init).__name__}")
            if self.init.model != self.model:
                raise ValueError(f"init must train the same model to start from its weights; got init.model="
                                 f"{self.init.model} for model={self.model}")
        if self.prunable not in PRUNABLE:
            raise ValueError(f"prunable must be one of {', '.join(PRUNABLE)}; got {self.prunable!r}")
        if isinstance(self.replicate, bool) or not isinstance(self.replicate, int) or self.replicate < 0:
            raise ValueError(f"replicate must be an integer >= 0; got {self.replicate!r}")
        if self.group != ():
            self._check_group()

    def _check_group(self) -> None:
        group = self.group
        if (not isinstance(group, tuple) or len(group) < 2 or list(group) != sorted(set(group))
                or any(isinstance(r, bool) or not isinstance(r, int) or r < 0 for r in group)):
            raise ValueError(f"group must be () or a tuple of at least 2 increasing replicate numbers; got {group!r}")
        if self.replicate not in group:
            raise ValueError(f"group must include the run's own replicate {self.replicate}; got {group!r}")
        if self.train.seed != self.replicate:
            raise ValueError(f"a grouped run orders its batches by its replicate (train.seed == replicate, as "
                             f"replicates() makes them); got train.seed={self.train.seed}, replicate={self.replicate}")
        family, _ = model_family(self.model.name)
        if family not in GROUPABLE or self.model.shortcut == "A":
            raise ValueError(f"group applies to the 1D ResNets (shortcut 'B') and VGGs ({', '.join(GROUPABLE)}); "
                             f"got model {self.model.name!r} with shortcut {self.model.shortcut!r}")

    def members(self) -> list[TicketRun]:
        """The runs trained together with this one (itself included, in replicate order): [self] alone."""
        return [dataclasses.replace(self, replicate=r, train=dataclasses.replace(self.train, seed=r))
                for r in self.group] if self.group else [self]

    def science(self) -> dict[str, Any]:
        """The fields that decide the tickets, as JSON-able data (the key is their hash)."""
        return hashed_fields(self)  # IMPConfig.backend is unhashed: every backend gives the same masks

    @property
    def key(self) -> str:
        return key(self, format=KEY_FORMAT)

    @property
    def label(self) -> str:
        """A short readable name: model, task, replicate and key."""
        return f"{self.model.name}-{self.task.name}-r{self.replicate}-{self.key}"

    def to_json(self, indent: int | None = 1) -> str:
        """Every field (execution settings included), for :meth:`from_json`; ``indent=None``: one line."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> TicketRun:
        """The inverse of :meth:`to_json` (tuples restored where the configs expect them)."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or set(doc) - {f.name for f in dataclasses.fields(cls)}:
            raise ValueError(f"a TicketRun JSON object has the keys {[f.name for f in dataclasses.fields(cls)]}; "
                             f"got {sorted(doc) if isinstance(doc, dict) else type(doc).__name__}")
        train = dict(doc.get("train", {}))
        if "milestones" in train:
            train["milestones"] = tuple(train["milestones"])
        init = doc.get("init")
        return cls(model=ModelSpec(**doc.get("model", {})), task=Task(**doc.get("task", {})),
                   train=TrainConfig(**train), imp=IMPConfig(**doc.get("imp", {})),
                   prunable=doc.get("prunable", "weights"), replicate=doc.get("replicate", 0),
                   init=None if init is None else cls.from_json(json.dumps(init)),
                   group=tuple(doc.get("group", ())))

    def replicates(self, n: int, group: int = 1) -> list[TicketRun]:
        """``n`` replicates of this run: replicate r initialises with seed r and orders batches with seed r.
        ``group > 1`` trains them side by side in groups of that many (replicates 0..group-1, then the
        next ones; a last group of one trains alone): fewer, larger kernel calls on a CPU."""
        check_int(n, "n", 0)
        check_int(group, "group", 1)
        blocks = [tuple(range(start, min(start + group, n))) for start in range(0, n, group)]
        return [dataclasses.replace(self, replicate=r, train=dataclasses.replace(self.train, seed=r),
                                    group=block if len(block) > 1 else ())
                for block in blocks for r in block]


def read_runs(text: str) -> list[TicketRun]:
    """Runs from text: one TicketRun JSON object, a JSON list of them, or JSON Lines (one per line)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            doc = [json.loads(line) for line in lines]
        except json.JSONDecodeError as err:
            raise ValueError(f"runs must be a TicketRun JSON object, a JSON list or JSON Lines; {err}") from None
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        raise ValueError("runs must name at least one TicketRun; got none")
    return [TicketRun.from_json(json.dumps(d)) for d in docs]


def imp_replicates(config) -> list[TicketRun]:
    """The replicates of the IMP run (20% of the survivors per round) that a config describes with its
    ``model``, ``task``, ``train``, ``rounds``, ``rewind_step`` and ``replicates`` fields (chapter 5's
    experiments share this shape)."""
    imp = IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step)
    return TicketRun(config.model, config.task, config.train, imp).replicates(config.replicates)
