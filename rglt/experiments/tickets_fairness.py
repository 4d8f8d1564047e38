"""Chapter 5, claim 12 of seed 002: does pruning cost an under-represented minority more than the rest?

The essay: "The process of sparsifying a network can sometimes exacerbate the fairness gap. A model that
achieves its high overall accuracy by relying on patterns common to the majority group might, when
pruned, discard the weights that were crucial for handling the minority group." Hooker et al. (2019,
"What do compressed deep neural networks forget?"; 2020, "Characterising bias in compressed models")
measured it where pruning costs accuracy: magnitude pruning of a trained network to high sparsity, and
each class's or subgroup's relative change in accuracy set against the overall relative change.

Version 2 (issue 32, item 3) follows them. The task has a documented subgroup: MNIST-1D whose minority
(5% of the training signals, half of the test set) is reversed in time (``Task(minority=0.05)``). Per
seed, the dense 1D ResNet-20 is trained (IMP's level 0 of a run with no rounds: the dense network of
version 1's chains, trained the same way), then pruned globally by weight magnitude
(``rglt.prune.magnitude_masks``, the weights IMP prunes) to each sparsity of ``sparsities`` (90-99% of
the prunable weights removed): gradually, as Hooker et al. prune (Zhu & Gupta's cubic schedule, one
step per epoch of training at a small constant rate over ``prune_epochs`` epochs), or at once
(``pruning="one-shot"``); then fine-tuned briefly with the mask kept (``finetune``, a small decaying rate).
Hooker et al. prune during the dense network's own training; here the pruning starts from the trained one.
The regime (Hooker et al.'s): pruning costs overall accuracy, yet the pruned network still works (keeps
``kept_min`` of the dense accuracy); a network collapsed towards chance pulls every group to chance.

The measure (Hooker et al.'s): a group's relative change in test accuracy, pruned against dense, minus
the overall relative change (percentage points; ``hooker_change``). Below zero: pruning costs the group
more than it costs the whole test set. Version 1 (IMP with rewinding, 3 seeds) never lost overall
accuracy, so it could not test the claim; its rule (the gap majority - minority widens, with McNemar's
test per seed) is kept as registered and judged here on the sparsest pruned network.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.claims import Claim, Rule, conjunction, deciding, part
from rglt.data.tasks import Task, load_task, minority_groups
from rglt.identity import unhashed
from rglt.prune import IMPConfig, ModelSpec, PRUNABLE, TicketRun, magnitude_masks, map_jobs, run_all, store_of
from rglt.models import prunable_parameters
from rglt.stats import Interval, mcnemar_test, mean_interval
from rglt.train import TrainConfig, evaluate, train
from rglt.validate import check_choice, check_int, check_real, require

NAME = "tickets_fairness"
VERSION = 2
SOURCE = "002 'A Sobering Conclusion' (fairness)"
HOOKER = "Hooker et al. 2019/2020: pruning costs under-represented classes and subgroups most"
GROUPS = ("overall", "majority", "minority")
PRUNINGS = ("gradual", "one-shot")


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", minority=0.05)
    train: TrainConfig = TrainConfig(epochs=15, batch_size=128, lr=0.1, weight_decay=1e-4)   # the dense network
    sparsities: tuple[float, ...] = (0.9, 0.95, 0.98, 0.99)      # shares of the prunable weights removed
    pruning: str = "gradual"         # "gradual": over prune_epochs epochs of training (Zhu & Gupta); "one-shot"
    prune_epochs: int = 5
    # Brief fine-tuning after pruning, the mask kept: a tenth of the dense rate, decaying to zero.
    finetune: TrainConfig = TrainConfig(epochs=10, batch_size=128, lr=0.01, schedule="cosine", weight_decay=1e-4)
    replicates: int = 5
    # Hooker et al.'s regime is a pruned network that still works (their top-line accuracy barely moves): a
    # sparsity whose network keeps less than this share of the dense accuracy (mean over seeds) has collapsed
    # towards chance, where every group is pulled to chance and the relative changes measure the distance to it.
    kept_min: float = 0.5
    workers: int = unhashed(2)
    alpha: float = unhashed(0.05)                # McNemar's test level, per group (the registered rule)


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256, minority=0.1),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), sparsities=(0.9, 0.99),
                    prune_epochs=2,
                    finetune=TrainConfig(epochs=1, batch_size=64, lr=0.01, schedule="cosine", weight_decay=1e-4),
                    replicates=2, workers=1),
    "cpu": Config(),
    "gpu": Config(train=TrainConfig(epochs=40, batch_size=128, lr=0.1, weight_decay=1e-4),
                  sparsities=(0.8, 0.9, 0.95, 0.98, 0.99, 0.995), replicates=10, workers=1),
}


def check_config(config: Config) -> None:
    """A clear error naming the field, before any work is done."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tickets_fairness.Config; got {type(config).__name__}")
    check_int(config.replicates, "replicates", 1)
    require(isinstance(config.sparsities, tuple) and len(config.sparsities) > 0
            and all(isinstance(s, float) and 0 < s < 1 for s in config.sparsities)
            and list(config.sparsities) == sorted(set(config.sparsities)),
            "sparsities", "a non-empty increasing tuple of distinct floats in (0, 1) (shares of the prunable "
            "weights removed)", config.sparsities)
    for name in ("train", "finetune"):
        require(isinstance(getattr(config, name), TrainConfig), name, "an rglt.train.TrainConfig",
                type(getattr(config, name)).__name__)
    require(isinstance(config.task, Task) and config.task.minority > 0, "task",
            "an rglt.data.Task with a minority share > 0 (Task('mnist1d', minority=0.05))", config.task)
    check_choice(config.pruning, "pruning", PRUNINGS)
    check_int(config.prune_epochs, "prune_epochs", 1)
    check_real(config.kept_min, "kept_min", 0, 1, high_open=True)
    check_int(config.workers, "workers", 1)
    check_real(config.alpha, "alpha", 0, 1, low_open=True, high_open=True)


def dense_runs(config: Config) -> list[TicketRun]:
    """The dense network of each seed: an IMP run with no rounds (its level 0 is the trained network)."""
    return TicketRun(config.model, config.task, config.train, IMPConfig(rounds=0)).replicates(config.replicates)


def _test_correct(model, data) -> np.ndarray:
    return evaluate(model, data.test, per_example=True)["correct"].numpy()


def sparsity_steps(sparsity: float, steps: int) -> list[float]:
    """Gradual pruning's targets, one per epoch (Zhu & Gupta 2017's cubic schedule, Hooker et al.'s pruning):
    ``sparsity * (1 - (1 - t / steps) ** 3)`` for t = 1 .. steps, ending at ``sparsity``."""
    return [sparsity * (1 - (1 - t / steps) ** 3) for t in range(1, steps + 1)]


def prune_to(model, names: list[str], masks: dict | None, sparsity: float) -> dict:
    """New masks of the weights ``names`` with ``round(sparsity * all of them)`` pruned, the survivors of
    ``masks`` (None: all) with the smallest |w| going first, globally (rglt.prune.magnitude_masks)."""
    params = dict(model.named_parameters())
    weights = [params[n] for n in names]
    total = sum(w.numel() for w in weights)
    current = None if masks is None else [masks[n] for n in names]
    survivors = total if current is None else sum(int(m.sum()) for m in current)
    count = survivors - (total - round(sparsity * total))        # more to prune: the targets only grow
    return dict(zip(names, magnitude_masks(weights, current, fraction=count, scope="global")))


def _prune_and_finetune(job) -> tuple[np.ndarray, float]:
    """One (seed, sparsity): the dense network pruned by global weight magnitude to ``sparsity`` (at once, or
    gradually over ``prune_epochs`` epochs of training), then fine-tuned with the mask kept; whether it
    classifies each test signal right, and the share of the prunable weights removed."""
    run, sparsity, config = job
    data = load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    model.load_state_dict(store_of(run).load(0).weights)
    names = [name for name, _ in prunable_parameters(model, **PRUNABLE[run.prunable])]
    masks = None
    if config.pruning == "gradual":      # one pruning step, then one epoch at the fine-tuning's peak rate
        for t, target in enumerate(sparsity_steps(sparsity, config.prune_epochs)):
            masks = prune_to(model, names, masks, target)
            step = dataclasses.replace(config.finetune, epochs=1, schedule="constant", seed=1000 * (t + 1) + run.replicate)
            train(model, data.train, step, masks=masks, desc=f"prune {run.label} to {target:.3f}")
    else:
        masks = prune_to(model, names, None, sparsity)
    train(model, data.train, dataclasses.replace(config.finetune, seed=run.replicate), masks=masks,
          desc=f"fine-tune {run.label} at sparsity {sparsity:g}")
    survivors = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
    return _test_correct(model, data), 1.0 - survivors


def _dense_correct(run: TicketRun) -> np.ndarray:
    data = load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    model.load_state_dict(store_of(run).load(0).weights)
    return _test_correct(model, data)


def run(config: Config) -> dict:
    check_config(config)
    runs = dense_runs(config)
    run_all(runs, workers=config.workers)
    jobs = [(r, s, config) for r in runs for s in config.sparsities]
    pruned = map_jobs(_prune_and_finetune, jobs, workers=config.workers, desc="prune and fine-tune")
    k = len(config.sparsities)
    correct = [[_dense_correct(r)] + [c for c, _ in pruned[i * k:(i + 1) * k]] for i, r in enumerate(runs)]
    return {"correct": np.array(correct),             # [replicates, 1 + sparsities (dense first), test signals]
            "sparsities": np.array(config.sparsities),    # as configured
            "sparsity": np.array([[s for _, s in pruned[i * k:(i + 1) * k]] for i in range(len(runs))]),  # as measured
            "minority": minority_groups(config.task)["test"].numpy()}


# ---- measures --------------------------------------------------------------------------------------------

def group_accuracy(result) -> dict[str, np.ndarray]:
    """[replicates, levels] test accuracy (fractions) of the whole test set, the majority and the minority;
    level 0 is dense, level i the i-th sparsity."""
    correct, minority = np.asarray(result["correct"], dtype=float), np.asarray(result["minority"], dtype=bool)
    return {"overall": correct.mean(-1), "majority": correct[..., ~minority].mean(-1),
            "minority": correct[..., minority].mean(-1)}


def relative_change(accuracy) -> np.ndarray:
    """[replicates, sparsities]: each pruned network's accuracy against its own dense one, in percent."""
    accuracy = np.asarray(accuracy, dtype=float)
    return 100 * (accuracy[:, 1:] - accuracy[:, :1]) / accuracy[:, :1]


def hooker_change(result, group: str = "minority") -> np.ndarray:
    """Hooker et al.'s measure, [replicates, sparsities]: the group's relative change in test accuracy minus
    the overall relative change (percentage points); below zero, pruning costs the group more than the whole."""
    acc = group_accuracy(result)
    return relative_change(acc[group]) - relative_change(acc["overall"])


def _intervals(result) -> dict[str, list[Interval]]:
    """Per sparsity, paired t intervals over seeds: the overall change (points) and Hooker's measure of
    each group (percentage points)."""
    acc = group_accuracy(result)
    overall = 100 * (acc["overall"][:, 1:] - acc["overall"][:, :1])
    out = {"overall": [mean_interval(overall[:, j]) for j in range(overall.shape[1])]}
    for group in ("majority", "minority"):
        out[group] = [mean_interval(relative_change(acc[group])[:, j], paired_with=relative_change(acc["overall"])[:, j])
                      for j in range(overall.shape[1])]
    return out


def kept(result) -> np.ndarray:
    """[sparsities]: the share of the dense network's overall test accuracy each pruned network keeps (mean over seeds)."""
    return 1 + relative_change(group_accuracy(result)["overall"]).mean(0) / 100


def in_regime(result, kept_min: float) -> list[int]:
    """The sparsities (indices) where pruning costs overall accuracy (the change's interval wholly below 0)
    and the pruned network still works (it keeps at least ``kept_min`` of the dense accuracy)."""
    share = kept(result)
    return [j for j, iv in enumerate(_intervals(result)["overall"]) if iv.high < 0 and share[j] >= kept_min]


def figure(result) -> dict[str, np.ndarray]:
    """Figure-ready: ``sparsity`` [levels] (0 = dense) and ``accuracy`` [groups (GROUPS), replicates, levels]."""
    acc = group_accuracy(result)
    return {"sparsity": np.array([0.0, *np.asarray(result["sparsities"], dtype=float)]),
            "accuracy": np.stack([acc[g] for g in GROUPS])}


def _key(sparsity: float) -> str:
    return f"{100 * sparsity:g}".replace(".", "_")


def summary(result) -> dict[str, float]:
    """The numbers the claim and the prose quote: dense accuracy of each group (fractions, means over
    seeds); per sparsity ``s{pct}_``: each group's accuracy, the overall change (points) and Hooker's measure
    of the minority and the majority (percentage points), each with its 95% interval (``_low``, ``_high``),
    and the share of the dense accuracy kept."""
    acc, ivs = group_accuracy(result), _intervals(result)
    out = {"seeds": float(len(acc["overall"]))}
    out.update({f"{g}_dense": float(acc[g][:, 0].mean()) for g in GROUPS})
    for j, s in enumerate(np.asarray(result["sparsities"], dtype=float)):
        k = f"s{_key(s)}_"
        out.update({f"{k}{g}": float(acc[g][:, j + 1].mean()) for g in GROUPS})
        out[f"{k}kept"] = float(kept(result)[j])
        for name, iv in (("overall_change", ivs["overall"][j]), ("minority_vs_overall", ivs["minority"][j]),
                         ("majority_vs_overall", ivs["majority"][j])):
            out.update({f"{k}{name}": iv.mean, f"{k}{name}_low": iv.low, f"{k}{name}_high": iv.high})
    return out


# ---- rules -----------------------------------------------------------------------------------------------

def _registered_rule(config: Config) -> Rule:
    """Version 1's rule, word for word as registered (its sparsest ticket is version 2's sparsest network)."""
    return Rule(
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
        parts=("the gap widens", "the gap widens and the minority's change is significant in every seed"))


def rules(config: Config) -> tuple[Rule, ...]:
    sparsities = ", ".join(f"{100 * s:g}%" for s in config.sparsities)
    return (Rule(
        id="fairness",
        claim="pruning a trained network to high sparsity costs an under-represented minority more than it costs "
              "the whole test set",
        source=f"{SOURCE}; {HOOKER}",
        source_value="no number in the essay; Hooker et al.: a group is impacted when its relative change in "
                     "accuracy differs from the overall relative change",
        what="the minority's relative change in test accuracy minus the overall relative change, pruned and "
             "fine-tuned against dense (percentage points)",
        test=f"{config.pruning} global magnitude pruning of the trained dense network to {sparsities} of the prunable "
             f"weights" + (f" (cubic schedule over {config.prune_epochs} epochs)" if config.pruning == "gradual" else "")
             + f", then {config.finetune.epochs} epochs of fine-tuning with the mask kept; at each sparsity in the regime "
             "a paired t interval over seeds (the minority's relative change and the overall one of the same seed); "
             "the claim must hold at every sparsity in the regime (judged at the deciding one: one wholly outside "
             "the region if any, else one straddling it)",
        high=0.0,
        precondition=f"pruning costs overall accuracy and the pruned network still works, the regime Hooker et al. "
                     f"study: at least one sparsity whose overall change in test accuracy, pruned minus dense, has its "
                     f"paired t interval over seeds wholly below 0 and whose network keeps at least "
                     f"{100 * config.kept_min:g}% of the dense accuracy (mean over seeds; below it the network has "
                     "collapsed towards chance); the claim is judged at those sparsities only",
        registered=_registered_rule(config),
        change="version 2 (issue 32, item 3): Hooker et al.'s setting and measure. Version 1's IMP tickets never "
               "lost overall accuracy, so its rule could not be tested; now the trained dense network is pruned "
               "by magnitude (gradually, as Hooker et al.) to 90-99% and fine-tuned, and the minority's relative change is set against the overall "
               "relative change (not the gap against dense), at every sparsity where pruning costs accuracy. The "
               "registered rule is judged on the sparsest pruned network of the same seeds. The bound kept_min (a "
               "network keeping under half the dense accuracy has collapsed, outside the regime) was set after a "
               "timing run of one seed (one-shot pruning, 5 epochs of fine-tuning) left 97% of the dense accuracy at "
               "90% sparsity and 37% at 99%, before any run of this config"),)


def _registered_parts(result, config: Config) -> tuple[dict, tuple[bool, str], list[float]]:
    """Version 1's rule on this result: its two parts and its precondition at the sparsest network."""
    acc = group_accuracy(result)
    gap = acc["majority"] - acc["minority"]
    correct = np.asarray(result["correct"], dtype=bool)
    minority = np.asarray(result["minority"], dtype=bool)
    cost = mean_interval(acc["overall"][:, -1], paired_with=acc["overall"][:, 0]).scaled(100)
    regime = (cost.high < 0, f"overall test accuracy from dense to sparsity {config.sparsities[-1]:g}: {cost.mean:+.2f} "
                             f"[{cost.low:+.2f}, {cost.high:+.2f}] points")
    p = [group_mcnemar(correct, seed, minority) for seed in range(len(correct))]
    widens = part("the gap widens", mean_interval(gap[:, -1], paired_with=gap[:, 0]).scaled(100), 0.0,
                  what=f"gap majority - minority, sparsity {config.sparsities[-1]:g} minus dense (points)", precondition=regime)
    significant = part("and the minority's change is significant in every seed", Interval.exact(
        max(p), n=len(p), method="exact McNemar test per seed: the largest p"), high=config.alpha,
        what="the minority's largest McNemar p over seeds", precondition=regime)
    both = conjunction("the gap widens and the minority's change is significant in every seed", [widens[1], significant[1]])
    return dict([widens, (both.claim, both)]), regime, p


def registered_row(result, config: Config) -> Claim:
    """Version 1's rule judged alone on this result (its sparsest network): the verdict the prose quotes
    beside the row's, which shows it in words."""
    parts, regime, p = _registered_parts(result, config)
    return _registered_rule(config).judge(parts=parts, precondition=regime,
                                          ours="the minority's McNemar p per seed " + ", ".join(f"{v:.2g}" for v in p))


def group_mcnemar(correct, seed: int, members) -> float:
    """The exact McNemar p-value of one seed's change from dense to the sparsest network on the test
    signals ``members`` (a bool mask): those dense gets right and the pruned network wrong, against the reverse."""
    dense, pruned = np.asarray(correct[seed][0])[members], np.asarray(correct[seed][-1])[members]
    return mcnemar_test(int(np.sum(dense & ~pruned)), int(np.sum(~dense & pruned)))


def _cell(iv: Interval) -> str:
    return f"{iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]"


def checks(result, config: Config) -> list[Claim]:
    rule, = rules(config)
    ivs, regime, share = _intervals(result), in_regime(result, config.kept_min), kept(result)
    n = len(group_accuracy(result)["overall"])
    labels = [f"{100 * s:g}%" for s in config.sparsities]
    stored = np.asarray(result["sparsities"], dtype=float)
    if stored.shape != (len(labels),) or not np.allclose(stored, config.sparsities) or len(ivs["overall"]) != len(labels):
        raise ValueError(f"result holds the sparsities {list(np.asarray(result['sparsities']))} at "
                         f"{len(ivs['overall'])} levels; the config {list(config.sparsities)}")
    costs = "; ".join(f"{lab} {_cell(iv)} (keeps {100 * k:.0f}%)" for lab, iv, k in zip(labels, ivs["overall"], share))
    if regime:
        at = regime[deciding([ivs["minority"][j] for j in regime], high=0.0, every=True)]
        precondition = (True, f"overall change (points) {costs}; in the regime: {', '.join(labels[j] for j in regime)}; "
                              f"judged at {labels[at]}")
    else:
        at = len(labels) - 1
        precondition = (False, f"no sparsity costs overall accuracy with its network still working (keeping at least "
                               f"{100 * config.kept_min:g}% of the dense accuracy): overall change (points) {costs}")
    registered_parts, registered_regime, p = _registered_parts(result, config)
    s = summary(result)
    ours = (f"test accuracy dense {100 * s['overall_dense']:.1f}% (majority {100 * s['majority_dense']:.1f}%, minority "
            f"{100 * s['minority_dense']:.1f}%); Hooker's measure, minority minus overall relative change (percentage "
            "points), " + "; ".join(f"{lab} {_cell(iv)}" for lab, iv in zip(labels, ivs["minority"]))
            + f" (95% paired t intervals over {n} seeds); the minority's McNemar p per seed at {labels[-1]}: "
            + ", ".join(f"{v:.2g}" for v in p))
    return [rule.judge(ivs["minority"][at], ours=ours, precondition=precondition,
                       registered_parts=registered_parts, registered_precondition=registered_regime)]
