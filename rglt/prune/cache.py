"""The ticket cache: one ticket store per :class:`~rglt.prune.runs.TicketRun`, shared by every chapter.

``train_tickets(run)`` returns the run's :class:`~rglt.prune.ticket_store.TicketStore` under
``$RGLT_CACHE/tickets/<label>/`` (default ``~/.cache/rglt``; never inside the repository), training
or resuming only the levels that are missing: two experiments that name the same run share its
tickets, and a second call trains nothing. A lock on the run's directory makes concurrent callers of
the same run (two notebooks, two cluster tasks) wait for each other instead of training it twice.

Tickets are trained with one intra-op thread, whatever the caller's setting: the same run then gives
the same tickets bit for bit in a notebook, in a runner worker or on a cluster node (PyTorch's CPU
kernels reduce in a thread-count-dependent order). Use :func:`rglt.prune.run_all` to train several
runs on several cores.
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import torch

from rglt.data.tasks import load_task
from rglt.models import prunable_parameters
from rglt.paths import cache_root
from rglt.prune.imp import imp_group
from rglt.prune.runs import PRUNABLE, TicketRun
from rglt.prune.ticket_store import CorruptTicketError, TicketStore
from rglt.storage import atomic_write, check_writable, locked, torch_threads

TICKET_THREADS = 1


@contextlib.contextmanager
def use_cache(path: str | os.PathLike):
    """Within the block, the ticket cache is ``path`` (``RGLT_CACHE`` is set, so spawned workers and
    subprocesses use it too); the previous setting is restored after it."""
    before = os.environ.get("RGLT_CACHE")
    os.environ["RGLT_CACHE"] = str(path)
    try:
        cache_root()  # refuses a path inside the repository
        yield Path(path)
    finally:
        if before is None:
            os.environ.pop("RGLT_CACHE", None)
        else:
            os.environ["RGLT_CACHE"] = before


def run_dir(run: TicketRun) -> Path:
    if not isinstance(run, TicketRun):
        raise TypeError(f"run must be an rglt.prune.TicketRun; got {type(run).__name__}")
    return cache_root() / "tickets" / run.label


RUN_FILE = "ticket_run.json"   # the TicketRun a cache directory belongs to, written before its first level


def store_of(run: TicketRun) -> TicketStore:
    """The run's ticket store as it is now (nothing trained), after checking that the directory belongs
    to ``run``: a run directory copied or moved to another run's place is refused, naming both."""
    directory = run_dir(run)
    record = directory / RUN_FILE
    if record.exists():
        try:
            recorded = TicketRun.from_json(record.read_text())
        except (OSError, ValueError, TypeError) as err:
            raise CorruptTicketError(record, f"not a readable TicketRun ({type(err).__name__}: {err})") from None
        if recorded.key != run.key:
            raise CorruptTicketError(record, f"this directory holds the run {recorded.label}, not {run.label}: "
                                             "it was copied or moved here from another run's place")
    elif (directory / "run.json").exists():
        raise CorruptTicketError(directory / "run.json", f"its directory has levels but no {RUN_FILE}, so nothing "
                                                         f"says which run they belong to (expected {run.label})")
    return TicketStore(directory)


def is_complete(run: TicketRun) -> bool:
    return store_of(run).levels() == list(range(run.imp.rounds + 1))


def without_head(state: dict[str, torch.Tensor], model) -> dict[str, torch.Tensor]:
    """``state`` less the entries of the model's classifier (its ``output_layer``)."""
    head = model.output_layer
    return {k: v for k, v in state.items() if not (k.startswith(head + ".") or k == head)}


def train_tickets(run: TicketRun, *, repair: bool = False) -> TicketStore:
    """The run's ticket store with every level present, training or resuming only missing levels.

    A run of a group (``run.group``) is trained with the whole group, side by side
    (:func:`rglt.prune.imp.imp_group`), under the lock of the group's first member, and every member's
    missing levels are stored. A damaged file raises
    :class:`~rglt.prune.ticket_store.CorruptTicketError` naming it when it is read (here when training
    needs it, or later by whoever loads the level). ``repair=True`` first checks every level of the
    run (and of its group) and sets the damaged ones aside (see ``TicketStore.set_aside``), then
    retrains them.
    """
    store = store_of(run)
    if not repair and is_complete(run):
        return store
    members = run.members()
    leader = run_dir(members[0])
    check_writable(leader.parent, "RGLT_CACHE")   # before any training, whose levels would be lost
    with locked(leader, waiting=f"waiting for another process training {leader.name}"):
        stores = [store_of(member) for member in members]   # checked again under the lock
        for member in members:
            if not (run_dir(member) / RUN_FILE).exists():
                atomic_write(run_dir(member) / RUN_FILE, member.to_json() + "\n")
        if repair:
            for member, member_store in zip(members, stores):
                for level, err in sorted(member_store.verify().items()):
                    print(f"[rglt] {err}; setting level {level} aside to retrain it", file=sys.stderr)
                    member_store.set_aside(level)
        if is_complete(run):
            return store
        data = load_task(run.task)
        if data.num_classes is None:
            raise ValueError(f"task {run.task.name!r} has no class labels; IMP needs a classification task")

        # Pretrained: the source run's dense trained weights (trained first if missing), a new head.
        start = train_tickets(run.init).load(0).weights if run.init is not None else None

        def maker(member: TicketRun):
            def make_model():
                model = member.model.build(data, seed=member.replicate)
                if start is not None:
                    model.load_state_dict({**model.state_dict(), **without_head(start, model)})
                return model
            return make_model

        def prunable(model):
            return [name for name, _ in prunable_parameters(model, **PRUNABLE[run.prunable])]

        with torch_threads(TICKET_THREADS):
            imp_group([maker(m) for m in members], prunable, data.train, [m.train for m in members], run.imp,
                      stores, evaluate_on=data.test)
    return store
