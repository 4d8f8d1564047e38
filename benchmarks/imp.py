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
- ``runner-channels-last`` (not run by default): the same, with the model computing in channels-last
  memory (``ModelSpec(layout="channels-last")``, :mod:`rglt.models.layout`; other tickets bit for bit);
- ``grouped``: the replicates trained as one network per worker: every Conv1d / BatchNorm1d / Linear of
  G replicates becomes one grouped layer (groups = G), each replicate reading its own batch order, so
  each kernel call does G models' work; two one-thread workers. The maths is each replicate's own
  (grouped convolution, per-channel BatchNorm and the optimizer are separable), but the float reduction
  order differs, so its tickets are not the runner's bit for bit: it is measured, not used by the book;
- ``imp`` (not run by default): ``rglt.prune.imp`` itself, as ``train_tickets`` calls it, on ``--device``
  (one thread on the host) into a temporary ticket store, its masks from the Triton kernels (CUDA, or
  the CPU under TRITON_INTERPRET=1; else the reference). ``--check`` also runs it on the CPU with the
  reference masks and compares replicate 0 of the two: the rewind weights (the first ``--rewind-step``
  training steps, the same initial weights and batches) within REWIND_TOLERANCE of each tensor's largest
  |value|, and the same number of weights kept at every level; the last level's mask agreement and the
  accuracies are reported.

levels/hour = replicates x levels / wall time x 3600 (process start, data loading and evaluation included).
Each variant runs once in its own process (``rglt.benchmark.run_case``, which sets its thread count), timed
by one wall clock: an IMP run is long enough to time alone, and repeating it is what the replicates do.
Usage: python benchmarks/imp.py [--models resnet20 vgg16] [--width 16] [--replicates 4] [--levels 3]
       [--epochs 5] [--variants plain runner grouped imp] [--device cpu|cuda] [--check] [--out PATH]
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

from rglt import benchmark

VARIANTS = ("plain", "runner", "grouped", "imp", "runner-channels-last")
BATCH, LR, MOMENTUM, WEIGHT_DECAY, FRACTION = 128, 0.1, 0.9, 5e-4, 0.2
# The check: after the same first steps from the same weights, a device's rewind weights differ from the
# CPU's by float rounding, which cuDNN's default TF32 convolutions raise to ~1e-3 of a value; a wrong
# device path (masks not applied, another batch order) moves them by O(1).
REWIND_TOLERANCE = 1e-2


def _runs(case):
    from rglt.data.tasks import Task
    from rglt.prune import IMPConfig, ModelSpec, TicketRun
    from rglt.train import TrainConfig
    layout = "channels-last" if case["variant"] == "runner-channels-last" else "default"
    run = TicketRun(ModelSpec(case["model"], width=case["width"], layout=layout), Task("mnist1d"),
                    TrainConfig(epochs=case["epochs"], batch_size=BATCH, lr=LR, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY),
                    IMPConfig(rounds=case["levels"] - 1, fraction=FRACTION, rewind_step=case["rewind_step"]),
                    prunable="weights")
    return run.replicates(case["replicates"])


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
    with tempfile.TemporaryDirectory(prefix="rglt-bench-imp-") as cache, use_cache(cache):
        stores = run_all(_runs(case), workers=2)
        return [s.load(case["levels"] - 1).metrics["accuracy"] for s in stores]


# ---- (c) replicates as one grouped network ------------------------------------------------------

def _grouped_model(models):
    """One network computing ``len(models)`` same-architecture 1D models side by side (channels g-major)."""
    import torch
    import torch.nn as nn

    class GroupedLinear(nn.Module):
        def __init__(self, linears):
            super().__init__()
            self.groups = len(linears)
            self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in linears]))   # [G, out, in]
            self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in linears]))       # [G, out]

        def forward(self, x):   # [B, G * in] -> [B, G, out]
            x = x.reshape(x.shape[0], self.groups, -1)
            return torch.einsum("bgi,goi->bgo", x, self.weight) + self.bias

    g = len(models)
    grouped = copy.deepcopy(models[0])
    per_name = [dict(m.named_modules()) for m in models]
    for name, module in list(grouped.named_modules()):
        copies = [modules[name] for modules in per_name]
        if isinstance(module, nn.Conv1d):
            new = nn.Conv1d(g * module.in_channels, g * module.out_channels, module.kernel_size, module.stride,
                            module.padding, module.dilation, g * module.groups, module.bias is not None)
            with torch.no_grad():
                new.weight.copy_(torch.cat([c.weight for c in copies]))
                if module.bias is not None:
                    new.bias.copy_(torch.cat([c.bias for c in copies]))
        elif isinstance(module, nn.BatchNorm1d):
            new = nn.BatchNorm1d(g * module.num_features, module.eps, module.momentum)
            with torch.no_grad():
                new.weight.copy_(torch.cat([c.weight for c in copies]))
                new.bias.copy_(torch.cat([c.bias for c in copies]))
        elif isinstance(module, nn.Linear):
            new = GroupedLinear(copies)
        else:
            continue
        parent, _, attr = name.rpartition(".")
        setattr(grouped.get_submodule(parent) if parent else grouped, attr, new)
    return grouped


def _grouped_job(job):
    import torch
    import torch.nn.functional as F

    from rglt.prune import magnitude_masks
    from rglt.train import epoch_order, lr_at, steps_per_epoch, TrainConfig

    case, seeds = job
    (x, y), (x_test, y_test) = _data()
    g = len(seeds)
    models, names = zip(*(_build(case, s) for s in seeds))
    names = names[0]
    model = _grouped_model(models)
    params = dict(model.named_parameters())
    fc = {n for n in names if n.startswith("fc.")}
    split = lambda n, t: list(t.unbind(0)) if n in fc else list(t.reshape(g, -1, *t.shape[1:]))  # noqa: E731
    masks = {n: torch.ones_like(params[n], dtype=torch.bool) for n in names}
    config = TrainConfig(epochs=case["epochs"], batch_size=BATCH, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    per_epoch = steps_per_epoch(len(y), BATCH)
    total = per_epoch * case["epochs"]
    rewind = None
    for level in range(case["levels"]):
        if level:   # each replicate pruned globally over its own slices, as alone
            for r in range(g):
                kept = magnitude_masks([split(n, params[n].detach())[r] for n in names],
                                       [split(n, masks[n])[r] for n in names], FRACTION)
                for n, m in zip(names, kept):
                    split(n, masks[n])[r].copy_(m)
            model.load_state_dict(rewind)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        step = case["rewind_step"] if level else 0
        model.train()
        while step < total:
            epoch, b = divmod(step, per_epoch)
            if b == 0 or step == case["rewind_step"]:
                orders = [epoch_order(len(y), s, epoch) for s in seeds]
            if step == case["rewind_step"] and level == 0:
                rewind = copy.deepcopy(model.state_dict())
            batch = [o[b * BATCH:(b + 1) * BATCH] for o in orders]
            xb = torch.cat([x[i] for i in batch], dim=1)               # [B, G, 40]: replicate r in channel r
            yb = torch.stack([y[i] for i in batch], dim=1)             # [B, G]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total, config)
            with torch.no_grad():
                for n in names:
                    params[n].mul_(masks[n])
            optimizer.zero_grad()
            logits = model(xb)                                         # [B, G, 10]
            F.cross_entropy(logits.reshape(-1, 10), yb.reshape(-1), reduction="sum").div(len(yb)).backward()
            optimizer.step()
            step += 1
        with torch.no_grad():
            for n in names:
                params[n].mul_(masks[n])
            model.eval()
            logits = model(x_test.repeat(1, g, 1))
            accuracies = (logits.argmax(-1) == y_test[:, None]).float().mean(0).tolist()
    return accuracies


def _grouped(case):
    from rglt.prune import map_jobs
    seeds = list(range(case["replicates"]))
    half = (len(seeds) + 1) // 2
    jobs = [(case, seeds[:half]), (case, seeds[half:])]
    return [a for part in map_jobs(_grouped_job, [j for j in jobs if j[1]], workers=2) for a in part]


# ---- (d) rglt.prune.imp on a device ------------------------------------------------------------

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


# ---- driver -------------------------------------------------------------------------------------

def _case(case):
    """One variant, timed in this (fresh) process, whose thread count run_case set; returns its row."""
    start = time.perf_counter()
    accuracies = {"plain": _plain, "runner": _runner, "grouped": _grouped, "imp": _imp,
                  "runner-channels-last": _runner}[case["variant"]](case)
    wall = time.perf_counter() - start
    levels = case["replicates"] * case["levels"]
    return dict(case, wall_s=round(wall, 2), levels_done=levels, levels_per_hour=round(levels / wall * 3600, 1),
                final_accuracy=[round(a, 4) for a in accuracies])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "vgg16"])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--replicates", type=int, default=4)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rewind-step", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the plain loop")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS[:3]), choices=VARIANTS)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the imp variant trains")
    parser.add_argument("--check", action="store_true", help="check the imp variant against a CPU reference run")
    parser.add_argument("--out", default=None)
    parser.add_argument(benchmark.CASE_FLAG, dest="case", help=argparse.SUPPRESS)  # worker mode: one variant
    args = parser.parse_args()
    if args.case:
        return benchmark.serve_case(_case, args.case)
    for name in ("width", "replicates", "levels", "epochs", "threads"):
        if getattr(args, name) < 1 or (name == "levels" and args.levels < 2):
            parser.error(f"--{name} must be >= {2 if name == 'levels' else 1}; got {getattr(args, name)}")
    if args.replicates < 2 and "grouped" in args.variants:
        parser.error("--replicates must be >= 2 for the grouped variant")
    if (args.device != "cpu" or args.check) and args.variants != ["imp"]:
        parser.error("--device and --check apply to the imp variant alone: pass --variants imp")

    import torch
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    # The Triton masks where they run (CUDA; the CPU interpreted), else the reference.
    backend = "triton" if args.device == "cuda" or os.environ.get("TRITON_INTERPRET") == "1" else "reference"
    runs = [(args.device, backend)] + ([("cpu", "reference")] if args.check else [])
    results, checks = [], []
    for model in args.models:
        for variant in args.variants:
            stores = []
            for device, masks in runs if variant == "imp" else [(None, None)]:
                case = dict(model=model, width=args.width, replicates=args.replicates, levels=args.levels,
                            epochs=args.epochs, rewind_step=args.rewind_step, threads=args.threads, variant=variant)
                if variant == "imp":   # its tickets in a temporary store, kept until the check has read them
                    stores.append(tempfile.TemporaryDirectory(prefix="rglt-bench-imp-"))
                    case.update(device=device, backend=masks, store=stores[-1].name)
                try:   # the plain loop on all its threads; the other variants' workers have one each
                    record = benchmark.run_case(__file__, case, env={"RGLT_PROGRESS": "0"},
                                                threads=args.threads if variant == "plain" else 1)
                except benchmark.CaseError as e:
                    print(f"{model} {variant}: {e}", file=sys.stderr)
                    results.append(dict(case, error=e.stderr[-2000:]))
                    continue
                record["load_average_after"] = list(os.getloadavg())
                results.append(record)
                print(f"{model:10s} {variant:8s} {record['wall_s']:8.1f} s  {record['levels_per_hour']:8.1f} levels/h  "
                      f"accuracy {sum(record['final_accuracy']) / len(record['final_accuracy']):.4f}"
                      + (f"  ({device}, {masks} masks)" if device else ""), flush=True)
            if args.check:
                ok = all("error" not in r for r in results[-len(runs):])
                checks.append(dict(model=model, **(compare_stores(stores[0].name, stores[1].name, args.levels) if ok
                                                   else dict(ok=False, error="a run failed: nothing to compare"))))
                c = checks[-1]
                print(f"{model}: {args.device} against the CPU reference: " + (
                      f"rewind weights differ by {c['rewind_max_relative_diff']:.1e} of a tensor's largest |value| "
                      f"(at most {REWIND_TOLERANCE}), weights kept per level {c['kept_per_level']}, last masks agree "
                      f"on {c['last_level_mask_agreement']:.2%}: {'ok' if c['ok'] else 'FAILED'}" if ok else c["error"]))
            for store in stores:
                store.cleanup()
    data = dict(benchmark="imp", task="mnist1d (4,000 train / 1,000 test, length 40)",
                workload=dict(batch=BATCH, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, fraction=FRACTION,
                              schedule="one-cycle, pct_start 0.3"),
                timing="wall time of one fresh subprocess per variant, variants one after another",
                results=results, check=checks or None)
    provenance = benchmark.record_provenance(args.device, code=("rglt", "kernels", "benchmarks", ":!benchmarks/results"),
                                             threads=args.threads, torch_interop=torch.get_num_interop_threads())
    save(args.out or benchmark.record_path(f"imp-{provenance['device_kind']}"), data, provenance)


if __name__ == "__main__":
    main()
