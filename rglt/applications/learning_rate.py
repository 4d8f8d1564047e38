"""Which learning rates a ticket trains at: the quadratic argument, exactly, and a sweep on a network.

On a quadratic loss L(w) = 1/2 w^T A w, gradient descent w <- w - eta A w contracts every eigendirection
by (1 - eta a_i), so it converges exactly when eta < 2 / lambda_max(A). A mask confines training to the
surviving coordinates: the ticket descends on the principal submatrix M A M, whose top eigenvalue is at
most A's (Cauchy interlacing), so a ticket may take a larger step than the dense model. ``masked_quadratic``
gives that example in closed form; ``lr_sweep`` measures the same question on a network, training it
from one starting point at each learning rate of a grid with plain SGD, and ``lambda_path`` follows the
top eigenvalue along one such run: on a network the curvature need not stay where it starts (full-batch
gradient descent raises it until it meets 2 / lr, "the edge of stability", Cohen et al. 2021; whether a
minibatch run does is for the path to show).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from rglt.applications.hessian import lanczos_top_eigenvalue, top_eigenvalue
from rglt.train import TrainConfig, TrainingDiverged, evaluate, steps_per_epoch, train
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


def lambda_path(make_model: Callable[[], torch.nn.Module], masks: Mapping[str, torch.Tensor] | None,
                train_data: tuple[torch.Tensor, torch.Tensor], lr: float, *, epochs: int, batch_size: int,
                at_epochs: Sequence[float], hessian_examples: int, seed: int = 0,
                iterations: int | None = None) -> dict:
    """Train ``make_model()`` under ``masks`` as one run of :func:`lr_sweep` does (plain SGD at the constant
    rate ``lr``) and measure the top eigenvalue of the training loss's Hessian, restricted to the surviving
    weights, on the first ``hessian_examples`` training examples, at each of ``at_epochs`` (fractions of
    an epoch allowed; 0 is the start, ``epochs`` the end). Returns ``epochs`` (where each was measured,
    rounded to whole steps) and ``lambda_max`` (nan once the run diverged).

    ``iterations`` fixes the cost of each eigenvalue: that many steps of Lanczos
    (:func:`rglt.applications.hessian.lanczos_top_eigenvalue`) instead of ARPACK to a tolerance; then the
    last point is also solved to a tight tolerance (ARPACK, tol 1e-10), returned as ``lambda_last_tight``
    (nan when the run diverged before it), so each path carries its own convergence check."""
    import torch.nn.functional as F

    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a learning rate > 0; got {lr}")
    per_epoch = steps_per_epoch(len(train_data[1]), batch_size)
    at = sorted({int(round(e * per_epoch)) for e in at_epochs})
    if not at or at[0] < 0 or at[-1] > epochs * per_epoch:
        raise ValueError(f"at_epochs must lie in [0, epochs={epochs}]; got {list(at_epochs)}")
    if iterations is not None:
        check_int(iterations, "iterations", 1)
    x, y = (t[:check_int(hessian_examples, "hessian_examples", 1)] for t in train_data)
    model = make_model()
    measured, tight = {}, {}

    def measure(step, net):
        if step in at and step not in measured:
            was_training = net.training
            net.eval()
            names, params = zip(*net.named_parameters())
            keep = [(masks or {}).get(n, torch.ones_like(p, dtype=torch.bool)) for n, p in zip(names, params)]
            loss = lambda: F.cross_entropy(net(x), y)
            if iterations is None:
                measured[step] = top_eigenvalue(loss, params, keep)
            else:
                measured[step] = lanczos_top_eigenvalue(loss, params, keep, iterations=iterations, seed=seed)
                if step == at[-1]:      # the convergence check, once per path, where the curvature has grown most
                    tight[step] = top_eigenvalue(loss, params, keep, tol=1e-10, max_iterations=3000, seed=seed + 1)
            net.train(was_training)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="sgd", lr=lr, momentum=0.0,
                         weight_decay=0.0, schedule="constant", seed=seed)
    try:
        train(model, train_data, config, masks=masks, on_step=measure, desc=f"lambda path lr={lr:.3g}")
    except TrainingDiverged:
        pass
    out = {"epochs": np.array(at) / per_epoch, "lambda_max": np.array([measured.get(s, np.nan) for s in at])}
    if iterations is not None:
        out["lambda_last_tight"] = tight.get(at[-1], np.nan)
    return out


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
