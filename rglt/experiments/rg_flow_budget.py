"""Chapter 3: why our bits/dim miss the report's, model size against training budget.

The cpu profile's flows (rg_flow) are both smaller than the report's (1.9 M against 80.5 M parameters)
and trained far shorter (under an epoch against 60). This experiment separates the two on MSDS1 with
the Laplace prior: flows of several sizes, each trained in its own one-thread worker for its own number
of steps with held-out bits/dim every ``eval_every`` steps, recorded against images seen and wall time.
Each curve is fitted with b(n) = b_inf + A n^-alpha (``rglt.flow.budget``) and extrapolated to the
report's 60 epochs of 90,000 images; the size effect is read at a matched number of images.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time

import numpy as np

from rglt.data import msds
from rglt.flow import RGFlow, parameter_count
from rglt.flow.budget import extrapolate
from rglt.flow.model import BACKENDS
from rglt.flow.training import FlowTrainConfig, train_flow
from rglt.identity import unhashed
from rglt.prune.runner import map_jobs
from rglt.report import Claim, judged
from rglt.validate import check_choice

NAME = "rg_flow_budget"
VERSION = 1
REPORT_IMAGES = 60 * 90000            # 001 Sec. 2.5: 60 epochs of the synthetic data sets' 90,000 images
REPORT_BPD = 1.8562                   # 001 Table 1: MSDS1, Laplacian prior
ORIGINAL = (4, 4, 512)                # the original MSDS model: subnet layers per level, residual blocks, hidden
BOOK_CPU = (2, 2, 128)                # rg_flow's cpu profile, whose gap to Table 1 is the question


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: str = "msds1"
    prior: str = "laplace"
    # (subnet layers per RG layer, residual blocks, hidden units) and the steps each size trains
    sizes: tuple = ((1, 1, 64), (2, 2, 128), (4, 2, 256))
    steps: tuple = (4000, 3000, 1200)
    train_size: int = 90000
    curve_size: int = 1000             # held-out test images evaluated during training
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 5e-5
    clip_norm: float = 1.0
    eval_every: int = 100
    seed: int = 0
    workers: int = unhashed(2)
    threads_per_worker: int = unhashed(1)
    backend: str = unhashed("auto")
    fit_from: float = unhashed(0.1)          # the fit ignores the first 10% of each curve's images
    extrapolation_tol: float = unhashed(0.05)   # bpd: the extrapolation against Table 1
    pinned: float = unhashed(0.25)              # bpd: an extrapolation less certain than this decides nothing


CONFIGS = {
    # Eager at the smoke profile: compiling for a few dozen steps of a tiny flow costs minutes (measured in
    # CI: about 2 s a step on the compiled path), and rg_flow's smoke run already exercises the fast path.
    "smoke": Config(sizes=((1, 1, 16), (1, 1, 32)), steps=(48, 32), train_size=512, curve_size=64, eval_every=8,
                    workers=1, threads_per_worker=2, backend="reference"),
    "cpu": Config(),
    "gpu": Config(sizes=((1, 1, 64), (2, 2, 128), (4, 2, 256), (4, 4, 512)), steps=(20000, 20000, 20000, 20000),
                  batch_size=64, eval_every=500, workers=1, threads_per_worker=8),
}


def _job(config: Config, k: int) -> dict:
    import torch


    torch.set_num_threads(config.threads_per_worker)
    start = time.perf_counter()
    train, _ = msds(config.dataset, config.train_size, seed=config.seed)
    test, _ = msds(config.dataset, config.curve_size, seed=config.seed + 1)
    layers, blocks, hidden = config.sizes[k]
    torch.manual_seed(config.seed)
    model = RGFlow(3, 32, 4, layers, blocks, hidden, config.prior)
    if torch.cuda.is_available():
        model = model.cuda()
    history = train_flow(model, train, FlowTrainConfig(
        steps=config.steps[k], batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
        clip_norm=config.clip_norm, eval_every=config.eval_every, seed=config.seed),
        held_out=test, desc=f"size {config.sizes[k]}", backend=config.backend)
    out = {key: np.asarray(v, dtype=np.float64) for key, v in history.items()}
    out["parameters"] = sum(p.numel() for p in model.parameters())
    out["job_seconds"] = time.perf_counter() - start
    return out


def run(config: Config) -> dict:
    check_choice(config.backend, "backend", BACKENDS)
    if len(config.sizes) != len(config.steps) or len(config.sizes) < 2:
        raise ValueError(f"sizes and steps must be sequences of the same length >= 2; got {len(config.sizes)} "
                         f"sizes and {len(config.steps)} step counts")
    # The longest job first, so that two workers finish together.
    order = sorted(range(len(config.sizes)), key=lambda k: -config.steps[k] * config.sizes[k][0]
                   * config.sizes[k][1] * config.sizes[k][2] ** 1.5)
    trained = map_jobs(functools.partial(_job, config), order, workers=config.workers,
                       threads_per_worker=config.threads_per_worker, desc="RG-Flow sizes")
    out = {}
    for k, values in zip(order, trained):
        out.update({f"size{k}_{key}": v for key, v in values.items()})
    out["cpu_count"] = os.cpu_count()
    return out


def curves(result, config: Config) -> list[dict]:
    """Per size: its shape, parameters, images seen at each evaluation, held-out bpd, wall seconds and
    the extrapolation to the report's 60 epochs (``rglt.flow.budget.extrapolate``)."""

    out = []
    for k, size in enumerate(config.sizes):
        steps = np.asarray(result[f"size{k}_step"], dtype=float)
        images = (steps + 1) * config.batch_size
        bpd = np.asarray(result[f"size{k}_held_out_bpd"], dtype=float)
        keep = images >= config.fit_from * images[-1]
        row = dict(size=tuple(size), parameters=int(result[f"size{k}_parameters"]), images=images, bpd=bpd,
                   seconds=np.asarray(result[f"size{k}_train_seconds"], dtype=float))
        try:
            row["extrapolation"] = extrapolate(images[keep], bpd[keep], REPORT_IMAGES)
        except (RuntimeError, ValueError) as e:     # too few points (smoke), or a curve the law cannot fit
            row["extrapolation"] = {"error": str(e)}
        out.append(row)
    return out


def bpd_at(row: dict, images: float) -> float:
    """The held-out bpd of a curve at ``images`` (linear in log images between evaluations)."""
    return float(np.interp(np.log(images), np.log(row["images"]), row["bpd"]))


def checks(result, config: Config) -> list[Claim]:
    rows = curves(result, config)
    out = []
    # The size effect at matched images (the most that every size has seen): the slope of bpd against
    # log10(parameters), carried over the decades from the book's cpu model to the original's.
    matched = min(r["images"][-1] for r in rows)
    params = np.array([r["parameters"] for r in rows], dtype=float)
    at = np.array([bpd_at(r, matched) for r in rows])
    slope = float(np.polyfit(np.log10(params), at, 1)[0])
    # The budget effect for the book's cpu model (or the size closest to it in parameters).
    book = parameter_count(3, 32, 4, *BOOK_CPU)["total"]
    cpu = min(rows, key=lambda r: abs(np.log(r["parameters"] / book)))
    ex = cpu["extrapolation"]
    if "error" in ex:
        return [Claim(claim="the learning curves extrapolate to the report's 60 epochs", source="001 Sec. 2.5, Table 1",
                      source_value=f"{REPORT_BPD} bpd after 60 epochs", ours="no fit", tolerance="a converged fit",
                      **judged(False, ex["error"]))]
    measured_end = float(cpu["bpd"][-1])
    budget_gain = measured_end - ex["value"]
    miss, tol = ex["value"] - REPORT_BPD, config.extrapolation_tol
    decades = np.log10(parameter_count(3, 32, 4, *ORIGINAL)["total"] / cpu["parameters"])
    size_gain = -slope * decades
    out.append(Claim(
        claim=f"MSDS1 laplace: extrapolated to the report's 60 epochs, the {cpu['parameters']:,}-parameter flow "
              f"reaches Table 1's bits/dim",
        source="001 Table 1; Sec. 2.5 (60 epochs)", source_value=f"{REPORT_BPD:.4f} bpd",
        ours=(f"{ex['value']:.3f} +- {ex['uncertainty']:.3f} bpd at {REPORT_IMAGES:,} images (measured "
              f"{measured_end:.3f} at {cpu['images'][-1]:,.0f}; alpha = {ex['fit']['alpha']:.2f})"),
        tolerance=(f"|extrapolation - Table 1| <= {tol} with an uncertainty <= {tol}; within {tol} + the "
                   f"uncertainty, itself <= {config.pinned}, is partly"),
        **judged(abs(miss) <= tol and ex["uncertainty"] <= tol,
                 f"{miss:+.3f} bpd from Table 1 after 60 epochs at this size, uncertain by {ex['uncertainty']:.3f}: "
                 + ("the curve does not pin the extrapolation down" if abs(miss) <= tol + ex["uncertainty"] else
                    f"training longer closes {budget_gain:.3f} of the {measured_end - REPORT_BPD:.3f} bpd gap"),
                 partly=abs(miss) <= tol + ex["uncertainty"] and ex["uncertainty"] <= config.pinned)))
    out.append(Claim(
        claim="MSDS1 laplace: the training budget, not the model size, dominates the gap to Table 1",
        source="001 Sec. 5 (\"only partial convergence of the model\")",
        source_value="no number: the report blames its own gap on training",
        ours=(f"60 epochs would gain {budget_gain:.3f} +- {ex['uncertainty']:.3f} bpd at {cpu['parameters']:,} "
              f"parameters; the original's {10 ** decades:.0f}x more parameters would gain {size_gain:+.3f} bpd at "
              f"{matched:,.0f} images ({-slope:+.3f} bpd per decade over {len(rows)} sizes, "
              f"{params.min():,.0f}-{params.max():,.0f})"),
        tolerance=f"budget gain - its uncertainty > size gain; the point estimates alone, with an uncertainty <= "
                  f"{config.pinned}, is partly",
        **judged(budget_gain - ex["uncertainty"] > size_gain,
                 f"the budget gain, {budget_gain:.3f} +- {ex['uncertainty']:.3f}, does not exceed the size gain "
                 f"({size_gain:+.3f}) by its uncertainty: "
                 + ("the point estimates favour the budget, but the extrapolation cannot tell which dominates"
                    if budget_gain > size_gain else "the size gain is as large or larger"),
                 partly=budget_gain > size_gain and ex["uncertainty"] <= config.pinned)))
    return out
