"""Tables 4, 6 and 7 of seed 000 (Sec. 5.3, App. E): sigma of every residual block but the first of each
stage for 1D CIFAR ResNet-14, 20, 32, 44 and 56, the mean of 3 seeds with its 95% t interval.

The paper's data came from the Elastic Lottery Ticket code (an OpenLTH fork): CIFAR ResNets with every
conv and linear weight prunable, 20% per round with rewinding. Here: the same five depths in 1D, width
16, on task ``A`` of :mod:`rglt.experiments.imp_flow_tasks` (MNIST-1D, 1,000 training signals, noise 2),
17 rounds of 20% rewinding to 5% of training (density 0.8^17 = 2.25%), every weight prunable. M_i is taken per residual block
(its shortcut included); the stem and the classifier stay in the denominator. The down-sampling first
block of each stage is left out of the tables, as E-LTH does not transform it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.claims import Claim, Rule, check_rules
from rglt.data.tasks import load_task, Task
from rglt.experiments.imp_flow_tasks import (C, EVERY, as_cells, bonferroni, best_cell, classes, seed_intervals,
                                              sigma_text, welch, worst_cell)
from rglt.identity import unhashed
from rglt.prune import run_all, store_of
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.rg import imp_flow
from rglt.stats import Interval
from rglt.train import TrainConfig
from rglt.validate import check_int, require
from rglt.sources import redman2022

NAME = "imp_flow_depth"
VERSION = 1

# Tables 4, 6, 7 as printed (rglt.sources.redman2022): stage -> depth -> sigma of blocks 2..n of that stage
PAPER = redman2022.STAGE_TABLES.value
TABLES = redman2022.STAGE_TABLE_NAMES


@dataclasses.dataclass(frozen=True)
class Config:
    depths: tuple = (14, 20, 32, 44, 56)
    width: int = 16
    task: Task = Task(train_size=1000, noise=2)
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, weight_decay=5e-4)
    rounds: int = 17
    rewind_step: int = 12
    seeds: int = 3
    workers: int = unhashed(2)

    def __post_init__(self):
        require(isinstance(self.depths, tuple) and len(self.depths) >= 2
                and all(isinstance(d, int) and d >= 14 and (d - 2) % 6 == 0 for d in self.depths),
                "depths", "a tuple of at least 2 depths 6n+2 with n >= 2 (14, 20, 32, ...)", self.depths)
        check_int(self.rounds, "rounds", 2)
        check_int(self.seeds, "seeds", 2)


CONFIGS = {
    "smoke": Config(depths=(20, 32), width=4, task=Task(train_size=256, noise=2),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4), rounds=3, rewind_step=1,
                    seeds=2),
    "cpu": Config(),
    # E-LTH's setting: 2D CIFAR ResNets on CIFAR-10 from RGLT_DATA, OpenLTH's 160 epochs, rewind ~5%
    "gpu": Config(task=Task("cifar10"), train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4,
                                                          schedule="step"), rewind_step=2816),
}


def depth_run(config: Config, depth: int, replicate: int) -> TicketRun:
    return TicketRun(ModelSpec(f"resnet{depth}", width=config.width), config.task,
                     dataclasses.replace(config.train, seed=replicate),
                     IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step),
                     prunable="weights", replicate=replicate)


def runs(config: Config) -> list[TicketRun]:
    return [depth_run(config, d, r) for d in sorted(config.depths, reverse=True) for r in range(config.seeds)]


def blocks(depth: int) -> list[str]:
    n = (depth - 2) // 6
    return [f"stage{s}.block{b}" for s in (1, 2, 3) for b in range(n)]


def run(config: Config) -> dict:
    load_task(config.task)
    run_all(runs(config), workers=config.workers)
    out = {"depths": np.array(config.depths)}
    for depth in config.depths:
        names = blocks(depth)
        sig = np.zeros((config.seeds, len(names)))
        acc = np.zeros((config.seeds, config.rounds + 1))
        for r in range(config.seeds):
            store = store_of(depth_run(config, depth, r))
            fl = imp_flow.flow(store, names)
            sig[r] = imp_flow.exponents(fl.M, C)["sigma"]
            acc[r] = [store.metrics(n)["accuracy"] for n in fl.levels]
        out[f"sigma_{depth}"], out[f"accuracy_{depth}"] = sig, acc
    return out


def stage_sigma(result, depth: int, stage: int) -> np.ndarray:
    """(seeds, n - 1): sigma of blocks 1..n-1 of ``stage`` (the first block left out, as the tables)."""
    n = (depth - 2) // 6
    sigma = np.asarray(result[f"sigma_{depth}"], dtype=float)
    return sigma[:, (stage - 1) * n + 1: stage * n]


def stage_text(result, depth: int, stage: int) -> str:
    """sigma of a stage's blocks (the first left out) as "mean±h" (h: the 95% t half-width), for the tables."""
    return sigma_text(stage_sigma(result, depth, stage))


def block_spread(result, depth: int, stage: int) -> np.ndarray:
    """Per seed: the standard deviation of sigma across a stage's blocks (the first left out)."""
    return stage_sigma(result, depth, stage).std(axis=1, ddof=1)


def _quote(stage: int, depths) -> str:
    return "; ".join(f"ResNet-{d}: {', '.join(f'{v:+.2f}' for v in PAPER[stage][d])}" for d in depths if d in PAPER[stage])


def _split(config: Config) -> tuple[list[int], list[int], int | None]:
    """The small ResNets (14, 20), the larger ones, and the reference for the spread: the largest small
    one with at least 2 blocks after the first in a stage (a spread exists)."""
    small = [d for d in config.depths if d <= 20]
    large = [d for d in config.depths if d > 20]
    ref = max((d for d in small if (d - 2) // 6 >= 3), default=None)
    return small, large, ref


def rules(config: Config) -> tuple[Rule, ...]:
    small, large, ref = _split(config)
    names = lambda ds: ", ".join(f"ResNet-{d}" for d in ds)
    out = [Rule(
        "small_relevant",
        claim=f"{' and '.join(f'ResNet-{d}' for d in small)} have only relevant stage-1 blocks",
        source="000 Table 4, Sec. 5.3", source_value=_quote(1, small),
        what="sigma of a stage-1 block (worst block of the small ResNets)",
        test=f"95% t interval over seeds per block; {EVERY}", low=0.0), Rule(
        "large_nonrelevant",
        claim="the larger ResNets have at least one non-relevant stage-1 block",
        source="000 Table 4, Sec. 5.3", source_value=_quote(1, large),
        what="sigma of the most non-relevant stage-1 block (< 0), worst of the larger ResNets",
        test=("t interval over seeds per block at level 1 - 0.05 / blocks (Bonferroni over a ResNet's blocks, Holm's "
              "first step: some block), the best block per ResNet; every larger ResNet (intersection-union)"),
        high=0.0)]
    if ref is not None:
        for stage in (1, 2, 3):
            out.append(Rule(
                f"spread_stage{stage}",
                claim=f"stage {stage}: the larger ResNets' sigma spread wider than ResNet-{ref}'s (blocks less uniform)",
                source=f"000 {TABLES[stage]}, Sec. 5.3 / App. E",
                source_value="std of sigma across blocks: " + ", ".join(
                    f"ResNet-{d} {np.std(PAPER[stage][d], ddof=1):.2f}" for d in [ref, *large] if d in PAPER[stage]),
                what=f"std of sigma across the stage's blocks (per seed), a larger ResNet minus ResNet-{ref} (worst)",
                test=f"Welch 95% t interval of the difference of means over seeds, for each of {names(large)}; "
                     "every one above 0 (intersection-union)", low=0.0))
    out += [Rule(
        "stage3",
        claim="stage 3 holds only marginal and non-relevant blocks",
        source="000 Table 7, App. E / Sec. 5.3", source_value=_quote(3, config.depths),
        what="sigma of a stage-3 block (worst block of every depth)",
        test=f"95% t interval over seeds per block; {EVERY} (a marginal block, sigma = 0, can only straddle)",
        high=0.0), Rule(
        "early",
        claim="most stage-1 blocks with sigma < 0 sit in the early part of the stage",
        source="000 Sec. 5.3", source_value="ResNet-32: -0.04 first; ResNet-44: -0.03, -0.00 first; ResNet-56: -0.10 second",
        what="larger ResNets whose first stage-1 block with sigma < 0 lies in the stage's second half (count)",
        test="blocks with sigma < 0: their 95% t interval over seeds below 0; an exact count, none allowed",
        high=0.5, precondition="some larger ResNet has a stage-1 block with sigma < 0 (its 95% t interval below 0) to locate")]
    return check_rules(out, f"{NAME}.rules")


def checks(result, config: Config) -> list[Claim]:
    R = {r.id: r for r in rules(config)}
    depths = [int(d) for d in np.asarray(result["depths"])]
    small, large, ref = _split(config)
    cls = {(d, s): classes(stage_sigma(result, d, s)) for d in depths for s in (1, 2, 3)}
    ours = lambda s, ds: "; ".join(f"ResNet-{d}: {' '.join(cls[d, s])}" for d in ds)
    block = lambda d, k: f"ResNet-{d} block {k + 2}"
    out = []

    cells = [(d, k, iv) for d in small for k, iv in enumerate(seed_intervals(stage_sigma(result, d, 1)))]
    (j,), iv = worst_cell(as_cells(c[2] for c in cells), 0.0)
    out.append(R["small_relevant"].judge(iv, ours=f"{ours(1, small)}; worst: {block(*cells[j][:2])}"))

    per_depth = []
    for d in large:
        s = stage_sigma(result, d, 1)
        (k,), iv = best_cell(seed_intervals(s, level=bonferroni(s.shape[1])), high=0.0)
        per_depth.append((d, k, iv))
    (j,), iv = worst_cell(as_cells(c[2] for c in per_depth), high=0.0)
    out.append(R["large_nonrelevant"].judge(
        iv, ours=f"{ours(1, large)}; the lowest block of the worst ResNet: {block(*per_depth[j][:2])}"))

    if ref is not None:
        for stage in (1, 2, 3):
            base = block_spread(result, ref, stage)
            diffs = [welch(block_spread(result, d, stage), base) for d in large]
            (j,), iv = worst_cell(as_cells(diffs), 0.0)
            spread = lambda d: block_spread(result, d, stage).mean()
            out.append(R[f"spread_stage{stage}"].judge(
                iv, ours="mean std across blocks over seeds: " + ", ".join(f"ResNet-{d} {spread(d):.3f}" for d in [ref, *large])
                         + f"; worst: ResNet-{large[j]}"))

    cells = [(d, k, iv) for d in depths for k, iv in enumerate(seed_intervals(stage_sigma(result, d, 3)))]
    (j,), iv = worst_cell(as_cells(c[2] for c in cells), high=0.0)
    out.append(R["stage3"].judge(iv, ours=f"{ours(3, depths)}; worst: {block(*cells[j][:2])}"))

    below = {d: [k for k, c in enumerate(cls[d, 1]) if c == "-"] for d in large}
    early = [d for d in large if below[d]]
    late = [d for d in early if below[d][0] >= len(cls[d, 1]) / 2]
    out.append(R["early"].judge(
        Interval.exact(len(late), len(early)),
        ours=f"{ours(1, large)}; {len(early) - len(late)} of {len(early)} with a block below 0 have the first in the first half",
        precondition=(bool(early), f"{len(early)} of {len(large)} larger ResNets have a stage-1 block with sigma < 0 "
                                   f"({ours(1, large)})")))
    return out
