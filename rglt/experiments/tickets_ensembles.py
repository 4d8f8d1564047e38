"""Chapter 5, claim 4 of seed 002: an ensemble of sparse tickets against dense models of the same size.

The essay: "for the same total computational budget, an ensemble of diverse, specialized tickets can
sometimes outperform a smaller ensemble of dense, generalist models." The published reference is
FreeTickets (Liu et al., ICLR 2022): ensembles of sparse networks beat a single dense network of the
same total parameter count and training FLOPs. Measured here with IMP tickets (rewinding to an early
step) of a 1D ResNet-20 on MNIST-1D from 8 independent replicates: a budget of b dense networks is
spent either on b dense networks (an output ensemble when b > 1) or on b k tickets at density about
1 / k (the level closest to it), for k = 2 and 4; the members of each ensemble come from distinct
replicates, and the replicates are split into disjoint ensembles to measure the spread. (Unstructured
sparsity spends FLOPs in proportion to density only on hardware that skips zeros.)
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.pools.ensemble import ensemble_accuracy, predictions
from rglt.prune import run_all, train_tickets
from rglt.prune.runs import ModelSpec, imp_replicates
from rglt.claims import Claim, Rule, deciding
from rglt.stats import LEVEL, Interval, welch_interval
from rglt.train import TrainConfig
from rglt.validate import check_int

NAME = "tickets_ensembles"
VERSION = 1
SOURCE = "002 'The Engineer's Delight' (ensembles)"
FREETICKETS = "FreeTickets (Liu et al. 2022): sparse ensembles beat a dense network of the same parameters and FLOPs"


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", noise=1)
    train: TrainConfig = TrainConfig(epochs=15, batch_size=128, lr=0.1, weight_decay=1e-4)
    rounds: int = 6                              # density 0.8^6 = 0.26 at the last level: k = 4
    rewind_step: int = 20
    replicates: int = 8
    tickets_per_dense: tuple = (2, 4)            # k: tickets at density ~1/k per dense network's budget
    budgets: tuple = (1, 2)                      # b: the budget in dense networks
    workers: int = unhashed(2)


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), rounds=3, rewind_step=2,
                    replicates=4, tickets_per_dense=(2,), budgets=(1, 2), workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=10, tickets_per_dense=(2, 4, 8), workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def level_for(k: int, rounds: int, fraction: float = 0.2) -> int:
    """The IMP level whose density (1 - fraction)^level is closest to 1 / k, in log density."""
    if not 1 <= (level := round(math.log(k) / -math.log(1 - fraction))) <= rounds:
        raise ValueError(f"density 1/{k} needs level {level}, outside [1, rounds={rounds}]")
    return level


def run(config: Config) -> dict:
    check_int(config.replicates, "replicates", 2)
    levels = {k: level_for(k, config.rounds) for k in config.tickets_per_dense}
    for b in config.budgets:
        for k in config.tickets_per_dense:
            if b * k > config.replicates:
                raise ValueError(f"an ensemble of {b} x {k} tickets needs {b * k} replicates; got {config.replicates}")
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    data = load_task(config.task)
    x, y = data.test
    model = config.model.build(data, seed=0)

    def probs(run, level):
        model.load_state_dict(train_tickets(run).load(level).weights)
        return predictions(model, x)

    dense = [probs(r, 0) for r in runs]
    sparse = {k: [probs(r, lv) for r in runs] for k, lv in levels.items()}
    out = {"density": np.array([train_tickets(runs[0]).load(levels[k]).density for k in config.tickets_per_dense]),
           "ticket_accuracy": np.array([[ensemble_accuracy([p], y) for p in sparse[k]] for k in config.tickets_per_dense])}
    for b in config.budgets:
        out[f"dense_b{b}"] = np.array([ensemble_accuracy(dense[i:i + b], y) for i in range(0, len(runs) - b + 1, b)])
        for k in config.tickets_per_dense:
            m = b * k
            out[f"tickets_b{b}_k{k}"] = np.array([ensemble_accuracy(sparse[k][i:i + m], y)
                                                  for i in range(0, len(runs) - m + 1, m)])
    return out


def _budget(b: int) -> str:
    return f"{b} dense network{'s' if b > 1 else ''}"


def rules(config: Config) -> tuple[Rule, ...]:
    return tuple(Rule(
        id=f"budget_{b}",
        claim=f"at a budget of {b} dense network{'s' + chr(39) if b > 1 else chr(39) + 's'} parameters, an ensemble of "
              f"sparse tickets beats {'an ensemble of ' + _budget(b) if b > 1 else 'the dense network'}",
        source=f"{SOURCE}; {FREETICKETS}", source_value="no number in the essay; FreeTickets: ahead of dense at the "
                                                        "same parameters",
        what=f"ticket ensemble minus dense accuracy (points) at the best k of {', '.join(map(str, config.tickets_per_dense))} "
             "(tickets per dense network's budget)",
        test=f"for some k: Welch t interval over the disjoint ensembles of the {config.replicates} replicates (tickets "
             "against dense), Holm over the k with at least two ensembles (Holm's first step: the best k's "
             "interval at level 1 - 0.05 / m, m the k tested)", low=0.0) for b in config.budgets)


def checks(result, config: Config) -> list[Claim]:
    out = []
    for rule, b in zip(rules(config), config.budgets):
        dense = np.asarray(result[f"dense_b{b}"], dtype=float)
        tickets = {k: np.asarray(result[f"tickets_b{b}_k{k}"], dtype=float) for k in config.tickets_per_dense}
        tested = [k for k, t in tickets.items() if t.size > 1 and dense.size > 1]
        level = 1 - (1 - LEVEL) / max(1, len(tested))                  # Holm's first step over the k tested
        intervals = {k: welch_interval(tickets[k], dense, level=level).scaled(100) for k in tested}
        parts = []
        for j, k in enumerate(config.tickets_per_dense):
            at = (f"[{intervals[k].low:+.2f}, {intervals[k].high:+.2f}]" if k in intervals
                  else "one ensemble: no spread, not judged")
            parts.append(f"{b * k} tickets at density {np.asarray(result['density'])[j]:.3f}: "
                         f"{100 * tickets[k].mean():.2f}% ({100 * (tickets[k].mean() - dense.mean()):+.2f} points {at}; "
                         f"{tickets[k].size} ensemble{'s' if tickets[k].size > 1 else ''})")
        ours = (f"dense {100 * dense.mean():.2f}% ({dense.size} disjoint ensembles); " + "; ".join(parts)
                + f" (intervals at level {level:.3g}, Holm's first step)")
        if not tested:                                                   # one ensemble each: no spread
            out.append(rule.judge(Interval(float("nan"), -math.inf, math.inf, 1, float("nan"),
                                           "one ensemble per side: no spread"), ours=ours))
            continue
        best = tested[deciding([intervals[k] for k in tested], rule.low, every=False)]
        out.append(rule.judge(intervals[best], ours=ours + f"; judged at k = {best}"))
    return out
