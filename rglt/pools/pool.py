"""Lottery Pools over a ticket store in one call, for any network: the pieces of :mod:`rglt.pools`
(adjacency order, "prune during" finisher, validation scorer, greedy search) put together as the
``lottery_pools`` experiment puts them, for one target ticket."""
from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

from rglt.pools.checks import check_inputs, check_state
from rglt.pools.search import COEFFICIENTS, TIE_BREAKS, Step, adjacency_order, greedy
from rglt.pools.weights import TIES, finisher, scorer
from rglt.prune import TicketStore
from rglt.train import check_data
from rglt.validate import check_choice, check_int, check_real, require


@dataclasses.dataclass(frozen=True)
class PoolConfig:
    coefficients: tuple = COEFFICIENTS   # Algorithm 2's grid; (0.5,) is Algorithm 3 (average)
    bn_batches: int = 4                  # BatchNorm recalibration after every merge: batches of training inputs
    bn_batch_size: int = 128
    ties: str = "exact"                  # re-pruning to the target's density: see rglt.pools.reprune
    candidates: int | None = None        # at most this many candidate tickets, nearest first; None: every level
    tie_break: str = "current"           # equal scores: the coefficient nearest the current best (the authors')

    def __post_init__(self):
        require(isinstance(self.coefficients, tuple) and len(self.coefficients) >= 1, "coefficients",
                "a non-empty tuple of numbers in [0, 1]", self.coefficients)
        for a in self.coefficients:
            check_real(a, "coefficients", 0, 1)
        check_int(self.bn_batches, "bn_batches", 1)
        check_int(self.bn_batch_size, "bn_batch_size", 1)
        check_choice(self.ties, "ties", TIES)
        check_choice(self.tie_break, "tie_break", TIE_BREAKS)
        if self.candidates is not None:
            check_int(self.candidates, "candidates", 1)


@dataclasses.dataclass(frozen=True)
class PoolResult:
    """The merged state for ``target`` (re-pruned to its density, BatchNorm recalibrated), the steps of
    the search, and the validation accuracy of the merged state (``score``) and of the ticket (``ticket_score``)."""

    target: int
    density: float
    state: dict[str, torch.Tensor]
    steps: list[Step]
    score: float
    ticket_score: float


def lottery_pool(model: nn.Module, store, data: tuple[torch.Tensor, torch.Tensor],
                 val: tuple[torch.Tensor, torch.Tensor], config: PoolConfig = PoolConfig(), *,
                 target: int | None = None) -> PoolResult:
    """Lottery Pools (Algorithm 2, "prune during") for the ticket at level ``target`` of an IMP run.

    ``model``: a network of the run's architecture; it is the workspace (states are loaded into it)
    and holds the merged state on return. ``store``: the run's :class:`rglt.prune.TicketStore` (or its
    directory). ``data``: the training pair (inputs, labels); its inputs recalibrate BatchNorm.
    ``val``: the held-out pair every acceptance is decided on (never the test set). ``target``: the
    level to improve (default: the sparsest, the last level). The candidates are the other levels,
    nearest first; each merge is re-pruned to the target's density and recalibrated.

    The search starts from the target ticket's validation accuracy and accepts a merge only when it
    scores at least as high, so ``score >= ticket_score`` always.
    """

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module of the run's architecture; got {type(model).__name__}")
    if isinstance(store, (str, os.PathLike)):
        store = TicketStore(store)
    if not isinstance(store, TicketStore):
        raise TypeError(f"store must be an rglt.prune.TicketStore or its directory; got {type(store).__name__}")
    if not isinstance(config, PoolConfig):
        raise TypeError(f"config must be an rglt.pools.PoolConfig; got {type(config).__name__}")
    check_data(data, "data")
    check_data(val, "val")
    check_inputs(data[0], "data[0]", model, limit=config.bn_batches * config.bn_batch_size)
    check_inputs(val[0], "val[0]", model)
    levels = store.levels()
    if len(levels) < 2:
        raise ValueError(f"store must hold at least 2 complete levels (a target and a candidate); "
                         f"{store.root} holds {levels}")
    target = levels[-1] if target is None else check_int(target, "target", 0)
    require(target in levels, "target", f"a level of the store ({levels})", target)
    ticket = store.load(target)
    mismatch = set(model.state_dict()) ^ set(ticket.weights)
    if mismatch:
        raise ValueError(f"model must have the run's architecture: its state and the tickets' differ in "
                         f"{sorted(mismatch)[:5]}")
    check_state(ticket.weights, f"the ticket at level {target}")
    try:  # its entries' shapes and dtypes
        check_state(ticket.weights, f"the ticket at level {target}", like=model.state_dict(),
                    like_name="the model's state", devices=False)
    except ValueError as error:
        raise ValueError(f"model must have the run's architecture: {error}") from None

    finish = finisher(model, ticket.masks, data[0], batches=config.bn_batches, batch_size=config.bn_batch_size,
                      ties=config.ties)
    score = scorer(model, val)
    order = adjacency_order(target, levels)[:config.candidates]
    candidates = [(n, lambda n=n: store.load(n).weights) for n in order]
    ticket_score = float(score(ticket.weights))
    state, steps = greedy(ticket.weights, candidates, score, finish, coefficients=config.coefficients,
                          initial_score=ticket_score, tie_break=config.tie_break)
    model.load_state_dict(state)
    # Accepted scores never decrease, so the last accepted one is the merged state's.
    best = max([ticket_score] + [s.score for s in steps if s.accepted])
    return PoolResult(target=target, density=ticket.density, state=state, steps=steps, score=best,
                      ticket_score=ticket_score)
