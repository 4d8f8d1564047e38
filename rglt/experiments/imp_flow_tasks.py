"""The IMP flow of a 4-stage 1D ResNet on three related tasks, random and pretrained (seed 000: Table 2,
Fig. 2, Table 5, Table 8 / Fig. 3, Sec. 4's alternative eigenfunctions), and a test of the transfer the
paper infers from similar sigma.

Analogues of the paper's data sets, all MNIST-1D (10 classes, signals of length 40), with 1,000
training signals so that dense accuracy stays well below 100% and pruning has room to hurt:

- task ``A`` (CIFAR-10's place): noise severity 2; dense ~76% (random init) / ~83% (pretrained);
- task ``B`` (CIFAR-100's place, a harder related task): noise 2 and translation severity 3; ~71% / ~80%;
- task ``C`` (SVHN's place, a third distribution): noise 1 and translation 5; ~81% / ~89%;
- the source (ImageNet's place, larger and cleaner): all 3,500 canonical training signals; ~99%.

(Dense accuracies from a calibration at seed 0-1; the stored result has the measured ones.) The tasks
share templates and labels, as CIFAR-10/100 share an image distribution; unlike CIFAR-100 they do not
change the label set. The source's training signals are the clean versions of the downstream ones
(the first 1,000 of them), so pretraining has seen the inputs without their noise; test signals are
never seen.

Runs, as in CV_LTH_Pre-training (the code behind Table 2): IMP prunes 20% of the surviving conv weights
per round for 17 rounds (density 1.44%), rewinding to 5% of training, the stem conv and the classifier
unpruned, so the four stages hold every prunable weight. Pretrained runs start level 0 from the
source's dense weights with a new classifier (``TicketRun.init``); all seeds share the one pretrained
network, as the paper's tasks share one ImageNet model. Table 5 prunes the source network itself on
its own task with every layer prunable (stem and classifier enter the denominator of M_i).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rglt.data.tasks import load_task, Task
from rglt.identity import unhashed
from rglt.prune import run_all, store_of
from rglt.prune.branches import MaskTransfer, branch
from rglt.prune.imp import IMPConfig
from rglt.prune.runner import map_jobs
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.report import Claim, judged
from rglt.rg import imp_flow
from rglt.train import TrainConfig
from rglt.validate import check_int, require

NAME = "imp_flow_tasks"
VERSION = 1
STAGES = ("stage1", "stage2", "stage3", "stage4")
INITS = ("random", "pretrained")
C = 1.25  # App. B: c = 1 / (1 - 0.2)


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet18", width=16)
    tasks: tuple = (("A", Task(train_size=1000, noise=2)), ("B", Task(train_size=1000, noise=2, shift=3)),
                    ("C", Task(train_size=1000, noise=1, shift=5)))
    source: Task = Task()
    # 30 epochs of 8 steps: 240 steps, rewound to step 12 (5%); the source: 15 epochs of 28, step 21
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.1, weight_decay=5e-4)
    source_train: TrainConfig = TrainConfig(epochs=15, batch_size=128, lr=0.1, weight_decay=5e-4)
    rounds: int = 17
    rewind_step: int = 12
    source_rewind_step: int = 21
    seeds: int = 3
    transfer_level: int = 8            # density 0.8^8 = 16.8%: a ticket that still matches dense
    bootstrap: int = 1000
    workers: int = unhashed(2)
    sign_z: float = unhashed(2.0)      # relevant / irrelevant when the seed mean is this many SEMs from 0
    gamma_tol: float = unhashed(0.05)  # absolute, against Table 8
    agree_share: float = unhashed(0.9)  # of (init, task, stage) where sigma from P_i matches sigma from M_i
    lam_tol: float = unhashed(0.02)    # "evolve at a similar rate": |lambda_A - lambda_B| per stage

    def __post_init__(self):
        names = [n for n, _ in self.tasks]
        require(len(names) >= 2 and len(set(names)) == len(names) and all(isinstance(t, Task) for _, t in self.tasks),
                "tasks", "at least 2 (name, rglt.data.Task) pairs with distinct names", self.tasks)
        check_int(self.rounds, "rounds", 4)
        check_int(self.seeds, "seeds", 2)
        check_int(self.transfer_level, "transfer_level", 1, self.rounds)
        check_int(self.bootstrap, "bootstrap", 10)


def _smoke() -> Config:
    small = TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=5e-4)
    return Config(model=ModelSpec("resnet18", width=4),
                  tasks=(("A", Task(train_size=256, noise=2)), ("B", Task(train_size=256, noise=2, shift=3))),
                  source=Task(train_size=512), train=small, source_train=small, rounds=4, rewind_step=1,
                  source_rewind_step=1, seeds=2, transfer_level=2, bootstrap=20)


CONFIGS = {
    "smoke": _smoke(),
    "cpu": Config(),
    # The paper's setting (CV_LTH_Pre-training's main_imp_downstream.py): CIFAR-style ResNet-50 on CIFAR-10
    # / 100 and SVHN from RGLT_DATA, SGD lr 0.1, wd 2e-4, 182 epochs (drops at 91 and 136), rewind to epoch
    # 9 (5%), 20% per round, 17 rounds. ImageNet weights cannot be had offline: the source is CIFAR-100.
    "gpu": Config(model=ModelSpec("resnet50_bottleneck"),
                  tasks=(("CIFAR-10", Task("cifar10")), ("CIFAR-100", Task("cifar100")), ("SVHN", Task("svhn"))),
                  source=Task("cifar100"), train=TrainConfig(epochs=182, batch_size=128, lr=0.1, weight_decay=2e-4,
                                                             schedule="step", milestones=(0.5, 0.75)),
                  source_train=TrainConfig(epochs=182, batch_size=128, lr=0.1, weight_decay=2e-4, schedule="step",
                                           milestones=(0.5, 0.75)),
                  rewind_step=9 * 352, source_rewind_step=9 * 352),
}


def source_run(config: Config, replicate: int = 0, rounds: int = 0) -> TicketRun:
    """The source network: ``rounds=0`` is the pretraining alone; Table 5 prunes it ``config.rounds`` times."""
    return TicketRun(config.model, config.source, dataclasses.replace(config.source_train, seed=replicate),
                     IMPConfig(rounds=rounds, fraction=0.2, rewind_step=config.source_rewind_step),
                     prunable="weights", replicate=replicate)


def task_run(config: Config, task: Task, init: str, replicate: int) -> TicketRun:
    return TicketRun(config.model, task, dataclasses.replace(config.train, seed=replicate),
                     IMPConfig(rounds=config.rounds, fraction=0.2, rewind_step=config.rewind_step),
                     prunable="no-stem-no-fc", replicate=replicate,
                     init=source_run(config) if init == "pretrained" else None)


def runs(config: Config) -> list[TicketRun]:
    """Every run the experiment trains, the pretraining first (the pretrained runs wait for it)."""
    tasks = [t for _, t in config.tasks]
    return ([source_run(config)] + [source_run(config, r, config.rounds) for r in range(config.seeds)]
            + [task_run(config, t, init, r) for init in INITS for t in tasks for r in range(config.seeds)])


def _check_data(config: Config) -> None:
    """Load every task before training starts: a missing data root fails here, naming it."""
    for task in [config.source, *(t for _, t in config.tasks)]:
        load_task(task)


def _flow_of(run: TicketRun):
    store = store_of(run)
    fl = imp_flow.flow(store, STAGES)
    accuracy = np.array([store.metrics(n)["accuracy"] for n in fl.levels])
    return fl, accuracy


def untrained_sigma(run: TicketRun, groups=STAGES) -> np.ndarray:
    """sigma of the null flow: the run's rewind point pruned round after round with no training."""
    store = store_of(run)
    rewind = store.rewind()
    weights = {name: rewind[name] for name in store.load(0).masks}
    fl = imp_flow.flow(imp_flow.untrained_tickets(weights, run.imp.rounds, run.imp.fraction, run.imp.schedule), groups)
    return imp_flow.exponents(fl.M, imp_flow.c_of_run(run.imp, fl.levels))["sigma"]


def _transfer_job(job) -> float:
    run, task, level = job
    return float(branch(run, MaskTransfer(task=task), level)["accuracy"])


def _sigma(observable: np.ndarray) -> dict[str, np.ndarray]:
    return imp_flow.exponents(observable, C)


def run(config: Config) -> dict:
    _check_data(config)
    run_all(runs(config), workers=config.workers)
    names, tasks = [n for n, _ in config.tasks], [t for _, t in config.tasks]
    I, T, S, L, G = len(INITS), len(tasks), config.seeds, config.rounds + 1, len(STAGES)
    out = {k: np.zeros((I, T, S, L, G)) for k in ("M", "P")}
    out.update({k: np.zeros((I, T, S, L)) for k in ("density", "accuracy")})
    out.update({f"{k}_{o}": np.zeros((I, T, S, G)) for k in ("sigma", "sigma_sem", "lam", "lam_sem", "eigen")
                for o in ("M", "P")})
    out["untrained_sigma_M"] = np.zeros((I, T, S, G))
    for i, init in enumerate(INITS):
        for t, task in enumerate(tasks):
            for r in range(S):
                fl, acc = _flow_of(task_run(config, task, init, r))
                out["untrained_sigma_M"][i, t, r] = untrained_sigma(task_run(config, task, init, r))
                out["M"][i, t, r], out["P"][i, t, r] = fl.M, fl.P
                out["density"][i, t, r], out["accuracy"][i, t, r] = fl.density, acc
                for o in ("M", "P"):
                    ex = _sigma(getattr(fl, o))
                    for k in ("sigma", "sigma_sem", "lam", "lam_sem", "eigen"):
                        out[f"{k}_{o}"][i, t, r] = ex[k]
    # One layer's mask at every level (task A, random init, seed 0): the picture beside the block spins
    example = store_of(task_run(config, tasks[0], "random", 0))
    layer = next(n for n in example.load(0).masks if n.startswith("stage1.block1."))
    out["example_layer"] = layer
    out["example_masks"] = np.stack([example.load(n).masks[layer].flatten(1).numpy() for n in range(L)])
    # Table 5: the source pruned on its own task, every layer prunable
    src = [_flow_of(source_run(config, r, config.rounds)) for r in range(S)]
    out["source_M"] = np.stack([fl.M for fl, _ in src])
    out["source_density"] = np.stack([fl.density for fl, _ in src])
    out["source_accuracy"] = np.stack([acc for _, acc in src])
    for o in ("M", "P"):
        ex = [_sigma(getattr(fl, o)) for fl, _ in src]
        out[f"source_sigma_{o}"] = np.stack([e["sigma"] for e in ex])
    out["source_eigen_M"] = np.stack([_sigma(fl.M)["eigen"] for fl, _ in src])

    # Table 8 / Fig. 3: Eq. 15 fitted to the mean error over seeds, gamma's interval by bootstrap
    fits = np.zeros((I + 1, T, len(imp_flow.PARAMS)))
    gamma = np.full((I + 1, T, 3), np.nan)   # gamma, low, high; row I: the source (task column 0)
    curves = [(i, t, 100 * out["density"][i, t, 0], 100 * (1 - out["accuracy"][i, t])) for i in range(I) for t in range(T)]
    curves.append((I, 0, 100 * out["source_density"][0], 100 * (1 - out["source_accuracy"])))
    for i, t, d, err in curves:
        fit = imp_flow.bootstrap_gamma(d, err, resamples=config.bootstrap)
        fits[i, t] = [fit[k] for k in imp_flow.PARAMS]
        gamma[i, t] = fit["gamma"], fit["gamma_low"], fit["gamma_high"]
    out["scaling_fit"], out["gamma"] = fits, gamma

    # Beyond the paper: each task's ticket mask transferred to every other task, from its rewind point
    level = config.transfer_level
    jobs = [(task_run(config, tasks[s], init, r), tasks[t], level)
            for init in INITS for s in range(T) for t in range(T) if s != t for r in range(S)]
    transferred = iter(map_jobs(_transfer_job, jobs, workers=config.workers, desc="mask transfers"))
    acc_t = np.zeros((I, T, T, S))
    for i in range(I):
        for s in range(T):
            for t in range(T):
                for r in range(S):
                    acc_t[i, s, t, r] = out["accuracy"][i, t, r, level] if s == t else next(transferred)
    out["transfer_accuracy"] = acc_t
    return {"tasks": names, "inits": list(INITS), "stages": list(STAGES), "levels": np.arange(L),
            "run_keys": [r.key for r in runs(config)], **out}


# ---- analysis shared by the checks and the chapter ------------------------------------------------

def seed_mean(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and its standard error."""
    values = np.asarray(values, dtype=float)
    return values.mean(axis=axis), values.std(axis=axis, ddof=1) / math.sqrt(values.shape[axis])


def classes(sigma: np.ndarray, z: float) -> list[str]:
    """Per stage, from sigma over seeds (seeds, stages): relevant (+), irrelevant (-) or marginal (0)."""
    mean, sem = seed_mean(sigma, 0)
    return ["+" if m - z * s > 0 else "-" if m + z * s < 0 else "0" for m, s in zip(mean, sem)]


def sigma_distance(sigma: np.ndarray) -> np.ndarray:
    """Mean |sigma_s - sigma_t| over stages for every pair of tasks, per seed: (T, T, S) from (T, S, G)."""
    return np.abs(sigma[:, None] - sigma[None, :]).mean(axis=-1)


def transfer_gap(result) -> np.ndarray:
    """Target's own ticket accuracy minus the transferred one, in points: (I, T_source, T_target, S)."""
    acc = np.asarray(result["transfer_accuracy"], dtype=float)
    own = np.einsum("itts->its", acc)[:, None]        # (I, 1, T_target, S)
    return 100 * (own - acc)


def rank_correlation(result, resamples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho between sigma distance and transfer gap over every ordered pair of distinct tasks
    and both inits (seed means), with a 68% interval from resampling the seeds."""
    from scipy.stats import spearmanr
    sigma = np.asarray(result["sigma_M"], dtype=float)          # (I, T, S, G)
    gap = transfer_gap(result)                                     # (I, T, T, S)
    I, T, S = sigma.shape[0], sigma.shape[1], sigma.shape[2]
    off = ~np.eye(T, dtype=bool)

    def rho(pick):
        dist = np.stack([sigma_distance(sigma[i][:, pick]).mean(-1)[off] for i in range(I)]).ravel()
        g = np.stack([gap[i][..., pick].mean(-1)[off] for i in range(I)]).ravel()
        return float(spearmanr(dist, g).statistic) if np.ptp(dist) > 0 and np.ptp(g) > 0 else float("nan")

    rng = np.random.default_rng(seed)
    boot = np.array([rho(rng.integers(0, S, S)) for _ in range(resamples)])
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [0.16, 0.84]) if boot.size else (np.nan, np.nan)
    return rho(np.arange(S)), float(low), float(high)


# ---- claims -------------------------------------------------------------------------------------

TABLE_2 = {"CIFAR-10": (0.20, 0.14, 0.07, -0.68), "CIFAR-100": (0.14, 0.20, 0.04, -0.05),
           "PT CIFAR-10": (0.15, 0.13, 0.02, -0.10), "PT CIFAR-100": (0.15, 0.22, 0.10, -0.16)}
TABLE_5 = (0.45, 0.30, 0.08, -0.24)
TABLE_8 = {"no pre-train": (-0.14, -0.11, -0.07), "ImageNet": (-0.10, -0.15, -0.06)}  # CIFAR-10, -100, SVHN
PAPER_PATTERN = ["+", "+", "+", "-"]


from rglt.rg.imp_flow import GAMMA_BOUND  # noqa: E402  (the checks' reading of a fit at the bound)


def sigma_text(sigma: np.ndarray) -> str:
    """sigma over seeds (seeds, groups) as "mean±SE" per group."""
    mean, sem = seed_mean(sigma, 0)
    return ", ".join(f"{m:+.3f}±{s:.3f}" for m, s in zip(mean, sem))


def quote(row) -> str:
    """A row of the paper's numbers as printed, signed."""
    return " ".join(f"{v:+.2f}" for v in row)


def checks(result, config: Config) -> list[Claim]:
    names = list(result["tasks"])
    sigma = np.asarray(result["sigma_M"], dtype=float)   # (I, T, S, G)
    z = config.sign_z
    cls = {(i, t): classes(sigma[i, t], z) for i in range(len(INITS)) for t in range(len(names))}
    a, b = 0, 1
    out = []
    rule = f"relevant (+) / irrelevant (-) when the seed mean is > {z:g} SEM from 0, else marginal (0)"

    same = cls[0, a] == cls[0, b]
    only_marginal = all(x == y or "0" in (x, y) for x, y in zip(cls[0, a], cls[0, b]))
    out.append(Claim(
        claim=f"from random initialisation, tasks {names[a]} and {names[b]} (CIFAR-10 / CIFAR-100's place) "
              "agree on which stages are relevant and which irrelevant",
        source="000 Table 2 (top rows), Sec. 5.1",
        source_value=f"CIFAR-10 {quote(TABLE_2['CIFAR-10'])}; CIFAR-100 {quote(TABLE_2['CIFAR-100'])}: both + + + -",
        ours=f"{names[a]}: {sigma_text(sigma[0, a])} ({' '.join(cls[0, a])}); {names[b]}: {sigma_text(sigma[0, b])} "
             f"({' '.join(cls[0, b])})",
        tolerance=f"the same class at every stage; {rule}",
        **judged(same, f"classes {' '.join(cls[0, a])} against {' '.join(cls[0, b])}", partly=only_marginal)))

    for i, init in enumerate(INITS):
        pattern = [cls[i, t] == PAPER_PATTERN for t in (a, b)]
        signs = [list(np.where(sigma[i, t].mean(0) > 0, "+", "-")) == PAPER_PATTERN for t in (a, b)]
        out.append(Claim(
            claim=f"{init}: the first three stages are relevant and the last irrelevant, on both tasks",
            source="000 Table 2, Sec. 5.1" + (" (PT rows)" if init == "pretrained" else ""),
            source_value=("CIFAR-10 / CIFAR-100: + + + -" if init == "random" else
                          f"PT CIFAR-10 {quote(TABLE_2['PT CIFAR-10'])}; PT CIFAR-100 {quote(TABLE_2['PT CIFAR-100'])}"),
            ours="; ".join(f"{names[t]}: {' '.join(cls[i, t])}" for t in (a, b)),
            tolerance=f"+ + + - on both tasks; {rule}",
            **judged(all(pattern), f"classes {', '.join(' '.join(cls[i, t]) for t in (a, b))}",
                     partly=all(signs))))

    keeps = [cls[1, t] == cls[0, t] for t in range(len(names))]
    out.append(Claim(
        claim="pretraining identifies the same relevant and irrelevant stages as random initialisation",
        source="000 Sec. 5.1 ('identify the same relevant and irrelevant residual blocks')",
        source_value="CIFAR-10 and CIFAR-100: + + + - with and without ImageNet pretraining",
        ours="; ".join(f"{n}: {' '.join(cls[0, t])} -> {' '.join(cls[1, t])}" for t, n in enumerate(names)),
        tolerance="the same classes on every task",
        **judged(all(keeps), f"classes change on {', '.join(n for n, k in zip(names, keeps) if not k)}",
                 partly=any(keeps))))

    dist = {i: sigma_distance(sigma[i])[a, b] for i in range(2)}       # (S,) per init
    (d_r, s_r), (d_p, s_p) = seed_mean(dist[0], 0), seed_mean(dist[1], 0)
    effect, se = d_r - d_p, math.hypot(s_r, s_p)
    out.append(Claim(
        claim=f"pretraining brings the two tasks' sigma closer ({names[a]} against {names[b]})",
        source="000 Table 2, Sec. 5.1 (CIFAR-10's sigma_4 'pushed considerably closer')",
        source_value="mean |sigma_CIFAR-10 - sigma_CIFAR-100| over stages: 0.19 random, 0.06 pretrained",
        ours=f"{d_r:.3f}±{s_r:.3f} random, {d_p:.3f}±{s_p:.3f} pretrained (difference {effect:+.3f}±{se:.3f})",
        tolerance=f"smaller when pretrained by more than {z:g} standard errors of the difference",
        **judged(effect > z * se, f"the distance changes by {effect:+.3f}, against a seed spread of {se:.3f}",
                 partly=effect > 0)))

    src = np.asarray(result["source_sigma_M"], dtype=float)
    cls_src = classes(src, z)
    out.append(Claim(
        claim="the pretrained network pruned on its own task (no task-specific refining, every layer "
              "prunable): first three stages relevant, the last irrelevant",
        source="000 Table 5, App. D", source_value=f"PRE-TRAINED IMAGENET {quote(TABLE_5)}",
        ours=f"{sigma_text(src)} ({' '.join(cls_src)})", tolerance=f"+ + + -; {rule}",
        **judged(cls_src == PAPER_PATTERN, f"classes {' '.join(cls_src)}",
                 partly=list(np.where(src.mean(0) > 0, "+", "-")) == PAPER_PATTERN)))

    eigen = np.asarray(result["eigen_M"], dtype=bool)
    lam, lam_sem = np.asarray(result["lam_M"]), np.asarray(result["lam_sem_M"])
    worst = float(np.max(lam_sem / lam))
    out.append(Claim(
        claim="M_i are eigenfunctions of IMP: the SEM of lambda_i is below 5% of lambda_i",
        source="000 Sec. 4", source_value="SEM < 5% for the computer vision models",
        ours=f"{eigen.sum()} of {eigen.size} (init, task, seed, stage); the largest SEM is {100 * worst:.2f}% of lambda",
        tolerance="every one",
        **judged(bool(eigen.all()), f"{(~eigen).sum()} exceed 5%", partly=eigen.mean() >= 0.5)))

    sigma_p = np.asarray(result["sigma_P"], dtype=float)
    agree = [classes(sigma_p[i, t], z)[g] == cls[i, t][g] for i in range(2) for t in range(len(names))
             for g in range(len(STAGES))]
    corr = float(np.corrcoef(sigma.mean(2).ravel(), sigma_p.mean(2).ravel())[0, 1])
    out.append(Claim(
        claim="P_i (share of remaining weights) give sigma consistent with M_i",
        source="000 Sec. 4 and footnote 2", source_value="'Pi gave qualitatively similar sigma_i as Mi did'",
        ours=f"the same class at {sum(agree)} of {len(agree)} (init, task, stage); Pearson r of the seed means {corr:.3f}",
        tolerance=f"the same class at >= {config.agree_share:.0%} of them",
        **judged(np.mean(agree) >= config.agree_share, f"classes agree at {np.mean(agree):.0%}",
                 partly=np.mean(agree) >= 0.5)))

    M = np.asarray(result["M"], dtype=float)
    lam_gap = np.abs(lam[0, a].mean(0) - lam[0, b].mean(0))
    m0 = np.abs(M[0, a, :, 0].mean(0) - M[0, b, :, 0].mean(0))
    m0_se = np.hypot(*(M[0, t, :, 0].std(0, ddof=1) / math.sqrt(M.shape[2]) for t in (a, b)))
    out.append(Claim(
        claim="the flows of the two tasks start from different points but evolve at a similar rate",
        source="000 App. C, Fig. 2", source_value="no number: read off Fig. 2 (CIFAR-10 and CIFAR-100)",
        ours=f"|M_i(0) difference| {', '.join(f'{v:.3f}' for v in m0)} (seed SE {', '.join(f'{v:.3f}' for v in m0_se)}); "
             f"|lambda difference| {', '.join(f'{v:.3f}' for v in lam_gap)}",
        tolerance=f"some stage's M_i(0) differs by > {z:g} SE, and every |lambda difference| < {config.lam_tol}",
        **judged(bool(np.any(m0 > z * m0_se)) and bool(np.all(lam_gap < config.lam_tol)),
                 f"start points differ beyond the spread: {bool(np.any(m0 > z * m0_se))}; largest lambda "
                 f"difference {lam_gap.max():.3f}", partly=bool(np.all(lam_gap < config.lam_tol)))))

    gamma = np.asarray(result["gamma"], dtype=float)
    acc = np.asarray(result["accuracy"], dtype=float)
    # Eq. 15's power law needs the error to rise as the density falls; where it does not, gamma runs to
    # the fit's bound and says nothing.
    rise = 100 * (acc[..., 0] - acc[..., -1]).mean(axis=2)         # (I, T): error at the last level minus dense
    interior = np.all(np.abs(gamma[:2]) < 0.99 * GAMMA_BOUND, axis=-1)  # (I, T): estimate and interval inside
    no_rise = lambda i: (f"the error does not rise with pruning: {', '.join(f'{names[t]} {rise[i, t]:+.1f}' for t in range(len(names)))} "
                         f"points from dense to the last level, so there is no power-law regime to fit "
                         f"({int((~interior[i]).sum())} fits at the bound |gamma| = {GAMMA_BOUND:g}); ")
    for i, (init, paper) in enumerate(zip(INITS, TABLE_8.values())):
        n = min(len(names), 3)
        off = np.abs(gamma[i, :n, 0] - np.array(paper[:n]))
        out.append(Claim(
            claim=f"the critical exponent gamma of Eq. 15 per task ({init})",
            source=f"000 Table 8 ({'no pre-train' if init == 'random' else 'ImageNet'} column), App. F",
            source_value="CIFAR-10 / CIFAR-100 / SVHN: " + " / ".join(f"{v:+.2f}" for v in paper),
            ours=" / ".join(f"{names[t]} {gamma[i, t, 0]:+.3f} [{gamma[i, t, 1]:+.3f}, {gamma[i, t, 2]:+.3f}]"
                            for t in range(n)),
            tolerance=f"each within {config.gamma_tol} of the paper's (68% bootstrap interval over seeds in brackets)",
            **judged(bool(np.all(off <= config.gamma_tol)),
                     (no_rise(i) if np.any(rise[i] <= 0) else "") + f"off by up to {off.max():.3f}",
                     partly=bool(np.all(np.sign(gamma[i, :n, 0]) == np.sign(paper[:n])) and interior[i].all()))))

    lows, highs, inside = gamma[:2, :, 1].ravel(), gamma[:2, :, 2].ravel(), interior.ravel()
    pairs = [(p, q) for p in range(lows.size) for q in range(p + 1, lows.size) if inside[p] and inside[q]]
    disjoint = [(p, q) for p, q in pairs if highs[p] < lows[q] or highs[q] < lows[p]]
    out.append(Claim(
        claim="gamma varies across tasks and pretraining",
        source="000 App. F, Table 8", source_value="no pre-train -0.14 / -0.11 / -0.07; ImageNet -0.10 / -0.15 / -0.06",
        ours=f"{len(disjoint)} of the {len(pairs)} pairs of (init, task) whose fits are inside the bounds have "
             f"disjoint 68% intervals ({int(inside.sum())} of {inside.size} fits inside)",
        tolerance="at least one pair of interior fits disjoint",
        **judged(bool(disjoint), (no_rise(0) if np.any(rise <= 0) else "") + "no pair of interior fits has disjoint "
                                 "bootstrap intervals: gamma does not tell the tasks apart here")))

    null = np.asarray(result["untrained_sigma_M"], dtype=float)
    diff = sigma - null                                              # (I, T, S, G)
    d_mean, d_sem = seed_mean(diff, 2)
    beyond = np.abs(d_mean) > z * d_sem
    out.append(Claim(
        claim="sigma is learnt: it differs from the sigma of the same weights pruned without training (F = identity)",
        source="000 Sec. 3.1-3.2 (T = F o M; sigma read as the task's relevant directions)",
        source_value="no number: the paper never separates the masking operator M from the refining F",
        ours=f"untrained {names[a]} (random init): {sigma_text(null[0, a])}; trained: {sigma_text(sigma[0, a])}; "
             f"{beyond.sum()} of {beyond.size} (init, task, stage) differ by > {z:g} SE",
        tolerance=f"on every task and init, at least one stage differs by > {z:g} SE",
        **judged(bool(beyond.any(axis=-1).all()), f"{(~beyond.any(axis=-1)).sum()} (init, task) flows are "
                 "indistinguishable from pruning the initialisation", partly=bool(beyond.any()))))

    null_cls = {(i, t): classes(null[i, t], z) for i in range(len(INITS)) for t in range(len(names))}
    same_pattern = [key for key in cls if cls[key] == null_cls[key]]
    out.append(Claim(
        claim="the relevant / irrelevant pattern is learnt: it differs from the untrained flow's pattern",
        source="000 Sec. 5.1 (the pattern read as what the early blocks learn about natural images)",
        source_value="no number: the paper never prunes without training",
        ours=f"the same classes as the untrained flow for {len(same_pattern)} of {len(cls)} (init, task); "
             f"untrained {names[a]} (random init): {' '.join(null_cls[0, a])}",
        tolerance="a different class at some stage for every (init, task)",
        **judged(not same_pattern, f"{len(same_pattern)} of {len(cls)} (init, task) have the untrained flow's "
                 "pattern: the stages' sizes and initial scales alone give it", partly=len(same_pattern) < len(cls))))

    rho, low, high = rank_correlation(result, resamples=config.bootstrap)
    out.append(Claim(
        claim="tasks with closer sigma transfer tickets better (the sigma distance predicts the transfer gap)",
        source="000 Secs. 2.1, 3.1, 6 (inferred from similar sigma, never tested)",
        source_value="no number: the paper cites Morcos et al. (2019) for transfer and measures none",
        ours=f"Spearman rho {rho:+.2f} [{low:+.2f}, {high:+.2f}] over every ordered pair of tasks and both inits, "
             f"at level {config.transfer_level}",
        tolerance="rho > 0 with its 68% interval above 0",
        **judged(low > 0, f"rho {rho:+.2f}, interval [{low:+.2f}, {high:+.2f}]", partly=rho > 0)))
    return out
