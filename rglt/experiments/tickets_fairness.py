"""Chapter 5, claim 12 of seed 002: does sparsity widen the gap between a majority and a minority?

The essay: "The process of sparsifying a network can sometimes exacerbate the fairness gap. A model that
achieves its high overall accuracy by relying on patterns common to the majority group might, when
pruned, discard the weights that were crucial for handling the minority group." Hooker et al. (2019,
"What do compressed deep neural networks forget?"; 2020, "Characterising bias in compressed models")
measured it: pruning costs under-represented classes and subgroups disproportionately, judged per
group with a significance test. Measured here on a task with a documented subgroup: MNIST-1D whose
minority (5% of the training signals, half of the test set) is reversed in time
(``Task(minority=0.05)``). IMP (rewinding to an early step) of a 1D ResNet-20, 3 replicates; at every
level the test accuracy of each group, the gap majority - minority against the dense network's, and
per group McNemar's exact test of the ticket's test predictions against the dense network's (paired
on the same signals).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.data.tasks import load_task, minority_groups, Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.report import Claim, judged
from rglt.train import TrainConfig
from rglt.validate import check_int

NAME = "tickets_fairness"
VERSION = 1
SOURCE = "002 'A Sobering Conclusion' (fairness)"
HOOKER = "Hooker et al. 2019/2020: pruning costs under-represented classes and subgroups most"


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", minority=0.05)
    train: TrainConfig = TrainConfig(epochs=15, batch_size=128, lr=0.1, weight_decay=1e-4)
    rounds: int = 16                             # density 0.8^16 = 2.8% at the last level
    rewind_step: int = 20
    replicates: int = 3
    workers: int = unhashed(2)
    sigmas: float = unhashed(2.0)
    alpha: float = unhashed(0.05)                # McNemar's test level, per group


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256, minority=0.1),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), rounds=2, rewind_step=2,
                    replicates=2, workers=1),
    "cpu": Config(),
    "gpu": Config(train=TrainConfig(epochs=40, batch_size=128, lr=0.1, weight_decay=1e-4), rounds=20, workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def _correct(run: TicketRun) -> tuple[np.ndarray, np.ndarray]:
    """[levels, test signals]: whether each level's ticket classifies each test signal correctly; densities."""
    import torch


    store, data = train_tickets(run), load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    x, y = data.test
    rows, density = [], []
    for level in store.levels():
        ticket = store.load(level)
        model.load_state_dict(ticket.weights)
        model.eval()
        with torch.no_grad():
            rows.append((model(x).argmax(1) == y).numpy())
        density.append(ticket.density)
    return np.array(rows), np.array(density)


def run(config: Config) -> dict:
    check_int(config.replicates, "replicates", 1)
    if not config.task.minority:
        raise ValueError(f"task must have a minority share > 0; got {config.task!r}")
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    measured = [_correct(r) for r in runs]
    return {"correct": np.array([m[0] for m in measured]),          # [replicates, levels, test signals]
            "density": np.array([m[1] for m in measured]),
            "minority": minority_groups(config.task)["test"].numpy()}


def group_accuracy(result) -> tuple[np.ndarray, np.ndarray]:
    """[replicates, levels] test accuracy of the majority and of the minority group."""
    correct, minority = np.asarray(result["correct"], dtype=float), np.asarray(result["minority"], dtype=bool)
    return correct[..., ~minority].mean(-1), correct[..., minority].mean(-1)


def mcnemar(dense: np.ndarray, ticket: np.ndarray) -> float:
    """McNemar's exact two-sided p-value for paired correctness (bool arrays over the same examples)."""
    from scipy.stats import binomtest
    lost, gained = int(np.sum(dense & ~ticket)), int(np.sum(~dense & ticket))
    return 1.0 if lost + gained == 0 else float(binomtest(lost, lost + gained, 0.5).pvalue)


def checks(result, config: Config) -> list[Claim]:
    majority, minority = group_accuracy(result)
    gap = majority - minority                                     # [replicates, levels]
    widening = gap[:, -1] - gap[:, 0]
    sd = widening.std(ddof=1) if len(widening) > 1 else float("inf")
    correct = np.asarray(result["correct"], dtype=bool)
    groups = np.asarray(result["minority"], dtype=bool)
    # Per group and seed: does the sparsest ticket's accuracy differ from dense on the same signals?
    p = {name: [mcnemar(correct[r, 0][g], correct[r, -1][g]) for r in range(len(correct))]
         for name, g in (("majority", ~groups), ("minority", groups))}
    significant = {name: sum(v < config.alpha for v in values) for name, values in p.items()}
    density = float(np.median(np.asarray(result["density"])[:, -1]))
    return [Claim(
        claim="pruning widens the accuracy gap between the majority and an under-represented minority",
        source=f"{SOURCE}; {HOOKER}", source_value="no number in the essay; Hooker et al.: the under-represented lose "
                                                   "most, beyond the overall change",
        ours=(f"gap majority - minority: dense {100 * gap[:, 0].mean():.1f} points, density {density:.3f} "
              f"{100 * gap[:, -1].mean():.1f}; widening {100 * widening.mean():+.1f} +- {100 * sd:.1f} (sd, "
              f"{len(widening)} seeds); McNemar p < {config.alpha:g} in {significant['minority']} of {len(correct)} "
              f"seeds for the minority, {significant['majority']} for the majority"),
        tolerance=f"widening > {config.sigmas:g} sd and the minority's change significant in every seed; a wider "
                  "gap in the mean is partly",
        **judged(widening.mean() > config.sigmas * sd and significant["minority"] == len(correct),
                 f"the gap moves {100 * widening.mean():+.1f} +- {100 * sd:.1f} points from dense to density "
                 f"{density:.3f}", partly=widening.mean() > 0))]
