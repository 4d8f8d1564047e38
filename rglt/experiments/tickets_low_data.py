"""Chapter 5, claim 6 of seed 002: sparsity as implicit regularisation when data are few.

The essay: "The constraint of sparsity acts as a powerful form of implicit regularization. A sparse
network is less expressive; it simply cannot memorize all the noise ... [tickets] may have a higher
training error, but they often generalize better." The published measurement closest to it is Varma et
al. 2022 ("Sparse winning tickets are data-efficient image recognizers"): tickets ahead of the dense
network at 50-100 training examples per class. Measured here with IMP (rewinding to an early step) of a
1D ResNet-20 on MNIST-1D at 20, 50 and 100 training signals per class, 3 replicates each:

- the training and test error of every level against the dense network's;
- the ticket a user would pick, the level with the best validation accuracy (a held-out split of the
  generator's training signals, never the test set), against the dense network on the test set.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.report import Claim, judged
from rglt.train import evaluate, TrainConfig
from rglt.validate import check_int

NAME = "tickets_low_data"
VERSION = 1
SOURCE = "002 'A Deeper Dive' (implicit regularization)"
VARMA = "Varma et al. 2022: tickets ahead of the dense network at 50-100 training images per class (CIFAR-10)"


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    train_sizes: tuple = (200, 500, 1000)        # 20, 50, 100 signals per class
    val_size: int = 500
    noise: int = 0
    train: TrainConfig = TrainConfig(epochs=60, batch_size=32, lr=0.05, weight_decay=1e-4)
    rounds: int = 12                             # 20% per round: density 0.8^12 = 6.9% at the last level
    rewind_step: int = 10
    replicates: int = 3
    workers: int = unhashed(2)
    gain_min: float = unhashed(0.01)             # the picked ticket beats dense by >= 1 point ...
    gain_sigmas: float = unhashed(2.0)           # ... and by this many standard errors over seeds


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), train_sizes=(100, 200), val_size=100,
                    train=TrainConfig(epochs=3, batch_size=32, lr=0.05, weight_decay=1e-4), rounds=2, rewind_step=2,
                    replicates=2, workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), train_sizes=(500, 1000, 2500), val_size=5000,
                  train=TrainConfig(epochs=160, batch_size=64, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=16, rewind_step=200, workers=1),
}


def _task(config: Config, n: int) -> Task:
    return Task("mnist1d", train_size=n, val_size=config.val_size, noise=config.noise)


def ticket_runs(config: Config) -> list[TicketRun]:
    imp = IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step)
    return [run for n in config.train_sizes
            for run in TicketRun(config.model, _task(config, n), config.train, imp).replicates(config.replicates)]


def _measure(run: TicketRun) -> dict:
    store, data = train_tickets(run), load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    out = {k: [] for k in ("density", "train_accuracy", "val_accuracy", "test_accuracy")}
    for level in store.levels():
        ticket = store.load(level)
        model.load_state_dict(ticket.weights)
        out["density"].append(ticket.density)
        out["train_accuracy"].append(evaluate(model, data.train)["accuracy"])
        out["val_accuracy"].append(evaluate(model, data.val)["accuracy"])
        out["test_accuracy"].append(evaluate(model, data.test)["accuracy"])
    return out


def run(config: Config) -> dict:
    check_int(config.replicates, "replicates", 1)
    if not config.train_sizes or any(not isinstance(n, int) or n < 10 for n in config.train_sizes):
        raise ValueError(f"train_sizes must be integers >= 10 (one per class); got {config.train_sizes}")
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    measured = [_measure(r) for r in runs]
    shape = (len(config.train_sizes), config.replicates, -1)    # [sizes, replicates, levels]
    out = {k: np.array([m[k] for m in measured], dtype=np.float64).reshape(shape) for k in measured[0]}
    out["train_sizes"] = np.array(config.train_sizes)
    return out


def picked(result) -> dict[str, np.ndarray]:
    """Per size and replicate, the level with the best validation accuracy (the earliest on a tie) and its
    density, training and test accuracy, beside the dense network's."""
    val = np.asarray(result["val_accuracy"])
    level = val.argmax(-1)                                       # [sizes, replicates]
    take = lambda key: np.take_along_axis(np.asarray(result[key]), level[..., None], -1)[..., 0]
    return {"level": level, "density": take("density"), "train": take("train_accuracy"), "test": take("test_accuracy"),
            "dense_train": np.asarray(result["train_accuracy"])[..., 0],
            "dense_test": np.asarray(result["test_accuracy"])[..., 0]}


def _mean_se(v) -> tuple[float, float]:
    v = np.asarray(v, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("inf")


def checks(result, config: Config) -> list[Claim]:
    p = picked(result)
    sizes = np.asarray(result["train_sizes"])
    per_class = [int(n) // 10 for n in sizes]
    gains = [_mean_se(p["test"][i] - p["dense_test"][i]) for i in range(len(sizes))]
    i = 0                                                         # the smallest training set
    gain, se = gains[i]
    out = [Claim(
        claim=f"with {per_class[i]} training signals per class, the ticket picked on validation tests better than the "
              f"dense network",
        source=f"{SOURCE}; {VARMA}", source_value="no number in the essay; Varma et al.: tickets ahead at 50-100 per class",
        ours=("test accuracy gain of the picked ticket over dense: "
              + ", ".join(f"{c}/class {100 * g:+.2f} +- {100 * s:.2f}" for c, (g, s) in zip(per_class, gains))
              + f" points (SE over {p['test'].shape[1]} seeds); picked densities "
              + ", ".join(f"{np.median(p['density'][j]):.3f}" for j in range(len(sizes))) + " (median)"),
        tolerance=f"gain >= {100 * config.gain_min:g} point and > {config.gain_sigmas:g} SE at the smallest set; "
                  "> 0 is partly",
        **judged(gain >= config.gain_min and gain > config.gain_sigmas * se,
                 f"{100 * gain:+.2f} +- {100 * se:.2f} points at {per_class[i]} per class", partly=gain > 0))]
    # "Higher training error, yet generalise better": the sparsest level against dense.
    train = np.asarray(result["train_accuracy"])
    test = np.asarray(result["test_accuracy"])
    gap = train - test                                            # [sizes, replicates, levels]
    d_gap = [_mean_se(gap[j, :, -1] - gap[j, :, 0]) for j in range(len(sizes))]
    d_train = [_mean_se(train[j, :, -1] - train[j, :, 0]) for j in range(len(sizes))]
    d_test = [_mean_se(test[j, :, -1] - test[j, :, 0]) for j in range(len(sizes))]
    density = float(np.median(np.asarray(result["density"])[..., -1]))
    worse_train = all(m < -2 * s for m, s in d_train)
    no_worse_test = all(m >= -2 * s for m, s in d_test)
    out.append(Claim(
        claim=f"the sparsest ticket (density {density:.3f}) has a higher training error yet tests as well as or better "
              f"than the dense network",
        source=f"{SOURCE}", source_value="no number: \"a higher training error, but they often generalize better\"",
        ours="; ".join(f"{c}/class: train {100 * a:+.2f} +- {100 * sa:.2f}, test {100 * b:+.2f} +- {100 * sb:.2f}, "
                       f"gap {100 * g:+.2f} +- {100 * sg:.2f} points"
                       for c, (a, sa), (b, sb), (g, sg) in zip(per_class, d_train, d_test, d_gap)),
        tolerance="at every size: training accuracy lower by > 2 SE and test accuracy not lower by > 2 SE; the gap "
                  "narrowing by > 2 SE at every size is partly",
        **judged(worse_train and no_worse_test,
                 ("the sparsest ticket fits the training set as well as dense at some size" if not worse_train else
                  "the sparsest ticket tests worse than dense at some size"),
                 partly=all(m < -2 * s for m, s in d_gap))))
    return out
