"""Chapter 5, claim 5 of seed 002: pruning changes the loss landscape's curvature, and with it the
learning rate a ticket trains at.

The essay: "for a quadratic loss ... the 'valleys' of the landscape have different steepness, which is
captured by the eigenvalues of the Hessian. This directly implies that the optimal learning rate for
training a sparse ticket may be different from that of the dense network." Measured on the IMP tickets
of chapter 5's MLP on MNIST-1D (the runs of ``tickets_compression``, shared through the ticket cache),
at a few levels of 3 replicates:

- the top eigenvalue of the training loss's Hessian restricted to the surviving weights
  (``rglt.applications.top_eigenvalue``, Lanczos on Hessian-vector products) at the weights the ticket starts
  from and at the weights it ends with; 2 / lambda_max is the rate where gradient descent on the
  quadratic approximation diverges;
- a sweep of learning rates (plain SGD, constant rate, no momentum) from the ticket's starting weights
  under its mask: the largest rate that still lowers the training loss and the rate with the best test
  accuracy, against the dense network's, beside the ratio the eigenvalues predict;
- the quadratic argument itself on a small exact example (``rglt.applications.learning_rate.masked_quadratic``);
- (version 2) the top eigenvalue ALONG the sweep's training (``lambda_path``, at ``path_epochs``): at every
  level, the run at that level's own largest stable rate and the run at the dense network's, each
  eigenvalue by a fixed number of Lanczos steps, and each own-rate path's last point also solved to a
  tight tolerance (the convergence check, stored). This is descriptive: it gives the measured reason for
  the learning-rate row's verdict (does the curvature rise to 2 / rate during training, the edge of
  stability, or not) and decides no row; the rules are version 1's, unchanged.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from rglt.applications import top_eigenvalue
from rglt.applications.learning_rate import (lambda_path, largest_stable_lr, lr_sweep, masked_lambda_max,
                                             masked_quadratic)
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.prune.runs import ModelSpec, imp_replicates
from rglt.claims import Claim, Rule, deciding, part
from rglt.stats import Interval, mean_interval
from rglt.train import TrainConfig
from rglt.validate import check_int, require

NAME = "tickets_geometry"
VERSION = 2
SOURCE = "002 'A Deeper Dive: The Physics and Geometry of Learning'"


@dataclasses.dataclass(frozen=True)
class Config:
    # The ticket runs: the same fields and defaults as tickets_compression's, so both read the same cache.
    model: ModelSpec = ModelSpec("mlp", width=256)
    task: Task = Task()
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, weight_decay=5e-4)
    rounds: int = 16
    rewind_step: int = 0
    replicates: int = 3
    levels: tuple = (0, 4, 8, 12, 16)          # densities 1, 0.41, 0.17, 0.069, 0.028
    hessian_examples: int = 1000               # the fixed training batch of the Hessian
    lrs: tuple = tuple(2.0 ** (k / 2) for k in range(-12, 9))   # 1/64 .. 16, a factor sqrt(2) apart
    sweep_epochs: int = 10
    sweep_batch_size: int = 128
    quadratic_size: int = 40                   # the exact example: a 40 x 40 quadratic, half its coordinates kept
    path_epochs: tuple = (0, 0.25, 0.5, 1, 2, 4, 7, 10)   # where lambda_max is read along a sweep run (epochs)
    lanczos_iterations: int = 20               # Hessian-vector products per eigenvalue on the path (fixed cost)
    workers: int = unhashed(2)
    agreement_factor: float = unhashed(2.0)    # measured edge ratio within this factor of the predicted one
    differs: float = unhashed(0.1)             # "differs": the top eigenvalue moves by more than 10%


CONFIGS = {
    "smoke": Config(model=ModelSpec("mlp", width=32), task=Task(train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4), rounds=3, replicates=2,
                    levels=(0, 3), hessian_examples=128, lrs=(0.25, 1.0, 4.0), sweep_epochs=2,
                    path_epochs=(0, 0.5, 1, 2), lanczos_iterations=10, workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=20, levels=(0, 5, 10, 15, 20), sweep_epochs=20, path_epochs=(0, 0.25, 0.5, 1, 2, 5, 10, 20),
                  workers=1),
}


def _measure(config: Config, run) -> dict:
    import torch
    import torch.nn.functional as F


    store, data = train_tickets(run), load_task(run.task)
    start = store.rewind()
    x, y = (t[:config.hessian_examples] for t in data.train)
    out = {k: [] for k in ("density", "accuracy", "lambda_start", "lambda_end", "initial_loss", "train_loss",
                           "test_accuracy", "diverged", "path_lr", "path_lambda", "path_check", "dense_rate_lambda")}
    dense_edge = float("nan")
    for level in config.levels:
        ticket = store.load(level)
        masks = ticket.masks

        def make(state=start):
            model = run.model.build(data, seed=run.replicate)
            model.load_state_dict(state)
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name in masks:
                        p.mul_(masks[name])
            return model

        lambdas = []
        for state in (start, ticket.weights):
            model = make(state)
            model.eval()
            names = [n for n, _ in model.named_parameters()]
            params = [p for _, p in model.named_parameters()]
            keep = [masks.get(n, torch.ones_like(p, dtype=torch.bool)) for n, p in zip(names, params)]
            lambdas.append(top_eigenvalue(lambda: F.cross_entropy(model(x), y), params, keep))
        with torch.no_grad():
            initial = float(F.cross_entropy(make()(data.train[0]), data.train[1]))
        sweep = lr_sweep(make, masks, data.train, data.test, config.lrs, epochs=config.sweep_epochs,
                         batch_size=config.sweep_batch_size, seed=run.replicate, desc=f"level {level}")
        # The curvature along the sweep's own run (same start, seed and batches) at this level's largest
        # stable rate, and at the dense network's (levels[0] is the dense network).
        edge = largest_stable_lr(sweep, initial)
        dense_edge = edge if level == 0 else dense_edge
        own = _path(config, run, make, masks, data, edge)
        at_dense = own if edge == dense_edge else _path(config, run, make, masks, data, dense_edge)
        out["path_lr"].append(edge)
        out["path_lambda"].append(own["lambda_max"])
        out["path_check"].append([own["lambda_max"][-1], own["lambda_last_tight"]])
        out["dense_rate_lambda"].append(at_dense["lambda_max"])
        out["density"].append(ticket.density)
        out["accuracy"].append(ticket.metrics["accuracy"])
        out["lambda_start"].append(lambdas[0])
        out["lambda_end"].append(lambdas[1])
        out["initial_loss"].append(initial)
        for k in ("train_loss", "test_accuracy", "diverged"):
            out[k].append(sweep[k])
    return out


def _path(config: Config, run, make, masks, data, rate: float) -> dict:
    """lambda_path at ``rate`` (all nan when the sweep found no stable rate)."""
    if not np.isfinite(rate):
        return {"lambda_max": np.full(len(config.path_epochs), np.nan), "lambda_last_tight": np.nan}
    path = lambda_path(make, masks, data.train, rate, epochs=config.sweep_epochs, batch_size=config.sweep_batch_size,
                       at_epochs=config.path_epochs, hessian_examples=config.hessian_examples, seed=run.replicate,
                       iterations=config.lanczos_iterations)
    if len(path["lambda_max"]) != len(config.path_epochs):
        raise ValueError(f"path_epochs must fall on distinct training steps; got {config.path_epochs} "
                         f"(measured at epochs {list(path['epochs'])})")
    return path


def quadratic_example(size: int, seed: int = 0) -> dict:
    """A quadratic 1/2 w^T A w (eigenvalues 0.1 .. 10, random eigenvectors) and a mask keeping half the
    coordinates: both critical rates, and the descent at 0.9x and 1.1x each."""

    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    a = q @ np.diag(np.geomspace(0.1, 10.0, size)) @ q.T
    a = 0.5 * (a + a.T)
    keep = np.zeros(size, dtype=bool)
    keep[rng.permutation(size)[:size // 2]] = True
    w0 = rng.standard_normal(size)
    everything = np.ones(size, dtype=bool)
    lam = {"dense": masked_lambda_max(a, everything), "ticket": masked_lambda_max(a, keep)}
    lrs = np.array([0.9 * 2 / lam["dense"], 1.1 * 2 / lam["dense"], 0.9 * 2 / lam["ticket"], 1.1 * 2 / lam["ticket"]])
    curves = np.array([[masked_quadratic(a, mask, lr, w0, 200) for lr in lrs] for mask in (everything, keep)])
    return {"quadratic_lambda": np.array([lam["dense"], lam["ticket"]]), "quadratic_lrs": lrs,
            "quadratic_losses": curves}


def check_config(config: Config) -> None:
    """A clear error naming the field, before any work is done."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tickets_geometry.Config; got {type(config).__name__}")
    check_int(config.replicates, "replicates", 1)
    check_int(config.rounds, "rounds", 1)
    if not config.levels or config.levels[0] != 0 or any(not 0 <= lv <= config.rounds for lv in config.levels):
        raise ValueError(f"levels must start with 0 (the dense network) and lie in [0, rounds={config.rounds}]; "
                         f"got {config.levels}")
    if len(config.lrs) < 2 or list(config.lrs) != sorted(config.lrs) or min(config.lrs) <= 0:
        raise ValueError(f"lrs must be >= 2 ascending learning rates > 0; got {config.lrs}")
    check_int(config.sweep_epochs, "sweep_epochs", 1)
    check_int(config.sweep_batch_size, "sweep_batch_size", 1)
    check_int(config.hessian_examples, "hessian_examples", 1)
    points = config.path_epochs
    require(isinstance(points, tuple) and len(points) >= 2
            and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in points)
            and list(points) == sorted(set(points)) and points[0] == 0 and points[-1] == config.sweep_epochs,
            "path_epochs", f"a tuple of >= 2 ascending epochs from 0 to sweep_epochs={config.sweep_epochs}", points)
    check_int(config.lanczos_iterations, "lanczos_iterations", 2)
    check_int(config.workers, "workers", 1)


def run(config: Config) -> dict:
    check_config(config)
    runs = imp_replicates(config)            # the same runs as tickets_compression's
    run_all(runs, workers=config.workers)
    measured = [_measure(config, r) for r in runs]
    out = {k: np.array([m[k] for m in measured], dtype=np.float64) for k in measured[0]}
    out["lrs"] = np.array(config.lrs)
    out["path_epochs"] = np.array(config.path_epochs, dtype=np.float64)
    out.update(quadratic_example(config.quadratic_size))
    return out


def edges(result) -> np.ndarray:
    """[replicates, levels]: the largest rate of the sweep below which every run lowered the training loss."""
    loss, initial = np.asarray(result["train_loss"]), np.asarray(result["initial_loss"])
    return np.array([[largest_stable_lr(dict(lr=result["lrs"], train_loss=loss[r, j]), initial[r, j])
                      for j in range(loss.shape[1])] for r in range(loss.shape[0])])


def best_lrs(result) -> np.ndarray:
    """[replicates, levels]: the rate with the best test accuracy in the sweep."""
    acc = np.nan_to_num(np.asarray(result["test_accuracy"]), nan=-1.0)
    return np.asarray(result["lrs"])[acc.argmax(-1)]


def edge_of_stability(result) -> np.ndarray | None:
    """[replicates, levels, path points]: lambda_max along the run at each level's own largest stable rate,
    in units of 2 / rate (1: the rate where gradient descent on the quadratic approximation stops
    converging, "the edge of stability"); None for a version-1 result, which has no path."""
    if "path_lambda" not in result:
        return None
    return np.asarray(result["path_lambda"], dtype=float) * np.asarray(result["path_lr"], dtype=float)[..., None] / 2


def path_text(result) -> str:
    """What the paths measured, per level (means over seeds): the account of the rate row's verdict. Descriptive."""
    sharp = edge_of_stability(result)
    if sharp is None:
        return "lambda_max along training: not measured (a version-1 result)"
    density = np.asarray(result["density"])[0]
    check = np.asarray(result["path_check"], dtype=float).reshape(-1, 2)
    with warnings.catch_warnings():             # a level whose sweep found no stable rate has an all-nan path
        warnings.simplefilter("ignore", RuntimeWarning)
        s, d = np.nanmean(sharp, axis=0), np.nanmean(np.asarray(result["dense_rate_lambda"], dtype=float), axis=0)
        highest = np.nanmax(s, axis=-1)
        gap = np.nanmax(np.abs(check[:, 0] - check[:, 1]) / np.abs(check[:, 1]))
    return ("descriptive, decides nothing: lambda_max x rate / 2 along each level's run at its own largest stable "
            "rate (1 = the edge of stability), start -> highest -> end: "
            + ", ".join(f"density {density[j]:.3f} {s[j, 0]:.2f} -> {highest[j]:.2f} -> {s[j, -1]:.2f}"
                        for j in range(s.shape[0]))
            + "; lambda_max at the end of the run at the dense network's rate: "
            + ", ".join(f"{d[j, -1]:.3g}" for j in range(d.shape[0]))
            + f"; fixed-step Lanczos against a tight solve at each path's end: largest relative gap {gap:.1e}")


def folded(interval: Interval) -> Interval:
    """The interval of ``|theta|`` from an interval of ``theta`` (a log ratio): "differs, either way" as one region."""
    low, high = sorted((abs(interval.low), abs(interval.high)))
    low = 0.0 if interval.low <= 0 <= interval.high else low
    return dataclasses.replace(interval, mean=abs(interval.mean), low=low, high=high,
                               method=f"{interval.method}, folded (|log ratio|)")


def _rate_parts(config: Config) -> tuple[str, str]:
    return f"within {config.agreement_factor:g}x at the sparsest level", "direction at every level"


def rules(config: Config) -> tuple[Rule, ...]:
    seeds = f"{config.replicates} seeds"
    d = math.log(1 + config.differs)
    return (
        Rule(id="curvature_start",
             claim="pruning changes the curvature: a ticket's top Hessian eigenvalue differs from the dense network's "
                   "(at the weights it starts from)",
             source=f"{SOURCE} (Hessian)", source_value="no number: \"a different Hessian and thus a different geometry\"",
             what="|log(lambda_max of the sparsest ticket / dense)| at the starting weights",
             test=f"paired t interval over {seeds} of the log ratio, folded; what it can test: interlacing (a block of "
                  "kept weights has a top eigenvalue no larger than the whole Hessian at the same weights) leaves only "
                  f"a drop, so the row tests that the drop exceeds {config.differs:g}, not its direction", low=d),
        Rule(id="curvature_trained",
             claim="after training, a ticket's top Hessian eigenvalue still differs from the dense network's, at every "
                   "level",
             source=f"{SOURCE} (Hessian)", source_value="no number: \"a different Hessian and thus a different geometry\"",
             what="|log(lambda_max of the trained ticket / trained dense)| at the level that decides",
             test=f"at every level: each level's paired t interval over {seeds} of the log ratio, folded; interlacing "
                  "does not bind here (training moves the weights), so either direction is possible", low=d,
             change="the registered curvature row is bound by interlacing; this one "
                    "asks the same of the trained weights, where nothing forces the answer"),
        Rule(id="learning_rate",
             claim="the ticket's learning rate differs from the dense network's as its curvature predicts (2 / lambda_max)",
             source=f"{SOURCE} (learning rate)",
             source_value="no number: \"the optimal learning rate for training a sparse ticket may be different\"",
             what="largest stable rate, ticket / dense, from the sweep",
             test=f"parts: the measured ratio within {config.agreement_factor:g}x of lambda_dense / lambda_ticket at the "
                  f"sparsest level (paired t interval over {seeds} of the log of measured / predicted), and the "
                  "direction (measured ratio > 1) at every level (each level's t interval of the log ratio); the "
                  f"sweep's grid is {config.lrs[1] / config.lrs[0]:.3g}x",
             precondition="the sweep's grid resolves the edge: for the dense network and the sparsest ticket the "
                          "largest stable rate is neither the grid's top rate nor missing",
             parts=_rate_parts(config)),
    )


def checks(result, config: Config) -> list[Claim]:
    start_rule, trained_rule, rate_rule = rules(config)
    density = np.asarray(result["density"])[0]
    lam = np.asarray(result["lambda_start"], dtype=float)     # [replicates, levels]
    end = np.asarray(result["lambda_end"], dtype=float)

    def interval_text(values) -> str:
        if not np.isfinite(values).all():            # an edge below the grid's smallest rate is nan
            return "not measured in every seed (" + ", ".join(f"{v:.3g}" for v in values) + ")"
        i = mean_interval(values)
        return f"{i.mean:.3g} [{i.low:.3g}, {i.high:.3g}]"

    start = mean_interval(np.log(lam[:, -1]), paired_with=np.log(lam[:, 0]))
    out = [start_rule.judge(
        folded(start),
        ours=(f"lambda_max at the start of training: dense {interval_text(lam[:, 0])}, density {density[-1]:.3f} "
              f"{interval_text(lam[:, -1])}; ratio {math.exp(start.mean):.3f} [{math.exp(start.low):.3f}, "
              f"{math.exp(start.high):.3f}]"))]
    trained = {j: folded(mean_interval(np.log(end[:, j]), paired_with=np.log(end[:, 0])))
               for j in range(1, end.shape[1])}
    worst = list(trained)[deciding(list(trained.values()), trained_rule.low)]
    out.append(trained_rule.judge(
        trained[worst],
        ours=("lambda_max after training: dense " + interval_text(end[:, 0]) + "; "
              + ", ".join(f"density {density[j]:.3f}: {interval_text(end[:, j])} (ratio "
                          f"{interval_text(end[:, j] / end[:, 0])})" for j in range(1, end.shape[1]))
              + f"; decided at density {density[worst]:.3f}")))
    # The learning rate: predicted ratio of critical rates (ticket / dense) = lambda_dense / lambda_ticket.
    predicted = lam[:, :1] / lam                                # [replicates, levels]
    edge = edges(result)
    measured = edge / edge[:, :1]
    best = best_lrs(result)
    f = math.log(config.agreement_factor)
    # An edge at the grid's top rate only says the edge lies above the grid: no ratio can be read from it.
    censored = bool(np.any(edge[:, [0, -1]] >= config.lrs[-1]) or np.any(np.isnan(edge[:, [0, -1]])))
    ours = ("largest stable rate, ticket / dense, per level (densities "
            + ", ".join(f"{d:.3f}" for d in density[1:]) + "): measured "
            + ", ".join(interval_text(measured[:, j]) for j in range(1, measured.shape[1])) + "; predicted "
            + ", ".join(interval_text(predicted[:, j]) for j in range(1, predicted.shape[1]))
            + f"; best-accuracy rate dense {interval_text(best[:, 0])}, sparsest {interval_text(best[:, -1])}; "
            + path_text(result))
    precondition = (not censored, "largest stable rates: dense " + ", ".join(f"{e:g}" for e in edge[:, 0])
                    + "; sparsest " + ", ".join(f"{e:g}" for e in edge[:, -1])
                    + f" (grid {config.lrs[0]:g} to {config.lrs[-1]:g})")
    if censored:
        magnitude = direction = Interval(float("nan"), float("nan"), float("nan"), edge.shape[0], float("nan"),
                                         "not resolved by the grid")
        decides = 1
    else:
        magnitude = mean_interval(np.log(measured[:, -1]), paired_with=np.log(predicted[:, -1]))
        directions = {j: mean_interval(np.log(measured[:, j])) if np.isfinite(measured[:, j]).all()
                      else Interval(float("nan"), float("nan"), float("nan"), edge.shape[0], float("nan"),
                                    "not resolved by the grid") for j in range(1, measured.shape[1])}
        decides = list(directions)[deciding(list(directions.values()), 0.0)]
        direction = directions[decides]
    within, direction_name = _rate_parts(config)
    parts = dict([
        part(within, magnitude, low=-f, high=f, what=f"log(measured / predicted) at density {density[-1]:.3f}"),
        part(direction_name, direction, low=0.0, what=f"log(measured ratio) at density {density[decides]:.3f}"),
    ])
    out.append(rate_rule.judge(parts=parts, precondition=precondition, ours=ours))
    return out
