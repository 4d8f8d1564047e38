"""Which learning rates a ticket trains at: the quadratic argument, exactly, and a sweep on a network.

On a quadratic loss L(w) = 1/2 w^T A w, gradient descent w <- w - eta A w contracts every eigendirection
by (1 - eta a_i), so it converges exactly when eta < 2 / lambda_max(A). A mask confines training to the
surviving coordinates: the ticket descends on the principal submatrix M A M, whose top eigenvalue is at
most A's (Cauchy interlacing), so a ticket may take a larger step than the dense model. ``masked_quadratic``
gives that example in closed form; ``lr_sweep`` measures the same question on a network, training it
from one starting point at each learning rate of a grid with plain SGD.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from rglt.train import TrainConfig, TrainingDiverged, evaluate, train
from rglt.validate import check_int


def masked_quadratic(a: np.ndarray, keep: np.ndarray, lr: float, w0: np.ndarray, steps: int) -> np.ndarray:
    """The loss 1/2 w^T A w along ``steps`` steps of gradient descent with rate ``lr`` from ``w0``, the
    coordinates that ``keep`` drops held at zero (a ticket of the quadratic); returns steps + 1 losses,
    inf from the first step whose loss overflows."""
    a, keep, w = np.asarray(a, dtype=np.float64), np.asarray(keep, dtype=bool), np.asarray(w0, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.allclose(a, a.T):
        raise ValueError(f"a must be a symmetric square matrix; got shape {a.shape}")
    if keep.shape != (len(a),) or w.shape != (len(a),):
        raise ValueError(f"keep and w0 must be vectors of length {len(a)}; got {keep.shape} and {w.shape}")
    steps = check_int(steps, "steps", 0)
    w = np.where(keep, w, 0.0)
    losses = np.full(steps + 1, np.inf)
    losses[0] = 0.5 * w @ a @ w
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            w = w - lr * np.where(keep, a @ w, 0.0)
            losses[t] = 0.5 * w @ a @ w
            if not np.isfinite(losses[t]):
                losses[t:] = np.inf
                break
    return losses


def masked_lambda_max(a: np.ndarray, keep: np.ndarray) -> float:
    """The top eigenvalue of the principal submatrix of ``a`` on the kept coordinates."""
    keep = np.asarray(keep, dtype=bool)
    if not keep.any():
        raise ValueError("keep must keep at least one coordinate")
    sub = np.asarray(a, dtype=np.float64)[np.ix_(keep, keep)]
    return float(np.linalg.eigvalsh(sub)[-1])


def lr_sweep(make_model: Callable[[], torch.nn.Module], masks: Mapping[str, torch.Tensor] | None,
             train_data: tuple[torch.Tensor, torch.Tensor], test_data: tuple[torch.Tensor, torch.Tensor],
             lrs: Sequence[float], *, epochs: int, batch_size: int, seed: int = 0, desc: str = "lr sweep") -> dict:
    """Train ``make_model()`` (the same starting weights at every call) under ``masks`` with plain SGD (no
    momentum, no weight decay, constant rate) for ``epochs`` at each learning rate in ``lrs``.

    Returns arrays over ``lrs``: ``train_loss`` (the last epoch's mean), ``test_accuracy`` and ``diverged``
    (a non-finite loss stopped the run; its loss is inf and its accuracy nan)."""

    lrs = [float(lr) for lr in lrs]
    if not lrs or any(not np.isfinite(lr) or lr <= 0 for lr in lrs):
        raise ValueError(f"lrs must be a non-empty sequence of learning rates > 0; got {lrs}")
    out = {"lr": np.array(lrs), "train_loss": [], "test_accuracy": [], "diverged": []}
    for lr in lrs:
        model = make_model()
        config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="sgd", lr=lr, momentum=0.0,
                             weight_decay=0.0, schedule="constant", seed=seed)
        try:
            history = train(model, train_data, config, masks=masks, desc=f"{desc} lr={lr:.3g}")
        except TrainingDiverged:
            out["train_loss"].append(np.inf)
            out["test_accuracy"].append(np.nan)
            out["diverged"].append(True)
            continue
        loss = history["loss"][-1]
        out["train_loss"].append(loss if np.isfinite(loss) else np.inf)
        out["test_accuracy"].append(evaluate(model, test_data)["accuracy"])
        out["diverged"].append(not np.isfinite(loss))
    return {k: np.asarray(v) for k, v in out.items()}


def largest_stable_lr(sweep: dict, initial_loss: float) -> float:
    """The largest rate of a sweep (ascending) below which every run ends with a training loss under
    ``initial_loss``: the measured edge of stable training (nan when even the smallest rate fails)."""
    lr, loss = np.asarray(sweep["lr"]), np.asarray(sweep["train_loss"])
    if np.any(np.diff(lr) <= 0):
        raise ValueError("the sweep's learning rates must be ascending")
    ok = np.isfinite(loss) & (loss < initial_loss)
    if not ok[0]:
        return float("nan")
    first_bad = np.flatnonzero(~ok)
    return float(lr[first_bad[0] - 1] if first_bad.size else lr[-1])
