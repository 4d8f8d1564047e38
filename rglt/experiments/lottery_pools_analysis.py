"""Lottery Pools' analyses (seed 003: Figs. 1, 2, 4-8) and the authors' code against the paper, on the
1D ResNet-18 tickets of the ``lottery_pools`` experiment (the same runs: its ticket cache is shared).

Version 2 works in ``lottery_pools``' version 2 setting (the paper's regime, read on validation and
cross-fitted: every level is scored on validation example by example for it), and adds the search with
the other tie rule (issue 31): equal validation scores settled towards the candidate, as version 1 did,
against the authors' rule, towards the current best. Version 1 ran in ``lottery_pools.V1``.

Per run, with and without rewinding: the averaged pair of every two levels, re-pruned to the sparser
parent's density (Fig. 1); the linear path between adjacent tickets, alpha = 0, 0.1, ..., 1, not
re-pruned, as the authors' ``liner_inter`` (Fig. 2); the prediction disagreement between every two
tickets on the test set (Fig. 8).

Per target level, with rewinding: one Algorithm-2 search whose best state after 2, 4, 9, 18 and 19
candidates gives the pool-size study (Fig. 4: 25 / 50 / 100% are 4, 9, 19) and the comparison with the
output ensemble of the target and its two nearest tickets (Fig. 7); the coefficient grids of 1, 3 and
7 values (Fig. 5); prune after instead of during (Fig. 6); and the authors' script, one departure at a
time and all together: the threshold starts from the ticket's *test* accuracy with a strict >; 18 of
the 19 candidates; BatchNorm recalibrated on augmented batches (a random translation of up to 4
samples, the 1D analogue of CIFAR's padded random crop; on CIFAR at the gpu profile, the crop and
flip); re-pruning that keeps ties. Lastly the dense
network trained with App. Table 4's swapped values (momentum 1e-4, weight decay 0.9).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch

from rglt import pools, stats
from rglt.claims import Claim, Rule, part
from rglt.data.augment import padded_shift
from rglt.data.tasks import load_task
from rglt.experiments import lottery_pools
from rglt.identity import unhashed
from rglt.prune import run_all, store_of
from rglt.prune.runner import map_jobs
from rglt.stats import CONVENTION, Interval
from rglt.train import TrainingDiverged, evaluate, train
from rglt.validate import check_int, require

NAME = "lottery_pools_analysis"
VERSION = 2
SEARCH_NUM = 19   # the authors' script visits candidates 1 .. search_num - 1 of its list
# candidate pools by their share of the n candidates (Fig. 4: 4, 9, 19 of 19), the two nearest (Fig. 7)
# and the authors' count; "pool_all" is Lottery Pools (interpolation) itself
POOLS = {"pool_2": lambda n: min(n, 2), "pool_25%": lambda n: max(1, n // 4), "pool_50%": lambda n: max(1, n // 2),
         "pool_code": lambda n: min(n, SEARCH_NUM - 1), "pool_all": lambda n: n}
# every search variant, scored on the test set
VARIANTS = tuple(POOLS) + (
    "coef_1", "coef_3", "coef_7", "prune_after", "ensemble_3",
    "code_threshold", "code_augment", "code_ties", "code_all", "other_ties")
ALPHAS = tuple(round(0.1 * k, 1) for k in range(11))


@dataclasses.dataclass(frozen=True)
class Config:
    # lottery_pools' ResNet-18 runs (the same chains, from the ticket cache)
    pools: lottery_pools.Config = dataclasses.replace(lottery_pools.CONFIGS["cpu"],
                                                      models=lottery_pools.CONFIGS["cpu"].models[:1])
    targets: tuple = (0, 4, 9, 14, 19)   # levels searched, evenly spaced (each costs ~8 of lottery_pools' searches)
    augment_shift: int = 4
    workers: int = unhashed(2)
    match_margin: float = unhashed(1.0)    # points: Lottery Pools "matches" the output ensemble within this
    script_margin: float = unhashed(0.5)   # points: a departure of the authors' script that moves less is harmless

    def __post_init__(self):
        require(isinstance(self.pools, lottery_pools.Config) and len(self.pools.models) == 1, "pools",
                "an rglt.experiments.lottery_pools.Config with one model", self.pools)
        rounds = self.pools.rounds
        require(len(self.targets) >= 2 and all(isinstance(t, int) and 0 <= t <= rounds for t in self.targets),
                "targets", f"a tuple of at least 2 levels in [0, {rounds}]", self.targets)
        check_int(self.augment_shift, "augment_shift", 0)


CONFIGS = {
    "smoke": Config(pools=dataclasses.replace(lottery_pools.CONFIGS["smoke"],
                                              models=lottery_pools.CONFIGS["smoke"].models[:1]), targets=(0, 3)),
    "cpu": Config(),
    "gpu": Config(pools=dataclasses.replace(lottery_pools.CONFIGS["gpu"], models=lottery_pools.CONFIGS["gpu"].models[:1]),
                  targets=tuple(range(20)), augment_shift=4),
}


def other_tie_rule(config: Config) -> str:
    """The tie rule the search does not use (:data:`rglt.pools.TIE_BREAKS`): its variant "other_ties"."""
    return next(rule for rule in pools.TIE_BREAKS if rule != config.pools.tie_break)


def _runs(config: Config):
    p = config.pools
    return [lottery_pools.ticket_run(p, p.models[0], rewind == lottery_pools.REWINDS[0], r)
            for rewind in lottery_pools.REWINDS for r in range(p.seeds)]


def _setup(run):
    store, data = store_of(run), load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    return pools, store, data, model, store.levels()


def _maps_job(job) -> dict:
    """Fig. 1 (averaged pairs), Fig. 2 (paths between adjacent tickets), Fig. 8 (disagreement), and every
    ticket on validation, example by example (the regime)."""

    config, run = job
    pools, store, data, model, levels = _setup(run)
    bn = config.pools.bn_batches
    n = len(levels)
    tickets = [store.load(t) for t in levels]
    pair = np.full((n, n), np.nan)
    recalibrated = np.full(n, np.nan)       # each ticket after BN recalibration alone, the fair base for a merge
    for i in range(n):
        model.load_state_dict(pools.finisher(model, tickets[i].masks, data.train[0], batches=bn)(tickets[i].weights))
        recalibrated[i] = evaluate(model, data.test)["accuracy"]
    for i in range(n):
        for j in range(i, n):
            if i == j:
                pair[i, i] = tickets[i].metrics["accuracy"]
                continue
            finish = pools.finisher(model, tickets[j].masks, data.train[0], batches=bn)   # the sparser parent
            model.load_state_dict(finish(pools.interpolate(tickets[i].weights, tickets[j].weights, 0.5)))
            pair[i, j] = pair[j, i] = evaluate(model, data.test)["accuracy"]
    path = np.full((2, n - 1, len(ALPHAS)), np.nan)                  # (loss / error, pair t -> t+1, alpha)
    recalibrate = pools.finisher(model, None, data.train[0], batches=bn)
    for t in range(n - 1):
        for a, alpha in enumerate(ALPHAS):     # alpha is the weight on the sparser ticket t+1
            model.load_state_dict(recalibrate(pools.interpolate(tickets[t + 1].weights, tickets[t].weights, alpha)))
            m = evaluate(model, data.test)
            path[:, t, a] = m["loss"], 1 - m["accuracy"]
    probs, val_correct = [], []
    for ticket in tickets:
        model.load_state_dict(dict(ticket.weights))
        probs.append(pools.predictions(model, data.test[0]))
        val_correct.append(evaluate(model, data.val, per_example=True)["correct"].numpy())
    return {"pair": pair, "recalibrated": recalibrated, "path": path, "disagreement": pools.disagreement(probs).numpy(),
            "val_correct": np.stack(val_correct)}


def _search_job(job) -> dict:
    """Every search variant for one target level of one run with rewinding."""

    config, run, t = job
    pools, store, data, model, levels = _setup(run)
    bn = config.pools.bn_batches
    ticket = store.load(t)
    score = pools.scorer(model, data.val)
    order = pools.adjacency_order(t, levels)
    candidates = [(n, (lambda n=n: store.load(n).weights)) for n in order]
    finish = pools.finisher(model, ticket.masks, data.train[0], batches=bn)
    greedy = functools.partial(pools.greedy, tie_break=config.pools.tie_break)
    out = {}

    def test(state):
        model.load_state_dict(dict(state))
        return evaluate(model, data.test)["accuracy"]

    def on_step(step, best):
        seen.append(step)
        for name, size in POOLS.items():
            if size(len(candidates)) == len(seen):
                out[name] = test(best)

    seen: list = []
    greedy(ticket.weights, candidates, score, finish, on_step=on_step)
    for count in (1, 3, 7):
        grid = pools.COEFFICIENT_GRIDS[count]
        out[f"coef_{count}"] = test(greedy(ticket.weights, candidates, score, finish, coefficients=grid)[0])
    after = greedy(ticket.weights, candidates, score, pools.finisher(model, None, data.train[0], batches=bn))[0]
    out["prune_after"] = test(finish(after))
    probs = []
    for n in [t] + order[:2]:
        model.load_state_dict(dict(store.load(n).weights))
        probs.append(pools.predictions(model, data.test[0]))
    out["ensemble_3"] = pools.ensemble_accuracy(probs, data.test[1])

    generator = torch.Generator().manual_seed(run.replicate)
    augmented = pools.finisher(model, ticket.masks, data.train[0], batches=bn,
                               augment=lambda x: padded_shift(x, config.augment_shift, generator))
    tied = pools.finisher(model, ticket.masks, data.train[0], batches=bn, ties="keep")
    code_finish = pools.finisher(model, ticket.masks, data.train[0], batches=bn, ties="keep",
                                 augment=lambda x: padded_shift(x, config.augment_shift, generator))
    threshold = dict(strict=True, initial_score=ticket.metrics["accuracy"])    # the ticket's test accuracy
    out["code_threshold"] = test(greedy(ticket.weights, candidates, score, finish, **threshold)[0])
    out["code_augment"] = test(greedy(ticket.weights, candidates, score, augmented)[0])
    ties_best = greedy(ticket.weights, candidates, score, tied)[0]
    out["code_ties"] = test(ties_best)
    names = list(ticket.masks)
    extra = sum(int((ties_best[k] != 0).sum()) for k in names) - sum(int(ticket.masks[k].sum()) for k in names)
    code_pool = candidates[:POOLS["pool_code"](len(candidates))]
    out["code_all"] = test(greedy(ticket.weights, code_pool, score, code_finish, **threshold)[0])
    out["other_ties"] = test(pools.greedy(ticket.weights, candidates, score, finish, tie_break=other_tie_rule(config))[0])
    return {"accuracy": np.array([out[v] for v in VARIANTS]), "ticket": ticket.metrics["accuracy"],
            "tie_extra": extra, "density": ticket.density}


def _swap_job(job) -> dict:
    """The dense network trained with App. Table 4 as printed (momentum 1e-4, weight decay 0.9)."""

    config, run = job
    _, store, data, model, _ = _setup(run)
    swapped = dataclasses.replace(run.train, momentum=1e-4, weight_decay=0.9)
    torch.manual_seed(run.replicate)
    try:
        train(model, data.train, swapped, desc="swapped Table 4")
        accuracy = evaluate(model, data.test)["accuracy"]
    except TrainingDiverged:
        accuracy = np.nan
    weight_norm = float(sum(p.detach().square().sum() for p in model.parameters()).sqrt())
    return {"swapped": accuracy, "table": store.load(0).metrics["accuracy"], "weight_norm": weight_norm}


def _job(job):
    kind, rest = job[0], job[1:]
    return {"maps": _maps_job, "search": _search_job, "swap": _swap_job}[kind](rest)


def run(config: Config) -> dict:
    load_task(config.pools.task)  # a missing data root fails here, before any training
    runs = _runs(config)
    run_all(runs, workers=config.workers)
    seeds = config.pools.seeds
    rewinding = runs[:seeds]
    jobs = ([("search", config, r, t) for r in rewinding for t in config.targets]
            + [("maps", config, r) for r in runs] + [("swap", config, r) for r in rewinding])
    done = map_jobs(_job, jobs, workers=config.workers, desc="Lottery Pools analyses")
    searches, maps, swaps = (done[:len(config.targets) * seeds], done[len(config.targets) * seeds:-seeds],
                             done[-seeds:])
    shape = (seeds, len(config.targets))
    stack = lambda key, items, s: np.array([d[key] for d in items], dtype=float).reshape(s)  # noqa: E731
    return {"variants": list(VARIANTS), "targets": list(config.targets), "alphas": list(ALPHAS),
            "rewinds": list(lottery_pools.REWINDS),
            "search": stack("accuracy", searches, (*shape, len(VARIANTS))), "ticket": stack("ticket", searches, shape),
            "tie_extra": stack("tie_extra", searches, shape), "target_density": stack("density", searches, shape)[0],
            "pair": np.stack([d["pair"] for d in maps]).reshape(2, seeds, *maps[0]["pair"].shape),
            "path": np.stack([d["path"] for d in maps]).reshape(2, seeds, *maps[0]["path"].shape),
            "recalibrated": np.stack([d["recalibrated"] for d in maps]).reshape(2, seeds, -1),
            "disagreement": np.stack([d["disagreement"] for d in maps]).reshape(2, seeds, *maps[0]["disagreement"].shape),
            "val_correct": np.stack([d["val_correct"] for d in maps]).reshape(2, seeds, *maps[0]["val_correct"].shape),
            "swapped": stack("swapped", swaps, (seeds,)), "table": stack("table", swaps, (seeds,)),
            "swapped_norm": stack("weight_norm", swaps, (seeds,))}


def variant_gain(result, variant: str, over: str = "pool_all") -> np.ndarray:
    """Test accuracy points of one search variant over another: (seeds, targets)."""
    acc = np.asarray(result["search"], dtype=float)
    names = list(result["variants"])
    return 100 * (acc[..., names.index(variant)] - acc[..., names.index(over)])


def adjacency_profile(matrix) -> np.ndarray:
    """Mean of a (seeds, L, L) matrix's off-diagonal cells by distance |i - j| = 1 .. L-1."""
    m = np.asarray(matrix, dtype=float).mean(0)
    n = m.shape[0]
    return np.array([np.mean(np.diagonal(m, d)) for d in range(1, n)])


SOURCE_CODE = "003 Algorithm 2 against the authors' CIFAR/Lottery_pools.py (luuyin/Lottery-pools)"
CODE_PARTS = {"code_threshold": "threshold from the ticket's test accuracy, strict >", "pool_code": "18 of the 19 candidates",
              "code_augment": "BN recalibrated on augmented batches", "code_ties": "re-pruning keeps ties",
              "code_all": "all four together (the script)"}
T = f"t interval over seeds ({CONVENTION})"
# The parts of the claims judged by several (declared in their rules, named in their rows).
ADJACENT_PARTS = ("adjacent over the sparser parent", "adjacent over the 5 farthest distances")
PATH_PARTS = ("with rewinding, an inner point beats the better end", "without rewinding, a barrier at the midpoint")
SIZE_PARTS = ("100% over 25%", "50% over 25%", "100% over 50%")
COEF_PARTS = ("3 over 1", "7 over 1", "11 over 1")


def rules(config: Config) -> tuple[Rule, ...]:
    gap = config.pools.regime_gap
    m, s = config.match_margin, config.script_margin
    adjacent = Rule("adjacent_rewind",
                    "with rewinding, averaging two adjacent tickets beats the sparser ticket, and far-apart pairs do worse",
                    "003 Sec. Methodology (Fig. 1)", "'the closer two subnetworks are located, the larger performance gain'",
                    "two parts: the averaged neighbour minus the sparser parent (both BN-recalibrated), and that minus "
                    "the same for the 5 farthest distances (points, each seed's mean over pairs)",
                    f"paired {T}; both parts above 0", low=0.0, precondition=lottery_pools.REGIME_V1.format(gap=gap),
                    parts=ADJACENT_PARTS)
    other = other_tie_rule(config)
    return (
        dataclasses.replace(adjacent, precondition=lottery_pools.REGIME.format(gap=gap), registered=adjacent,
                            change=lottery_pools.REGIME_CHANGE),
        Rule("adjacent_no_rewind", "without rewinding, averaging adjacent tickets drops accuracy",
             "003 Sec. Methodology (Fig. 1)", "'a significant accuracy drop without rewinding, across all sparsities'",
             "the averaged neighbour minus the sparser parent, without rewinding (points, each seed's mean over pairs)",
             f"paired {T}", high=0.0),
        Rule("path",
             "the best accuracy on the path between adjacent tickets lies inside it, with rewinding; without, there is "
             "no such path", "003 Sec. Lottery Pools (Fig. 2)",
             "'the best accuracy is achieved at the middle points of the linear path in most cases'",
             "two parts: with rewinding, the better end's test error minus the best inner point's, both chosen on the "
             "other seeds (points, each held-out seed's mean over pairs); without rewinding, the error at alpha = 0.5 "
             "minus the ends' mean (points)", f"{T}; both parts above 0", low=0.0, parts=PATH_PARTS),
        Rule("pool_size", "more candidate tickets give a better Lottery Pool (25, 50, 100% of them)",
             "003 Sec. Extensive Analysis (Fig. 4)", "'more candidate tickets tend to yield better performance in general'",
             "three parts: all the candidates minus 25% of them, 50% minus 25%, all minus 50% (test accuracy "
             "points, each seed's mean over targets)", f"paired {T}; every part above 0", low=0.0, parts=SIZE_PARTS),
        Rule("coefficients",
             "more interpolation coefficients give a better Lottery Pool: the average (1 coefficient) is the lowest",
             "003 Sec. Extensive Analysis (Fig. 5)",
             "'Lottery Pools (Average) with 1 candidate ... achieves the lowest accuracy in general'",
             "three parts: 3, 7 and 11 coefficients each minus 1 (points, each seed's mean over targets)",
             f"paired {T}; every part above 0", low=0.0, parts=COEF_PARTS),
        Rule("prune_after", "pruning after the search instead of during it loses accuracy at high sparsity",
             "003 Sec. Extensive Analysis (Fig. 6)",
             "'the performance of prune after drops dramatically at the high sparse situation'",
             "prune after minus prune during, targets below 10% density (points, each seed's mean)", f"paired {T}",
             high=0.0),
        Rule("ensemble", "Lottery Pools over the two nearest tickets matches their output ensemble (with the target)",
             "003 Sec. Extensive Analysis (Fig. 7)", "'Lottery Pools could match the performance of the output ensemble'",
             "Lottery Pools minus the 3-member ensemble (points, each seed's mean over targets)",
             f"paired {T}; matches: no more than {m:g} point below", low=-m),
        Rule("disagreement", "tickets disagree little with their neighbours, more the farther apart they are in IMP",
             "003 Sec. Extensive Analysis (Fig. 8)", "'disagreement gradually increases as their distance becomes larger'",
             "correlation of the disagreement with the IMP distance, with rewinding (each seed's own)",
             f"{T}; rising: above 0.8", low=0.8),
        Rule("authors_script", "the authors' script gives what the paper's algorithm gives (each of its departures measured)",
             SOURCE_CODE, "no number: the paper describes Algorithm 2 only",
             "five parts: each departure alone and all together, minus the paper's search (test accuracy points, "
             "each seed's mean over targets)", f"paired {T}; each part within {s:g} point of 0", low=-s, high=s,
             parts=tuple(f"{v} ({label})" for v, label in CODE_PARTS.items())),
        Rule("tie_rule",
             "which of equally scored merges the search keeps barely matters: the authors' rule against the other",
             "003 Algorithm 2 against the authors' interpolate_LTs (luuyin/Lottery-pools), where it is silent: equal scores",
             "no number: the paper does not say how equal validation scores are settled",
             f"the search with equal scores settled towards the {other} minus towards the {config.pools.tie_break} "
             "(test accuracy points, each seed's mean over targets)",
             f"paired {T}; within {s:g} point of 0", low=-s, high=s),
        Rule("table4_swapped", "App. Table 4's weight decay 0.9 and momentum 1e-4 are swapped: as printed they do not train",
             "003 App. Table 4", "WD 0.9, momentum 1e-4 (the code: momentum 0.9, weight decay 1e-4)",
             "dense test accuracy with the code's values minus as printed (points; a diverged run counts as 0%)",
             f"paired {T}; at least 20 points", low=20.0),
    )


def _per_seed(points) -> np.ndarray:
    """(seeds, ...) -> each seed's mean over the rest."""
    points = np.asarray(points, dtype=float)
    return points.reshape(points.shape[0], -1).mean(1)


def path_gain(err) -> np.ndarray:
    """Fig. 2's test: ``err`` (seeds, pairs, alphas) along the paths; per held-out seed, the mean over pairs
    of the better end's error minus the best inner point's, both chosen on the other seeds' mean (so that
    a flat noisy path gains nothing on average: choosing on the same seed would favour the inner points,
    9 against 2). Points."""
    err = np.asarray(err, dtype=float)
    seeds = err.shape[0]
    if seeds < 2:     # nothing to choose on: no other seed
        return np.full(seeds, np.nan)
    out = np.empty(seeds)
    for s in range(seeds):
        others = np.delete(err, s, axis=0).mean(0)                     # (pairs, alphas)
        inner = 1 + np.argmin(others[:, 1:-1], axis=1)
        end = np.where(others[:, 0] <= others[:, -1], 0, err.shape[-1] - 1)
        pairs = np.arange(err.shape[1])
        out[s] = 100 * np.mean(err[s, pairs, end] - err[s, pairs, inner])
    return out


def checks(result, config: Config) -> list[Claim]:
    by_id = {r.id: r for r in rules(config)}
    pair = np.asarray(result["pair"], dtype=float)                       # (rewinds, seeds, L, L)
    gap, name = config.pools.regime_gap, config.pools.models[0].name
    regime = lottery_pools.regime_on_validation(np.asarray(result["val_correct"])[0], gap, name)
    registered_regime = lottery_pools.regime(np.diagonal(pair[0], axis1=1, axis2=2), gap, name)   # on test
    base = np.asarray(result["recalibrated"], dtype=float)               # (rewinds, seeds, L): tickets after BN recalibration
    near = 100 * (np.diagonal(pair, 1, axis1=2, axis2=3) - base[..., 1:])   # neighbour average over the sparser parent
    L = pair.shape[-1]
    far_d = range(max(1, L - 5), L)
    far = 100 * np.stack([np.concatenate([np.diagonal(pair[0, s], d) - base[0, s, d:] for d in far_d])
                          for s in range(pair.shape[1])])                 # (seeds, far pairs)
    near_iv = stats.mean_interval(_per_seed(near[0]))
    far_iv = stats.mean_interval(_per_seed(near[0]), paired_with=_per_seed(far))
    out = [by_id["adjacent_rewind"].judge(
        parts=dict([part(ADJACENT_PARTS[0], near_iv, 0.0, what="points"),
                    part(ADJACENT_PARTS[1], far_iv, 0.0, what="points")]),
        precondition=regime, registered_precondition=registered_regime,
        ours=f"adjacent pairs {near_iv.mean:+.2f} points over the sparser parent; the 5 farthest distances "
             f"{far.mean():+.2f} points")]
    no = stats.mean_interval(_per_seed(near[1]))
    out.append(by_id["adjacent_no_rewind"].judge(no, ours=f"adjacent pairs {no.mean:+.2f} points over the sparser parent "
                                                          f"(with rewinding {near_iv.mean:+.2f})"))
    err = np.asarray(result["path"], dtype=float)[:, :, 1]               # (rewinds, seeds, pairs, alphas)
    held_out = path_gain(err[0])
    inner = (stats.mean_interval(held_out) if np.isfinite(held_out).all() else
             Interval(math.nan, math.nan, math.nan, len(held_out), math.nan,
                      "not measured: the points are chosen on the other seeds, and there is one seed"))
    mid = [stats.mean_interval(_per_seed(100 * (err[r][..., len(result["alphas"]) // 2] - err[r][..., [0, -1]].mean(-1))))
           for r in (0, 1)]
    out.append(by_id["path"].judge(
        parts=dict([part(PATH_PARTS[0], inner, 0.0, what="points"), part(PATH_PARTS[1], mid[1], 0.0, what="points")]),
        ours=f"inner point over the better end {inner.mean:+.2f} points with rewinding; error at alpha = 0.5 minus the "
             f"ends' mean {mid[0].mean:+.2f} points with rewinding, {mid[1].mean:+.2f} without"))
    g = {v: _per_seed(variant_gain(result, v)) for v in result["variants"]}
    size = {"100% over 25%": stats.mean_interval(g["pool_all"], paired_with=g["pool_25%"]),
            "50% over 25%": stats.mean_interval(g["pool_50%"], paired_with=g["pool_25%"]),
            "100% over 50%": stats.mean_interval(g["pool_all"], paired_with=g["pool_50%"])}
    out.append(by_id["pool_size"].judge(
        parts=dict(part(n, iv, 0.0, what="points") for n, iv in size.items()),
        ours=f"against all candidates: 25% {g['pool_25%'].mean():+.2f}, 50% {g['pool_50%'].mean():+.2f} points"))
    coef = {f"{k} over 1": stats.mean_interval(g[v], paired_with=g["coef_1"])
            for k, v in ((3, "coef_3"), (7, "coef_7"), (11, "pool_all"))}
    out.append(by_id["coefficients"].judge(
        parts=dict(part(n, iv, 0.0, what="points") for n, iv in coef.items()),
        ours="against 11 coefficients: " + ", ".join(f"{k} {g[f'coef_{k}'].mean():+.2f}" for k in (1, 3, 7)) + " points"))
    sparse = np.asarray(result["target_density"]) < 0.1
    after = variant_gain(result, "prune_after")
    if sparse.any():
        pa = stats.mean_interval(_per_seed(after[:, sparse]))
        below = f"{pa.mean:+.2f} points below 10% density ({int(sparse.sum())} target levels)"
    else:   # a short chain (the smoke profile) has no target that sparse: nothing to measure
        pa = Interval(math.nan, math.nan, math.nan, after.shape[0], math.nan,
                      "not measured: no target level below 10% density")
        below = f"no target level below 10% density (the sparsest {100 * np.min(result['target_density']):.1f}%)"
    out.append(by_id["prune_after"].judge(pa, ours=f"{below}, {after.mean():+.2f} over all"))
    ens = stats.mean_interval(_per_seed(variant_gain(result, "pool_2", "ensemble_3")))
    out.append(by_id["ensemble"].judge(ens, ours=f"Lottery Pools minus the ensemble: {ens.mean:+.2f} points"))
    dis = np.asarray(result["disagreement"], dtype=float)
    profiles = [adjacency_profile(dis[0, s][None]) for s in range(dis.shape[1])]
    with np.errstate(invalid="ignore", divide="ignore"):     # a flat profile has no correlation
        rho = [float(np.corrcoef(np.arange(1, len(p) + 1), p)[0, 1]) if len(p) > 1 else math.nan for p in profiles]
    flat = int(np.sum(~np.isfinite(rho)))
    rising = (stats.mean_interval(rho) if not flat else
              Interval(math.nan, math.nan, math.nan, len(rho), math.nan, f"not measured: {flat} of {len(rho)} seeds' "
                       "disagreement does not vary with the distance (no correlation)"))
    profile = adjacency_profile(dis[0])
    out.append(by_id["disagreement"].judge(
        rising,
        ours=f"disagreement {profile[0]:.1%} one level apart, {profile[-1]:.1%} {len(profile)} apart (seed mean)"))
    tie_extra = np.asarray(result["tie_extra"], dtype=float)
    code = {v: stats.mean_interval(g[v]) for v in CODE_PARTS}
    out.append(by_id["authors_script"].judge(
        parts=dict(part(f"{v} ({label})", code[v], -config.script_margin, config.script_margin, what="points")
                   for v, label in CODE_PARTS.items()),
        ours="; ".join(f"{v}: {iv.mean:+.2f}" for v, iv in code.items())
             + f" points against the paper's search; ties kept {int(tie_extra.max())} extra weights at most"))
    ties = stats.mean_interval(g["other_ties"])
    out.append(by_id["tie_rule"].judge(ties, ours=f"the other tie rule {ties.mean:+.2f} points against the authors'"))
    swapped, table = np.asarray(result["swapped"], dtype=float), np.asarray(result["table"], dtype=float)
    out.append(by_id["table4_swapped"].judge(
        stats.mean_interval(100 * table, paired_with=100 * np.nan_to_num(swapped, nan=0.0)),
        ours=f"dense test accuracy {100 * np.nanmean(swapped):.1f}% as printed ({int(np.isnan(swapped).sum())} of "
             f"{len(swapped)} diverged) against {100 * table.mean():.1f}% with the code's values"))
    return out
