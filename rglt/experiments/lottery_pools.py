"""Lottery Pools against the tickets it starts from (seed 003: Figs. 3a-3c, Tables 6-7), with the gain
taken apart step by step. The analyses (Figs. 1, 2, 4-8, the authors' script) are
``lottery_pools_analysis``, on the same ResNet-18 runs.

IMP as Lottery Pools' ``main_imp.py`` does it: 20% of the surviving conv weights per round (the
classifier never), 19 rounds, with rewinding to ~5% of training and without (rewinding to the
initialisation), for a 1D ResNet-18 and a 1D VGG-16.

Version 2 (the cpu profile) aims at the paper's regime, where the dense network is about as good as its
best ticket (003 Tables 6-7: within 0.95 and 0.40 points), and reads it on its own runs as every claim's
precondition. The setting is the last rung of a pilot ladder on validation data (``lottery_pools_regime``;
at its one seed no rung met the rule): MNIST-1D at noise severity 1, 3,000 training signals
translated by up to 4 samples in training (the 1D analogue of the paper's padded crop), 1,000
validation signals on which every selection is made (the coefficient search, the validation-chosen
ticket, the regime itself), 30 epochs. Version 1 (noise 2, 1,800 signals, no augmentation,
:data:`V1`) put the dense networks 11 and 14 points below their best tickets: "When dense overfits" in
chapter 4 reads it. Test data are never seen by a selection.

Every target is compared with its original ticket (the paper's baseline) and with the
**validation-chosen ticket**, the level of the same IMP run with the best validation accuracy
(:func:`chosen_level`): beating it is what Lottery Pools adds beyond picking the best ticket. Equal
validation scores in the coefficient scan go the authors' way (``tie_break="current"``); the coefficient
chosen for every candidate is stored (``alpha``). Without rewinding only ``no_rewind_targets`` are
pooled (the rewinding comparison reads those).

For every target density: the original ticket; the same ticket after BatchNorm recalibration alone;
Lottery Pools (average, Algorithm 3); Lottery Pools (interpolation, Algorithm 2); the SWA and EMA
baselines over the same candidates (and EMA as the authors' code computes it). Every merged state is
re-pruned to the target's density ("prune during") and recalibrated on ``bn_batches`` training
batches. Fig. 3c: the ticket, BN recalibration alone and Lottery Pools (interpolation) are also
scored on the mean over the task's corrupted test sets (``rglt.data.corrupted_tests``).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from rglt import pools, stats
from rglt.claims import Claim, Rule, measured_text
from rglt.data.tasks import corrupted_tests, load_task, Task
from rglt.identity import hashed_unless_default, unhashed
from rglt.prune import run_all, store_of
from rglt.prune.imp import IMPConfig
from rglt.prune.runner import map_jobs
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.stats import CONVENTION, Interval
from rglt.train import evaluate, TrainConfig
from rglt.validate import check_choice, check_int, check_real, require

NAME = "lottery_pools"
VERSION = 2
# ema: decay 0.95 on the running state (the paper's "decay factor"); ema_code: 0.95 on the incoming
# ticket, as the authors' interpolate_ema computes new * 0.95 + current * 0.05
METHODS = ("ticket", "bn_only", "average", "interpolation", "swa", "ema", "ema_code")
SHIFTED_METHODS = ("ticket", "bn_only", "interpolation")    # Fig. 3c: the others are not evaluated there
REWINDS = ("rewind", "no rewind")


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple = (ModelSpec("resnet18", width=16), ModelSpec("vgg16", width=16))
    task: Task = Task(train_size=1800, val_size=200, noise=2)
    # 003 Table 4 (momentum and weight decay as its code has them: 0.9 and 1e-4, the table swaps them);
    # lr drops at 50% and 75% of training, as 91 and 136 of 182 epochs
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                                     schedule="step", milestones=(0.5, 0.75))
    rounds: int = 19
    rewind_step: int = 22            # 5% of the 450 steps (15 per epoch), as epoch 9 of 182
    seeds: int = 3
    bn_batches: int = 4
    ema_decay: float = 0.95
    targets: tuple | None = None     # levels to pool for; None: every level
    workers: int = unhashed(2)
    # equal validation scores in the coefficient scan (rglt.pools.TIE_BREAKS): version 1 was searched with
    # "candidate"; the authors' interpolate_LTs stays with the current best ("current")
    tie_break: str = hashed_unless_default("candidate")
    # the paper's regime (its Tables 6-7): the dense network within this many points of its best ticket
    regime_gap: float = unhashed(1.0)
    # the levels pooled for the runs without rewinding (None: every level, as version 1)
    no_rewind_targets: tuple | None = hashed_unless_default(None)
    # replicates trained side by side (rglt.models.grouped; 1: alone, as version 1)
    group: int = hashed_unless_default(1)

    def __post_init__(self):
        require(len(self.models) >= 1 and all(isinstance(m, ModelSpec) for m in self.models), "models",
                "a non-empty tuple of rglt.prune.ModelSpec", self.models)
        check_int(self.rounds, "rounds", 2)
        check_int(self.seeds, "seeds", 2)
        check_int(self.bn_batches, "bn_batches", 1)
        check_int(self.group, "group", 1)
        check_real(self.ema_decay, "ema_decay", 0, 1, low_open=True, high_open=True)
        check_choice(self.tie_break, "tie_break", pools.TIE_BREAKS)
        for name in ("targets", "no_rewind_targets"):
            levels = getattr(self, name)
            require(levels is None or (isinstance(levels, tuple) and levels
                                       and all(isinstance(t, int) and 0 <= t <= self.rounds for t in levels)),
                    name, f"None or a non-empty tuple of levels in [0, {self.rounds}]", levels)


# version 1's cpu setting, where the dense networks overfit (chapter 4's "When dense overfits" reads its
# archived result)
V1 = Config()
_tiny = TrainConfig(epochs=2, batch_size=64, lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="step",
                    augment="translate4")
CONFIGS = {
    "smoke": Config(models=(ModelSpec("resnet18", width=4), ModelSpec("vgg16", width=4)),
                    task=Task(train_size=256, val_size=64, noise=1), train=_tiny, rounds=3, rewind_step=1, seeds=2,
                    bn_batches=1, tie_break="current", no_rewind_targets=(0, 2), group=2),
    # the last rung of lottery_pools_regime's pilot (at its one seed no rung met the rule, so the regime is read
    # again on these runs, every claim's precondition); 24 steps an epoch, rewind to step 36 (5%);
    # IMP's fast path (issue 27): channels-last, the seeds trained side by side (the same science, other rounding)
    "cpu": Config(models=tuple(ModelSpec(name, width=16, layout="channels-last") for name in ("resnet18", "vgg16")),
                  task=Task(train_size=3000, val_size=1000, noise=1), group=3,
                  train=dataclasses.replace(V1.train, augment="translate4"), rewind_step=36, tie_break="current",
                  no_rewind_targets=(0, 3, 6, 9, 12, 15, 19)),
    # 003 Tables 2 and 4: CIFAR-10/100 from RGLT_DATA, 182 epochs, batch 128, lr 0.1 dropped at 91 and
    # 136, rewind to epoch 9, 19 rounds (45,000 training images: 352 steps an epoch)
    "gpu": Config(models=(ModelSpec("resnet18"), ModelSpec("vgg16")), task=Task("cifar100"),
                  train=TrainConfig(epochs=182, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                                    schedule="step", milestones=(91 / 182, 136 / 182), augment="crop4-flip"),
                  rewind_step=9 * 352, bn_batches=40, tie_break="current"),
}


def ticket_run(config: Config, model: ModelSpec, rewind: bool, replicate: int) -> TicketRun:
    """The IMP run of one model, with or without rewinding, seed ``replicate`` (in its group of
    ``config.group`` replicates)."""
    base = TicketRun(model, config.task, config.train,
                     IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step if rewind else 0),
                     prunable="no-fc")
    return base.replicates(config.seeds, group=config.group)[replicate]


def runs(config: Config) -> list[TicketRun]:
    return [ticket_run(config, m, rewind == REWINDS[0], r) for m in config.models for rewind in REWINDS
            for r in range(config.seeds)]


def _targets(config: Config, run: TicketRun, levels: list[int]) -> list[int]:
    if run.imp.rewind_step == 0 and config.no_rewind_targets is not None:
        return list(config.no_rewind_targets)
    return list(config.targets) if config.targets is not None else levels


def _pool_job(job) -> dict:
    """Every method at every target level of one run (one worker process, one thread), on the clean
    test set and on the mean over the corrupted ones (Fig. 3c); every level's ticket, pooled or not, on
    both and on the validation split, example by example (the chosen ticket, the regime)."""

    config, run = job
    store, data = store_of(run), load_task(run.task)
    sets = list(corrupted_tests(run.task).values())
    shifted = tuple(torch.cat(parts) for parts in zip(*sets))   # equal-sized sets: its accuracy is their mean
    model = run.model.build(data, seed=run.replicate)
    levels = store.levels()
    targets = _targets(config, run, levels)
    score = pools.scorer(model, data.val)

    def test(state, method):
        model.load_state_dict(dict(state))
        return (evaluate(model, data.test)["accuracy"],
                evaluate(model, shifted)["accuracy"] if method in SHIFTED_METHODS else np.nan)

    # every level's ticket, pooled or not: on validation example by example, on the clean and shifted tests
    accuracy = np.full((2, len(METHODS), len(levels)), np.nan)      # (clean / corrupted, methods, levels)
    val_correct = np.zeros((len(levels), len(data.val[1])), dtype=bool)
    for n in levels:
        weights = store.load(n).weights
        accuracy[:, METHODS.index("ticket"), n] = test(weights, "ticket")
        val_correct[n] = evaluate(model, data.val, per_example=True)["correct"].numpy()   # the same state
    accepted = np.zeros(len(levels))
    alpha = np.full((len(levels), len(levels) - 1), np.nan)       # (target, candidate in adjacency order)
    for t in targets:
        ticket = store.load(t)
        finish = pools.finisher(model, ticket.masks, data.train[0], batches=config.bn_batches)
        candidates = [(n, (lambda n=n: store.load(n).weights)) for n in pools.adjacency_order(t, levels)]
        states = {"bn_only": finish(ticket.weights),
                  "average": pools.greedy(ticket.weights, candidates, score, finish, coefficients=(0.5,),
                                          tie_break=config.tie_break)[0]}
        states["interpolation"], steps = pools.greedy(ticket.weights, candidates, score, finish,
                                                      tie_break=config.tie_break)
        accepted[t] = sum(s.accepted for s in steps)
        alpha[t, :len(steps)] = [s.alpha for s in steps]
        for method, kind, decay in (("swa", "swa", 0.5), ("ema", "ema", config.ema_decay), ("ema_code", "ema", 1 - config.ema_decay)):
            states[method] = pools.running_average(ticket.weights, candidates, score, finish, kind=kind, decay=decay)[0]
        for method in list(states):
            accuracy[:, METHODS.index(method), t] = test(states.pop(method), method)
    return {"accuracy": accuracy, "accepted": accepted, "alpha": alpha, "val_correct": val_correct,
            "density": np.array([store.load(n).density for n in levels])}


def run(config: Config) -> dict:
    load_task(config.task)  # a missing data root fails here, before any training
    all_runs = runs(config)
    run_all(all_runs, workers=config.workers)
    done = map_jobs(_pool_job, [(config, r) for r in all_runs], workers=config.workers, desc="Lottery Pools")
    shape = (len(config.models), len(REWINDS), config.seeds)
    accuracy = np.stack([d["accuracy"] for d in done]).reshape(*shape, 2, len(METHODS), -1)
    accepted = np.stack([d["accepted"] for d in done]).reshape(*shape, -1)
    alpha = np.stack([d["alpha"] for d in done]).reshape(*shape, *done[0]["alpha"].shape)
    val_correct = np.stack([d["val_correct"] for d in done]).reshape(*shape, *done[0]["val_correct"].shape)
    return {"models": [m.name for m in config.models], "rewinds": list(REWINDS), "methods": list(METHODS),
            "density": done[0]["density"], "accuracy": accuracy[:, :, :, 0], "corrupted": accuracy[:, :, :, 1],
            "corruptions": list(corrupted_tests(config.task)), "accepted": accepted, "alpha": alpha,
            "val_correct": val_correct}


def chosen_level(result) -> np.ndarray:
    """The validation-chosen ticket of every run: the level with the best validation accuracy (the first
    of equals), (models, rewinds, seeds)."""
    return np.asarray(result["val_correct"]).mean(-1).argmax(-1)


def gain(result, method: str, over: str = "ticket", *, on: str = "accuracy") -> np.ndarray:
    """Accuracy points of ``method`` over ``over``: (models, rewinds, seeds, levels); ``on``: "accuracy"
    (the clean test set) or "corrupted" (the mean over the corrupted test sets). ``over="chosen"``: the
    validation-chosen ticket of the same run (:func:`chosen_level`), one network for every density."""
    acc = np.asarray(result[on], dtype=float)
    methods = list(result["methods"])
    if over == "chosen":
        ticket = acc[:, :, :, methods.index("ticket")]
        base = np.take_along_axis(ticket, chosen_level(result)[..., None], -1)
    else:
        base = acc[:, :, :, methods.index(over)]
    return 100 * (acc[:, :, :, methods.index(method)] - base)


def with_chosen(result) -> dict:
    """``result``'s data with one more method, ``"chosen"``: the validation-chosen ticket of each run
    (:func:`chosen_level`), the same network at every density, on the clean and the corrupted test sets;
    for the chapter's figures and tables, where it is the baseline beside the original tickets."""
    out = {k: result[k] for k in ("models", "rewinds", "methods", "density", "accuracy", "corrupted", "val_correct")}
    ticket, level = list(out["methods"]).index("ticket"), chosen_level(result)[..., None, None]
    for key in ("accuracy", "corrupted"):
        acc = np.asarray(out[key], dtype=float)                       # (models, rewinds, seeds, methods, levels)
        chosen = np.take_along_axis(acc[:, :, :, ticket:ticket + 1], level, -1)
        out[key] = np.concatenate([acc, np.broadcast_to(chosen, acc[:, :, :, :1].shape)], axis=3)
    out["methods"] = [*out["methods"], "chosen"]
    return out


# how the chapter draws and tables each method: (label, colour, marker), in the paper's table order
METHOD_STYLE = {"interpolation": ("Lottery Pools (interpolation)", "#dc2626", "D"),
                "average": ("Lottery Pools (average)", "#2563eb", "s"), "swa": ("SWA", "#059669", "^"),
                "ema": ("EMA (0.95 on the average)", "#7c3aed", "v"),
                "ema_code": ("EMA (0.95 on the new ticket, the code)", "#c026d3", "<"),
                "ticket": ("original tickets", "#111827", "o"), "bn_only": ("tickets, BN recalibrated", "#6b7280", "x"),
                "chosen": ("validation-chosen ticket", "#d97706", "*")}


def accuracy_table(result, model: int):
    """App. Tables 6-7 for one model with rewinding, turned to fit the page: a row per density, a column
    per method, accuracy (%) as the mean over seeds ± the half width of its 95% t interval (the book's
    convention, :data:`rglt.stats.CONVENTION`; the paper's tables give ± std), the best mean of each row
    in bold (with the validation-chosen ticket's column where ``result`` comes from :func:`with_chosen`). A
    :class:`rglt.report.Table`."""
    from rglt import report
    acc = 100 * np.asarray(result["accuracy"], dtype=float)[model, 0]     # (seeds, methods, levels)
    methods, density = list(result["methods"]), 100 * np.asarray(result["density"], dtype=float)
    shown = [m for m in METHOD_STYLE if m in methods]       # "chosen" where the result has it (with_chosen)
    rows, classes = [], []
    for t in range(acc.shape[-1]):
        cells = {m: stats.mean_interval(acc[:, methods.index(m), t]) for m in shown}
        best = max(v.mean for v in cells.values())
        is_best = [bool(np.isclose(v.mean, best)) for v in cells.values()]
        rows.append([f"{density[t]:.2f}"] + [f"{v.mean:.2f}±{v.high - v.mean:.2f}" for v in cells.values()])
        classes.append([""] + ["rglt-best" if b else "" for b in is_best])
    return report.table(rows, ["weights remaining (%)"] + [METHOD_STYLE[m][0] for m in shown],
                        title=f"{result['models'][model]}, with rewinding: test accuracy (%), mean ± half width of "
                              f"the {CONVENTION}; the best of its row in bold", classes=classes)


# ---- claims --------------------------------------------------------------------------------------

SOURCE = "003 Sec. Experiments (Fig. 3a), App. Tables 6-7"
# 003 App. Tables 6-7, CIFAR-100, with rewinding: Lottery Pools (interpolation) minus the original ticket
PAPER_GAINS = {"resnet18": "+0.27 to +2.22 points by density (1.80% to 100%)",
               "vgg16": "+0.27 to +1.88 points by density (1.80% to 100%)"}
PAPER_DENSE = {"resnet18": "'outperform the original dense ResNet-18 by 2.22%' (CIFAR-100)",
               "vgg16": "'the original dense VGG-16 by 1.69% on CIFAR-100'"}
PAPER_SPARSEST = {"resnet18": "003 Tables 6-7: 72.57 against 72.30 at 1.80% of the weights, +0.27 (CIFAR-100)",
                  "vgg16": "'0.81% higher accuracy over the LTs with VGG-16 on CIFAR-100 ... with only 1.8% weights'"}
PAPER_OOD = {"resnet18": "'up to ... 2.36% with ResNet-18 on CIFAR-100' (-C, sparse)",
             "vgg16": "'up to 2.27% performance gain with VGG-16' (CIFAR-100-C, sparse)"}
# 003 Tables 6-7, CIFAR-100: how far the dense network is below its best original ticket (points)
PAPER_REGIME = {"resnet18": "73.45 against 74.40: 0.95", "vgg16": "71.63 against 72.03: 0.40"}
# version 1's reading of the regime, on test accuracy and the plain maximum over levels
REGIME_V1 = ("the paper's regime: the dense network within {gap:g} point of its best ticket (test accuracy), so "
             "that the tickets merged are about as good as each other")
REGIME = ("the paper's regime: the dense network within {gap:g} point of its best ticket on validation, the best "
          "level chosen on one half of the validation split and scored on the other, both ways "
          "(rglt.stats.crossfit_best_gain), so that the tickets merged are about as good as each other")
REGIME_CHANGE = ("the regime is read on validation, not test, and the best level is cross-fitted: the maximum of "
                 "20 noisy level means sits about 1.9 standard errors above the truth (a winner's curse, seen in "
                 "the pilot of lottery_pools_regime); the rule as first written is reported beside it")


def regime_on_validation(val_correct, gap: float, name: str = "") -> tuple[bool, str]:
    """The paper's regime for one model's chains with rewinding, from every level's validation hits
    ``val_correct`` (seeds, levels, examples), level 0 the dense network: holds when the best ticket's
    cross-fitted lead over the dense network (:func:`rglt.stats.crossfit_best_gain`) is below ``gap``
    points. The text gives the plain maximum too, the rule as first written."""
    fit = stats.crossfit_best_gain(val_correct)
    cross, plain = 100 * fit.cross_fitted, 100 * fit.plain
    paper = f"; 003 Tables 6-7: {PAPER_REGIME[name]}" if name in PAPER_REGIME else ""
    return bool(cross < gap), (f"{name + ': ' if name else ''}the best ticket {cross:+.2f} points ahead of the dense "
                               f"network on validation, cross-fitted (the plain maximum, the rule as first written: "
                               f"{plain:+.2f}, {'within' if plain < gap else 'outside'} {gap:g}){paper}")


def regime(tickets, gap: float, name: str = "") -> tuple[bool, str]:
    """Version 1's reading of the regime (the registered rules' precondition) for one chain of tickets,
    ``tickets``: test accuracy (fractions), (seeds, levels) with level 0 the dense network. Holds when
    the dense network's seed mean is within ``gap`` points of the best level's seed mean. Returns
    ``(holds, the measured numbers)`` for :meth:`rglt.claims.Rule.judge`."""
    mean = 100 * np.asarray(tickets, dtype=float).mean(0)
    best = int(np.argmax(mean))
    below = mean[best] - mean[0]
    paper = f"; 003 Tables 6-7: {PAPER_REGIME[name]}" if name in PAPER_REGIME else ""
    return bool(below < gap), (f"{name + ': ' if name else ''}dense {mean[0]:.1f}% against the best ticket's "
                               f"{mean[best]:.1f}% (level {best}), {below:.1f} points below{paper}")


def _regimes(result, gap: float) -> dict[str, tuple[bool, str]]:
    correct = np.asarray(result["val_correct"])[:, 0]
    return {name: regime_on_validation(correct[k], gap, name) for k, name in enumerate(result["models"])}


def _regimes_v1(result, gap: float) -> dict[str, tuple[bool, str]]:
    ticket = np.asarray(result["accuracy"], dtype=float)[:, 0, :, list(result["methods"]).index("ticket")]
    return {name: regime(ticket[k], gap, name) for k, name in enumerate(result["models"])}


def deciding_cell(intervals, low: float = -math.inf, high: float = math.inf) -> int:
    """For a claim that must hold at every cell (each cell's own interval inside ``(low, high)``, no
    correction: intersection-union), the cell that decides it: the one farthest outside the region
    if any lies outside, else the one reaching farthest past a boundary, else the one nearest one."""
    lo = np.array([iv.low for iv in intervals])
    hi = np.array([iv.high for iv in intervals])
    outside = np.maximum(low - hi, lo - high)            # > = 0: the whole interval outside
    if np.any(outside >= 0):
        return int(np.argmax(outside))
    with np.errstate(invalid="ignore"):      # an infinite interval (one seed) on a side with no boundary
        below, above = (np.where(np.isnan(m), math.inf, m) for m in (lo - low, high - hi))
    return int(np.argmin(np.minimum(below, above)))


def rules(config: Config) -> tuple[Rule, ...]:
    """Version 2's rules: version 1's (:func:`_rules_v1`) with the regime read on validation, the dense
    claims required to beat the validation-chosen ticket too, rewinding judged on Lottery Pools' own
    accuracy, and a row per model against the validation-chosen ticket. Each changed rule keeps its
    registered version, so a row shows its verdict under both."""
    pre, paired = REGIME.format(gap=config.regime_gap), f"paired t interval over seeds ({CONVENTION})"
    out = []
    for rule in _rules_v1(config):
        new = {}
        if rule.precondition:
            new.update(precondition=pre, change=REGIME_CHANGE)
        if rule.id.endswith("_dense"):
            new.update(claim=rule.claim + ", better than both the dense network and the validation-chosen ticket",
                       what="Lottery Pools at 100% density minus the dense network or the validation-chosen ticket, "
                            "whichever decides (points)",
                       test=f"{paired} of each difference, both above 0 (intersection-union)",
                       change=REGIME_CHANGE + "; a dense network better than the dense one but not than the best "
                                              "ticket adds nothing beyond ticket selection (issue 31)")
        if rule.id == "rewinding":
            new.update(what="Lottery Pools' test accuracy with rewinding minus without, mean over the densities pooled "
                            "both ways, at the deciding model (points)",
                       change=REGIME_CHANGE + "; judged on Lottery Pools' own accuracy, not on its gain over each "
                                              "run's own (weaker without rewinding) tickets, which is shown beside it")
        out.append(dataclasses.replace(rule, registered=rule, **new) if new else rule)
    for model in config.models:
        out.append(Rule(f"{model.name}_over_chosen",
                        f"{model.name}: Lottery Pools (interpolation) beats the best ticket chosen on validation, "
                        "on average over densities (with rewinding)",
                        "003 Sec. Experiments (Fig. 3a); issue 31: the baseline that ticket selection alone gives",
                        "no number: the paper compares with the original ticket at each density only",
                        "Lottery Pools minus the validation-chosen ticket of the same run, mean over densities (points)",
                        f"{paired} of each seed's mean over densities", low=0.0, precondition=pre))
    return tuple(out)


def _rules_v1(config: Config) -> tuple[Rule, ...]:
    gap = config.regime_gap
    pre = REGIME_V1.format(gap=gap)
    paired = f"paired t interval over seeds ({CONVENTION}), ticket and Lottery Pools from the same IMP run"
    out = []
    for model in config.models:
        name = model.name
        out += [
            Rule(f"{name}_every_density",
                 f"{name}: Lottery Pools (interpolation) beats the original ticket at every density, dense included "
                 "(with rewinding)", SOURCE,
                 "'a clear performance gain ... under different sparsity levels (including the dense network)'; "
                 f"003 Tables 6-7: {PAPER_GAINS.get(name, 'no number for this model')}",
                 "Lottery Pools minus the ticket at the deciding density (points)",
                 f"each density's own {paired}, all above 0 (intersection-union, no correction); the effect "
                 "is the density that decides", low=0.0, precondition=pre),
            Rule(f"{name}_dense",
                 f"{name}: averaging the tickets back into the dense network makes a stronger dense network",
                 "003 Sec. Experiments (Fig. 3a, density 100%)", PAPER_DENSE.get(name, "no number for this model"),
                 "Lottery Pools minus the dense network (points)", paired, low=0.0, precondition=pre),
            Rule(f"{name}_sparsest", f"{name}: the gain holds at the sparsest ticket", "003 Sec. Experiments",
                 PAPER_SPARSEST.get(name, "no number for this model"),
                 "Lottery Pools minus the ticket at the sparsest level (points)", paired, low=0.0, precondition=pre),
            Rule(f"{name}_shift", f"{name}: Lottery Pools improves accuracy under distribution shift (Fig. 3c)",
                 "003 Sec. Experiments (Out-of-distribution robustness)", PAPER_OOD.get(name, "no number for this model"),
                 "Lottery Pools minus the ticket on the corrupted test sets, mean over densities (points)",
                 f"{paired}, of each seed's mean over densities", low=0.0, precondition=pre),
        ]
    out += [
        Rule("interpolation_vs_average", "Lottery Pools (interpolation) is better than Lottery Pools (average)",
             "003 Sec. Experiments (Fig. 3a)", "'achieves better performance than Lottery Pools (Average)'",
             "interpolation minus average, mean over models and densities (points)",
             f"paired t interval over seeds ({CONVENTION}) of each seed's mean over models and densities", low=0.0),
        Rule("rewinding", "rewinding matters: the gain of interpolating tickets is larger with rewinding than without",
             "003 Sec. Methodology (Fig. 1, Fig. 2)", "'a significant accuracy drop without rewinding'",
             "gain with rewinding minus gain without, mean over densities, at the deciding model (points)",
             f"each model's own paired t interval over seeds ({CONVENTION}; the runs with and without rewinding "
             "share a seed), all above 0", low=0.0, precondition=pre),
        Rule("swa_ema", "Lottery Pools beats both SWA and EMA (re-pruned and recalibrated the same way) in most cases",
             "003 Sec. Experiments (Fig. 3b), App. Tables",
             "'outperforms the other baselines by a large margin'; 60 of 76 cases on CIFAR-10/100",
             "share of the (model, density) cases where Lottery Pools is ahead of both",
             "per case, one-sided paired t tests over seeds against SWA and against EMA (ahead of both: the larger "
             "p; behind one: twice the smaller), Holm over the cases at the 5% level; the interval runs from the "
             "share of cases shown ahead to one minus the share shown not ahead", low=0.5),
        Rule("bn_share", "the gain comes from merging tickets, not from recalibrating BatchNorm",
             "003 App. Tables 6-7 (beyond the paper: its SWA / EMA land within a few tenths of Lottery Pools)",
             "no number: the paper does not separate the steps",
             "BN recalibration's gain minus half of Lottery Pools' gain, mean over models and densities (points)",
             f"paired t interval over seeds ({CONVENTION}) of each seed's mean over models and densities; "
             "below 0: recalibration alone gives less than half of the gain", high=0.0),
    ]
    return tuple(out)


def _per_seed(points) -> np.ndarray:
    """(seeds, ...) -> each seed's mean over the rest."""
    points = np.asarray(points, dtype=float)
    return points.reshape(points.shape[0], -1).mean(1)


def _holm_share(ahead: list[float], behind: list[float], share: float, seeds: int,
                alpha: float = 1 - stats.LEVEL) -> Interval:
    """The share of cases ahead, bounded by Holm: from the cases shown ahead to one minus those shown not."""
    shown = int(np.sum(stats.holm(ahead) <= alpha))
    refuted = int(np.sum(stats.holm(behind) <= alpha))
    m = len(ahead)
    return Interval(share, shown / m, 1 - refuted / m, seeds, math.nan,
                    f"Holm over {m} cases: {shown} shown ahead of both, {refuted} shown not ahead")


def checks(result, config: Config) -> list[Claim]:
    by_id = {r.id: r for r in rules(config)}
    regimes, registered_regimes = _regimes(result, config.regime_gap), _regimes_v1(result, config.regime_gap)
    density = 100 * np.asarray(result["density"], dtype=float)
    out, beyond_selection = [], []
    for k, name in enumerate(result["models"]):
        old = {"registered_precondition": registered_regimes[name]}
        g = gain(result, "interpolation")[k, 0]                            # (seeds, levels)
        cells = [stats.mean_interval(g[:, t]) for t in range(g.shape[1])]
        t = deciding_cell(cells, 0.0)
        mean = g.mean(0)
        out.append(by_id[f"{name}_every_density"].judge(
            cells[t], precondition=regimes[name], **old,
            ours=f"gain {mean.min():+.2f} to {mean.max():+.2f} points by density; each density's interval above 0 "
                 f"at {sum(c.low > 0 for c in cells)} of {len(cells)}, below at {sum(c.high <= 0 for c in cells)}; "
                 f"deciding density {density[t]:.2f}%"))
        over_chosen = gain(result, "interpolation", "chosen")[k, 0]      # (seeds, levels)
        dense = [stats.mean_interval(g[:, 0]), stats.mean_interval(over_chosen[:, 0])]
        chosen = 100 * np.asarray(result["density"], dtype=float)[chosen_level(result)[k, 0]]
        out.append(by_id[f"{name}_dense"].judge(
            dense[deciding_cell(dense, 0.0)], precondition=regimes[name], registered=dense[0], **old,
            ours=f"dense {name}: {dense[0].mean:+.2f} points over the dense network, {dense[1].mean:+.2f} over the "
                 f"validation-chosen ticket (chosen at {', '.join(f'{d:.1f}' for d in chosen)}% density by seed)"))
        out.append(by_id[f"{name}_sparsest"].judge(stats.mean_interval(g[:, -1]), precondition=regimes[name], **old,
                                                   ours=f"{mean[-1]:+.2f} points at {density[-1]:.2f}% of the weights"))
        beyond_selection.append(by_id[f"{name}_over_chosen"].judge(      # last, in the rules' order
            stats.mean_interval(over_chosen.mean(1)), precondition=regimes[name],
            ours=f"{over_chosen.mean(0).min():+.2f} to {over_chosen.mean(0).max():+.2f} points by density"))
        ood = gain(result, "interpolation", on="corrupted")[k, 0]
        top = int(np.argmax(ood.mean(0)))
        out.append(by_id[f"{name}_shift"].judge(
            stats.mean_interval(ood.mean(1)), precondition=regimes[name], **old,
            ours=f"on the mean of {len(result['corruptions'])} corrupted test sets: {ood.mean():+.2f} points on "
                 f"average over densities, up to {ood.mean(0)[top]:+.2f} (at {density[top]:.2f}%)"))
    inter = gain(result, "interpolation", "average")[:, 0]                  # (models, seeds, levels)
    per_seed = _per_seed(np.moveaxis(inter, 1, 0))
    out.append(by_id["interpolation_vs_average"].judge(
        stats.mean_interval(per_seed),
        ours=f"ahead in {int(np.sum(inter.mean(1) > 0))} of {inter.shape[0] * inter.shape[2]} (model, density) "
             "cases on the seed mean"))
    both_ways = ~np.isnan(np.asarray(result["accuracy"], dtype=float)[:, 1]).any(axis=(0, 1, 2))   # (levels,)
    lp = 100 * np.asarray(result["accuracy"], dtype=float)[..., list(result["methods"]).index("interpolation"), :]
    lp, g = lp[..., both_ways], gain(result, "interpolation")[..., both_ways]   # (models, rewinds, seeds, levels)
    diff = [stats.mean_interval(lp[k, 0].mean(-1), paired_with=lp[k, 1].mean(-1)) for k in range(lp.shape[0])]
    diff_gain = [stats.mean_interval(g[k, 0].mean(-1), paired_with=g[k, 1].mean(-1)) for k in range(g.shape[0])]
    k, k_gain = deciding_cell(diff, 0.0), deciding_cell(diff_gain, 0.0)

    def both(reading):
        return (all(reading[n][0] for n in result["models"]), "; ".join(reading[n][1] for n in result["models"]))
    out.append(by_id["rewinding"].judge(
        diff[k], precondition=both(regimes), registered=diff_gain[k_gain], registered_precondition=both(registered_regimes),
        ours=", ".join(f"{n}: Lottery Pools {lp[j, 0].mean():.2f}% with rewinding, {lp[j, 1].mean():.2f}% without; "
                       f"gain over its own tickets {g[j, 0].mean():+.2f} with, {g[j, 1].mean():+.2f} without"
                       for j, n in enumerate(result["models"]))
             + f" (at the {int(both_ways.sum())} densities pooled both ways); deciding model {result['models'][k]}"))
    lp_swa, lp_ema = (-gain(result, kind, "interpolation")[:, 0] for kind in ("swa", "ema"))   # (models, seeds, levels)
    ahead, behind, mean_ahead = [], [], []
    for j in range(lp_swa.shape[0]):
        for t in range(lp_swa.shape[2]):
            a, b = lp_swa[j, :, t], lp_ema[j, :, t]
            if len(a) < 2:      # one seed tests nothing: the case is shown neither way
                ahead.append(1.0)
                behind.append(1.0)
            else:
                ahead.append(max(stats.superiority_test(a), stats.superiority_test(b)))
                behind.append(min(1.0, 2 * min(stats.superiority_test(-a), stats.superiority_test(-b))))
            mean_ahead.append(a.mean() > 0 and b.mean() > 0)
    share = _holm_share(ahead, behind, float(np.mean(mean_ahead)), lp_swa.shape[1])
    claim = by_id["swa_ema"].judge(
        share, ours=f"ahead of both on the seed mean in {int(np.sum(mean_ahead))} of {len(mean_ahead)} (model, density) "
                    f"cases; mean margin {lp_swa.mean():+.2f} over SWA, {lp_ema.mean():+.2f} over EMA")
    if claim.verdict == "inconclusive":   # the seeds-to-decide count of a t interval does not apply to a Holm count
        claim = dataclasses.replace(claim, reason=f"{measured_text(share, by_id['swa_ema'].what)}: between {share.low:.0%} and "
                                    f"{share.high:.0%} of the cases are ahead of both, across the claimed 50%: "
                                    "more seeds would show more cases either way")
    out.append(claim)
    recal = _per_seed(np.moveaxis(gain(result, "bn_only")[:, 0], 1, 0))
    total = _per_seed(np.moveaxis(gain(result, "interpolation")[:, 0], 1, 0))
    steps = [("bn_only", "ticket"), ("swa", "bn_only"), ("interpolation", "swa")]
    parts = {f"{a} over {b}": stats.mean_interval(_per_seed(np.moveaxis(gain(result, a, b)[:, 0], 1, 0))) for a, b in steps}
    out.append(by_id["bn_share"].judge(
        stats.mean_interval(recal - 0.5 * total),
        ours="; ".join(f"{n}: {iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]" for n, iv in parts.items())
             + f" (points, mean over models and densities, {CONVENTION}); total {total.mean():+.2f}"))
    return out + beyond_selection
