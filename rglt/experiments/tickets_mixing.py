"""Chapter 5, claim 7 of seed 002: Mixup and CutMix change which tickets win.

The essay: Mixup and CutMix "also warp the learning landscape. When we apply them, we find that the set
of winning tickets changes." A different batch order alone already changes a ticket, so the question
measured is whether mixing changes it *more*. IMP (rewinding to an early step) of a 1D ResNet-20 on
MNIST-1D, 3 replicates, each trained four ways from the same initial weights: plainly, plainly with
another batch order (the baseline), with Mixup and with CutMix (1D: a contiguous segment of the signal
pasted from another). At every level:

- the Jaccard index of the masks between plain and each other way (``rglt.applications.jaccard``), beside
  the expectation for random masks of the same density and the overlap of two plain runs from
  different initial weights;
- the test accuracy of each way's tickets.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.applications import jaccard, random_jaccard
from rglt.claims import Claim, Rule
from rglt.data.tasks import Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.stats import mean_interval
from rglt.train import TrainConfig
from rglt.validate import check_int

NAME = "tickets_mixing"
VERSION = 1
SOURCE = "002 'A Deeper Dive' (Mixup and CutMix)"
WAYS = ("plain", "reordered", "mixup", "cutmix")


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", noise=1)
    train: TrainConfig = TrainConfig(epochs=20, batch_size=128, lr=0.1, weight_decay=1e-4)
    mix_alpha: float = 1.0                       # Beta(1, 1) for both, as CutMix's paper
    rounds: int = 12                             # density 0.8^12 = 6.9% at the last level
    rewind_step: int = 20
    replicates: int = 3
    workers: int = unhashed(2)


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), rounds=2, rewind_step=2,
                    replicates=2, workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=16, rewind_step=400, workers=1),
}


def ticket_runs(config: Config) -> dict[str, list[TicketRun]]:
    """Per way, the replicates' runs: replicate r initialises with seed r in every way and orders its
    batches with seed r (``TicketRun.replicates``), except "reordered", which orders them with seed 1000 + r."""
    imp = IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step)
    trains = {"plain": config.train,
              "mixup": dataclasses.replace(config.train, mix="mixup", mix_alpha=config.mix_alpha),
              "cutmix": dataclasses.replace(config.train, mix="cutmix", mix_alpha=config.mix_alpha)}
    runs = {way: TicketRun(config.model, config.task, train, imp).replicates(config.replicates)
            for way, train in trains.items()}
    runs["reordered"] = [dataclasses.replace(r, train=dataclasses.replace(r.train, seed=1000 + r.replicate))
                         for r in runs["plain"]]
    return runs


def run(config: Config) -> dict:
    check_int(config.replicates, "replicates", 2)     # the different-initialisation overlap needs two
    runs = ticket_runs(config)
    run_all([r for way in WAYS for r in runs[way]], workers=config.workers)
    stores = {way: [train_tickets(r) for r in runs[way]] for way in WAYS}
    levels = stores["plain"][0].levels()
    masks = {way: [[list(s.load(lv).masks.values()) for lv in levels] for s in stores[way]] for way in WAYS}
    out = {"density": np.array([[s.load(lv).density for lv in levels] for s in stores["plain"]]),
           "accuracy": np.array([[[s.metrics(lv)["accuracy"] for lv in levels] for s in stores[way]] for way in WAYS])}
    # [ways other than plain, replicates, levels]: the overlap with the plain ticket of the same init
    out["jaccard"] = np.array([[[jaccard(masks["plain"][r][j], masks[way][r][j]) for j in range(len(levels))]
                                for r in range(config.replicates)] for way in WAYS[1:]])
    # plain tickets of different initial weights (replicate r against r + 1)
    out["jaccard_other_init"] = np.array([[jaccard(masks["plain"][r][j], masks["plain"][(r + 1) % config.replicates][j])
                                           for j in range(len(levels))] for r in range(config.replicates)])
    return out


def rules(config: Config) -> tuple[Rule, ...]:
    return tuple(Rule(
        id=way,
        claim=f"{way} changes the winning ticket more than another batch order does",
        source=SOURCE, source_value="no number: \"the set of winning tickets changes\"",
        what=f"Jaccard(plain, another batch order) - Jaccard(plain, {way}) of the masks at the sparsest level",
        test="paired t interval over seeds (replicate r of each way starts from the same initial weights)",
        low=0.0) for way in ("mixup", "cutmix"))


def summary(result) -> dict[str, float]:
    """The numbers the claims and the prose quote, at the sparsest level: the density, the mean Jaccard
    index with the plain ticket of each other way, of plain tickets from other initial weights, and of
    random masks of that density."""
    jac = np.asarray(result["jaccard"])[..., -1]          # [reordered, mixup, cutmix; replicates]
    density = float(np.asarray(result["density"])[0, -1])
    return {"density": density, **{f"jaccard_{way}": float(jac[k].mean()) for k, way in enumerate(WAYS[1:])},
            "jaccard_other_init": float(np.asarray(result["jaccard_other_init"])[:, -1].mean()),
            "jaccard_random": float(random_jaccard(density))}


def checks(result, config: Config) -> list[Claim]:
    last = np.asarray(result["jaccard"])[..., -1]        # [reordered, mixup, cutmix; replicates]
    s = summary(result)
    out = []
    for rule in rules(config):
        k = WAYS.index(rule.id) - 1
        drop = mean_interval(last[0], paired_with=last[k])
        out.append(rule.judge(drop, ours=(
            f"at density {s['density']:.3f} the masks' Jaccard index with the plain ticket: {s['jaccard_' + rule.id]:.3f} "
            f"({rule.id}), {s['jaccard_reordered']:.3f} (another batch order, the baseline); plain tickets from other "
            f"initial weights {s['jaccard_other_init']:.3f}, random masks {s['jaccard_random']:.3f} "
            f"(means over {last.shape[1]} seeds)")))
    return out
