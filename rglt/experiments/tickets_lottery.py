"""Chapter 5, claim 1 of seed 002: the original lottery.

The essay borrows the lottery from the evolution of sex: many tickets, most of them losers, and a bet
that at least one wins. For networks: "any given sparse subnetwork of a random network is unlikely to
be a winner, yet the probability that at least one exists grows with width" (the strong-ticket
literature makes it a theorem: Malach et al. 2020, polynomial over-parameterisation; Pensia et al. 2020,
a logarithmic factor, through subset sums). Two measurements:

- trained subnetworks: in MLPs of growing width (two hidden layers) on scikit-learn's digits, random
  masks that keep the same number K of weights, each trained alone from the network's random
  initialisation; a mask *wins* when its test accuracy reaches ``target_accuracy``. The share that wins
  (with its exact binomial interval) is the chance of a given ticket; the number of candidate masks, C(n, K),
  is what a lottery over all of them draws from;
- untrained subnetworks (the strong-ticket argument, exactly): every subset of n random weights, a
  subset winning when its sum lies within eps of a target weight (``rglt.applications.lottery``).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from rglt.applications.entropy import log2_binomial
from rglt.applications.lottery import subset_sum_lottery
from rglt.claims import Claim, Rule, part
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.models import prunable_parameters
from rglt.prune import map_jobs
from rglt.prune.runs import ModelSpec
from rglt.stats import mean_interval, proportion_interval
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
    surely: float = unhashed(0.95)               # "almost surely": some subset wins with probability above this
    rarely: float = unhashed(0.01)               # "rarely": a given subset wins with probability below this


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



def _subset_parts(config: Config) -> tuple[str, str, str]:
    first, last = config.subset_sizes[0], config.subset_sizes[-1]
    return (f"unlikely at n = {first}", f"near-certain at n = {last}", f"a given subset rarely wins at n = {last}")


def rules(config: Config) -> tuple[Rule, ...]:
    widest = config.widths[-1]
    unlikely = dict(
        id="given_ticket_unlikely",
        claim="any given sparse subnetwork of a random network is unlikely to be a winner",
        source=SOURCE, source_value='no number: "astronomically small", "unlikely to be a winner"',
        what=f"share of random masks of K = {config.kept} weights that win at width {widest}",
        test=f"exact binomial 95% interval over {config.masks} masks, each trained alone (a win: test accuracy >= "
             f"{config.target_accuracy:g}); what could fail: thinly spread random masks still winning",
        high=config.unlikely)
    some = dict(
        id="some_ticket_wins",
        claim="the probability that at least one winning subnetwork exists grows with width, while a given one "
              "rarely wins",
        source=f"{SOURCE}; {PENSIA}",
        source_value=f"n = O(log(1/eps)) (Pensia et al.; no constant); log2(1/eps) = "
                     f"{math.log2(1 / config.subset_eps):.1f} at eps = {config.subset_eps:g}",
        what=f"subsets of n random weights within {config.subset_eps:g} of {config.subset_target:g}",
        test=f"every subset enumerated, {config.subset_draws} draws per n; P(some subset wins): exact binomial 95% "
             "interval; share of subsets that win: t interval over draws. P grows with n by a theorem, so the parts "
             f"check the scale: P < 'unlikely' at the smallest n, > {config.surely:g} at the largest, the share there "
             f"< {config.rarely:g}",
        parts=_subset_parts(config))
    return (
        Rule(**unlikely, precondition="the budget can win: at some width, random masks of K weights win with a share "
                                      "whose interval lies above 'unlikely' (else the row measures that K weights "
                                      "cannot learn the task, not the lottery)",
             registered=Rule(**unlikely),
             change="precondition added after the result existed: with no width at which K weights win, 'unlikely at "
                    "the widest network' held by construction (the registered rule read it as reproduced)"),
        Rule(**some, registered=Rule(**{**some, "parts": _subset_parts(config)[1:], "test": "P(some subset wins) rises with n (no drop beyond 2 SE, which "
                                                       f"a flat path passes) to >= {config.surely:g}, and the share of "
                                                       f"winning subsets there stays below {config.rarely:g}"}),
             change="after the result existed: the registered 'no drop beyond 2 SE' along n cannot fail (a flat "
                    "path passes it); growth is now read from the two ends, P below 'unlikely' at the smallest n"),
    )


def checks(result, config: Config) -> list[Claim]:
    unlikely, some = rules(config)
    acc = np.asarray(result["accuracy"])
    wins = (acc >= config.target_accuracy).sum(1)
    shares = [proportion_interval(int(k), acc.shape[1]) for k in wins]
    best = max(range(len(shares)), key=lambda i: shares[i].low)
    out = [unlikely.judge(
        shares[-1],
        ours=(f"share of random masks keeping {config.kept:,} weights that reach {100 * config.target_accuracy:g}% "
              "trained alone: " + ", ".join(f"width {w}: {100 * s.mean:.0f}% [{100 * s.low:.0f}, {100 * s.high:.0f}]"
                                          for w, s in zip(config.widths, shares))
              + f" (exact 95%, {acc.shape[1]} masks each); median accuracy "
              + ", ".join(f"{100 * np.median(a):.1f}%" for a in acc)),
        precondition=(shares[best].low > config.unlikely,
                      f"at width {config.widths[best]}, {int(wins[best])} of {acc.shape[1]} masks win "
                      f"(95% [{100 * shares[best].low:.0f}%, {100 * shares[best].high:.0f}%])"))]
    share, anyw = np.asarray(result["subset_share"], dtype=float), np.asarray(result["subset_any"], dtype=float)
    sizes = np.asarray(config.subset_sizes)
    p_any = [proportion_interval(int(a.sum()), a.size) for a in anyw]
    crossed = sizes[anyw.mean(1) >= config.surely]
    rare, surely, given = _subset_parts(config)
    parts = dict([
        part(rare, p_any[0], high=config.unlikely, what=f"P(some subset wins) at n = {sizes[0]}"),
        part(surely, p_any[-1], low=config.surely, what=f"P(some subset wins) at n = {sizes[-1]}"),
        part(given, mean_interval(share[-1]), high=config.rarely, what=f"share of winning subsets at n = {sizes[-1]}"),
    ])
    out.append(some.judge(
        parts=parts, registered_parts={k: v for k, v in parts.items() if k != rare},
        ours=(f"subsets of n random weights within {config.subset_eps:g} of {config.subset_target:g}: "
              "P(some subset wins) " + ", ".join(f"n={n}: {q.mean:.2f}" for n, q in zip(sizes, p_any))
              + "; share of subsets that win " + ", ".join(f"n={n}: {s:.4f}" for n, s in zip(sizes, share.mean(1)))
              + f"; >= {config.surely:g} from n = {crossed.min() if crossed.size else 'none measured'}; candidate masks "
                "in the networks above: 10^" + ", 10^".join(f"{c:.0f}" for c in np.asarray(result["log10_candidates"])))))
    return out
