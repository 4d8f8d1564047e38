"""Chapter 5, claim 11 of seed 002: a dense teacher helps a sparse student.

The essay: "Knowledge Distillation uses a large, powerful 'teacher' model to guide the training of a
smaller 'student.' Researchers have found that this teacher-student dynamic can be used to more
effectively train a sparse student subnetwork" (Ma et al. 2021, "Good students play big lottery
better"). Measured on IMP tickets (rewinding to an early step) of a 1D ResNet-20 on MNIST-1D, 3
replicates: at a few levels the ticket's mask is trained again from the same rewind point with the
same schedule, but on the dense trained network's softened outputs (``rglt.applications.distill``, Hinton's
loss) instead of the labels alone; the label-only ticket is the IMP level itself, trained exactly so.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from rglt.applications import distillation_criterion
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import map_jobs, run_all, train_tickets
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.report import Claim, judged
from rglt.train import evaluate, train, TrainConfig
from rglt.validate import check_int

NAME = "tickets_distillation"
VERSION = 1
SOURCE = "002 'The Modern Frontier' (Hybrid techniques: knowledge distillation)"
MA = "Ma et al. 2021: distillation from a dense teacher improves sparse tickets"


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", train_size=1000, noise=2)   # a harder task, where a ticket has room to gain
    train: TrainConfig = TrainConfig(epochs=30, batch_size=64, lr=0.1, weight_decay=1e-4)
    rounds: int = 14                             # density 0.8^14 = 4.4% at the last level
    rewind_step: int = 30
    replicates: int = 3
    levels: tuple = (4, 8, 11, 14)               # the tickets distilled (densities 0.41, 0.17, 0.086, 0.044)
    temperature: float = 4.0
    weight: float = 0.9                          # of the soft term; 1 - weight on the labels
    workers: int = unhashed(2)
    sigmas: float = unhashed(2.0)


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), rounds=2, rewind_step=2,
                    replicates=2, levels=(2,), workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=16, rewind_step=400, levels=(4, 8, 12, 16), workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def _distil(config: Config, job: tuple[TicketRun, int]) -> float:
    """Test accuracy of the level's mask trained from the rewind point on the dense network's outputs."""

    run, level = job
    store, data = train_tickets(run), load_task(run.task)
    teacher = run.model.build(data, seed=run.replicate)
    teacher.load_state_dict(store.load(0).weights)
    student = run.model.build(data, seed=run.replicate)
    student.load_state_dict(store.rewind())
    train(student, data.train, run.train, masks=store.load(level).masks, start_step=run.imp.rewind_step,
          criterion=distillation_criterion(teacher, config.temperature, config.weight), desc=f"distil level {level}")
    return evaluate(student, data.test)["accuracy"]


def run(config: Config) -> dict:
    check_int(config.replicates, "replicates", 1)
    if any(not 1 <= lv <= config.rounds for lv in config.levels):
        raise ValueError(f"levels must lie in [1, rounds={config.rounds}]; got {config.levels}")
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    jobs = [(r, lv) for r in runs for lv in config.levels]
    distilled = map_jobs(functools.partial(_distil, config), jobs, workers=config.workers, desc="distillation")
    stores = [train_tickets(r) for r in runs]
    return {"density": np.array([[s.load(lv).density for lv in config.levels] for s in stores]),
            "labels_only": np.array([[s.metrics(lv)["accuracy"] for lv in config.levels] for s in stores]),
            "dense": np.array([s.metrics(0)["accuracy"] for s in stores]),
            "distilled": np.array(distilled, dtype=np.float64).reshape(len(runs), -1)}


def checks(result, config: Config) -> list[Claim]:
    gain = np.asarray(result["distilled"]) - np.asarray(result["labels_only"])    # [replicates, levels], paired
    mean = gain.mean(0)
    sd = gain.std(0, ddof=1) if gain.shape[0] > 1 else np.full(gain.shape[1], np.inf)
    density = np.asarray(result["density"])[0]
    ahead = mean > config.sigmas * sd
    return [Claim(
        claim="a ticket trained on a dense teacher's soft targets beats the same ticket trained on labels alone",
        source=f"{SOURCE}; {MA}", source_value="no number in the essay; Ma et al.: higher accuracy at every sparsity",
        ours=("distilled minus labels only (points, sd over seeds) at densities "
              + ", ".join(f"{d:.3f}: {100 * m:+.2f} +- {100 * s:.2f}" for d, m, s in zip(density, mean, sd))
              + f"; dense teacher {100 * np.asarray(result['dense']).mean():.1f}%"),
        tolerance=f"ahead by > {config.sigmas:g} sd at every level; at some level is partly",
        **judged(bool(ahead.all()), f"ahead beyond {config.sigmas:g} sd at {int(ahead.sum())} of {len(ahead)} levels",
                 partly=bool(ahead.any())))]
