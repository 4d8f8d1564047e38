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
from rglt.report import Claim, judged
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
    sigmas: float = unhashed(2.0)


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


def _mean_se(v) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan"))


def checks(result, config: Config) -> list[Claim]:
    out = []
    for b in config.budgets:
        d_mean, d_se = _mean_se(result[f"dense_b{b}"])
        parts, wins, ahead = [], 0, 0
        for j, k in enumerate(config.tickets_per_dense):
            t_mean, t_se = _mean_se(result[f"tickets_b{b}_k{k}"])
            diff = t_mean - d_mean
            se = math.sqrt(np.nansum([d_se ** 2, t_se ** 2])) if not (np.isnan(d_se) and np.isnan(t_se)) else float("nan")
            parts.append(f"{b * k} tickets at density {np.asarray(result['density'])[j]:.3f}: "
                         f"{100 * t_mean:.2f}% ({100 * diff:+.2f} +- {100 * se:.2f} points)")
            wins += bool(np.isfinite(se) and diff > config.sigmas * se)
            ahead += diff > 0
        out.append(Claim(
            claim=f"at a budget of {b} dense network{'s' + chr(39) if b > 1 else chr(39) + 's'} parameters, an "
                  f"ensemble of sparse tickets "
                  f"beats {'an ensemble of ' + str(b) + ' dense networks' if b > 1 else 'the dense network'}",
            source=f"{SOURCE}; {FREETICKETS}", source_value="no number in the essay; FreeTickets: ahead of dense at the "
                                                            "same parameters",
            ours=f"dense {100 * d_mean:.2f}%; " + "; ".join(parts) + f" (SE over disjoint ensembles of the {config.replicates} replicates)",
            tolerance=f"ahead by > {config.sigmas:g} SE for some k; ahead in the mean is partly",
            **judged(wins > 0, f"ahead in the mean for {ahead} of {len(parts)} k, beyond {config.sigmas:g} SE for none",
                     partly=ahead > 0)))
    return out
