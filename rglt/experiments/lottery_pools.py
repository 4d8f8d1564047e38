"""Lottery Pools against the tickets it starts from (seed 003: Figs. 3a-3c, Tables 6-7), with the gain
taken apart step by step. The analyses (Figs. 1, 2, 4-8, the authors' script) are
``lottery_pools_analysis``, on the same ResNet-18 runs.

IMP as Lottery Pools' ``main_imp.py`` does it: 20% of the surviving conv weights per round (the
classifier never), 19 rounds, with rewinding to ~5% of training and without (rewinding to the
initialisation), for a 1D ResNet-18 and a 1D VGG-16. The task is MNIST-1D with 1,800 training signals
and noise severity 2, so that accuracy sits well below saturation and a gain of 1-2 points can show
(measured at the cpu profile: dense 72% for ResNet-18 and 66% for VGG-16, their tickets up to 83% and
80%: unlike the paper's, the dense networks are far below their best tickets, see :func:`regime`);
200 more training signals (10% of the 2,000, as the paper's App. Table 3) form the validation split on
which every selection is made. Test data are never seen by a selection.

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
VERSION = 1
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

    def __post_init__(self):
        require(len(self.models) >= 1 and all(isinstance(m, ModelSpec) for m in self.models), "models",
                "a non-empty tuple of rglt.prune.ModelSpec", self.models)
        check_int(self.rounds, "rounds", 2)
        check_int(self.seeds, "seeds", 2)
        check_int(self.bn_batches, "bn_batches", 1)
        check_real(self.ema_decay, "ema_decay", 0, 1, low_open=True, high_open=True)
        check_choice(self.tie_break, "tie_break", pools.TIE_BREAKS)
        require(self.targets is None or all(isinstance(t, int) and 0 <= t <= self.rounds for t in self.targets),
                "targets", f"None or a tuple of levels in [0, {self.rounds}]", self.targets)


_tiny = TrainConfig(epochs=2, batch_size=64, lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="step")
CONFIGS = {
    "smoke": Config(models=(ModelSpec("resnet18", width=4), ModelSpec("vgg16", width=4)),
                    task=Task(train_size=256, val_size=64, noise=2), train=_tiny, rounds=3, rewind_step=1, seeds=2,
                    bn_batches=1),
    "cpu": Config(),
    # 003 Tables 2 and 4: CIFAR-10/100 from RGLT_DATA, 182 epochs, batch 128, lr 0.1 dropped at 91 and
    # 136, rewind to epoch 9, 19 rounds (45,000 training images: 352 steps an epoch)
    "gpu": Config(models=(ModelSpec("resnet18"), ModelSpec("vgg16")), task=Task("cifar100"),
                  train=TrainConfig(epochs=182, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                                    schedule="step", milestones=(91 / 182, 136 / 182), augment="crop4-flip"),
                  rewind_step=9 * 352, bn_batches=40),
}


def ticket_run(config: Config, model: ModelSpec, rewind: bool, replicate: int) -> TicketRun:
    return TicketRun(model, config.task, dataclasses.replace(config.train, seed=replicate),
                     IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step if rewind else 0),
                     prunable="no-fc", replicate=replicate)


def runs(config: Config) -> list[TicketRun]:
    return [ticket_run(config, m, rewind == REWINDS[0], r) for m in config.models for rewind in REWINDS
            for r in range(config.seeds)]


def _pool_job(job) -> dict:
    """Every method at every target level of one run (one worker process, one thread), on the clean
    test set and on the mean over the corrupted ones (Fig. 3c)."""

    config, run = job
    store, data = store_of(run), load_task(run.task)
    sets = list(corrupted_tests(run.task).values())
    shifted = tuple(torch.cat(parts) for parts in zip(*sets))   # equal-sized sets: its accuracy is their mean
    model = run.model.build(data, seed=run.replicate)
    levels = store.levels()
    targets = list(config.targets) if config.targets is not None else levels
    score = pools.scorer(model, data.val)

    def test(state, method):
        model.load_state_dict(dict(state))
        return (evaluate(model, data.test)["accuracy"],
                evaluate(model, shifted)["accuracy"] if method in SHIFTED_METHODS else np.nan)

    accuracy = np.full((2, len(METHODS), len(levels)), np.nan)      # (clean / corrupted, methods, levels)
    accepted = np.zeros(len(levels))
    for t in targets:
        ticket = store.load(t)
        finish = pools.finisher(model, ticket.masks, data.train[0], batches=config.bn_batches)
        candidates = [(n, (lambda n=n: store.load(n).weights)) for n in pools.adjacency_order(t, levels)]
        states = {"ticket": ticket.weights, "bn_only": finish(ticket.weights),
                  "average": pools.greedy(ticket.weights, candidates, score, finish, coefficients=(0.5,),
                                          tie_break=config.tie_break)[0]}
        states["interpolation"], steps = pools.greedy(ticket.weights, candidates, score, finish,
                                                      tie_break=config.tie_break)
        accepted[t] = sum(s.accepted for s in steps)
        for method, kind, decay in (("swa", "swa", 0.5), ("ema", "ema", config.ema_decay), ("ema_code", "ema", 1 - config.ema_decay)):
            states[method] = pools.running_average(ticket.weights, candidates, score, finish, kind=kind, decay=decay)[0]
        for m, method in enumerate(METHODS):
            accuracy[:, m, t] = test(states.pop(method), method)
    return {"accuracy": accuracy, "accepted": accepted,
            "density": np.array([store.load(n).density for n in levels])}


def run(config: Config) -> dict:
    load_task(config.task)  # a missing data root fails here, before any training
    all_runs = runs(config)
    run_all(all_runs, workers=config.workers)
    done = map_jobs(_pool_job, [(config, r) for r in all_runs], workers=config.workers, desc="Lottery Pools")
    shape = (len(config.models), len(REWINDS), config.seeds)
    accuracy = np.stack([d["accuracy"] for d in done]).reshape(*shape, 2, len(METHODS), -1)
    accepted = np.stack([d["accepted"] for d in done]).reshape(*shape, -1)
    return {"models": [m.name for m in config.models], "rewinds": list(REWINDS), "methods": list(METHODS),
            "density": done[0]["density"], "accuracy": accuracy[:, :, :, 0], "corrupted": accuracy[:, :, :, 1],
            "corruptions": list(corrupted_tests(config.task)), "accepted": accepted}


def gain(result, method: str, over: str = "ticket", *, on: str = "accuracy") -> np.ndarray:
    """Accuracy points of ``method`` over ``over``: (models, rewinds, seeds, levels); ``on``: "accuracy"
    (the clean test set) or "corrupted" (the mean over the corrupted test sets)."""
    acc = np.asarray(result[on], dtype=float)
    methods = list(result["methods"])
    return 100 * (acc[:, :, :, methods.index(method)] - acc[:, :, :, methods.index(over)])


# how the chapter draws and tables each method: (label, colour, marker), in the paper's table order
METHOD_STYLE = {"interpolation": ("Lottery Pools (interpolation)", "#dc2626", "D"),
                "average": ("Lottery Pools (average)", "#2563eb", "s"), "swa": ("SWA", "#059669", "^"),
                "ema": ("EMA (0.95 on the average)", "#7c3aed", "v"),
                "ema_code": ("EMA (0.95 on the new ticket, the code)", "#c026d3", "<"),
                "ticket": ("original tickets", "#111827", "o"), "bn_only": ("tickets, BN recalibrated", "#6b7280", "x")}


def accuracy_table(result, model: int):
    """App. Tables 6-7 for one model with rewinding, turned to fit the page: a row per density, a column
    per method, accuracy (%) as the mean over seeds ± the half width of its 95% t interval (the book's
    convention, :data:`rglt.stats.CONVENTION`; the paper's tables give ± std), the best mean of each row
    in bold. A :class:`rglt.report.Table`."""
    from rglt import report
    acc = 100 * np.asarray(result["accuracy"], dtype=float)[model, 0]     # (seeds, methods, levels)
    methods, density = list(result["methods"]), 100 * np.asarray(result["density"], dtype=float)
    rows, classes = [], []
    for t in range(acc.shape[-1]):
        cells = {m: stats.mean_interval(acc[:, methods.index(m), t]) for m in METHOD_STYLE}
        best = max(v.mean for v in cells.values())
        is_best = [bool(np.isclose(v.mean, best)) for v in cells.values()]
        rows.append([f"{density[t]:.2f}"] + [f"{v.mean:.2f}±{v.high - v.mean:.2f}" for v in cells.values()])
        classes.append([""] + ["rglt-best" if b else "" for b in is_best])
    return report.table(rows, ["weights remaining (%)"] + [label for label, _, _ in METHOD_STYLE.values()],
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
REGIME = ("the paper's regime: the dense network within {gap:g} point of its best ticket (test accuracy), so that "
          "the tickets merged are about as good as each other")


def regime(tickets, gap: float, name: str = "") -> tuple[bool, str]:
    """The paper's regime for one chain of tickets, ``tickets``: test accuracy (fractions), (seeds,
    levels) with level 0 the dense network. Holds when the dense network's seed mean is within ``gap``
    points of the best level's seed mean. Returns ``(holds, the measured numbers)`` for
    :meth:`rglt.claims.Rule.judge`. On test accuracy: the stored results keep no validation accuracy."""
    mean = 100 * np.asarray(tickets, dtype=float).mean(0)
    best = int(np.argmax(mean))
    below = mean[best] - mean[0]
    paper = f"; 003 Tables 6-7: {PAPER_REGIME[name]}" if name in PAPER_REGIME else ""
    return bool(below < gap), (f"{name + ': ' if name else ''}dense {mean[0]:.1f}% against the best ticket's "
                               f"{mean[best]:.1f}% (level {best}), {below:.1f} points below{paper}")


def _regimes(result, gap: float) -> dict[str, tuple[bool, str]]:
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
    gap = config.regime_gap
    pre = REGIME.format(gap=gap)
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
    regimes = _regimes(result, config.regime_gap)
    density = 100 * np.asarray(result["density"], dtype=float)
    out = []
    for k, name in enumerate(result["models"]):
        g = gain(result, "interpolation")[k, 0]                            # (seeds, levels)
        cells = [stats.mean_interval(g[:, t]) for t in range(g.shape[1])]
        t = deciding_cell(cells, 0.0)
        mean = g.mean(0)
        out.append(by_id[f"{name}_every_density"].judge(
            cells[t], precondition=regimes[name],
            ours=f"gain {mean.min():+.2f} to {mean.max():+.2f} points by density; each density's interval above 0 "
                 f"at {sum(c.low > 0 for c in cells)} of {len(cells)}, below at {sum(c.high <= 0 for c in cells)}; "
                 f"deciding density {density[t]:.2f}%"))
        out.append(by_id[f"{name}_dense"].judge(stats.mean_interval(g[:, 0]), precondition=regimes[name],
                                                ours=f"dense {name}: {mean[0]:+.2f} points"))
        out.append(by_id[f"{name}_sparsest"].judge(stats.mean_interval(g[:, -1]), precondition=regimes[name],
                                                   ours=f"{mean[-1]:+.2f} points at {density[-1]:.2f}% of the weights"))
        ood = gain(result, "interpolation", on="corrupted")[k, 0]
        top = int(np.argmax(ood.mean(0)))
        out.append(by_id[f"{name}_shift"].judge(
            stats.mean_interval(ood.mean(1)), precondition=regimes[name],
            ours=f"on the mean of {len(result['corruptions'])} corrupted test sets: {ood.mean():+.2f} points on "
                 f"average over densities, up to {ood.mean(0)[top]:+.2f} (at {density[top]:.2f}%)"))
    inter = gain(result, "interpolation", "average")[:, 0]                  # (models, seeds, levels)
    per_seed = _per_seed(np.moveaxis(inter, 1, 0))
    out.append(by_id["interpolation_vs_average"].judge(
        stats.mean_interval(per_seed),
        ours=f"ahead in {int(np.sum(inter.mean(1) > 0))} of {inter.shape[0] * inter.shape[2]} (model, density) "
             "cases on the seed mean"))
    g = gain(result, "interpolation")                                       # (models, rewinds, seeds, levels)
    diff = [stats.mean_interval(g[k, 0].mean(-1), paired_with=g[k, 1].mean(-1)) for k in range(g.shape[0])]
    k = deciding_cell(diff, 0.0)
    both = (all(regimes[n][0] for n in result["models"]), "; ".join(regimes[n][1] for n in result["models"]))
    out.append(by_id["rewinding"].judge(
        diff[k], precondition=both,
        ours=", ".join(f"{n}: {g[j, 0].mean():+.2f} with, {g[j, 1].mean():+.2f} without"
                       for j, n in enumerate(result["models"])) + f"; deciding model {result['models'][k]}"))
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
    return out
