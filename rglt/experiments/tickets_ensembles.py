"""Chapter 5, claim 4 of seed 002: sparse ensembles against dense ones at the same training budget.

The essay: "for the same total computational budget, an ensemble of diverse, specialized tickets can
sometimes outperform a smaller ensemble of dense, generalist models." The published reference is
FreeTickets (Liu et al., ICLR 2022): ensembles of sparse networks beat a single dense network of the
same total parameter count and *training FLOPs*; its members are cheap, each sparse network trained once.

Version 1 compared IMP tickets (rewinding to an early step) of a 1D ResNet-20 on MNIST-1D at density about
1 / k with dense networks at equal *parameters* (b dense networks against b k tickets), with a Welch
interval over disjoint ensembles of 8 replicates, and the claim held if some k held (Holm's first step). It is kept
(:func:`registered_rules`, the same keys of the result), but an IMP ticket costs several trainings.

Version 2 (issue 32, item 1) counts training FLOPs (:func:`imp_cost`, :func:`member_cost`) in units of one
dense network's training (T):

- a sparse network trained once costs f T where the hardware skips zeros, T where it does not; f
  (:func:`flop_density`) is the share of the conv and linear layers' multiply-adds its masks keep, each
  weight counted once per output position of its layer (biases, norms and the loss are not counted). The
  random masks below keep 1 / k of *every* layer, so for them f = 1 / k; IMP's global masks prune some
  layers harder than others, so a ticket's f differs from its weight density (both are stored);
- an IMP ticket at level L costs its whole chain: round 0 trains dense from step 0 (T), and each round
  r = 1..L retrains from the rewind step s of S steps with FLOP share f_r: T [1 + (1 - s / S) sum_r f_r]
  with zeros skipped, T [1 + L (1 - s / S)] without.

A budget of b dense trainings then buys b dense networks, or b k random-mask networks at density 1 / k each
trained once (uniform random masks per layer, from a fresh initialisation: FreeTickets' cheap members), but
not one IMP ticket (at k = 2 a ticket's chain already costs about 3 T). The claim is judged at equal training FLOPs
(zeros skipped), the essay's "same total computational budget": the random-mask ensemble against the dense
ensemble. IMP tickets are compared with dense networks at equal parameters, described beside it, with their
FLOP cost.

Pairing: dense replicate r (IMP's level 0 of replicate r) has k random-mask children at each k, child c
initialised and ordered by seed r + R c (child 0 shares the dense network's initialisation and batches).
Pair i at budget b is the dense ensemble of replicates i b .. i b + b - 1 against the ensemble of their b k
children: R / b disjoint pairs, and a paired t interval over them. The ks combine by Holm: the claim
("can sometimes outperform") holds at some k, so the best k's interval must clear 0 at level 1 - 0.05 / m
(Holm's first step over the m values of k); it fails ("not") only when every k's interval lies at or below 0.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from rglt.claims import Claim, Rule, deciding
from rglt.data.tasks import Task, load_task
from rglt.identity import unhashed
from rglt.models import prunable_parameters
from rglt.pools.ensemble import ensemble_accuracy, predictions
from rglt.prune import map_jobs, run_all, train_tickets
from rglt.prune.masks import random_like
from rglt.prune.runs import PRUNABLE, ModelSpec, imp_replicates
from rglt.stats import LEVEL, Interval, mean_interval, welch_interval
from rglt.train import TrainConfig, steps_per_epoch, train
from rglt.validate import check_int, require

NAME = "tickets_ensembles"
VERSION = 2
SOURCE = "002 'The Engineer's Delight' (ensembles)"
FREETICKETS = "FreeTickets (Liu et al. 2022): sparse ensembles beat a dense network of the same parameters and FLOPs"


@dataclasses.dataclass(frozen=True)
class Config:
    model: ModelSpec = ModelSpec("resnet20", width=16)
    task: Task = Task("mnist1d", noise=1)
    train: TrainConfig = TrainConfig(epochs=15, batch_size=128, lr=0.1, weight_decay=1e-4)
    rounds: int = 6                              # density 0.8^6 = 0.26 at the last level: k = 4
    rewind_step: int = 20
    replicates: int = 8
    tickets_per_dense: tuple = (2, 4)            # k: sparse networks at density ~1/k per dense network's budget
    budgets: tuple = (1, 2)                      # b: the budget in dense networks (parameters or trainings)
    mask_seed: int = 30_000                      # seeds the random masks of the ensembles' members
    workers: int = unhashed(2)


CONFIGS = {
    "smoke": Config(model=ModelSpec("resnet8", width=8), task=Task("mnist1d", train_size=256),
                    train=TrainConfig(epochs=2, batch_size=64, lr=0.1, weight_decay=1e-4), rounds=3, rewind_step=2,
                    replicates=4, tickets_per_dense=(2,), budgets=(1, 2), workers=1),
    "cpu": Config(),
    "gpu": Config(model=ModelSpec("resnet20"), task=Task("cifar10"),
                  train=TrainConfig(epochs=160, batch_size=128, lr=0.1, weight_decay=1e-4, schedule="step"),
                  rounds=10, tickets_per_dense=(2, 4), workers=1),
}


ticket_runs = imp_replicates   # model, task, train, rounds, rewind_step, replicates


def level_for(k: int, rounds: int, fraction: float = 0.2) -> int:
    """The IMP level whose density (1 - fraction)^level is closest to 1 / k, in log density."""
    if not 1 <= (level := round(math.log(k) / -math.log(1 - fraction))) <= rounds:
        raise ValueError(f"density 1/{k} needs level {level}, outside [1, rounds={rounds}]")
    return level


def _increasing(value, low: int) -> bool:
    return (isinstance(value, tuple) and len(value) > 0 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                 and v >= low for v in value)
            and list(value) == sorted(set(value)))


def check_config(config: Config) -> None:
    """A clear error naming the field and its allowed values, before any work is done."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tickets_ensembles.Config; got {type(config).__name__}")
    check_int(config.replicates, "replicates", 2)
    check_int(config.rounds, "rounds", 1)
    total = steps_per_epoch(len(load_task(config.task).train[1]), config.train.batch_size) * config.train.epochs
    check_int(config.rewind_step, "rewind_step", 0, total - 1)
    check_int(config.mask_seed, "mask_seed", 0)
    check_int(config.workers, "workers", 1)
    require(_increasing(config.tickets_per_dense, 2), "tickets_per_dense",
            "a non-empty increasing tuple of distinct integers >= 2", config.tickets_per_dense)
    require(_increasing(config.budgets, 1), "budgets", "a non-empty increasing tuple of distinct integers >= 1",
            config.budgets)
    for k in config.tickets_per_dense:
        level = round(math.log(k) / -math.log(0.8))
        require(1 <= level <= config.rounds, "tickets_per_dense",
                f"values whose density 1/k is an IMP level in [1, rounds={config.rounds}]", config.tickets_per_dense)
    most = max(config.budgets) * max(config.tickets_per_dense)
    require(most <= config.replicates, "replicates",
            f"at least max(budgets) x max(tickets_per_dense) = {most} (one ensemble of IMP tickets from distinct "
            f"replicates)", config.replicates)
    require(config.replicates // max(config.budgets) >= 2, "budgets",
            f"budgets whose largest leaves at least two disjoint pairs of the {config.replicates} replicates",
            config.budgets)


# ---- training FLOPs, in dense trainings ---------------------------------------------------------------

def member_cost(density: float, *, skip_zeros: bool = True) -> float:
    """One network at ``density`` trained once from step 0, in units of one dense training: ``density``
    where the hardware skips zeros, 1 where it does not."""
    require(0 < density <= 1, "density", "a number in (0, 1]", density)
    return float(density) if skip_zeros else 1.0


def imp_cost(densities, total_steps: int, rewind_step: int, *, skip_zeros: bool = True) -> float:
    """Training FLOPs of one IMP ticket at level L = len(densities), in dense trainings: round 0 trains dense
    from step 0 (1), each round r = 1..L retrains from ``rewind_step`` to ``total_steps`` at density
    ``densities[r - 1]`` ((1 - rewind_step / total_steps) d_r with zeros skipped, without it 1 - rewind_step /
    total_steps). Pruning and evaluation are not counted (a sort and a forward pass per round)."""
    check_int(total_steps, "total_steps", 1)
    check_int(rewind_step, "rewind_step", 0, total_steps - 1)
    resumed = 1 - rewind_step / total_steps
    return 1.0 + sum(resumed * member_cost(d, skip_zeros=skip_zeros) for d in densities)


def total_steps(config: Config) -> int:
    return steps_per_epoch(len(load_task(config.task).train[1]), config.train.batch_size) * config.train.epochs


# ---- the random-mask members --------------------------------------------------------------------------

def member_seed(replicate: int, copy: int, replicates: int) -> int:
    """The seed of dense replicate ``replicate``'s child ``copy``: child 0 shares the replicate's seed."""
    return replicate + replicates * copy


def random_masks(model, k: int, seed: int) -> dict[str, torch.Tensor]:
    """Uniformly random masks keeping round(n / k) of each prunable layer's n weights (the layers IMP prunes)."""
    out = {}
    for i, (name, weight) in enumerate(prunable_parameters(model, **PRUNABLE["weights"])):
        keep = torch.zeros(weight.numel(), dtype=torch.bool)
        keep[:max(1, round(weight.numel() / k))] = True
        out[name] = random_like(keep.reshape(weight.shape), seed + i)
    return out


def flop_density(model, masks: dict[str, torch.Tensor], inputs: torch.Tensor) -> float:
    """The share of the masked layers' multiply-adds a network with ``masks`` keeps where zeros are skipped: a
    weight costs one multiply-add per output position of its layer (a conv's output length, 1 for a linear
    layer), read from one forward pass on ``inputs[:1]``."""
    modules = dict(model.named_modules())
    positions: dict[str, int] = {}
    hooks = [modules[name.rsplit(".", 1)[0]].register_forward_hook(
        lambda module, args, output, name=name: positions.__setitem__(name, output[0, 0].numel())) for name in masks]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(inputs[:1])
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    kept = sum(int(m.sum()) * positions[name] for name, m in masks.items())
    return kept / sum(m.numel() * positions[name] for name, m in masks.items())


def _train_member(job) -> dict:
    """One random-mask network at density 1/k trained once from its own initialisation: test probabilities."""
    config, k, seed = job
    data = load_task(config.task)
    model = config.model.build(data, seed=seed)
    masks = random_masks(model, k, config.mask_seed + 1_000_000 * k + 1_000 * seed)
    train(model, data.train, dataclasses.replace(config.train, seed=seed), masks=masks, desc=f"member k={k} seed={seed}")
    kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
    return {"probs": predictions(model, data.test[0]).numpy(), "density": kept,
            "flop_density": flop_density(model, masks, data.test[0])}


def run(config: Config) -> dict:
    check_config(config)
    ks, R = config.tickets_per_dense, config.replicates
    levels = {k: level_for(k, config.rounds) for k in ks}
    runs = ticket_runs(config)
    run_all(runs, workers=config.workers)
    jobs = [(config, k, member_seed(r, c, R)) for k in ks for r in range(R) for c in range(k)]
    members = map_jobs(_train_member, jobs, workers=config.workers, desc="random-mask members")
    data = load_task(config.task)
    x, y = data.test
    model = config.model.build(data, seed=0)

    def probs(run, level):
        model.load_state_dict(train_tickets(run).load(level).weights)
        return predictions(model, x)

    dense = [probs(r, 0) for r in runs]
    sparse = {k: [probs(r, lv) for r in runs] for k, lv in levels.items()}
    children = {k: [[torch.from_numpy(m["probs"]) for m, job in zip(members, jobs) if job[1] == k
                     and job[2] % R == r] for r in range(R)] for k in ks}
    store0, steps = train_tickets(runs[0]), total_steps(config)   # weight densities: equal in every replicate
    # the FLOP share of each level of the chain (zeros skipped, mean over the replicates): its round's training cost
    chain = {k: [float(np.mean([flop_density(model, train_tickets(r).load(lv).masks, x) for r in runs]))
                 for lv in range(1, levels[k] + 1)] for k in ks}
    out = {"density": np.array([store0.load(levels[k]).density for k in ks]),
           "flop_density": np.array([chain[k][-1] for k in ks]),
           "ticket_accuracy": np.array([[ensemble_accuracy([p], y) for p in sparse[k]] for k in ks]),
           "dense_accuracy": np.array([ensemble_accuracy([p], y) for p in dense]),
           "level": np.array([levels[k] for k in ks]), "total_steps": steps, "rewind_step": config.rewind_step,
           "ticket_cost_skip": np.array([imp_cost(chain[k], steps, config.rewind_step) for k in ks]),
           "ticket_cost_dense": np.array([imp_cost(chain[k], steps, config.rewind_step, skip_zeros=False) for k in ks]),
           "random_density": np.array([np.mean([m["density"] for m, j in zip(members, jobs) if j[1] == k]) for k in ks]),
           "random_flop_density": np.array([np.mean([m["flop_density"] for m, j in zip(members, jobs) if j[1] == k])
                                            for k in ks])}
    for k in ks:
        out[f"member_accuracy_k{k}"] = np.array([[ensemble_accuracy([p], y) for p in children[k][r]] for r in range(R)])
    for b in config.budgets:
        # pair i: dense replicates i b .. i b + b - 1, and (version 2) their b k random-mask children
        out[f"dense_b{b}"] = np.array([ensemble_accuracy(dense[i:i + b], y) for i in range(0, R - b + 1, b)])
        for k in ks:
            m = b * k      # version 1: disjoint ensembles of b k IMP tickets of distinct replicates
            out[f"tickets_b{b}_k{k}"] = np.array([ensemble_accuracy(sparse[k][i:i + m], y) for i in range(0, R - m + 1, m)])
            out[f"random_b{b}_k{k}"] = np.array([ensemble_accuracy([p for r in range(i, i + b) for p in children[k][r]], y)
                                                 for i in range(0, R - b + 1, b)])
    return out


# ---- rules ---------------------------------------------------------------------------------------------

def _budget(b: int) -> str:
    return f"{b} dense network{'s' if b > 1 else ''}"


def registered_rules(config: Config) -> tuple[Rule, ...]:
    """Version 1's rules, as registered and judged on its result: equal parameters, IMP tickets, Welch."""
    return tuple(Rule(
        id=f"budget_{b}",
        claim=f"at a budget of {b} dense network{'s' + chr(39) if b > 1 else chr(39) + 's'} parameters, an ensemble of "
              f"sparse tickets beats {'an ensemble of ' + _budget(b) if b > 1 else 'the dense network'}",
        source=f"{SOURCE}; {FREETICKETS}", source_value="no number in the essay; FreeTickets: ahead of dense at the "
                                                        "same parameters",
        what=f"ticket ensemble minus dense accuracy (points) at the best k of {', '.join(map(str, config.tickets_per_dense))} "
             "(tickets per dense network's budget)",
        test=f"for some k: Welch t interval over the disjoint ensembles of the {config.replicates} replicates (tickets "
             "against dense), Holm over the k with at least two ensembles (Holm's first step: the best k's "
             "interval at level 1 - 0.05 / m, m the k tested)", low=0.0) for b in config.budgets)


CHANGE = ("version 2, before its run (issue 32 item 1): the essay's 'same total computational budget' is training "
          "FLOPs, as FreeTickets counts it, not parameters; an IMP ticket costs several dense trainings (its whole "
          "chain), so the sparse ensemble a budget of b dense trainings affords is b k random-mask networks at "
          "density 1/k, each trained once; paired by replicate (t interval over the pairs) instead of Welch over "
          "disjoint ensembles; the ks still combine by Holm's first step (some k), now with every k's interval "
          "shown. The registered reading (IMP tickets at equal parameters) is judged beside it")


def holm_level(config: Config) -> float:
    """The level of each k's interval: Holm's first step over the m values of k (the claim holds at some k)."""
    return 1 - (1 - LEVEL) / len(config.tickets_per_dense)


def rules(config: Config) -> tuple[Rule, ...]:
    ks = ", ".join(map(str, config.tickets_per_dense))
    return tuple(dataclasses.replace(
        old,
        claim=f"at a budget of {b} dense network{'s' + chr(39) if b > 1 else chr(39) + 's'} training FLOPs (zeros skipped), an ensemble of sparse networks (random "
              f"masks at density 1/k, each trained once) beats {'an ensemble of ' + _budget(b) if b > 1 else 'the dense network'}",
        source_value="no number in the essay; FreeTickets: sparse ensembles ahead of the dense network at the same "
                     "parameters and training FLOPs",
        what=f"sparse-ensemble minus dense-ensemble test accuracy (points) at equal training FLOPs, at the best k of {ks}",
        test=f"paired t interval over the {config.replicates // b} disjoint pairs (pair i: dense replicates i b .. "
             f"i b + {b - 1} and their {b} k random-mask children), each k's at level {holm_level(config):.4g} "
             f"(Holm's first step over the {len(config.tickets_per_dense)} k: holds at some k; not only when every "
             "k's interval lies at or below 0)",
        registered=old, change=CHANGE) for b, old in zip(config.budgets, registered_rules(config)))


# ---- reading a result ------------------------------------------------------------------------------------

def _arr(result, key) -> np.ndarray:
    return np.asarray(result[key], dtype=float)


def random_intervals(result, config: Config, b: int, level: float) -> dict[int, Interval]:
    """Per k: the paired interval (points) of random-mask ensemble minus dense ensemble at budget ``b``."""
    dense = _arr(result, f"dense_b{b}")
    return {k: mean_interval(_arr(result, f"random_b{b}_k{k}"), paired_with=dense, level=level).scaled(100)
            for k in config.tickets_per_dense}


def ticket_pairs(result, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """IMP ticket ensembles (b k tickets of replicates i b k ..) and their pair: the dense ensemble of the first b
    of those replicates (their own dense parents; equal parameters)."""
    tickets = _arr(result, f"tickets_b{b}_k{k}")
    return tickets, _arr(result, f"dense_b{b}")[::k][:tickets.size]


def ticket_interval(result, b: int, k: int) -> Interval:
    """The paired 95% interval (points) of IMP-ticket ensemble minus dense at equal parameters (infinite with one pair)."""
    tickets, dense = ticket_pairs(result, b, k)
    return mean_interval(tickets, paired_with=dense).scaled(100)


def _registered(result, config: Config, b: int) -> tuple[Interval, str]:
    """Version 1's reading at budget ``b``: Welch over disjoint ensembles, Holm's first step over the k tested."""
    dense = _arr(result, f"dense_b{b}")
    tickets = {k: _arr(result, f"tickets_b{b}_k{k}") for k in config.tickets_per_dense}
    tested = [k for k, t in tickets.items() if t.size > 1 and dense.size > 1]
    if not tested:
        return Interval(float("nan"), -math.inf, math.inf, 1, float("nan"), "one ensemble per side: no spread"), \
            "registered reading: one ensemble per side, no spread"
    level = 1 - (1 - LEVEL) / len(tested)
    ivs = {k: welch_interval(tickets[k], dense, level=level).scaled(100) for k in tested}
    best = tested[deciding([ivs[k] for k in tested], 0.0, every=False)]
    text = ("registered reading (IMP tickets at equal parameters, Welch, level " f"{level:.3g}): "
            + "; ".join(f"k = {k} {iv.mean:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]" for k, iv in ivs.items())
            + f", judged at k = {best}")
    return ivs[best], text


def summary(result) -> dict:
    """The numbers the claim and the prose quote (accuracies as fractions, gains in points, costs in dense
    trainings). Per k: the IMP ticket's density (of the prunable weights) and FLOP share, its FLOP cost zeros
    skipped or not, the random masks' density and FLOP share,
    one ticket's and one random-mask network's mean accuracy. Per budget b: the dense ensemble's mean, the number
    of pairs; per k the random-mask ensemble's mean, its paired gain with the 95% interval, the IMP-ticket
    ensemble's paired gain at equal parameters with its 95% interval (nan with one pair) and pairs.
    A version-1 result (no random-mask members) gives only version 1's numbers."""
    out = {"dense_single": float(_arr(result, "dense_b1").mean()) if "dense_b1" in result else math.nan}
    budgets = sorted(int(key[len("dense_b"):]) for key in result if key.startswith("dense_b"))
    ks = sorted({int(key.split("_k")[1]) for key in result if key.startswith("tickets_b")})
    for j, k in enumerate(ks):
        out[f"density_k{k}"] = float(_arr(result, "density")[j])
        out[f"single_ticket_k{k}"] = float(_arr(result, "ticket_accuracy")[j].mean())
        if "random_density" in result:
            out[f"random_density_k{k}"] = float(_arr(result, "random_density")[j])
            out[f"random_flop_density_k{k}"] = float(_arr(result, "random_flop_density")[j])
            out[f"flop_density_k{k}"] = float(_arr(result, "flop_density")[j])
            out[f"ticket_cost_skip_k{k}"] = float(_arr(result, "ticket_cost_skip")[j])
            out[f"ticket_cost_dense_k{k}"] = float(_arr(result, "ticket_cost_dense")[j])
            out[f"single_random_k{k}"] = float(_arr(result, f"member_accuracy_k{k}").mean())
    for b in budgets:
        dense = _arr(result, f"dense_b{b}")
        out[f"dense_b{b}"], out[f"pairs_b{b}"] = float(dense.mean()), float(dense.size)
        for k in ks:
            tickets, partner = ticket_pairs(result, b, k)
            out[f"tickets_b{b}_k{k}"] = float(tickets.mean())
            out[f"tickets_b{b}_k{k}_pairs"] = float(tickets.size)
            iv = ticket_interval(result, b, k)
            out.update({f"tickets_b{b}_k{k}_gain": iv.mean, f"tickets_b{b}_k{k}_low": iv.low if iv.n > 1 else math.nan,
                        f"tickets_b{b}_k{k}_high": iv.high if iv.n > 1 else math.nan})
            if f"random_b{b}_k{k}" in result:
                random = _arr(result, f"random_b{b}_k{k}")
                iv = mean_interval(random, paired_with=dense).scaled(100)
                out.update({f"random_b{b}_k{k}": float(random.mean()), f"random_b{b}_k{k}_gain": iv.mean,
                            f"random_b{b}_k{k}_low": iv.low, f"random_b{b}_k{k}_high": iv.high})
    return {key: float(v) for key, v in out.items()}


def figure_arrays(result) -> dict[str, np.ndarray]:
    """What the chapter's figure draws, [budgets, k]: the paired gain over the dense ensemble (points; mean, 95%
    low and high) of the random-mask ensemble at equal training FLOPs and of the IMP-ticket ensemble at equal
    parameters (nan bounds with one pair); and each ensemble's training FLOPs (dense trainings, zeros skipped)
    with its mean accuracy (%) for the cost panel: dense b, random b k d, tickets b k times a ticket's cost."""
    s = summary(result)
    budgets = sorted(int(key[len("dense_b"):]) for key in result if key.startswith("dense_b"))
    ks = sorted({int(key.split("_k")[1]) for key in result if key.startswith("tickets_b")})
    grid = lambda fmt: np.array([[s[fmt.format(b=b, k=k)] for k in ks] for b in budgets])
    return {"budgets": np.array(budgets), "k": np.array(ks),
            **{f"{kind}_{part}": grid(f"{kind}_b{{b}}_k{{k}}_{part}") for kind in ("random", "tickets")
               for part in ("gain", "low", "high")},
            "dense_cost": np.array(budgets, dtype=float), "dense_accuracy": 100 * np.array([s[f"dense_b{b}"] for b in budgets]),
            "random_cost": np.array([[b * k * s[f"random_flop_density_k{k}"] for k in ks] for b in budgets]),
            "random_accuracy": 100 * grid("random_b{b}_k{k}"),
            "tickets_cost": np.array([[b * k * s[f"ticket_cost_skip_k{k}"] for k in ks] for b in budgets]),
            "tickets_accuracy": 100 * grid("tickets_b{b}_k{k}")}


def checks(result, config: Config) -> list[Claim]:
    out = []
    level = holm_level(config)
    for rule, b in zip(rules(config), config.budgets):
        old_iv, old_text = _registered(result, config, b)
        if f"random_b{b}_k{config.tickets_per_dense[0]}" not in result:     # a version-1 result
            out.append(rule.judge(Interval(float("nan"), -math.inf, math.inf, 1, float("nan"),
                                           "not measured: a version-1 result has no random-mask ensembles"),
                                  ours=old_text, registered=old_iv))
            continue
        s = summary(result)
        ivs = random_intervals(result, config, b, level)
        ks = list(config.tickets_per_dense)
        best = ks[deciding([ivs[k] for k in ks], 0.0, every=False)]
        parts = []
        for k in ks:
            t = ticket_interval(result, b, k)
            parts.append(
                f"k = {k}: {b * k} random-mask networks at density {s[f'random_density_k{k}']:.3f} "
                f"({b * k * s[f'random_flop_density_k{k}']:.2f} dense trainings) {100 * s[f'random_b{b}_k{k}']:.2f}%, "
                f"{ivs[k].mean:+.2f} [{ivs[k].low:+.2f}, {ivs[k].high:+.2f}]; {b * k} IMP tickets at density "
                f"{s[f'density_k{k}']:.3f} (equal parameters, {b * k * s[f'ticket_cost_skip_k{k}']:.1f} dense trainings "
                f"zeros skipped, {b * k * s[f'ticket_cost_dense_k{k}']:.1f} not) {t.mean:+.2f}"
                + (f" [{t.low:+.2f}, {t.high:+.2f}] (95%, {t.n} pairs)" if t.n > 1 else " (one pair: no interval)"))
        ours = (f"dense {100 * s[f'dense_b{b}']:.2f}% over {int(s[f'pairs_b{b}'])} pairs ({b} dense training"
                f"{'s' if b > 1 else ''}); " + "; ".join(parts)
                + f" (random-mask intervals paired, at level {level:.4g}: Holm's first step); judged at k = {best}; "
                + old_text)
        out.append(rule.judge(ivs[best], ours=ours, registered=old_iv))
    return out
