"""Chapter 5, claim 9 of seed 002: tickets in a recurrent network, and how its tied weights prune.

The essay: "The hypothesis also holds in Recurrent Neural Networks ... Exploring LTH in this context
reveals how fundamental architectural constraints, like weight tying across time, interact with the
formation of sparse subnetworks." Yu et al. 2020 found tickets in recurrent language models (LSTMs).
Measured here: IMP (global magnitude, 20% per round, rewinding to an early step) of a GRU that reads an
MNIST-1D signal as 40 time steps (``rglt.models.GRU``; its input weights ``stem``, its recurrent
weights ``recurrent``, shared by every time step, and the classifier ``fc`` all prunable), 3 replicates:

- the ticket against random masks with the same per-layer counts, trained from the same rewind point
  (``rglt.prune.branches.RandomMask``), at every other level; judged at the sparsest of those levels
  where the ticket's mean accuracy over seeds is within ``matched_drop`` of dense (as registered: where
  every seed's was);
- the density that global pruning leaves in each layer, per level, in the GRU and in its control
  (version 2): the same GRU with its recurrent map untied, one per time step (``rglt.models.UntiedGRU``:
  the same cell, fan-in, initialisation, training and IMP; only the tying differs). The recurrent
  weights are nearly all of either network's weights, so global pruning pins their own density near
  the network's; the tying row compares them by their density relative to the network's classifier
  (same fan-in and initial scale, untied in both networks), tied against untied, paired by seed.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from rglt.claims import Claim, Rule, part
from rglt.data.tasks import Task
from rglt.identity import unhashed
from rglt.prune import map_jobs, run_all, train_tickets
from rglt.prune.branches import RandomMask, branch
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.stats import Interval, mean_interval
from rglt.train import TrainConfig
from rglt.validate import check_choice, check_int, is_real, require

NAME = "tickets_recurrent"
# 2: the untied control GRU (issue 32), its IMP chains and layer densities
VERSION = 2
SOURCE = "002 'The Modern Frontier' (Recurrent networks)"
YU = "Yu et al. 2020: tickets in recurrent language models"
LAYERS = ("stem", "recurrent", "fc")
LAYER_NAMES = {"stem": "input weights'", "recurrent": "recurrent matrix's", "fc": "classifier's"}


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("gru", width=64)
    task: Task = Task("mnist1d")
    # measured: 97% dense test accuracy in 30 epochs, ~40 s on one thread (3e-3 for 10 epochs: 44%)
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, optimizer="adamw", lr=1e-2, weight_decay=1e-4)
    rounds: int = 12                             # density 0.8^12 = 6.9% at the last level
    rewind_step: int = 20
    replicates: int = 3
    random_levels: tuple = (2, 4, 6, 8, 10, 12)  # levels trained again with random masks
    random_seed: int = 2000
    # The tying control: the same GRU with a recurrent map per time step, same width (measured: one training
    # costs what the GRU's does, ~1.1 s per epoch on one busy thread for either).
    control: ModelSpec = ModelSpec("gru_untied", width=64)
    workers: int = unhashed(2)
    matched_drop: float = unhashed(0.01)         # a ticket matches dense within 1 point of accuracy
    control_gap: float = unhashed(0.1)           # the control learns the task: dense within 10 points of the GRU's


CONFIGS = {
    "smoke": Config(model=ModelSpec("gru", width=8), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, optimizer="adamw", lr=3e-3, weight_decay=1e-4),
                    rounds=2, rewind_step=2, replicates=2, random_levels=(2,), control=ModelSpec("gru_untied", width=8),
                    workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("gru", width=256), train=TrainConfig(epochs=60, batch_size=128, optimizer="adamw",
                                                                       lr=2e-3, weight_decay=1e-4),
                  rounds=16, random_levels=tuple(range(2, 17, 2)), control=ModelSpec("gru_untied", width=256),
                  workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def control_runs(config: Config) -> list[TicketRun]:
    """The control's IMP chains: the replicates of :func:`ticket_runs` with the untied GRU."""
    return imp_replicates(dataclasses.replace(config, model=config.control))


def check_config(config: Config) -> None:
    """A clear error naming the field, before any work, for a config this experiment cannot run."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tickets_recurrent.Config; got {type(config).__name__}")
    check_int(config.replicates, "replicates", 1)
    check_int(config.rounds, "rounds", 1)
    if any(not 1 <= lv <= config.rounds for lv in config.random_levels):
        raise ValueError(f"random_levels must lie in [1, rounds={config.rounds}]; got {config.random_levels}")
    if not isinstance(config.model, ModelSpec) or config.model.name != "gru":
        raise ValueError(f"model must be a ModelSpec('gru', ...); got {config.model!r}")
    if not isinstance(config.control, ModelSpec) or config.control.name != "gru_untied" \
            or config.control.width != config.model.width:
        raise ValueError(f"control must be ModelSpec('gru_untied', width={config.model.width}) (the model untied, "
                         f"same width); got {config.control!r}")
    for name in ("matched_drop", "control_gap"):
        value = getattr(config, name)
        require(is_real(value) and 0 < value < 1, name, "a number in (0, 1) (accuracy as a fraction)", value)


def _random(config: Config, job: tuple[TicketRun, int]) -> dict:
    run, level = job
    return branch(run, RandomMask(seed=config.random_seed), level)


def _layer_density(masks, steps: int) -> list[float]:
    """Each of LAYERS' density in an untied GRU's ``masks``, its recurrent maps' as the mean over ``steps``."""
    mean = lambda name: float(masks[name].float().mean())  # noqa: E731
    return [mean(f"{name}.weight") if name != "recurrent" else float(np.mean([mean(f"recurrent.{t}.weight")
                                                                              for t in range(steps)]))
            for name in LAYERS]


def run(config: Config) -> dict:
    check_config(config)
    runs, controls = ticket_runs(config), control_runs(config)
    run_all(runs + controls, workers=config.workers)
    jobs = [(r, lv) for r in runs for lv in config.random_levels]
    random = map_jobs(functools.partial(_random, config), jobs, workers=config.workers, desc="random masks")
    out = {"density": [], "accuracy": [], "layer_density": []}
    for r in runs:
        store = train_tickets(r)
        levels = store.levels()
        out["density"].append([store.load(lv).density for lv in levels])
        out["accuracy"].append([store.metrics(lv)["accuracy"] for lv in levels])
        out["layer_density"].append([[float(store.load(lv).masks[f"{name}.weight"].float().mean()) for name in LAYERS]
                                     for lv in levels])
    for key in ("untied_density", "untied_accuracy", "untied_layer_density", "untied_step_density"):
        out[key] = []
    for r in controls:
        store = train_tickets(r)
        levels = store.levels()
        masks = [store.load(lv).masks for lv in levels]
        steps = sum(1 for name in masks[0] if name.startswith("recurrent."))
        out["untied_density"].append([store.load(lv).density for lv in levels])
        out["untied_accuracy"].append([store.metrics(lv)["accuracy"] for lv in levels])
        out["untied_layer_density"].append([_layer_density(m, steps) for m in masks])
        out["untied_step_density"].append([[float(m[f"recurrent.{t}.weight"].float().mean()) for t in range(steps)]
                                           for m in masks])          # [levels, steps]: each step's map
    out = {k: np.array(v, dtype=np.float64) for k, v in out.items()}
    out["random_accuracy"] = np.array([j["accuracy"] for j in random]).reshape(len(runs), -1)
    out["random_levels"] = np.array(config.random_levels)
    return out


def _tying_rule(config: Config, against: str) -> Rule:
    return Rule(
        id="tying",
        claim="weight tying shapes the ticket: global pruning leaves the shared recurrent matrix another density "
              "than " + ("the input weights" if against == "stem" else "an untied matrix"),
        source=SOURCE, source_value="no number: \"weight tying across time interact[s] with the formation of sparse "
                                    "subnetworks\"",
        what=f"|recurrent / {LAYER_NAMES[against]} density - 1| at the sparsest level",
        test="t interval over seeds of the density ratio, as a distance from 1 (both directions count)",
        low=0.1)


LEVEL_RULES = ("mean", "every")   # the ticket claim's level: where the seed mean matches dense / every seed does


def _tying_control_rule(config: Config) -> Rule:
    gap = 100 * config.control_gap
    return Rule(
        id="tying",
        claim="weight tying shapes the ticket: global pruning leaves the recurrent matrix, shared by every time "
              "step, another density than the same GRU's recurrent maps untied, one per time step (each relative "
              "to its network's classifier)",
        source=SOURCE, source_value="no number: \"weight tying across time interact[s] with the formation of sparse "
                                    "subnetworks\"",
        what="|(recurrent / classifier density in the GRU) / (recurrent / classifier density in the untied GRU, "
             "its maps' mean) - 1| at the sparsest level",
        test="t interval over seeds of the ratio, paired by seed (same initialisation and batch order), as a "
             "distance from 1 (both directions count)",
        low=0.1,
        precondition=f"the untied control learns the task as the GRU does: its dense test accuracy, averaged over "
                     f"seeds, within {gap:g} points of the GRU's")


def _tickets_rule(config: Config, on: str) -> Rule:
    drop = 100 * config.matched_drop
    where = (f"where every seed's ticket is within {drop:g} point of its dense network" if on == "every" else
             f"where the ticket's accuracy, averaged over seeds, is within {drop:g} point of the dense networks' average")
    return Rule(id="tickets",
                claim="a GRU has winning tickets: matching dense accuracy where random masks of the same counts do not",
                source=f"{SOURCE}; {YU}",
                source_value="no number in the essay; Yu et al.: tickets in LSTM language models",
                what=f"at the sparsest random-control level {where}: ticket minus dense, and ticket minus random "
                     "masks (points)",
                test=f"paired t intervals over seeds; two parts: ticket - dense > -{drop:g} (matches dense) and "
                     "ticket - random > 0 (beats random masks); one of the two is partly",
                parts=("matches dense", "beats random masks"))


def rules(config: Config) -> tuple[Rule, ...]:
    return (
        dataclasses.replace(
            _tickets_rule(config, "mean"), registered=_tickets_rule(config, "every"),
            change="written after the result existed (issue 32): the level judged was the sparsest where every "
                   "seed's ticket matched its dense network, so one seed's test accuracy, a single noisy signal, "
                   "picked the level for all; the mean over seeds picks it now, the quantity the parts' intervals "
                   "are about"),
        dataclasses.replace(
            _tying_control_rule(config),
            registered=dataclasses.replace(
                _tying_rule(config, "fc"), registered=_tying_rule(config, "stem"),
                change="written after the result existed (issue 28): the input weights are applied at every time "
                       "step too, so a ratio against them cannot tell tying from the different densities global "
                       "pruning leaves any two layers (a check that could not fail); the classifier is the "
                       "network's untied matrix with the same fan-in (hidden) and initial scale U(+-1/sqrt(hidden)) "
                       "as the recurrent one"),
            change="written after version 1's result, before version 2's (issue 32): a ratio against the classifier "
                   "passes for any density difference between two layers that differ in more than tying (the "
                   "classifier reads the last state once; the recurrent matrix's gradient sums over the time steps), "
                   "so it could not tell tying from fan-in or place. Version 2 trains the control that differs in "
                   "tying only, the GRU with its recurrent map untied per time step, and compares the two; each "
                   "relative to its own classifier, because the recurrent weights are nearly all of either "
                   "network's weights and global pruning pins their own density near the network's"),
    )


def relative_density(result) -> dict[str, np.ndarray]:
    """Per seed, at the sparsest level, the recurrent weights' density over the classifier's: in the GRU
    (``tied``), in the untied control (``untied``, its maps' mean) and their ratio (``ratio``); NaN where a
    classifier kept nothing."""
    tied = np.asarray(result["layer_density"], dtype=float)[:, -1]
    untied = np.asarray(result["untied_layer_density"], dtype=float)[:, -1]
    r, c = LAYERS.index("recurrent"), LAYERS.index("fc")
    finite = lambda v: np.where(np.isfinite(v), v, np.nan)  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"tied": finite(tied[:, r] / tied[:, c]), "untied": finite(untied[:, r] / untied[:, c])}
        out["ratio"] = finite(out["tied"] / out["untied"])
    return out


def summary(result) -> dict[str, float]:
    """The numbers the claims and the prose quote: dense accuracy; at the level the ticket claim judges
    (see :func:`judged_level`) its density and the ticket's and random masks' accuracy; at the sparsest
    level the density and each layer's, in the GRU and in the untied control (``untied_*``), and the
    recurrent weights' density relative to the classifier's in each (means over seeds, accuracies as
    fractions)."""
    acc, rnd = np.asarray(result["accuracy"]), np.asarray(result["random_accuracy"])
    density, layer = np.asarray(result["density"])[0], np.asarray(result["layer_density"])
    k, lv = judged_level(result)
    return {"dense": float(acc[:, 0].mean()), "judged_density": float(density[lv]),
            "judged_ticket": float(acc[:, lv].mean()), "judged_random": float(rnd[:, k].mean()),
            "sparsest_density": float(density[-1]),
            **{f"sparsest_{name}": float(layer[:, -1, i].mean()) for i, name in enumerate(LAYERS)},
            **_untied_summary(result)}


def _untied_summary(result) -> dict[str, float]:
    if "untied_layer_density" not in result:
        return {}
    layer, acc = np.asarray(result["untied_layer_density"]), np.asarray(result["untied_accuracy"])
    rel = relative_density(result)
    return {"untied_dense": float(acc[:, 0].mean()), "untied_sparsest_ticket": float(acc[:, -1].mean()),
            "untied_sparsest_density": float(np.asarray(result["untied_density"])[:, -1].mean()),
            **{f"untied_sparsest_{name}": float(layer[:, -1, i].mean()) for i, name in enumerate(LAYERS)},
            **{f"relative_{k}": float(np.mean(v)) for k, v in rel.items()}}


def judged_level(result, matched_drop: float = CONFIGS["cpu"].matched_drop, on: str = "mean") -> tuple[int, int]:
    """(index among the random levels, level) judged by the ticket claim: the sparsest random-control level
    at which the ticket's accuracy, averaged over seeds, is within ``matched_drop`` of the dense networks'
    average (``on="mean"``), or, as the rule was registered (``on="every"``), every seed's ticket is within
    ``matched_drop`` of its own dense network; the densest random-control level when there is none."""
    check_choice(on, "on", LEVEL_RULES)
    acc, levels = np.asarray(result["accuracy"]), np.asarray(result["random_levels"])
    if on == "every":
        matched = (acc >= acc[:, :1] - matched_drop).all(0)
    else:
        matched = acc.mean(0) >= acc[:, 0].mean() - matched_drop
    ok = [k for k, lv in enumerate(levels) if matched[lv]]
    k = ok[-1] if ok else 0
    return k, int(levels[k])


def checks(result, config: Config) -> list[Claim]:
    acc, rnd = np.asarray(result["accuracy"]), np.asarray(result["random_accuracy"])   # [replicates, levels]
    s = summary(result)
    density = np.asarray(result["density"])[0]
    drop = 100 * config.matched_drop
    tickets, tying = rules(config)

    def parts(on):
        k, lv = judged_level(result, config.matched_drop, on)
        return dict([
            part("matches dense", mean_interval(acc[:, lv], paired_with=acc[:, 0]).scaled(100), -drop,
                 what=f"ticket - dense (points) at density {density[lv]:.3f}"),
            part("beats random masks", mean_interval(acc[:, lv], paired_with=rnd[:, k]).scaled(100), 0.0,
                 what=f"ticket - random masks (points) at density {density[lv]:.3f}")])

    _, every = judged_level(result, config.matched_drop, "every")
    ours = (f"at density {s['judged_density']:.3f} (the sparsest random-control level where the ticket's mean over "
            f"seeds is within {drop:g} point of dense's): the ticket {100 * s['judged_ticket']:.1f}%, dense "
            f"{100 * s['dense']:.1f}%, random masks with the same per-layer counts {100 * s['judged_random']:.1f}% "
            f"(means over {len(acc)} seeds); the registered rule's level, where every seed's ticket is within "
            f"{drop:g} point of its dense network: density {density[every]:.3f}")
    out = [tickets.judge(parts=parts("mean"), registered_parts=parts("every"), ours=ours)]
    layer = np.asarray(result["layer_density"])[:, -1]         # [replicates, layers] at the sparsest level
    ratio = {name: mean_interval(layer[:, 1] / layer[:, i]) for i, name in enumerate(LAYERS) if name != "recurrent"}
    rel = relative_density(result)
    against = _ratio_interval(rel["ratio"])
    untied = np.asarray(result["untied_accuracy"])[:, 0]
    holds = bool(untied.mean() >= acc[:, 0].mean() - config.control_gap)
    iv = lambda i: f"{i.mean:.2f} [{i.low:.2f}, {i.high:.2f}]"  # noqa: E731
    out.append(tying.judge(
        _distance_from_one(against), registered=_distance_from_one(ratio["fc"]),
        precondition=(holds, f"the untied control's dense accuracy {100 * untied.mean():.1f}% against the GRU's "
                             f"{100 * acc[:, 0].mean():.1f}% (means over {len(untied)} seeds)"),
        ours=(f"at density {s['sparsest_density']:.3f}, recurrent / classifier density: GRU "
              f"{iv(_ratio_interval(rel['tied']))}, untied GRU {iv(_ratio_interval(rel['untied']))}, their ratio "
              f"{iv(against)}; GRU: recurrent {s['sparsest_recurrent']:.3f}, input {s['sparsest_stem']:.3f}, "
              f"classifier {s['sparsest_fc']:.3f}; untied GRU: recurrent maps {s['untied_sparsest_recurrent']:.3f}, "
              f"input {s['untied_sparsest_stem']:.3f}, classifier {s['untied_sparsest_fc']:.3f} (means over "
              f"{len(layer)} seeds, 95% t intervals); as registered, recurrent / input in the GRU "
              f"{iv(ratio['stem'])}")))
    return out


def _ratio_interval(values: np.ndarray) -> Interval:
    """The t interval of the mean of per-seed ratios; NaN (not measured) where one is NaN."""
    values = np.asarray(values, dtype=float)
    if np.isnan(values).any():
        return Interval(math.nan, math.nan, math.nan, len(values), math.nan, "t interval of the mean")
    return mean_interval(values)


def _distance_from_one(ratio: Interval) -> Interval:
    """The interval of |ratio - 1| that the interval of ``ratio`` implies."""
    lo, hi = ratio.low - 1, ratio.high - 1
    near = 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
    return dataclasses.replace(ratio, mean=abs(ratio.mean - 1), low=near, high=max(abs(lo), abs(hi)),
                               method=f"{ratio.method}, as a distance from 1")
