"""Chapter 5, claim 1 of seed 002: the original lottery.

The essay borrows the lottery from the evolution of sex: many tickets, most of them losers, and a bet
that at least one wins. For networks: "any given sparse subnetwork of a random network is unlikely to
be a winner, yet the probability that at least one exists grows with width" (the strong-ticket
literature makes it a theorem: Malach et al. 2020, polynomial over-parameterisation; Pensia et al. 2020,
a logarithmic factor, through subset sums). Two measurements:

- trained subnetworks: in MLPs of growing width (two hidden layers) on scikit-learn's digits, random
  masks that keep the same number K of weights, each trained alone from the network's random
  initialisation; a mask *wins* when its test accuracy reaches ``target_accuracy``. The share that wins
  (with a Wilson interval) is the chance of a given ticket; the number of candidate masks, C(n, K),
  is what a lottery over all of them draws from;
- untrained subnetworks (the strong-ticket argument, exactly): every subset of n random weights, a
  subset winning when its sum lies within eps of a target weight (``rglt.applications.lottery``).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from rglt.applications.entropy import log2_binomial
from rglt.applications.lottery import subset_sum_lottery, wilson_interval
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.models import prunable_parameters
from rglt.prune import map_jobs
from rglt.prune.runs import ModelSpec
from rglt.report import Claim, judged
from rglt.train import evaluate, train, TrainConfig

NAME = "tickets_lottery"
VERSION = 1
SOURCE = "002 'The Original Lottery: A Lesson from Biology'"
PENSIA = "Pensia et al. 2020: n = O(log(1/eps)) random weights hold a subset within eps of any target"


@dataclasses.dataclass(frozen=True)
class Config:
    task: Task = Task("digits")
    widths: tuple = (32, 64, 128, 256)           # hidden units per layer (two hidden layers)
    kept: int = 1500                             # K: weights each random mask keeps, at every width
    masks: int = 30                              # random masks sampled per width
    train: TrainConfig = TrainConfig(epochs=30, batch_size=64, lr=0.1, weight_decay=1e-4)
    target_accuracy: float = 0.93                # a winner: test accuracy >= this, trained alone
    init_seed: int = 0                           # the random network (one per width)
    subset_sizes: tuple = (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    subset_target: float = 0.3
    subset_eps: float = 0.01
    subset_draws: int = 200
    workers: int = unhashed(2)
    unlikely: float = unhashed(0.5)              # "unlikely": a given ticket wins with probability below this


CONFIGS = {
    "smoke": Config(widths=(16, 32), kept=400, masks=4, train=TrainConfig(epochs=2, batch_size=64, lr=0.1),
                    subset_sizes=(2, 6, 10), subset_draws=20, workers=1),
    "cpu": Config(),
    "gpu": Config(widths=(32, 64, 128, 256, 512, 1024), masks=200, subset_sizes=tuple(range(2, 25, 2)),
                  subset_draws=1000, workers=1),
}


def _trained(config: Config, job: tuple[int, int]) -> float:
    """Test accuracy of the width's random network under random mask ``m``, trained alone."""
    import torch


    width, m = job
    data = load_task(config.task)
    model = ModelSpec("mlp", width=width).build(data, seed=config.init_seed)
    params = prunable_parameters(model, include_fc=True)
    sizes = [p.numel() for _, p in params]
    flat = torch.zeros(sum(sizes), dtype=torch.bool)
    gen = torch.Generator().manual_seed(10_000 * width + m)
    flat[torch.randperm(len(flat), generator=gen)[:config.kept]] = True
    masks = {name: part.reshape(p.shape) for (name, p), part in zip(params, flat.split(sizes))}
    train(model, data.train, config.train, masks=masks, desc=f"width {width} mask {m}")
    return evaluate(model, data.test)["accuracy"]


def run(config: Config) -> dict:
    data = load_task(config.task)
    counts = [sum(p.numel() for _, p in prunable_parameters(ModelSpec("mlp", width=w).build(data, seed=0),
                                                            include_fc=True)) for w in config.widths]
    if config.kept > min(counts):
        raise ValueError(f"kept must be <= the narrowest network's {min(counts)} weights; got {config.kept}")
    jobs = [(w, m) for w in config.widths for m in range(config.masks)]
    accuracy = map_jobs(functools.partial(_trained, config), jobs, workers=config.workers, desc="random tickets")
    subsets = [subset_sum_lottery(n, config.subset_target, config.subset_eps, config.subset_draws, seed=n)
               for n in config.subset_sizes]
    return {"accuracy": np.array(accuracy).reshape(len(config.widths), config.masks),
            "weights": np.array(counts, dtype=np.float64),
            "log10_candidates": np.array([log2_binomial(n, config.kept) / np.log2(10) for n in counts]),
            "subset_share": np.array([s["share"] for s in subsets]),        # [sizes, draws]
            "subset_any": np.array([s["any"] for s in subsets], dtype=np.float64)}


def checks(result, config: Config) -> list[Claim]:
    acc = np.asarray(result["accuracy"])
    wins = (acc >= config.target_accuracy).sum(1)
    p = wins / acc.shape[1]
    intervals = [wilson_interval(int(k), acc.shape[1]) for k in wins]
    widest_hi = intervals[-1][1]
    out = [Claim(
        claim="any given sparse subnetwork of a random network is unlikely to be a winner",
        source=SOURCE, source_value="no number: \"unlikely to be a winner\"",
        ours=(f"share of random masks keeping {config.kept:,} weights that reach {100 * config.target_accuracy:g}% "
              "trained alone: " + ", ".join(f"width {w}: {100 * q:.0f}% [{100 * lo:.0f}-{100 * hi:.0f}]"
                                          for w, q, (lo, hi) in zip(config.widths, p, intervals))
              + f" (Wilson 95%, {acc.shape[1]} masks each); median accuracy "
              + ", ".join(f"{100 * np.median(a):.1f}%" for a in acc)),
        tolerance=f"below {config.unlikely:.0%} with its whole interval at the widest network",
        **judged(widest_hi < config.unlikely,
                 f"at width {config.widths[-1]} a random mask wins {100 * p[-1]:.0f}% of the time "
                 f"(interval up to {100 * widest_hi:.0f}%)"))]
    share, anyw = np.asarray(result["subset_share"]), np.asarray(result["subset_any"])
    sizes = np.asarray(config.subset_sizes)
    p_any = anyw.mean(1)
    grows = bool(np.all(np.diff(p_any) >= -2 * np.sqrt(p_any[1:] * (1 - p_any[1:]) / anyw.shape[1] + 1e-12)))
    crossed = sizes[p_any >= 0.95]
    bound = np.log2(1 / config.subset_eps)
    out.append(Claim(
        claim="the probability that at least one winning subnetwork exists grows with width, while a given one "
              "rarely wins",
        source=f"{SOURCE}; {PENSIA}", source_value=f"n = O(log(1/eps)); log2(1/eps) = {bound:.1f} at eps = "
                                                   f"{config.subset_eps:g}",
        ours=(f"subsets of n random weights within {config.subset_eps:g} of {config.subset_target:g}: "
              "P(some subset wins) " + ", ".join(f"n={n}: {q:.2f}" for n, q in zip(sizes, p_any))
              + "; share of subsets that win " + ", ".join(f"n={n}: {s:.4f}" for n, s in
                                                           zip(sizes[::3], share.mean(1)[::3]))
              + f"; >= 0.95 from n = {crossed.min() if crossed.size else 'none measured'}; candidate masks in the "
                "networks above: 10^" + ", 10^".join(f"{c:.0f}" for c in np.asarray(result["log10_candidates"]))),
        tolerance="P(some subset wins) rises with n (no drop beyond 2 SE) to >= 0.95, while the share of winning "
                  "subsets at that n stays below 1%",
        **judged(grows and crossed.size > 0 and share.mean(1)[p_any >= 0.95].max() < 0.01,
                 ("P(some subset wins) drops with n somewhere beyond 2 SE" if not grows else
                  "P(some subset wins) stays below 0.95 at every n measured" if not crossed.size else
                  "the share of winning subsets is not small where one surely wins"))))
    return out
