"""RG-Flow on MSDS1 / MSDS2 with both priors: Table 1, and what the trained flows have learnt per level.

One job per (data set, prior, training seed): train an RG-Flow (``rglt.flow.train_flow``; both priors
of a seed start from the same initial weights and see the same batches), record held-out bits/dim
against training time and the bpd on the whole test set. The first seed's flows are then measured in
full:

- the round trip inverse(forward(x)) - x on test images;
- samples at T = 1 for the Frechet distance, and at the figure temperature (Fig. 6);
- generation across scales (Fig. 3, finer latents at the prior's mode), receptive fields per level
  with their extent (Fig. 7, in pixel space as Eq. 31 and in logit space), mixing along the scale
  direction, and mixed-temperature samples.

Jobs run in ``workers`` processes (spawned, ``threads_per_worker`` torch threads each): on 2 cores two
1-thread jobs train ~40% more images per second than one 2-thread job. The Frechet distance is then
measured in the parent with a feature network trained on each data set's labels (no Inception
weights can be downloaded here), against the test set, beside the distance of an equally large set
of real training images (the floor that sample noise sets).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time

import numpy as np

from rglt.data import celeba_images, msds
from rglt.identity import unhashed
from rglt.report import Claim, judged
from rglt.flow import (RGFlow, colour_share, evaluate_bpd, extract_features, feature_statistics, frechet_distance,
                       generation_across_scales, inception_features, mix_along_scale, parameter_count, preprocess,
                       receptive_field_extent, receptive_fields, sample_mixed_temperature, to_uint8,
                       train_msds_feature_net)
from rglt.flow.model import BACKENDS
from rglt.flow.training import FlowTrainConfig, train_flow
from rglt.prune.runner import map_jobs
from rglt.validate import check_choice, check_int

NAME = "rg_flow"
VERSION = 2
DATASETS = ("msds1", "msds2")
CELEBA_LAYERS_PER_LEVEL = (8, 6, 4, 2)   # the original CelebA model; MSDS uses config.layers_per_level
PRIORS = ("laplace", "gaussian")
# Table 1 of the reproduction report (its own runs): bpd and FID (Inception) per data set and prior.
REPORT_TABLE1 = {
    "celeba": {"laplace": (3.7238, 83.815), "gaussian": (3.7432, 80.418)},
    "msds1": {"laplace": (1.8562, 103.164), "gaussian": (1.8505, 103.637)},
    "msds2": {"laplace": (1.9375, 105.798), "gaussian": (1.9457, 106.914)},
}
# Sec. 2.5 of the report: "The CelebA model was trained for 100 epochs and the synthetic models for 60",
# with m = 4, n_res = 4, 512 hidden units and n_layer = [8, 6, 4, 2] (CelebA) or 4 (synthetic).
REPORT_EPOCHS = {"celeba": 100, "msds1": 60, "msds2": 60}
CELEBA_TRAIN_IMAGES = 162770             # CelebA's official training split
ORIGINAL_LAYERS_PER_LEVEL = {"celeba": CELEBA_LAYERS_PER_LEVEL, "msds1": 4, "msds2": 4}


@dataclasses.dataclass(frozen=True)
class Config:
    datasets: tuple = DATASETS
    priors: tuple = PRIORS
    train_size: int = 90000            # the original generators' 90,000 / 10,000
    test_size: int = 10000
    celeba_train_size: int | None = None   # None: the whole training split (162,770 images)
    seeds: int = 3                     # training seeds per (data set, prior); the first is analysed in full
    curve_size: int = 2000             # the first test images, for the held-out curve during training
    layers_per_level: int = 2          # the original MSDS model: 4, with 4 residual blocks of 512
    residual_blocks: int = 2
    hidden: int = 128
    steps: int = 1000
    report_epochs: bool = False        # True: each data set trains the report's epochs (REPORT_EPOCHS), not steps
    batch_size: int = 64               # the original's default (the report used 512)
    lr: float = 1e-3
    weight_decay: float = 5e-5
    clip_norm: float = 1.0
    eval_every: int = 100
    fd_samples: int = 5000
    feature_train: int = 20000
    feature_epochs: int = 4
    figure_temperature: float = 0.75   # Fig. 6 of the report: Gaussian prior at T = 0.75
    figure_samples: int = 8
    rf_samples: int = 16               # prior draws in the receptive-field expectation
    rf_sites: int = 16                 # sites per level averaged (all of them when fewer)
    mixed_temperatures: tuple = (0.2, 0.8, 0.8, 0.8)   # the original's plot_mix_temperature.py
    workers: int = unhashed(2)                  # execution only: the jobs and their results are the same
    threads_per_worker: int = unhashed(1)
    # train_flow's backend: "auto" = the fast path on the CPU, the Triton kernels on CUDA; "reference" the
    # eager code. fp32 either way: the same flow up to float rounding (benchmarks/results, chapter 6).
    backend: str = unhashed("auto")
    seed: int = 0
    # the claims' tolerances (unhashed: they judge the result, they do not change it)
    check_receptive_fields: bool = unhashed(True)   # off at smoke: a few prior draws are too noisy
    roundtrip_tol: float = unhashed(1e-4)       # max |G(F(x)) - x| in float32
    bpd_tol: float = unhashed(0.05)             # held-out bits/dim against Table 1
    prior_gap_tol: float = unhashed(0.02)       # "approximately the same": |bpd(Gaussian) - bpd(Laplace)|,
                                                # the report's largest gap being 0.019 (CelebA)
    colour_share_min: float = unhashed(0.5)     # MSDS1: share of image A's colour with only levels >= H/2 from A
    fid_rel_tol: float = unhashed(0.1)          # FID (Inception features only) against Table 1
    rf_doubling: tuple = unhashed((1.5, 2.5))   # "approximately doubling": RMS radius ratio per level


CONFIGS = {
    "smoke": Config(train_size=512, test_size=256, curve_size=128, layers_per_level=1, residual_blocks=1, hidden=32,
                    steps=20, eval_every=10, fd_samples=256, feature_train=512, feature_epochs=1, figure_samples=2,
                    rf_samples=2, rf_sites=2, seeds=2, workers=1, threads_per_worker=2, check_receptive_fields=False),
    "cpu": Config(),
    # The original architectures at the report's batch size and epochs (Sec. 2.5: 100 for CelebA, 60 for
    # MSDS), CelebA's whole training split from $RGLT_DATA.
    "gpu": Config(datasets=("msds1", "msds2", "celeba"), test_size=10000, layers_per_level=4, residual_blocks=4,
                  hidden=512, batch_size=512, report_epochs=True, eval_every=500, fd_samples=10000,
                  feature_epochs=10, rf_samples=64, rf_sites=64, workers=1, threads_per_worker=8),
}


def _device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _data(config: Config, dataset: str):
    """(train images, their labels or None, test images), uint8 [N, 3, 32, 32]."""
    if dataset == "celeba":   # from $RGLT_DATA; a clear FileNotFoundError when it is not there
        return (celeba_images("train", limit=config.celeba_train_size), None,
                celeba_images("test", limit=config.test_size))
    train_images, train_labels = msds(dataset, config.train_size, seed=config.seed)
    test_images, _ = msds(dataset, config.test_size, seed=config.seed + 1)
    return train_images, train_labels, test_images


def _layers_per_level(config: Config, dataset: str):
    return CELEBA_LAYERS_PER_LEVEL if dataset == "celeba" else config.layers_per_level


def _sample_uint8(model, n: int, temperature: float, seed: int, batch: int = 500):
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for start in range(0, n, batch):
            z = model.sample_latents(min(batch, n - start), temperature, generator=gen)
            out.append(to_uint8(model.inverse(z.to(_device()))).cpu())
    return torch.cat(out)


def training_steps(config: Config, dataset: str) -> int:
    """Training steps for ``dataset``: ``config.steps``, or the report's epochs of its training set."""
    if not config.report_epochs:
        return config.steps
    n = {"celeba": config.celeba_train_size or CELEBA_TRAIN_IMAGES}.get(dataset, config.train_size)
    return math.ceil(REPORT_EPOCHS[dataset] * n / config.batch_size)


def _job(config: Config, job: tuple[str, str, int]) -> dict:
    """Train one flow, ``job = (dataset, prior, k)`` with training seed ``config.seed + k``, and measure it
    (in full for k = 0); returns numpy arrays and floats (picklable across processes)."""
    dataset, prior, k = job
    import torch


    torch.set_num_threads(config.threads_per_worker)
    start = time.perf_counter()
    train_images, _, test_images = _data(config, dataset)
    seed = config.seed + k
    torch.manual_seed(seed)                 # the same initial weights for both priors of a seed
    model = RGFlow(3, 32, 4, _layers_per_level(config, dataset), config.residual_blocks, config.hidden,
                   prior).to(_device())
    history = train_flow(model, train_images, FlowTrainConfig(
        steps=training_steps(config, dataset), batch_size=config.batch_size, lr=config.lr,
        weight_decay=config.weight_decay, clip_norm=config.clip_norm, eval_every=config.eval_every, seed=seed),
        held_out=test_images[:config.curve_size], desc=f"{dataset} {prior} seed {seed}",
        flip=dataset == "celeba", backend=config.backend)
    out = {key: np.asarray(v, dtype=np.float64) for key, v in history.items()}
    out["test_bpd"] = evaluate_bpd(model, test_images, seed=config.seed + 1)   # the same noise for every run
    if k > 0:
        out["job_seconds"] = time.perf_counter() - start
        return out

    with torch.no_grad():
        y, _ = preprocess(test_images[:256], generator=torch.Generator().manual_seed(config.seed))
        y = y.to(_device())
        z, _ = model(y)
        out["roundtrip_max_error"] = float((model.inverse(z) - y).abs().max())
    out["fd_samples"] = _sample_uint8(model, config.fd_samples, 1.0, config.seed + 2).numpy()

    t, n = config.figure_temperature, config.figure_samples
    gen = lambda offset: torch.Generator().manual_seed(config.seed + offset)
    out["samples_figure"] = _sample_uint8(model, 2 * n, t, config.seed + 3).numpy()
    z = model.sample_latents(n, t, generator=gen(4)).to(_device())
    # Each panel generated from levels >= h alone, the finer latents at the prior's mode (zero).
    out["generation"] = np.stack([to_uint8(p).cpu().numpy()
                                  for p in generation_across_scales(model, z, mode="truncated")])
    z_a = model.sample_latents(n, t, generator=gen(5)).to(_device())
    z_b = model.sample_latents(n, t, generator=gen(6)).to(_device())
    out["mixing"] = np.stack([to_uint8(mix_along_scale(model, z_a, z_b, h)).cpu().numpy()
                              for h in range(model.levels + 1)])
    out["colour_share"] = colour_share(out["mixing"])
    out["mixed_temperature"] = to_uint8(sample_mixed_temperature(model, 2 * n, config.mixed_temperatures,
                                                                 config.seed + 7)).cpu().numpy()
    for space, suffix in (("pixel", ""), ("logit", "_logit")):   # Eq. 31 differentiates the image: pixel
        rf = receptive_fields(model, samples=config.rf_samples, temperature=1.0, seed=config.seed + 8,
                              max_sites=config.rf_sites, space=space)
        out["receptive_fields" + suffix] = rf
        out["rf_extent_square" + suffix] = receptive_field_extent(rf, 0.9, method="square")
        out["rf_extent_rms" + suffix] = receptive_field_extent(rf, method="rms")
    out["job_seconds"] = time.perf_counter() - start
    return out


def _frechet(config: Config, dataset: str, samples: dict) -> dict:
    """Frechet distances of each prior's samples to the test set: MSDS in a feature net trained on the labels,
    CelebA with Inception-v3 when its weights are on disk (NaN otherwise: nothing can be downloaded)."""
    import torch

    torch.set_num_threads(config.workers * config.threads_per_worker)
    train_images, train_labels, test_images = _data(config, dataset)
    if dataset == "celeba":
        try:
            net = inception_features().to(_device())
        except FileNotFoundError:
            return {"fd_real": float("nan"), **{f"fd_{p}": float("nan") for p in samples}}
    else:
        net = train_msds_feature_net(train_images[:config.feature_train], train_labels[:config.feature_train],
                                     epochs=config.feature_epochs, seed=config.seed)
    reference = feature_statistics(extract_features(net, test_images))
    # Real images the net has not been trained on, as many as the samples: the distance's noise floor.
    real = train_images[len(train_images) - config.fd_samples:]
    out = {"fd_real": frechet_distance(*reference, *feature_statistics(extract_features(net, real)))}
    for prior, images in samples.items():
        out[f"fd_{prior}"] = frechet_distance(*reference, *feature_statistics(extract_features(net, torch.as_tensor(images))))
    return out


def _jobs(config: Config) -> list[tuple[str, str, int]]:
    # The fully analysed first seed's jobs first: they are the longest.
    return [(d, p, k) for k in range(config.seeds) for d in config.datasets for p in config.priors]


def run(config: Config) -> dict:
    check_choice(config.backend, "backend", BACKENDS)   # before any job starts
    check_int(config.seeds, "seeds", 1)
    jobs = _jobs(config)
    # Spawned one-job-per-worker processes (rglt.prune.map_jobs), threads_per_worker torch threads each.
    trained = map_jobs(functools.partial(_job, config), jobs, workers=config.workers,
                       threads_per_worker=config.threads_per_worker, desc="RG-Flow jobs")
    results = dict(zip(jobs, trained))
    out = {}
    for dataset in config.datasets:
        samples = {p: results[(dataset, p, 0)].pop("fd_samples") for p in config.priors}
        out.update({f"{dataset}_{k}": v for k, v in _frechet(config, dataset, samples).items()})
        for prior in config.priors:
            out.update({f"{dataset}_{prior}_{k}": v for k, v in results[(dataset, prior, 0)].items()})
            runs = [results[(dataset, prior, k)] for k in range(config.seeds)]
            # Every seed's bpd, held-out curve and clock: the priors' claim and the curves' spread.
            for key in ("test_bpd", "held_out_bpd", "train_seconds"):
                out[f"{dataset}_{prior}_seeds_{key}"] = np.array([r[key] for r in runs])
    out["cpu_count"] = os.cpu_count()
    return out


TABLE1 = "001 Sec. 4.1, Table 1"


def budget_in_words(config: Config, dataset: str) -> str:
    """Our model and training budget next to the report's, in words (the reason a Table 1 row differs)."""
    ours = parameter_count(3, 32, 4, _layers_per_level(config, dataset), config.residual_blocks, config.hidden)["total"]
    original = parameter_count(3, 32, 4, ORIGINAL_LAYERS_PER_LEVEL[dataset], 4, 512)["total"]
    n = (config.celeba_train_size or CELEBA_TRAIN_IMAGES) if dataset == "celeba" else config.train_size
    epochs = training_steps(config, dataset) * config.batch_size / n
    size = f"{original / ours:.0f}x fewer parameters than the original" if original > ours else "the original model"
    return (f"{size} ({ours:,} vs {original:,}) trained {epochs:.2f} epochs against the report's "
            f"{REPORT_EPOCHS[dataset]}")


def _seeds(result, key: str) -> np.ndarray:
    return np.asarray(result[key], dtype=np.float64).reshape(-1)


def _spread(values: np.ndarray) -> str:
    sd = f" +- {values.std(ddof=1):.3f} (sd)" if len(values) > 1 else ""
    return f"{values.mean():.3f}{sd} over {len(values)} seed{'s' * (len(values) > 1)}"


def checks(result, config: Config) -> list[Claim]:
    """The report's claims about the trained flows, each against the report's number with its own verdict.
    ``result``: the stored result (or a dict of its data)."""
    jobs = [(d, p) for d in config.datasets for p in config.priors]
    out = []
    # Table 1: held-out bits/dim per data set and prior, the mean over the training seeds.
    for d, p in jobs:
        bpd, ref = _seeds(result, f"{d}_{p}_seeds_test_bpd"), REPORT_TABLE1[d][p][0]
        out.append(Claim(
            claim=f"{d} {p}: held-out bits/dim", source=TABLE1,
            source_value=f"BPD ({'Laplacian' if p == 'laplace' else 'Gaussian'}) {ref:.4f}",
            ours=f"{_spread(bpd)} (held out, {config.test_size:,} test images)",
            tolerance=f"mean within {config.bpd_tol} bpd",
            **judged(abs(bpd.mean() - ref) <= config.bpd_tol, f"{bpd.mean() - ref:+.3f} bpd: {budget_in_words(config, d)}")))
    # Table 1 and Sec. 5: "The two prior distributions preform approximately the same".
    if {"laplace", "gaussian"} <= set(config.priors):
        for d in config.datasets:
            gaps = _seeds(result, f"{d}_gaussian_seeds_test_bpd") - _seeds(result, f"{d}_laplace_seeds_test_bpd")
            g, l = REPORT_TABLE1[d]["gaussian"][0], REPORT_TABLE1[d]["laplace"][0]
            mean, n, tol = gaps.mean(), len(gaps), config.prior_gap_tol
            se = gaps.std(ddof=1) / np.sqrt(n) if n > 1 else np.inf
            ahead = "Gaussian" if mean < 0 else "Laplace"
            agree = int(np.sum(np.sign(gaps) == np.sign(mean)))
            out.append(Claim(
                claim=f"{d}: the two priors perform approximately the same (bits/dim, Gaussian minus Laplace)",
                source=f"{TABLE1}; Sec. 5", source_value=f"{g:.4f} - {l:.4f} = {g - l:+.4f}",
                ours=f"{_spread(gaps)}, paired by seed",
                tolerance=f"|mean| <= {tol} bpd (the report's largest gap, CelebA, is 0.019)",
                **judged(abs(mean) <= tol,
                         f"the {ahead} prior is ahead by {abs(mean):.3f} bpd (standard error {se:.3f}; {agree} of {n} "
                         f"seeds agree) at {budget_in_words(config, d)}" + ("" if abs(mean) - 2 * se > tol else
                                                                   ": within two standard errors of the tolerance"),
                         partly=abs(mean) - 2 * se <= tol)))
    # Table 1: FID, comparable only in Inception features (CelebA at the gpu profile, weights on disk).
    for d, p in jobs:
        fd, ref = float(result[f"{d}_fd_{p}"]), REPORT_TABLE1[d][p][1]
        inception = d == "celeba"
        if not np.isfinite(fd):
            ours, reason = "not measured", "Inception-v3 weights are not in torch's hub cache (nothing is downloaded)"
        elif inception:
            ours, reason = f"FID {fd:.3f} (Inception-v3)", f"{fd - ref:+.3f}: {budget_in_words(config, d)}"
        else:
            ours = f"{fd:.3f} in label-trained features (real images: {float(result[f'{d}_fd_real']):.3f})"
            reason = ("not comparable: without Inception-v3 weights offline the Frechet distance is measured in "
                      "the features of a net trained on the data set's labels")
        held = inception and np.isfinite(fd) and abs(fd - ref) <= config.fid_rel_tol * ref
        out.append(Claim(
            claim=f"{d} {p}: FID of samples at T = 1", source=f"{TABLE1} (Eq. 30, Inception-v3)",
            source_value=f"FID ({'Laplacian' if p == 'laplace' else 'Gaussian'}) {ref:.3f}", ours=ours,
            tolerance=f"within {config.fid_rel_tol:.0%} of the report's, in Inception features",
            **judged(bool(held), reason)))
    # Sec. 4.2 / Fig. 7: receptive fields per RG level, in pixel space (Eq. 31 differentiates the image).
    if config.check_receptive_fields:
        lo, hi = config.rf_doubling
        for d, p in jobs:
            ext = np.asarray(result[f"{d}_{p}_rf_extent_rms"], dtype=float)
            logit = np.asarray(result[f"{d}_{p}_rf_extent_rms_logit"], dtype=float)
            ratios = ext[1:] / ext[:-1]
            grows, doubles = bool(np.all(np.diff(ext) > 0)), bool(np.all((ratios >= lo) & (ratios <= hi)))
            listed = ", ".join(f"{r:.2f}" for r in ratios)
            reason = (f"grows at every level, but by {listed} per level: on a 32 x 32 image the coarse levels "
                      "already span most of it" if grows else
                      f"the radius does not grow at every level (ratios {listed})")
            out.append(Claim(
                claim=f"{d} {p}: receptive fields grow with the RG level, about doubling per level",
                source="001 Sec. 4.2 (observation 1), Fig. 7",
                source_value='"approximately doubling in spatial extent at each successive layer"',
                ours="pixel-space RMS radius " + ", ".join(f"{e:.2f}" for e in ext) + f" px (h = 0..{len(ext) - 1}); "
                     f"ratios {listed} (logit space: " + ", ".join(f"{r:.2f}" for r in logit[1:] / logit[:-1]) + ")",
                tolerance=f"every ratio in [{lo}, {hi}]; growth alone is partly",
                **judged(grows and doubles, reason, partly=grows)))
    # Secs. 2.4.2 and 4.2: a hierarchical flow keeps MSDS1's one colour per image in its coarse latents.
    if "msds1" in config.datasets and "gaussian" in config.priors:
        share = np.asarray(result["msds1_gaussian_colour_share"], dtype=float)     # [H + 1, n]
        levels = share.shape[0] - 1
        half = levels // 2
        med = np.median(share, axis=1)
        lo_q, hi_q = np.percentile(share[half], [25, 75])
        out.append(Claim(
            claim=f"msds1 gaussian: the image's one colour travels with the coarse latents (levels h >= {half} of "
                  f"0..{levels - 1})",
            source="001 Sec. 2.4.2 (MSDS1: one colour per image, for hierarchical separation); Sec. 4.2, Fig. 3",
            source_value="no number: the report finds a \"hierarchical, scale-separated representation\"",
            ours=(f"median share of A's colour {med[half]:.2f} (quartiles {lo_q:.2f}-{hi_q:.2f}, {share.shape[1]} "
                  f"mixes) with levels >= {half} from A; by level: "
                  + ", ".join(f"h >= {h}: {med[h]:.2f}" for h in range(levels - 1, 0, -1))),
            tolerance=f"median share >= {config.colour_share_min}",
            **judged(med[half] >= config.colour_share_min,
                     f"the colour comes from the finer latents: only {med[half]:.2f} of it follows levels >= {half}; "
                     f"{budget_in_words(config, 'msds1')}")))
    return out
