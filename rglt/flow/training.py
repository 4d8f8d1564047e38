"""Maximum-likelihood training of an RG-Flow on 8-bit images, as the original code trains it.

AdamW at a constant learning rate, gradient clipping at a global norm, fresh dequantisation noise
each step, loss = negative log-likelihood of the batch in nats/dim. Held-out bits/dim is measured
every ``eval_every`` steps (the original printed training-batch bpd only), with the training time
spent so far, so that curves can be drawn against wall time. The batch order and the noise come from ``seed`` alone.
"""
from __future__ import annotations

import dataclasses
import math
import time

import torch

from rglt.flow.metrics import bits_per_dim, evaluate_bpd
from rglt.flow.model import BACKENDS, RGFlow
from rglt.flow.preprocess import preprocess
from rglt.progress import progress
from rglt.train import TrainingDiverged
from rglt.validate import check_bool, check_choice, check_int, check_real, check_seed, is_real, require


@dataclasses.dataclass(frozen=True)
class FlowTrainConfig:
    steps: int
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 5e-5      # the 2020 code and the report; the 2022 code used 5e-2
    clip_norm: float = 1.0
    eval_every: int = 100
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every"):
            check_int(getattr(self, name), name, 1)
        # Adam's update moves each weight by about lr whatever the gradient's size: lr > 1 is never useful.
        require(is_real(self.lr) and 0 < self.lr <= 1, "lr", "a number in (0, 1] (AdamW moves every weight by "
                "about lr per step, so lr > 1 only scrambles the weights)", self.lr)
        check_real(self.clip_norm, "clip_norm", 0, low_open=True)
        check_real(self.weight_decay, "weight_decay", 0)
        check_seed(self.seed)


def _check_images(images, name: str, model: RGFlow) -> None:
    expected = (model.channels, model.size, model.size)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4 \
            or tuple(images.shape[1:]) != expected or len(images) == 0:
        raise ValueError(f"{name} must be a non-empty torch.uint8 tensor [N, {', '.join(map(str, expected))}]")


def train_flow(model: RGFlow, images: torch.Tensor, config: FlowTrainConfig, *,
               held_out: torch.Tensor | None = None, eval_batch_size: int = 250,
               desc: str = "RG-Flow training", flip: bool = False, backend: str = "auto") -> dict[str, list]:
    """Train ``model`` in place on uint8 ``images``; returns the history as lists.

    History: ``step``, ``train_bpd`` (mean over the steps since the last record), ``held_out_bpd``
    (on ``held_out``, the same dequantisation noise every time; NaN without it) and ``train_seconds``
    (optimisation time only, evaluation excluded), recorded at step 0 and every ``eval_every`` steps.
    ``flip``: mirror each training image left-right with probability 1/2 (the original CelebA augmentation).
    ``backend``: the :class:`RGFlow` backend for the training steps and held-out evaluations, restored
    afterwards; "auto" (default) is the fast path of :mod:`rglt.flow.fast` for float32 on the CPU (the
    same map; its first steps include torch.compile's one-time compilation) and the Triton kernels for
    float32 on CUDA; "reference" the eager code; "fast-bf16" the fast path with bfloat16 MLP GEMMs.

    The loss is checked before the backward pass and the gradient norm before the optimiser step, so a
    non-finite update is never applied: on either, :class:`TrainingDiverged` is raised with the history
    (the last good step recorded too, so that its training bpd is not lost) and the model keeps the
    weights of the last good step. ``batch_size`` may not exceed the number of images.
    """
    if not isinstance(model, RGFlow):
        raise TypeError(f"model must be an rglt.flow.RGFlow; got {type(model).__name__}")
    if not isinstance(config, FlowTrainConfig):
        raise TypeError(f"config must be a FlowTrainConfig; got {type(config).__name__}")
    check_bool(flip, "flip")
    check_choice(backend, "backend", BACKENDS)
    _check_images(images, "images", model)
    if held_out is not None:
        _check_images(held_out, "held_out", model)
    if config.batch_size > len(images):   # a smaller batch than asked for would change the recipe silently
        raise ValueError(f"batch_size ({config.batch_size}) is larger than the number of images ({len(images)})")
    with model.using(backend):
        return _train(model, images, config, held_out, eval_batch_size, desc, flip)


def _train(model: RGFlow, images, config: FlowTrainConfig, held_out, eval_batch_size: int, desc: str,
           flip: bool) -> dict[str, list]:
    param = next(model.parameters())
    gen = torch.Generator().manual_seed(config.seed)
    # The fused AdamW: the same update in one pass over the weights (half the time of the per-tensor loop
    # at the original MSDS model's 80 M parameters on the CPU).
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                            fused=param.device.type in ("cpu", "cuda"))
    history = {"step": [], "train_bpd": [], "held_out_bpd": [], "train_seconds": []}
    order = torch.randperm(len(images), generator=gen)
    cursor, spent, running = 0, 0.0, []

    def record(step: int) -> None:
        history["step"].append(step)
        history["train_bpd"].append(sum(running) / len(running) if running else math.nan)
        history["held_out_bpd"].append(evaluate_bpd(model, held_out, batch_size=eval_batch_size, seed=config.seed)
                                       if held_out is not None else math.nan)
        history["train_seconds"].append(spent)
        running.clear()

    def diverged(step: int, what: str):
        opt.zero_grad(set_to_none=True)   # the non-finite gradients, never applied
        if history["step"][-1] != step - 1:
            record(step - 1)
        model.eval()
        bar.close()
        return TrainingDiverged(f"{what} at step {step} (lr={config.lr}); the model keeps the weights of step "
                                f"{step - 1}, and the error's .history what was recorded up to it",
                                step=step, history=history, lr=config.lr)

    record(0)
    model.train()
    bar = progress(range(1, config.steps + 1), desc=desc, unit="step")
    for step in bar:
        start = time.perf_counter()
        if cursor + config.batch_size > len(order):   # a new epoch: a new permutation
            order, cursor = torch.randperm(len(images), generator=gen), 0
        batch = images[order[cursor:cursor + config.batch_size]]
        cursor += config.batch_size
        if flip:
            mirrored = torch.rand(len(batch), generator=gen) < 0.5
            batch = torch.where(mirrored[:, None, None, None], batch.flip(-1), batch)
        y, ldj = preprocess(batch, generator=gen, dtype=param.dtype)
        y, ldj = y.to(param.device), ldj.to(param.device)
        # The original's loss is nats/dim (bpd is that plus ln 256, over ln 2: same optimum, and the
        # clipping norm applies to the nats gradient).
        bpd = bits_per_dim(model.log_prob(y), ldj, y[0].numel()).mean()
        loss = bpd * math.log(2.0) - math.log(256.0)
        if not torch.isfinite(loss):
            raise diverged(step, f"the training loss became {loss.item()}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        # The norm before clipping: if it is not finite, clipping makes every gradient NaN.
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        if not torch.isfinite(norm):
            raise diverged(step, f"the gradient norm became {norm.item()}")
        opt.step()
        spent += time.perf_counter() - start
        running.append(bpd.item())
        if step % config.eval_every == 0 or step == config.steps:
            record(step)
            bar.set_postfix(held_out_bpd=f"{history['held_out_bpd'][-1]:.4f}")
    model.eval()
    return history


__all__ = ["FlowTrainConfig", "TrainingDiverged", "train_flow"]
