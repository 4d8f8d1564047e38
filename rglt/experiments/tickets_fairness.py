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

from rglt.claims import Claim, Rule, conjunction, part
from rglt.data.tasks import load_task, minority_groups, Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.stats import Interval, mcnemar_test, mean_interval
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


def group_mcnemar(correct, seed: int, members) -> float:
    """The exact McNemar p-value of one seed's change from dense to the sparsest ticket on the test
    signals ``members`` (a bool mask): those dense gets right and the ticket wrong, against the reverse."""
    dense, ticket = np.asarray(correct[seed][0])[members], np.asarray(correct[seed][-1])[members]
    return mcnemar_test(int(np.sum(dense & ~ticket)), int(np.sum(~dense & ticket)))


def rules(config: Config) -> tuple[Rule, ...]:
    return (Rule(
        id="fairness",
        claim="pruning widens the accuracy gap between the majority and an under-represented minority",
        source=f"{SOURCE}; {HOOKER}",
        source_value="no number in the essay; Hooker et al.: the under-represented lose most, beyond the overall change",
        what="the gap majority - minority, sparsest ticket minus dense (points); the minority's McNemar p per seed",
        test=f"two parts: the gap widens (paired t interval over seeds > 0) and the minority's change from dense is "
             f"significant in every seed (exact McNemar test on the same test signals, every seed's p < "
             f"{config.alpha:g}: the largest p); the first alone is partly (as registered: a wider gap)",
        precondition="pruning costs overall accuracy, the regime Hooker et al. study: the sparsest ticket's overall "
                     "test accuracy below the dense network's (paired t interval over seeds < 0)",
        parts=("the gap widens", "the gap widens and the minority's change is significant in every seed")),)


def summary(result) -> dict[str, float]:
    """The numbers the claim and the prose quote (accuracies as fractions, means over seeds): the
    sparsest level's density; the overall test accuracy of dense and of the sparsest ticket, and the
    best overall change of any level; the gap majority - minority of both."""
    majority, minority = group_accuracy(result)
    overall = np.asarray(result["correct"], dtype=float).mean(-1)           # [replicates, levels]
    gap = (majority - minority).mean(0)
    return {"density": float(np.median(np.asarray(result["density"])[:, -1])),
            "overall_dense": float(overall[:, 0].mean()), "overall_sparsest": float(overall[:, -1].mean()),
            "overall_change_min": float((overall[:, 1:] - overall[:, :1]).mean(0).min()),
            "gap_dense": float(gap[0]), "gap_sparsest": float(gap[-1])}


def checks(result, config: Config) -> list[Claim]:
    majority, minority = group_accuracy(result)
    gap = majority - minority                                     # [replicates, levels]
    correct = np.asarray(result["correct"], dtype=bool)           # [replicates, levels, test signals]
    groups = np.asarray(result["minority"], dtype=bool)
    overall = correct.mean(-1)
    s = summary(result)
    rule, = rules(config)
    cost = mean_interval(overall[:, -1], paired_with=overall[:, 0]).scaled(100)
    regime = (cost.high < 0,
              f"overall test accuracy from dense to density {s['density']:.3f}: {cost.mean:+.2f} "
              f"[{cost.low:+.2f}, {cost.high:+.2f}] points (dense {100 * s['overall_dense']:.1f}%); no pruned level "
              f"loses accuracy in the mean (the smallest change {100 * s['overall_change_min']:+.2f} points)"
              if s["overall_change_min"] >= 0 else
              f"overall test accuracy from dense to density {s['density']:.3f}: {cost.mean:+.2f} "
              f"[{cost.low:+.2f}, {cost.high:+.2f}] points (dense {100 * s['overall_dense']:.1f}%)")
    # Per seed, the minority's signals: dense right and the ticket wrong, and the reverse (McNemar, exact).
    p = [group_mcnemar(correct, seed, groups) for seed in range(len(correct))]
    widens = part("the gap widens", mean_interval(gap[:, -1], paired_with=gap[:, 0]).scaled(100), 0.0,
                  what=f"gap majority - minority, density {s['density']:.3f} minus dense (points)", precondition=regime)
    significant = part("and the minority's change is significant in every seed", Interval.exact(
        max(p), n=len(p), method="exact McNemar test per seed: the largest p"), high=config.alpha,
        what="the minority's largest McNemar p over seeds", precondition=regime)
    both = conjunction("the gap widens and the minority's change is significant in every seed",
                       [widens[1], significant[1]])
    ours = (f"gap majority - minority: dense {100 * s['gap_dense']:.1f} points, density {s['density']:.3f} "
            f"{100 * s['gap_sparsest']:.1f}; overall accuracy dense {100 * s['overall_dense']:.1f}%, sparsest "
            f"{100 * s['overall_sparsest']:.1f}% (means over {len(correct)} seeds); the minority's McNemar p per seed "
            + ", ".join(f"{v:.2g}" for v in p))
    return [rule.judge(parts=dict([widens, (both.claim, both)]), ours=ours, precondition=regime)]
