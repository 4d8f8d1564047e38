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
from rglt.claims import Claim, Rule, deciding, derived, part
from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import map_jobs, run_all, train_tickets
from rglt.prune.runs import ModelSpec, TicketRun, imp_replicates
from rglt.stats import LEVEL, mean_interval
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


def rules(config: Config) -> tuple[Rule, ...]:
    return (Rule(
        id="distillation",
        claim="a ticket trained on a dense teacher's soft targets beats the same ticket trained on labels alone",
        source=f"{SOURCE}; {MA}", source_value="no number in the essay; Ma et al.: higher accuracy at every sparsity",
        what="distilled minus labels only (points), at the levels distilled",
        test="paired t intervals over seeds; two parts: ahead at every level (each level's own 95% interval, "
             "intersection-union) and ahead at some level (Holm over the levels: each level's interval at "
             "1 - 0.05/levels, Holm's first step); the second alone is partly (as registered: at some level)",
        precondition="the dense teacher beats the students: its accuracy above every label-trained ticket's "
                     "(paired t interval of teacher minus ticket > 0 at every level)",
        parts=("ahead at every level", "ahead at some level (Holm over levels)")),)


def summary(result) -> dict[str, float]:
    """The numbers the claim and the prose quote (accuracies as fractions, means over seeds): the dense
    teacher's accuracy; the label-trained tickets' lowest and highest over the levels distilled; the
    smallest and largest mean gain, distilled minus labels only; the densest and sparsest level distilled."""
    labels, distilled = np.asarray(result["labels_only"]), np.asarray(result["distilled"])
    return {"teacher": float(np.asarray(result["dense"]).mean()),
            "labels_only_min": float(labels.mean(0).min()), "labels_only_max": float(labels.mean(0).max()),
            "gain_min": float((distilled - labels).mean(0).min()), "gain_max": float((distilled - labels).mean(0).max()),
            "density_max": float(np.asarray(result["density"])[0].max()),
            "density_min": float(np.asarray(result["density"])[0].min())}


def checks(result, config: Config) -> list[Claim]:
    labels, distilled = np.asarray(result["labels_only"], dtype=float), np.asarray(result["distilled"], dtype=float)
    dense = np.asarray(result["dense"], dtype=float)
    density = np.asarray(result["density"])[0]
    s = summary(result)
    m = labels.shape[1]
    rule, = rules(config)
    # The regime: the teacher beats every label-trained ticket, demonstrably, at every level.
    teacher = [mean_interval(dense, paired_with=labels[:, j]).scaled(100) for j in range(m)]
    worst = deciding(teacher, 0.0)
    regime = (derived(teacher[worst], 0.0)["verdict"] == "reproduced",
              f"the dense teacher {100 * s['teacher']:.1f}% against the label-trained tickets "
              f"{100 * s['labels_only_min']:.1f}-{100 * s['labels_only_max']:.1f}%; teacher minus ticket at density "
              f"{density[worst]:.3f}: {teacher[worst].mean:+.2f} [{teacher[worst].low:+.2f}, {teacher[worst].high:+.2f}] points")
    every = [mean_interval(distilled[:, j], paired_with=labels[:, j]).scaled(100) for j in range(m)]
    some = [mean_interval(distilled[:, j], paired_with=labels[:, j], level=1 - (1 - LEVEL) / m).scaled(100)
            for j in range(m)]
    j, k = deciding(every, 0.0), deciding(some, 0.0, every=False)
    at_every = part("ahead at every level", every[j], 0.0, precondition=regime,
                    what=f"distilled - labels only (points) at density {density[j]:.3f} (the deciding level)")
    if at_every[1].verdict == "reproduced":       # ahead at every level implies at some (the same test is valid for it)
        at_some = ("ahead at some level (Holm over levels)", at_every[1])
    else:
        at_some = part("ahead at some level (Holm over levels)", some[k], 0.0, precondition=regime,
                       what=f"distilled - labels only (points) at density {density[k]:.3f} (the best level; "
                            f"interval at {100 * (1 - (1 - LEVEL) / m):.2f}%)")
    ours = ("distilled minus labels only (points, 95% t intervals over seeds) at densities "
            + ", ".join(f"{d:.3f}: {iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]" for d, iv in zip(density, every))
            + f"; dense teacher {100 * s['teacher']:.1f}%, label-trained tickets {100 * s['labels_only_min']:.1f}-"
              f"{100 * s['labels_only_max']:.1f}%")
    return [rule.judge(parts=dict([at_every, at_some]), ours=ours, precondition=regime)]
