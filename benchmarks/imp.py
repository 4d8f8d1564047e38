"""IMP levels per hour on this machine: a plain PyTorch loop against rglt's runner, and one faster way.

Workload: ``--replicates`` IMP runs (replicate r initialises with seed r) of one model on MNIST-1D,
``--levels`` levels each (dense, then rounds of 20% global magnitude pruning of the conv and linear
weights, rewinding to step ``--rewind-step``), ``--epochs`` per level, batch 128, SGD (momentum 0.9,
weight decay 5e-4), one-cycle learning rate peaking at 0.1; every level is evaluated on the test set.
Variants, each in a fresh subprocess, one after the other (never two at once):

- ``plain``: written here the way OpenLTH's trainer does it: a shuffled ``DataLoader`` over a
  ``TensorDataset``, a wrapper that multiplies the weights by their masks before every forward,
  ``torch.optim.SGD`` with ``OneCycleLR`` stepped per batch, global pruning by a threshold over the
  surviving magnitudes; one model at a time on all cores (``--threads``, default 2);
- ``runner``: ``rglt.prune.run_all(runs, workers=2)``: one-thread worker processes, tickets written to a
  fresh temporary ticket cache with their checksums (everything the book does, included);
- ``runner-channels-last``: the same, the model computing in channels-last memory
  (``ModelSpec(layout="channels-last")``, :mod:`rglt.models.layout`);
- ``runner-grouped``: the same, the replicates trained side by side in groups of ``--group``
  (``TicketRun.replicates(n, group=G)``, :mod:`rglt.models.grouped`): each kernel call does G models' work;
- ``runner-fast``: both (channels-last and groups): the fast path;
- ``runner-fast-bf16``: the fast path with the forward in bfloat16 (``TrainConfig(precision="bf16")``).
  Each of the last four changes the float rounding, so its tickets have keys of their own; ``faithfulness``
  in the record compares the fast paths' final tickets with the runner's, seed by seed (see
  :func:`faithfulness`);
- ``imp`` (not run by default): ``rglt.prune.imp`` itself, as ``train_tickets`` calls it, on ``--device``
  (one thread on the host) into a temporary ticket store, its masks from the Triton kernels (CUDA, or
  the CPU under TRITON_INTERPRET=1; else the reference). ``--check`` also runs it on the CPU with the
  reference masks and compares replicate 0 of the two: the rewind weights (the first ``--rewind-step``
  training steps, the same initial weights and batches) within REWIND_TOLERANCE of each tensor's largest
  |value|, and the same number of weights kept at every level; the last level's mask agreement and the
  accuracies are reported.

levels/hour = replicates x levels / wall time x 3600 (process start, data loading and evaluation included).
Each variant runs in its own fresh process (``rglt.benchmark.run_case``, which sets its thread count), timed
by one wall clock: an IMP run is long enough to time alone, and repeating it is what the replicates do.
``--rounds`` repeats the whole sweep, the variants interleaved (round 1: every model and variant, then
round 2 ...), so that a slow spell of the machine hits every variant alike. There is no one-time cost to
show apart: nothing is compiled (``torch.compile`` of the channels-last step measured 1.5x slower, and
25-34 s to compile, see ``imp_step.py``).
Usage: python benchmarks/imp.py [--models resnet20 vgg16] [--width 16] [--replicates 8] [--levels 3]
       [--epochs 10] [--group 4] [--rounds 2] [--variants plain runner runner-fast ...]
       [--device cpu|cuda] [--check] [--out PATH]
Writes JSON with provenance atomically to benchmarks/results/imp-<device-kind>.json.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import save  # benchmarks/ is on sys.path when run as a script

from rglt import benchmark, claims
from rglt.experiments import _kernels

VARIANTS = ("plain", "runner", "runner-channels-last", "runner-grouped", "runner-fast", "runner-fast-bf16", "imp")
RUNNERS = VARIANTS[1:6]
FAST = ("runner-fast", "runner-fast-bf16")   # compared with the runner's tickets (faithfulness)
DEFAULT_VARIANTS = VARIANTS[:6]
BATCH, LR, MOMENTUM, WEIGHT_DECAY, FRACTION = 128, 0.1, 0.9, 5e-4, 0.2
# The check: after the same first steps from the same weights, a device's rewind weights differ from the
# CPU's by float rounding, which cuDNN's default TF32 convolutions raise to ~1e-3 of a value; a wrong
# device path (masks not applied, another batch order) moves them by O(1).
REWIND_TOLERANCE = 1e-2
ACCURACY_MARGIN = 0.5   # points: the fast path's final accuracy must be equivalent to the eager one's within it


def _runs(case):
    from rglt.data.tasks import Task
    from rglt.prune import IMPConfig, ModelSpec, TicketRun
    from rglt.train import TrainConfig
    variant = case["variant"]
    layout = "channels-last" if variant in ("runner-channels-last", *FAST) else "default"
    group = case["group"] if variant in ("runner-grouped", *FAST) else 1
    run = TicketRun(ModelSpec(case["model"], width=case["width"], layout=layout), Task("mnist1d"),
                    TrainConfig(epochs=case["epochs"], batch_size=BATCH, lr=LR, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY, precision="bf16" if variant == "runner-fast-bf16" else "fp32"),
                    IMPConfig(rounds=case["levels"] - 1, fraction=FRACTION, rewind_step=case["rewind_step"]),
                    prunable="weights")
    return run.replicates(case["replicates"], group=group)


def _build(case, seed):
    from rglt.models import build, prunable_parameters
    model = build(case["model"], dim=1, in_channels=1, num_classes=10, width=case["width"], seed=seed)
    return model, [n for n, _ in prunable_parameters(model, include_fc=True)]


def _data():
    from rglt.data.tasks import Task, load_task
    data = load_task(Task("mnist1d"))
    return data.train, data.test


# ---- (a) the plain loop -------------------------------------------------------------------------

def _plain(case):
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    (x, y), (x_test, y_test) = _data()
    accuracies = []
    for seed in range(case["replicates"]):
        model, names = _build(case, seed)
        params = dict(model.named_parameters())
        masks = {n: torch.ones_like(params[n], dtype=torch.bool) for n in names}
        rewind = None
        for level in range(case["levels"]):
            if level:   # prune 20% of the survivors globally, rewind, train again
                alive = torch.cat([params[n].detach()[masks[n]].abs() for n in names])
                threshold = alive.sort().values[round(FRACTION * alive.numel())]
                masks = {n: masks[n] & (params[n].detach().abs() >= threshold) for n in names}
                model.load_state_dict(rewind)
            loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True,
                                generator=torch.Generator().manual_seed(seed))
            total = len(loader) * case["epochs"]
            optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
            schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=total, pct_start=0.3)
            step = case["rewind_step"] if level else 0
            for _ in range(step):
                schedule.step()
            model.train()
            while step < total:
                for xb, yb in loader:
                    if step == case["rewind_step"] and level == 0:
                        rewind = copy.deepcopy(model.state_dict())
                    with torch.no_grad():
                        for n in names:
                            params[n].mul_(masks[n])
                    optimizer.zero_grad()
                    F.cross_entropy(model(xb), yb).backward()
                    optimizer.step()
                    schedule.step()
                    step += 1
                    if step == total:
                        break
            with torch.no_grad():
                for n in names:
                    params[n].mul_(masks[n])
                model.eval()
                accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        accuracies.append(accuracy)
    return accuracies


# ---- (b) rglt's runner --------------------------------------------------------------------------

def _runner(case):
    from rglt.prune import run_all, use_cache
    with use_cache(case["cache"]):   # the parent's fresh directory: it reads the tickets after
        stores = run_all(_runs(case), workers=2)
        return [s.load(case["levels"] - 1).metrics["accuracy"] for s in stores]


# ---- (c) rglt.prune.imp on a device ------------------------------------------------------------

def _imp(case):
    from rglt.data.tasks import load_task
    from rglt.models import prunable_parameters
    from rglt.prune import PRUNABLE, TicketStore, imp

    accuracies = []
    for run in _runs(case):   # train_tickets' model and prunable weights, on the device, into case["store"]
        data = load_task(run.task)
        store = imp(lambda: run.model.build(data, seed=run.replicate).to(case["device"]),
                    lambda model: [n for n, _ in prunable_parameters(model, **PRUNABLE[run.prunable])],
                    data.train, run.train, dataclasses.replace(run.imp, backend=case["backend"]),
                    TicketStore(Path(case["store"]) / f"r{run.replicate}"), evaluate_on=data.test)
        accuracies.append(store.metrics(case["levels"] - 1)["accuracy"])
    return accuracies


def compare_stores(device_root, reference_root, levels: int) -> dict:
    """Replicate 0 of the ``imp`` variant on a device against the CPU reference (see the module doc)."""
    from rglt.prune import TicketStore
    dev, ref = TicketStore(Path(device_root) / "r0"), TicketStore(Path(reference_root) / "r0")
    a, b = dev.rewind(), ref.rewind()
    # relative to the tensor's largest |value|, floored at 1e-6: a tensor still ~0 is compared absolutely
    rewind = {name: float((a[name].double() - y.double()).abs().max() / y.double().abs().max().clamp_min(1e-6))
              for name, y in b.items() if y.numel()}
    kept = [[int(sum(m.sum() for m in store.load(level).masks.values())) for store in (dev, ref)]
            for level in range(levels)]
    last = [dev.load(levels - 1).masks, ref.load(levels - 1).masks]
    agree = sum(int((last[0][n] == m).sum()) for n, m in last[1].items()) / sum(m.numel() for m in last[1].values())
    worst = max(rewind, key=rewind.get)
    return dict(rewind_max_relative_diff=rewind[worst], rewind_worst_tensor=worst, rewind_tolerance=REWIND_TOLERANCE,
                kept_per_level=kept, last_level_mask_agreement=agree,
                accuracy=[[s.metrics(level)["accuracy"] for s in (dev, ref)] for level in range(levels)],
                ok=rewind[worst] <= REWIND_TOLERANCE and all(x == y for x, y in kept))


REORDER = 1000   # the baseline's batch-order seed: replicate + REORDER


def reorder_baseline(eager_root, case) -> None:
    """Train, untimed, into the runner's cache, each replicate again from the same initialisation with
    another batch order (seed replicate + REORDER): two eager tickets that differ by SGD's noise alone."""
    from rglt.prune import run_all, use_cache
    runs = [dataclasses.replace(run, train=dataclasses.replace(run.train, seed=run.replicate + REORDER))
            for run in _runs(dict(case, variant="runner"))]
    with use_cache(eager_root):
        run_all(runs, workers=2)


def faithfulness(eager_root, fast_root, case, variant="runner-fast") -> dict:
    """A fast path's final tickets against the runner's (today's eager path), seed by seed: the same
    replicates, each initialised and ordered by its seed, differing only in float rounding, which training
    amplifies. Final-level test accuracy: the paired difference (points) with its 95% t interval and a TOST
    that it lies within +-ACCURACY_MARGIN. Masks: the share of kept weights (Jaccard) that the fast and the
    eager ticket of one replicate share, against the share between the eager ticket and the eager ticket
    of the same initialisation with another batch order (:func:`reorder_baseline`: SGD's noise), paired by
    replicate; two eager tickets of different initialisations, and random masks of the density
    (p / (2 - p)), for scale; and, per prunable tensor, the density, fast mean against eager mean, within
    the eager seeds' standard deviation."""
    import itertools

    import numpy as np
    import torch

    from rglt import stats
    from rglt.prune import store_of, use_cache

    last = case["levels"] - 1
    runs = {"eager": _runs(dict(case, variant="runner")), "fast": _runs(dict(case, variant=variant))}
    runs["reorder"] = [dataclasses.replace(run, train=dataclasses.replace(run.train, seed=run.replicate + REORDER))
                       for run in runs["eager"]]
    tickets = {}
    for name, root in (("eager", eager_root), ("fast", fast_root), ("reorder", eager_root)):
        with use_cache(root):
            stores = [store_of(run) for run in runs[name]]
            tickets[name] = [(s.metrics(last)["accuracy"] * 100, s.load(last).masks) for s in stores]
    eager, fast = ([a for a, _ in tickets[k]] for k in ("eager", "fast"))
    difference = stats.mean_interval(fast, paired_with=eager)
    p = stats.equivalence_test(fast, -ACCURACY_MARGIN, ACCURACY_MARGIN, paired_with=eager)
    masks = {k: [m for _, m in v] for k, v in tickets.items()}
    names = list(masks["eager"][0])

    def jaccard(a, b):
        kept_a = torch.cat([a[n].flatten() for n in names])
        kept_b = torch.cat([b[n].flatten() for n in names])
        return float((kept_a & kept_b).sum() / (kept_a | kept_b).sum())

    density = {k: np.array([[float(m[n].float().mean()) for n in names] for m in v]) for k, v in masks.items()}
    spread = density["eager"].std(axis=0, ddof=1)
    gap = np.abs(density["fast"].mean(axis=0) - density["eager"].mean(axis=0))
    within = gap <= spread
    same_seed = [jaccard(a, b) for a, b in zip(masks["fast"], masks["eager"])]
    reordered = [jaccard(a, b) for a, b in zip(masks["reorder"], masks["eager"])]
    other_seed = [jaccard(a, b) for a, b in itertools.combinations(masks["eager"], 2)]
    overall = sum(int(m.sum()) for m in masks["eager"][0].values()) / sum(m.numel() for m in masks["eager"][0].values())
    return dict(
        variant=variant, seeds=len(eager), level=last, accuracy_eager=[round(a, 2) for a in eager],
        accuracy_fast=[round(a, 2) for a in fast],
        accuracy_difference=dict(mean=round(difference.mean, 3), low=round(difference.low, 3),
                                 high=round(difference.high, 3), interval=stats.CONVENTION),
        accuracy_equivalence=dict(margin=ACCURACY_MARGIN, test="TOST on the paired differences", p=round(p, 4),
                                  equivalent=p < 1 - stats.LEVEL),
        layer_density=dict(tensors=len(names), within_seed_spread=int(within.sum()),
                           largest_gap_in_spreads=round(float((gap / np.maximum(spread, 1e-12)).max()), 3),
                           rule="|fast mean - eager mean| <= the eager seeds' SD, for every prunable tensor"),
        kept_overlap=dict(fast_eager=[round(j, 4) for j in same_seed], reorder_eager=[round(j, 4) for j in reordered],
                          same_seed=round(float(np.mean(same_seed)), 4), reordered=round(float(np.mean(reordered)), 4),
                          eager_other_seeds=round(float(np.mean(other_seed)), 4), density=round(overall, 4),
                          random=round(overall / (2 - overall), 4),
                          measure="Jaccard of the kept weights at the last level: per replicate (fast_eager, "
                                  "reorder_eager) and means; random = p / (2 - p) at density p"))


# ---- driver -------------------------------------------------------------------------------------

def _case(case):
    """One variant, timed in this (fresh) process, whose thread count run_case set; returns its row."""
    start = time.perf_counter()
    accuracies = _plain(case) if case["variant"] == "plain" else _imp(case) if case["variant"] == "imp" \
        else _runner(case)
    wall = time.perf_counter() - start
    levels = case["replicates"] * case["levels"]
    return dict(case, wall_s=round(wall, 2), levels_done=levels, levels_per_hour=round(levels / wall * 3600, 1),
                final_accuracy=[round(a, 4) for a in accuracies])


def _summary(results, variants, models) -> list[dict]:
    """Per model and variant: the median levels/hour over rounds, and its ratio to the plain loop's."""
    import statistics
    out = []
    for model in models:
        rate = {v: [r["levels_per_hour"] for r in results if r["model"] == model and r["variant"] == v
                    and "error" not in r] for v in variants}
        base = statistics.median(rate["plain"]) if rate.get("plain") else None
        for v in variants:
            if rate[v]:
                median = statistics.median(rate[v])
                out.append(dict(model=model, variant=v, rounds=len(rate[v]), levels_per_hour=round(median, 1),
                                vs_plain=round(median / base, 2) if base else None))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "vgg16"])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rewind-step", type=int, default=7)
    parser.add_argument("--group", type=int, default=4, help="replicates per group (runner-grouped, runner-fast)")
    parser.add_argument("--rounds", type=int, default=2, help="sweeps over every model and variant, interleaved")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the plain loop")
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=VARIANTS)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the imp variant trains")
    parser.add_argument("--check", action="store_true", help="check the imp variant against a CPU reference run")
    parser.add_argument("--out", default=None)
    parser.add_argument(benchmark.CASE_FLAG, dest="case", help=argparse.SUPPRESS)  # worker mode: one variant
    args = parser.parse_args()
    if args.case:
        return benchmark.serve_case(_case, args.case)
    for name in ("width", "replicates", "levels", "epochs", "threads", "group", "rounds"):
        if getattr(args, name) < 1 or (name == "levels" and args.levels < 2):
            parser.error(f"--{name} must be >= {2 if name == 'levels' else 1}; got {getattr(args, name)}")
    if (args.device != "cpu" or args.check) and args.variants != ["imp"]:
        parser.error("--device and --check apply to the imp variant alone: pass --variants imp")

    import torch
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    # The Triton masks where they run (CUDA; the CPU interpreted), else the reference.
    backend = "triton" if args.device == "cuda" or os.environ.get("TRITON_INTERPRET") == "1" else "reference"
    runs = [(args.device, backend)] + ([("cpu", "reference")] if args.check else [])
    results, checks, kept = [], [], {}
    for round_ in range(args.rounds):
        for model in args.models:
            for variant in args.variants:
                stores = []
                for device, masks in runs if variant == "imp" else [(None, None)]:
                    case = dict(model=model, width=args.width, replicates=args.replicates, levels=args.levels,
                                epochs=args.epochs, rewind_step=args.rewind_step, threads=args.threads,
                                group=args.group, variant=variant, round=round_ + 1)
                    if variant == "imp":   # its tickets in a temporary store, kept until the check has read them
                        stores.append(tempfile.TemporaryDirectory(prefix="rglt-bench-imp-"))
                        case.update(device=device, backend=masks, store=stores[-1].name)
                    elif variant in RUNNERS:   # a fresh ticket cache; round 1's kept for the faithfulness check
                        cache = tempfile.TemporaryDirectory(prefix="rglt-bench-imp-")
                        case.update(cache=cache.name)
                        if round_ == 0:
                            kept[model, variant] = cache
                    try:   # the plain loop on all its threads; the other variants' workers have one each
                        record = benchmark.run_case(__file__, case, env={"RGLT_PROGRESS": "0"},
                                                    threads=args.threads if variant == "plain" else 1)
                    except benchmark.CaseError as e:
                        print(f"{model} {variant}: {e}", file=sys.stderr)
                        results.append(dict(case, error=e.stderr[-2000:]))
                        continue
                    record.pop("cache", None)
                    record["load_average_after"] = list(os.getloadavg())
                    results.append(record)
                    print(f"round {round_ + 1} {model:10s} {variant:21s} {record['wall_s']:8.1f} s  "
                          f"{record['levels_per_hour']:8.1f} levels/h  accuracy "
                          f"{sum(record['final_accuracy']) / len(record['final_accuracy']):.4f}"
                          + (f"  ({device}, {masks} masks)" if device else ""), flush=True)
                if args.check:
                    ok = all("error" not in r for r in results[-len(runs):])
                    checks.append(dict(model=model, **(compare_stores(stores[0].name, stores[1].name, args.levels)
                                                       if ok else dict(ok=False, error="a run failed: nothing to compare"))))
                    c = checks[-1]
                    print(f"{model}: {args.device} against the CPU reference: " + (
                          f"rewind weights differ by {c['rewind_max_relative_diff']:.1e} of a tensor's largest |value| "
                          f"(at most {REWIND_TOLERANCE}), weights kept per level {c['kept_per_level']}, last masks agree "
                          f"on {c['last_level_mask_agreement']:.2%}: {'ok' if c['ok'] else 'FAILED'}" if ok else c["error"]))
                for store in stores:
                    store.cleanup()
    faithful = []
    for model in args.models:
        fast = [v for v in FAST if (model, v) in kept]
        if (model, "runner") not in kept or not fast or args.replicates < 2:
            continue
        case = dict(model=model, width=args.width, replicates=args.replicates, levels=args.levels,
                    epochs=args.epochs, rewind_step=args.rewind_step, group=args.group)
        reorder_baseline(kept[model, "runner"].name, case)
        for variant in fast:
            faithful.append(dict(model=model, **faithfulness(kept[model, "runner"].name, kept[model, variant].name,
                                                             case, variant)))
            f = faithful[-1]
            print(f"{model}: {variant} against eager over {f['seeds']} seeds: accuracy difference "
                  f"{f['accuracy_difference']['mean']:+.2f} [{f['accuracy_difference']['low']:+.2f}, "
                  f"{f['accuracy_difference']['high']:+.2f}] points (TOST p {f['accuracy_equivalence']['p']}), "
                  f"{f['layer_density']['within_seed_spread']}/{f['layer_density']['tensors']} tensors' densities "
                  f"within the seed spread, kept overlap {f['kept_overlap']['same_seed']} (reordered "
                  f"{f['kept_overlap']['reordered']}, other seeds {f['kept_overlap']['eager_other_seeds']})")
    for cache in kept.values():
        cache.cleanup()
    summary = _summary(results, args.variants, args.models)
    for row in summary:
        print(row)
    data = dict(benchmark="imp", task="mnist1d (4,000 train / 1,000 test, length 40)",
                workload=dict(batch=BATCH, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, fraction=FRACTION,
                              schedule="one-cycle, pct_start 0.3", group=args.group),
                timing=f"wall time of one fresh subprocess per variant; {args.rounds} rounds, the variants interleaved",
                summary=summary, results=results, faithfulness=faithful or None, check=checks or None)
    # The rules chapter 6 judges this record by, as they stood when it was made (rglt.experiments._kernels).
    rules = claims.rules_record(_kernels.imp_rules())
    provenance = benchmark.record_provenance(args.device, code=("rglt", "kernels", "benchmarks", ":!benchmarks/results"),
                                             threads=args.threads, torch_interop=torch.get_num_interop_threads(),
                                             rules=rules, rules_hash=claims.rules_hash(rules))
    save(args.out or benchmark.record_path(f"imp-{provenance['device_kind']}"), data, provenance)


if __name__ == "__main__":
    main()
