"""Chapter 5, claim 2 of seed 002: is a ticket really smaller? Mask entropy and the encoded size.

The essay: a sparse network must also store its mask, whose cost is its entropy; "a very sparse,
orderly mask is cheaper to describe than a chaotic, random-looking one", and "a true compression gain
is only achieved if the savings from dropping weights outweighs the cost of encoding the mask".
Measured on IMP tickets of an MLP on MNIST-1D, every level of 3 replicates:

- the code length of each layer's mask under the codes of ``rglt.applications.entropy`` (iid, per row, per
  column; the bound is the best), against a uniformly random mask with the same count per layer;
- the real encoded size (``rglt.applications.encode_ticket``: packed mask + surviving weights at fp32 / fp16
  / int8, lzma) against the dense trained model coded the same way, and the accuracy of the decoded
  ticket at each precision;
- the density below which a ticket is smaller than the dense model, per precision: measured on random
  prunings of the dense weights near density 1, and from the entropy bound.
Deep Compression's 35-49x (pruning + quantisation + Huffman coding, no accuracy lost) is the reference.

Version 2 (issue 32, item 7) chooses the "no accuracy lost" ticket on validation, not on test: each seed's
sparsest level, at the smallest precision, whose decoded ticket is within ``val_tolerance_se`` binomial
standard errors of the dense model's validation accuracy; the test set then only judges it, with a
tolerance of ``test_tolerance_se`` of its own binomial standard errors (version 1 chose on test with a
1-point cut, below the test set's noise). 5 seeds.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.claims import Claim, Rule, deciding, part
from rglt.train import evaluate, TrainConfig
from rglt.applications.entropy import log2_binomial
from rglt.applications import (COMPRESSORS, MODELS, PRECISIONS, binary_entropy, code_lengths, decode_ticket,
                               dense_size, encode_ticket)
from rglt.prune import run_all, train_tickets
from rglt.prune.masks import random_like
from rglt.stats import LEVEL, holm, mean_interval, superiority_test
from rglt.validate import check_choice, check_int, require
from rglt.sources import lth_essay

NAME = "tickets_compression"
VERSION = 2
SOURCE = "002 'The Engineer's Delight'"
DEEP_COMPRESSION = lth_essay.DEEP_COMPRESSION.value   # Han et al. 2016: AlexNet 35x, VGG-16 49x, no accuracy lost
BITS = {"fp32": 32, "fp16": 16, "int8": 8}


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("mlp", width=256)
    task: Task = Task()
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, weight_decay=5e-4)
    rounds: int = 16                      # 20% per round: density 0.8^16 = 2.8% at the last level
    rewind_step: int = 0
    replicates: int = 5
    compressor: str = "lzma"
    high_densities: tuple = (0.999, 0.995, 0.99, 0.98, 0.95, 0.9)   # random prunings of the dense model
    random_seed: int = 1000
    workers: int = unhashed(2)
    matched_drop: float = unhashed(0.01)          # version 1's cut, on test: within 1 point of dense accuracy
    val_tolerance_se: float = unhashed(1.0)       # "no accuracy lost" on validation: within this many binomial SEs
    test_tolerance_se: float = unhashed(1.0)      # ... and judged on test within this many of its own
    mask_saving_min: float = unhashed(0.05)       # IMP's masks must cost >= 5% fewer bits than random ones


CONFIGS = {
    "smoke": Config(model=ModelSpec("mlp", width=32), task=Task(train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4), rounds=3, replicates=2,
                    high_densities=(0.99, 0.9), workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=20, workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def _accuracy(run: TicketRun, data, state: dict, names: list, weights: list) -> tuple[float, float]:
    """(validation, test) accuracy of ``state`` with ``weights`` in place of ``names``."""
    model = run.model.build(data, seed=run.replicate)
    model.load_state_dict({**state, **dict(zip(names, weights))})
    return evaluate(model, data.val)["accuracy"], evaluate(model, data.test)["accuracy"]


def _measure(config: Config, run: TicketRun) -> dict:
    import torch


    store, data = train_tickets(run), load_task(run.task)
    levels = store.levels()
    names = list(store.load(levels[0]).masks)
    out = {k: [] for k in ("density", "accuracy", "val_accuracy", "imp_bits", "random_bits", "encoded",
                           "decoded_accuracy", "decoded_val_accuracy")}
    dense = store.load(0)
    out["dense_bytes"] = [dense_size([dense.weights[n] for n in names], p, config.compressor) for p in PRECISIONS]
    for level in levels:
        t = store.load(level)
        masks = [t.masks[n].bool() for n in names]
        weights = [t.weights[n] * m for n, m in zip(names, masks)]
        out["density"].append(t.density)
        val, test = _accuracy(run, data, t.weights, [], [])
        out["accuracy"].append(test)
        out["val_accuracy"].append(val)
        seed = config.random_seed + 1000 * run.replicate + level
        out["imp_bits"].append([[code_lengths(m)[k] for k in (*MODELS, "bound")] for m in masks])
        out["random_bits"].append([[code_lengths(random_like(m, seed + 97 * i))[k] for k in (*MODELS, "bound")]
                                   for i, m in enumerate(masks)])
        sizes, accuracies, val_accuracies = [], [], []
        for precision in PRECISIONS:
            blob = encode_ticket(weights, masks, precision, config.compressor)
            sizes.append(len(blob))
            decoded, decoded_masks = decode_ticket(blob)
            assert all(torch.equal(a, b) for a, b in zip(decoded_masks, masks))   # the mask comes back exactly
            val, test = _accuracy(run, data, t.weights, names, decoded)
            accuracies.append(test)
            val_accuracies.append(val)
        out["encoded"].append(sizes)
        out["decoded_accuracy"].append(accuracies)
        out["decoded_val_accuracy"].append(val_accuracies)
    # Random prunings of the dense trained weights near density 1: where does a ticket stop being smaller?
    high = []
    for i, d in enumerate(config.high_densities):
        g = torch.Generator().manual_seed(config.random_seed + i)
        masks = [torch.rand(dense.masks[n].shape, generator=g) < d for n in names]
        weights = [dense.weights[n] * m for n, m in zip(names, masks)]
        high.append([len(encode_ticket(weights, masks, p, config.compressor)) for p in PRECISIONS])
    out["high_density_encoded"] = high
    out["layer_sizes"] = [dense.masks[n].numel() for n in names]
    out["layer_names"] = names
    return out


def run(config: Config) -> dict:
    check_choice(config.compressor, "compressor", tuple(COMPRESSORS))
    check_int(config.replicates, "replicates", 1)
    if not all(0 < d < 1 for d in config.high_densities):
        raise ValueError(f"high_densities must lie in (0, 1); got {config.high_densities}")
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    measured = [_measure(config, r) for r in runs]
    out = {k: np.array([m[k] for m in measured], dtype=np.float64)
           for k in ("density", "accuracy", "val_accuracy", "imp_bits", "random_bits", "encoded", "decoded_accuracy",
                     "decoded_val_accuracy", "dense_bytes", "high_density_encoded")}
    data = load_task(config.task)
    out["val_size"], out["test_size"] = len(data.val[1]), len(data.test[1])
    out["layer_sizes"] = np.array(measured[0]["layer_sizes"])
    out["layer_names"] = measured[0]["layer_names"]
    out["high_densities"] = np.array(config.high_densities)
    return out


def crossing_density(bits_per_value: int) -> float:
    """The density above which a ticket at its entropy bound is larger than the dense model: pruning a
    share x of n weights saves n x b bits and costs n H(x) mask bits, so the crossing solves
    H(x) = b x (the same for every n); tickets sparser than 1 - x are smaller."""
    from scipy.optimize import brentq

    return 1 - float(brentq(lambda x: float(binary_entropy(x)) - bits_per_value * x, 1e-15, 0.5))


def tolerance(result, config: Config, split: str) -> float:
    """"No accuracy lost" on ``split`` ("val" or "test"): its tolerance, as an accuracy (fraction), so
    many binomial standard errors of the dense models' mean accuracy on that split."""
    require(split in ("val", "test"), "split", "'val' or 'test'", split)
    acc = np.asarray(result["val_accuracy" if split == "val" else "accuracy"], dtype=float)[:, 0].mean()
    n = float(result[f"{split}_size"])
    se = config.val_tolerance_se if split == "val" else config.test_tolerance_se
    return se * math.sqrt(acc * (1 - acc) / n)


def no_loss_choice(result, config: Config, *, on: str = "val") -> dict:
    """Per replicate, the ticket that loses no accuracy, chosen on validation (``on="val"``, version 2) or,
    as version 1 did, on test with ``matched_drop`` (``on="test"``): the sparsest level whose fp32 accuracy
    is within the tolerance of the dense model's, at the smallest coded precision whose decoded ticket
    still is (as Deep Compression counts). Returns its ``level``, ``precision``, ``ratio`` (the raw fp32
    model's size over the coded ticket's) and ``test_loss`` (its decoded test accuracy minus the dense
    model's, points)."""
    n = int(np.asarray(result["layer_sizes"]).sum())
    key = {"val": ("val_accuracy", "decoded_val_accuracy"), "test": ("accuracy", "decoded_accuracy")}[on]
    tol = tolerance(result, config, "val") if on == "val" else config.matched_drop
    acc, decoded = (np.asarray(result[k], dtype=float) for k in key)
    encoded = np.asarray(result["encoded"], dtype=float)
    test, decoded_test = np.asarray(result["accuracy"], dtype=float), np.asarray(result["decoded_accuracy"], dtype=float)
    out = {"level": [], "precision": [], "ratio": [], "test_loss": []}
    for r in range(acc.shape[0]):
        level = int(np.flatnonzero(acc[r] >= acc[r, 0] - tol).max())
        # fp32 decodes to the ticket itself, so at least it is within the tolerance at this level
        ok = [j for j in range(len(PRECISIONS)) if decoded[r, level, j] >= acc[r, 0] - tol]
        j = min(ok, key=lambda j: encoded[r, level, j])
        out["level"].append(level)
        out["precision"].append(PRECISIONS[j])
        out["ratio"].append(4 * n / encoded[r, level, j])
        out["test_loss"].append(100 * (decoded_test[r, level, j] - test[r, 0]))
    return {k: np.array(v) if k != "precision" else v for k, v in out.items()}


def layer_density(bits: float, size: int) -> float:
    """A layer's density, recovered exactly from the iid code length of its random mask
    (log2 C(n, k) + log2(n + 1) bits for k of n weights kept, k <= n / 2)."""
    ks = np.arange(size // 2 + 1)
    return ks[np.argmin([abs(log2_binomial(int(size), int(k)) + np.log2(size + 1) - bits) for k in ks])] / size


def rules(config: Config) -> tuple[Rule, ...]:
    seeds = f"{config.replicates} seeds"
    return (
        Rule(id="mask_saving", claim="IMP's masks cost fewer bits than random masks of the same density",
             source=f"{SOURCE} (mask entropy)", source_value='no number: "a very sparse, orderly mask is cheaper to describe"',
             what="mask bits saved against random masks with the same per-layer counts, at the last level (share)",
             test=f"t interval over {seeds}, paired by seed (each ticket against its own random masks); best of the "
                  f"codes; parts: cheaper (> 0) and by at least {config.mask_saving_min:g}",
             parts=("cheaper", f"by at least {config.mask_saving_min:g}")),
        Rule(id="larger_near_dense",
             claim="near density 1 the mask costs more than the dropped weights save: the ticket is larger than the "
                   "dense model",
             source=f"{SOURCE} (mask entropy)",
             source_value='no number: "a true compression gain is only achieved if the savings ... outweigh the cost of '
                          'encoding the mask"',
             what=f"log(encoded ticket / dense model, same precision) at the best (density, precision) cell "
                  f"(random prunings at densities {', '.join(f'{d:g}' for d in config.high_densities)})",
             test=f"at some cell: t interval over {seeds}, Holm over the cells (the best cell's interval at level "
                  "1 - 0.05 / cells; p: Holm-adjusted, two-sided)", low=0.0),
        _deep_compression(config),
    )


NO_LOSS = "no accuracy lost on test"


def _deep_compression(config: Config) -> Rule:
    seeds = f"{config.replicates} seeds"
    first = Rule(
        id="deep_compression",
        claim="a ticket at no accuracy lost, quantised and coded, compresses the raw fp32 model as far as "
              "Deep Compression does",
        source=f"{SOURCE} (model compression); Deep Compression (Han et al. 2016)",
        source_value=f"{DEEP_COMPRESSION[0]}-{DEEP_COMPRESSION[1]}x (AlexNet, VGG-16 on ImageNet)",
        what=f"log(raw fp32 size / the coded ticket) at each seed's sparsest level within {config.matched_drop:g} "
             "of dense accuracy, at the smallest precision that keeps it there",
        test=f"t interval of the mean log ratio over {seeds} (a ratio's own interval would cross zero); parts: "
             f"smaller than the raw model (> log 1) and as far as Deep Compression (> log {DEEP_COMPRESSION[0]})",
        parts=("smaller than the raw model", f"as far as Deep Compression ({DEEP_COMPRESSION[0]}x)"))
    return dataclasses.replace(
        first,
        what=f"log(raw fp32 size / the coded ticket) at each seed's sparsest level, at the smallest precision, whose "
             f"validation accuracy is within {config.val_tolerance_se:g} binomial SE of the dense model's; and that "
             f"ticket's test accuracy minus the dense model's (points)",
        test=f"t intervals over {seeds}: of the mean log ratio (a ratio's own interval would cross zero), smaller than "
             f"the raw model (> log 1) and as far as Deep Compression (> log {DEEP_COMPRESSION[0]}); of the test loss "
             f"paired by seed, above minus {config.test_tolerance_se:g} binomial SE of a test accuracy",
        parts=(*first.parts, NO_LOSS), registered=first,
        change="the ticket is chosen on validation, not on the test set, with a tolerance of the validation set's "
               "binomial noise (the 1-point cut was below the test set's noise), and 'no accuracy lost' is judged on "
               "test as a part of its own (issue 32)")


def checks(result, config: Config) -> list[Claim]:
    saving_rule, larger_rule, deep_rule = rules(config)
    imp_bits = np.asarray(result["imp_bits"], dtype=float)[..., -1].sum(-1)     # [replicates, levels]: the bound
    random_bits = np.asarray(result["random_bits"], dtype=float)[..., -1].sum(-1)
    density = np.asarray(result["density"], dtype=float)
    last = density.shape[1] - 1
    saving = mean_interval(1 - imp_bits[:, last] / random_bits[:, last])
    what = f"saving at density {density[:, last].mean():.3f}"
    out = [saving_rule.judge(
        parts=dict([part("cheaper", saving, low=0.0, what=what),
                    part(f"by at least {config.mask_saving_min:g}", saving, low=config.mask_saving_min, what=what)]),
        ours=(f"at density {density[:, last].mean():.3f} the best code takes {100 * saving.mean:.1f}% "
              f"[{100 * saving.low:.1f}, {100 * saving.high:.1f}] fewer bits than for random masks with the same "
              f"per-layer counts ({imp_bits[:, last].mean() / 8:,.0f} vs {random_bits[:, last].mean() / 8:,.0f} bytes)"))]
    # Where a ticket stops being smaller than the dense model, per precision: measured and bound.
    n = int(np.asarray(result["layer_sizes"]).sum())
    dense = np.asarray(result["dense_bytes"], dtype=float)                     # [replicates, precisions]
    high = np.asarray(result["high_density_encoded"], dtype=float)             # [replicates, densities, precisions]
    hd = np.asarray(result["high_densities"], dtype=float)
    log_ratio = np.log(high / dense[:, None, :])                               # [replicates, densities, precisions]
    cells = [(i, j) for i in range(len(hd)) for j in range(len(PRECISIONS))]
    level = 1 - (1 - LEVEL) / len(cells)                                       # Holm's first step
    intervals = [mean_interval(log_ratio[:, i, j], level=level) for i, j in cells]
    if log_ratio.shape[0] > 1:                                                 # a t test needs two seeds
        one_sided = np.array([superiority_test(log_ratio[:, i, j]) for i, j in cells])
        adjusted = holm(np.minimum(1.0, 2 * np.minimum(one_sided, 1 - one_sided)))
    else:
        adjusted = None
    best = deciding(intervals, larger_rule.low, every=False)
    parts = []
    for j, p in enumerate(PRECISIONS):
        larger = hd[(high[:, :, j] >= dense[:, None, j]).all(0)]
        parts.append(f"{p}: larger when under {100 * (1 - crossing_density(BITS[p])):.2g}% of the weights are pruned "
                     f"(entropy bound); "
                     f"measured ({config.compressor}) larger than dense in every seed at "
                     + (", ".join(f"{d:g}" for d in larger) if len(larger) else "none of " + ", ".join(f"{d:g}" for d in hd)))
    i, j = cells[best]
    out.append(larger_rule.judge(
        intervals[best], p=None if adjusted is None else float(adjusted[best]),
        ours="; ".join(parts) + f"; the best cell: density {hd[i]:g} at {PRECISIONS[j]}, the ticket "
                                f"{math.exp(intervals[best].mean):.4f} x the dense model"))
    # How far pruning + quantisation + coding go at no accuracy lost: against Deep Compression's 35-49x.
    lo = DEEP_COMPRESSION[0]

    def size_parts(choice):
        ratio = mean_interval(np.log(choice["ratio"]))
        return ratio, [part("smaller than the raw model", ratio, low=0.0, what="log ratio"),
                       part(f"as far as Deep Compression ({lo}x)", ratio, low=math.log(lo), what="log ratio")]
    chosen, first = no_loss_choice(result, config), no_loss_choice(result, config, on="test")
    ratio, parts = size_parts(chosen)
    loss = mean_interval(chosen["test_loss"])
    tol_test = 100 * tolerance(result, config, "test")
    first_ratio, first_parts = size_parts(first)
    out.append(deep_rule.judge(
        parts=dict([*parts, part(NO_LOSS, loss, low=-tol_test, what="test accuracy lost (points)")]),
        registered_parts=dict(first_parts),
        ours=(f"{math.exp(ratio.mean):.1f}x (geometric mean; 95% [{math.exp(ratio.low):.1f}x, "
              f"{math.exp(ratio.high):.1f}x]; seeds " + ", ".join(f"{q:.1f}x" for q in chosen["ratio"]) + ") at densities "
              + ", ".join(f"{density[r, l]:.3f}" for r, l in enumerate(chosen["level"])) + " with "
              + ", ".join(chosen["precision"]) + f", chosen on validation ({config.compressor}; within "
              f"{100 * tolerance(result, config, 'val'):.1f} points of dense, one binomial SE; a {n:,}-weight MLP); "
              f"on test those tickets are {loss.mean:+.2f} [{loss.low:+.2f}, {loss.high:+.2f}] points from dense, the "
              f"tolerance {tol_test:.1f} points; chosen on test as version 1 did: {math.exp(first_ratio.mean):.1f}x")))
    return out
