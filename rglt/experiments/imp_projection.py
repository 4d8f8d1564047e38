"""Sec. 3.2 of seed 000: IMP's projection operator, property 3 (and the proviso of property 2), measured.

Property 3 asks that the projection be unique: the paper argues that with the random seed and the
sample order fixed, the masking and refining operators are deterministic. Here one IMP run (the random-
init task-``A`` run of :mod:`rglt.experiments.imp_flow_tasks` as its version 1 trained it: alone, in the
default layout, the paper's 17 rounds; version 2 trains its seeds side by side, whose batch order is
tied to the replicate, so no other order can be asked of one member) is

1. trained as the ticket cache trains it (shared with that experiment);
2. trained again from nothing in a temporary cache of its own: property 3 holds if every level's
   masks and weights are equal bit for bit;
3. trained with the same initialisation but another sample order (the training seed): a different
   order should give a different flow, so the order is part of IMP's input, as the paper says.

Property 2 holds "until layer collapse": the result records each layer's density at the last level, so
the chapter can say whether the flow stayed clear of it.
"""
from __future__ import annotations

import dataclasses
import math
import tempfile

import numpy as np

from rglt.claims import Claim, Rule, check_rules
from rglt.experiments import imp_flow_tasks
from rglt.prune import TicketStore, store_of, train_tickets, use_cache
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.rg import imp_flow
from rglt.stats import Interval
from rglt.validate import check_seed, require

NAME = "imp_projection"
VERSION = 1


def lone_run(flow: imp_flow_tasks.Config, rounds: int, model=None) -> TicketRun:
    """The random-init task-``A`` run of an imp_flow_tasks config, trained alone (replicate 0)."""
    return TicketRun(model or flow.model, flow.tasks[0][1], dataclasses.replace(flow.train, seed=0),
                     IMPConfig(rounds=rounds, fraction=0.2, rewind_step=flow.rewind_step), prunable="no-stem-no-fc")


@dataclasses.dataclass(frozen=True)
class Config:
    run: TicketRun = lone_run(imp_flow_tasks.CONFIGS["cpu"], 17, ModelSpec("resnet18", width=16))
    other_order_seed: int = 100

    def __post_init__(self):
        require(isinstance(self.run, TicketRun), "run", "an rglt.prune.TicketRun", self.run, TypeError)
        check_seed(self.other_order_seed, "other_order_seed")
        require(self.other_order_seed != self.run.train.seed, "other_order_seed",
                f"a seed other than the run's training seed {self.run.train.seed}", self.other_order_seed)


_smoke = imp_flow_tasks.CONFIGS["smoke"]
CONFIGS = {
    "smoke": Config(run=lone_run(_smoke, _smoke.rounds)),
    "cpu": Config(),
    "gpu": Config(run=lone_run(imp_flow_tasks.CONFIGS["gpu"], 17)),
}


def _compare(a, b) -> tuple[list[bool], list[bool], list[float]]:
    """Per level: masks equal, weights equal, and the share of prunable entries whose mask differs."""
    masks, weights, differ = [], [], []
    for level in a.levels():
        x, y = a.load(level), b.load(level)
        masks.append(all(torch_equal(x.masks[n], y.masks[n]) for n in x.masks))
        weights.append(all(torch_equal(x.weights[n], y.weights[n]) for n in x.weights))
        total = sum(m.numel() for m in x.masks.values())
        differ.append(sum(int((x.masks[n] != y.masks[n]).sum()) for n in x.masks) / total)
    return masks, weights, differ


def torch_equal(x, y) -> bool:
    import torch
    return bool(torch.equal(x, y))


def run(config: Config) -> dict:
    base = config.run
    other = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=config.other_order_seed))
    shared = train_tickets(base)
    with tempfile.TemporaryDirectory(prefix="rglt-projection-") as tmp:
        with use_cache(tmp):
            fresh = TicketStore(train_tickets(base).root)
            same_masks, same_weights, _ = _compare(shared, fresh)
    train_tickets(other)
    reordered = store_of(other)
    _, _, order_differ = _compare(shared, reordered)
    sigma = {}
    for name, store in (("base", shared), ("other_order", reordered)):
        sigma[name] = imp_flow.exponents(imp_flow.flow(store, imp_flow_tasks.STAGES).M, imp_flow_tasks.C)["sigma"]
    last = shared.load(base.imp.rounds)
    layer_density = {n: float(m.float().mean()) for n, m in last.masks.items()}
    return {"levels": np.array(shared.levels()), "rerun_masks_equal": np.array(same_masks),
            "rerun_weights_equal": np.array(same_weights), "order_mask_difference": np.array(order_differ),
            "sigma_base": sigma["base"], "sigma_other_order": sigma["other_order"],
            "layer_names": list(layer_density), "last_layer_density": np.array(list(layer_density.values()))}


def rules(config: Config) -> tuple[Rule, ...]:
    exact = "exact (one deterministic comparison per level); "
    return check_rules([Rule(
        "rerun",
        claim="with the seed and the sample order fixed, IMP is a function of its inputs: a rerun from nothing "
              "gives the same masks and weights",
        source="000 Sec. 3.2, property 3", source_value="'both the mask and refining operators ... are deterministic'",
        what="levels at which the rerun's masks or weights differ from the first run's, bit for bit (count)",
        test=exact + "none allowed: one level that differs makes P not unique", high=0.5), Rule(
        "order",
        claim="another sample order (same initialisation) gives another flow",
        source="000 Sec. 3.2, property 3 (the order must be fixed for P to be unique)",
        source_value="no number: the paper fixes the order and does not vary it",
        what="the smallest share of the prunable weights whose mask differs under the other order, over levels 1 on",
        test=exact + "every level from 1 on must differ (an order that changes nothing at some level fails)",
        low=0.0), Rule(
        "collapse",
        claim="the flow stays clear of layer collapse (property 2 holds until a layer is cut off)",
        source="000 Sec. 3.2, property 2", source_value="'until layer collapse (i.e. when all the weights from one "
                                                        "layer to another are removed)'",
        what="the smallest share of a prunable layer's weights kept at the last level",
        test=exact + "every prunable layer must keep a weight (a layer at 0 fails)", low=0.0)], f"{NAME}.rules")


def checks(result, config: Config) -> list[Claim]:
    R = {r.id: r for r in rules(config)}
    levels = [int(k) for k in np.asarray(result["levels"])]
    masks, weights = np.asarray(result["rerun_masks_equal"], bool), np.asarray(result["rerun_weights_equal"], bool)
    bad = [k for k, m, w in zip(levels, masks, weights) if not (m and w)]
    out = [R["rerun"].judge(
        Interval.exact(len(bad), len(levels)),
        ours=f"masks equal at {masks.sum()} of {len(levels)} levels, weights at {weights.sum()}"
             + (f"; differ at levels {bad}" if bad else ""))]
    differ = np.asarray(result["order_mask_difference"], dtype=float)
    sig_a, sig_b = np.asarray(result["sigma_base"]), np.asarray(result["sigma_other_order"])
    later = differ[1:] if differ.size > 1 else np.array([math.nan])
    least = float(np.min(later)) if np.all(np.isfinite(later)) else math.nan
    out.append(R["order"].judge(
        Interval.exact(least, later.size),
        ours=f"{100 * differ[-1]:.1f}% of the prunable weights' masks differ at level {levels[-1]} "
             f"({100 * differ[1]:.1f}% at level 1, least {100 * least:.2f}%); sigma {', '.join(f'{a:+.3f}' for a in sig_a)} "
             f"against {', '.join(f'{b:+.3f}' for b in sig_b)}"))
    density = np.asarray(result["last_layer_density"], dtype=float)
    names = list(result["layer_names"])
    out.append(R["collapse"].judge(
        Interval.exact(density.min(), density.size),
        ours=f"at level {levels[-1]} the sparsest layer, {names[int(np.argmin(density))]}, keeps "
             f"{100 * density.min():.2f}% of its weights; {int(np.sum(density == 0))} layers are empty"))
    return out
