"""Chapter 5, claim 3 of seed 002: structured tickets, and whether they run faster.

The essay: "raw, unstructured sparsity ... is notoriously difficult for modern computer hardware to
accelerate ... This has pushed researchers to ask if winning tickets can be found in a more orderly
fashion, for example, by pruning entire groups of neurons". Chen et al. 2022 ("Coarsening the
granularity: towards structurally sparse lottery tickets") report structured tickets with up to ~60%
running-time savings. Measured here with an MLP of two hidden layers of 512 units on MNIST-1D, 3
replicates, IMP (rewinding to an early step) two ways: unstructured (20% of the weights per round) and
by channels (20% of the hidden units per round, ``IMPConfig(granularity="channels")``). At each channel
level, against the unstructured level with the nearest weight count:

- test accuracy (the channel ticket's weight count is that of its physically smaller network, in which
  a pruned unit's row and the next layer's column are gone);
- CPU inference time (one thread, median of repeats, the two networks taking turns) of the physically smaller network
  (``rglt.applications.structured.compact_mlp``, the same function exactly) against the masked dense network
  that unstructured sparsity runs as with dense kernels.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.applications.structured import compact_mlp, forward_seconds, weight_count
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.report import Claim, judged
from rglt.train import TrainConfig

NAME = "tickets_structured"
VERSION = 2            # 2: unstructured IMP runs its own rounds (weight_rounds), down to the channel tickets' counts
SOURCE = "002 'The Engineer's Delight' (structured sparsity)"
CHEN = "Chen et al. 2022: structurally sparse tickets, up to ~60% running-time savings"
GRANULARITIES = ("weights", "channels")


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("mlp", width=512)
    task: Task = Task("mnist1d")
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, weight_decay=5e-4)
    rounds: int = 10                             # channels: 0.8^10 = 11% of the hidden units left
    # Unstructured IMP must reach as few weights as the sparsest channel ticket keeps (a unit takes its
    # row and the next layer's column: 11% of the units is ~1.6% of the weights), so that every channel
    # level has an unstructured ticket with about as many weights: 0.8^19 = 1.4%.
    weight_rounds: int = 19
    rewind_step: int = 20
    replicates: int = 3
    batch_sizes: tuple = (1, 256)                # inference batches timed
    repeats: int = unhashed(200)
    workers: int = unhashed(2)
    matched_drop: float = unhashed(0.01)         # "matches": within 1 point (of the unstructured ticket; of dense)
    saving_min: float = unhashed(0.5)            # time saved by the sparsest channel ticket that matches dense


CONFIGS = {
    "smoke": Config(model=ModelSpec("mlp", width=32), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4), rounds=2, weight_rounds=4,
                    rewind_step=2, replicates=2, repeats=3, workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("mlp", width=2048), rounds=14, weight_rounds=28, workers=1),
}


def ticket_runs(config: Config) -> dict[str, list[TicketRun]]:
    rounds = {"weights": config.weight_rounds, "channels": config.rounds}
    return {g: TicketRun(config.model, config.task, config.train,
                         IMPConfig(rounds=rounds[g], fraction=0.2, rewind_step=config.rewind_step, granularity=g),
                         prunable="no-fc").replicates(config.replicates) for g in GRANULARITIES}


def run(config: Config) -> dict:
    runs = ticket_runs(config)
    run_all([r for g in GRANULARITIES for r in runs[g]], workers=config.workers)
    data = load_task(config.task)
    out = {"weights_accuracy": [], "weights_count": [], "channels_accuracy": [], "channels_count": []}
    for w_run, c_run in zip(runs["weights"], runs["channels"]):
        w_store, c_store = train_tickets(w_run), train_tickets(c_run)
        levels = c_store.levels()
        model = config.model.build(data, seed=w_run.replicate)
        fc = model.fc.weight.numel()                 # the classifier is not pruned: it counts in both
        out["weights_accuracy"].append([w_store.metrics(lv)["accuracy"] for lv in w_store.levels()])
        out["weights_count"].append([sum(int(m.sum()) for m in w_store.load(lv).masks.values()) + fc
                                     for lv in w_store.levels()])
        out["channels_accuracy"].append([c_store.metrics(lv)["accuracy"] for lv in levels])
        counts = []
        for lv in levels:
            t = c_store.load(lv)
            model.load_state_dict(t.weights)
            counts.append(weight_count(compact_mlp(model, t.masks)))
        out["channels_count"].append(counts)
    out = {k: np.array(v, dtype=np.float64) for k, v in out.items()}
    # Inference time of replicate 0: the masked dense network (what unstructured sparsity runs as with dense
    # kernels, at any density) and each channel level's physically smaller network.
    store = train_tickets(runs["channels"][0])
    model = config.model.build(data, seed=0)
    times = []
    for b in config.batch_sizes:
        x = data.test[0][:b] if b <= len(data.test[0]) else data.test[0].repeat(b // len(data.test[0]) + 1, 1, 1)[:b]
        row = []
        for lv in store.levels():
            t = store.load(lv)
            model.load_state_dict(t.weights)
            row.append(forward_seconds([model, compact_mlp(model, t.masks)], x, config.repeats))
        times.append(row)
    out["seconds"] = np.array(times)                 # [batch sizes, levels, (masked dense, compact)]
    out["batch_sizes"] = np.array(config.batch_sizes)
    out["dense_count"] = float(weight_count(model))
    return out


def matched(result) -> tuple[np.ndarray, np.ndarray]:
    """[replicates, channel levels]: the unstructured ticket's accuracy at the level whose weight count is
    nearest (in log) to each channel level's compact count, and that unstructured count."""
    wc, cc = np.log(np.asarray(result["weights_count"])), np.log(np.asarray(result["channels_count"]))
    nearest = np.abs(cc[:, :, None] - wc[:, None, :]).argmin(-1)
    acc = np.take_along_axis(np.asarray(result["weights_accuracy"]), nearest, -1)
    count = np.take_along_axis(np.asarray(result["weights_count"]), nearest, -1)
    return acc, count


def checks(result, config: Config) -> list[Claim]:
    w_acc, _ = matched(result)
    c_acc = np.asarray(result["channels_accuracy"])
    # Every pruned channel level with an unstructured ticket about as large (within one 20% round of the
    # sparsest): the unstructured runs keep the classifier whole, so the sparsest channel tickets have none.
    counts = np.asarray(result["channels_count"]).mean(0)
    comparable = np.flatnonzero(counts >= 0.8 * np.asarray(result["weights_count"]).mean(0).min())
    comparable = comparable[comparable > 0]
    diff = (c_acc - w_acc)[:, comparable]
    share = counts[comparable] / result["dense_count"]
    mean, sd = diff.mean(0), diff.std(0, ddof=1) if len(diff) > 1 else np.zeros(diff.shape[1])
    ok = mean >= -config.matched_drop
    left_out = len(counts) - 1 - len(comparable)
    out = [Claim(
        claim="channel tickets are as accurate as unstructured tickets with the same number of weights",
        source=f"{SOURCE}; {CHEN}", source_value="no number in the essay; Chen et al.: structured tickets match "
                                                 "unstructured ones at moderate sparsity",
        ours=("channel minus unstructured (points, sd over seeds) at weight shares "
              + ", ".join(f"{s:.3f}: {100 * m:+.1f} +- {100 * d:.1f}" for s, m, d in zip(share, mean, sd))
              + (f"; {left_out} sparser channel level(s) have no unstructured ticket as small" if left_out else "")),
        tolerance=f"within {100 * config.matched_drop:g} point at every level; at some levels is partly",
        **judged(bool(ok.all()), f"within a point at {int(ok.sum())} of {len(ok)} levels, down to weight share "
                                 + (f"{share[ok].min():.3f}" if ok.any() else "none"), partly=bool(ok.any())))]
    # Timed at the sparsest channel level that is still a winning ticket (mean accuracy within
    # matched_drop of dense): a faster network that has lost its accuracy is no ticket. Level 0 times the
    # same network both ways, so its "saving" is the timing noise.
    seconds = np.asarray(result["seconds"])           # [batches, levels, (masked dense, compact)]
    saving = 1 - seconds[:, :, 1] / seconds[:, :, 0]  # [batches, levels]
    accuracy = c_acc.mean(0)
    level = int(np.flatnonzero(accuracy >= accuracy[0] - config.matched_drop).max())
    all_share = np.asarray(result["channels_count"])[0] / result["dense_count"]
    noise, at = np.abs(saving[:, 0]), saving[:, level]
    batches = np.asarray(result["batch_sizes"])
    out.append(Claim(
        claim="a structured winning ticket runs faster on the CPU, where an unstructured one (dense kernels) does not",
        source=f"{SOURCE}; {CHEN}", source_value="up to ~60% running-time savings (Chen et al. 2022)",
        ours=(f"the sparsest channel ticket within {100 * config.matched_drop:g} point of dense (weight share "
              f"{all_share[level]:.3f}) as a smaller network against the masked dense network: "
              + ", ".join(f"batch {b}: {100 * a:.0f}% less time ({1e6 * t[1]:.0f} vs {1e6 * t[0]:.0f} us)"
                          for b, a, t in zip(batches, at, seconds[:, level]))
              + "; the dense network timed against itself: " + ", ".join(f"{100 * v:+.0f}%" for v in saving[:, 0])
              + " (the noise); an unstructured ticket runs as the masked dense network"),
        tolerance=f"saving >= {config.saving_min:.0%} and beyond the noise at every batch size timed; beyond the noise "
                  "at some is partly",
        **judged(bool(((at >= config.saving_min) & (at > noise)).all()),
                 f"saves {', '.join(f'{100 * a:.0f}%' for a in at)} against a noise of "
                 f"{', '.join(f'{100 * v:.0f}%' for v in noise)}", partly=bool((at > noise).any()))))
    return out
