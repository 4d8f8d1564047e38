"""Lottery Pools' analyses (seed 003: Figs. 1, 2, 4-8) and the authors' code against the paper, on the
1D ResNet-18 tickets of the ``lottery_pools`` experiment (the same runs: its ticket cache is shared).

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
samples, the 1D analogue of CIFAR's padded random crop); re-pruning that keeps ties. Lastly the dense
network trained with App. Table 4's swapped values (momentum 1e-4, weight decay 0.9).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from rglt import pools
from rglt.data.mnist_1d import random_translation
from rglt.data.tasks import load_task
from rglt.experiments import lottery_pools
from rglt.identity import unhashed
from rglt.prune import run_all, store_of
from rglt.prune.runner import map_jobs
from rglt.prune.runs import ModelSpec
from rglt.report import Claim, judged
from rglt.train import TrainingDiverged, evaluate, train
from rglt.validate import check_int, require

NAME = "lottery_pools_analysis"
VERSION = 1
SEARCH_NUM = 19   # the authors' script visits candidates 1 .. search_num - 1 of its list
# candidate pools by their share of the n candidates (Fig. 4: 4, 9, 19 of 19), the two nearest (Fig. 7)
# and the authors' count; "pool_all" is Lottery Pools (interpolation) itself
POOLS = {"pool_2": lambda n: min(n, 2), "pool_25%": lambda n: max(1, n // 4), "pool_50%": lambda n: max(1, n // 2),
         "pool_code": lambda n: min(n, SEARCH_NUM - 1), "pool_all": lambda n: n}
# every search variant, scored on the test set
VARIANTS = tuple(POOLS) + (
    "coef_1", "coef_3", "coef_7", "prune_after", "ensemble_3",
    "code_threshold", "code_augment", "code_ties", "code_all")
ALPHAS = tuple(round(0.1 * k, 1) for k in range(11))


@dataclasses.dataclass(frozen=True)
class Config:
    pools: lottery_pools.Config = dataclasses.replace(lottery_pools.CONFIGS["cpu"], models=(ModelSpec("resnet18", width=16),))
    targets: tuple = (0, 2, 5, 8, 11, 14, 17, 19)   # levels searched (every level costs ~3x as much)
    augment_shift: int = 4
    workers: int = unhashed(2)
    sign_z: float = unhashed(2.0)

    def __post_init__(self):
        require(isinstance(self.pools, lottery_pools.Config) and len(self.pools.models) == 1, "pools",
                "an rglt.experiments.lottery_pools.Config with one model", self.pools)
        rounds = self.pools.rounds
        require(len(self.targets) >= 2 and all(isinstance(t, int) and 0 <= t <= rounds for t in self.targets),
                "targets", f"a tuple of at least 2 levels in [0, {rounds}]", self.targets)
        check_int(self.augment_shift, "augment_shift", 0)


CONFIGS = {
    "smoke": Config(pools=dataclasses.replace(lottery_pools.CONFIGS["smoke"], models=(ModelSpec("resnet18", width=4),),
                                              ), targets=(0, 3)),
    "cpu": Config(),
    "gpu": Config(pools=dataclasses.replace(lottery_pools.CONFIGS["gpu"], models=(ModelSpec("resnet18"),)),
                  targets=tuple(range(20)), augment_shift=4),
}


def _runs(config: Config):
    p = config.pools
    return [lottery_pools.ticket_run(p, p.models[0], rewind == lottery_pools.REWINDS[0], r)
            for rewind in lottery_pools.REWINDS for r in range(p.seeds)]


def _setup(run):
    store, data = store_of(run), load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    return pools, store, data, model, store.levels()


def _maps_job(job) -> dict:
    """Fig. 1 (averaged pairs), Fig. 2 (paths between adjacent tickets), Fig. 8 (disagreement)."""

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
    probs = []
    for ticket in tickets:
        model.load_state_dict(dict(ticket.weights))
        probs.append(pools.predictions(model, data.test[0]))
    return {"pair": pair, "recalibrated": recalibrated, "path": path, "disagreement": pools.disagreement(probs).numpy()}


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
    pools.greedy(ticket.weights, candidates, score, finish, on_step=on_step)
    for count in (1, 3, 7):
        grid = pools.COEFFICIENT_GRIDS[count]
        out[f"coef_{count}"] = test(pools.greedy(ticket.weights, candidates, score, finish, coefficients=grid)[0])
    after = pools.greedy(ticket.weights, candidates, score, pools.finisher(model, None, data.train[0], batches=bn))[0]
    out["prune_after"] = test(finish(after))
    probs = []
    for n in [t] + order[:2]:
        model.load_state_dict(dict(store.load(n).weights))
        probs.append(pools.predictions(model, data.test[0]))
    out["ensemble_3"] = pools.ensemble_accuracy(probs, data.test[1])

    generator = torch.Generator().manual_seed(run.replicate)
    augmented = pools.finisher(model, ticket.masks, data.train[0], batches=bn,
                               augment=lambda x: random_translation(x, config.augment_shift, generator))
    tied = pools.finisher(model, ticket.masks, data.train[0], batches=bn, ties="keep")
    code_finish = pools.finisher(model, ticket.masks, data.train[0], batches=bn, ties="keep",
                                 augment=lambda x: random_translation(x, config.augment_shift, generator))
    threshold = dict(strict=True, initial_score=ticket.metrics["accuracy"])    # the ticket's test accuracy
    out["code_threshold"] = test(pools.greedy(ticket.weights, candidates, score, finish, **threshold)[0])
    out["code_augment"] = test(pools.greedy(ticket.weights, candidates, score, augmented)[0])
    ties_best = pools.greedy(ticket.weights, candidates, score, tied)[0]
    out["code_ties"] = test(ties_best)
    names = list(ticket.masks)
    extra = sum(int((ties_best[k] != 0).sum()) for k in names) - sum(int(ticket.masks[k].sum()) for k in names)
    code_pool = candidates[:POOLS["pool_code"](len(candidates))]
    out["code_all"] = test(pools.greedy(ticket.weights, code_pool, score, code_finish, **threshold)[0])
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
            "swapped": stack("swapped", swaps, (seeds,)), "table": stack("table", swaps, (seeds,)),
            "swapped_norm": stack("weight_norm", swaps, (seeds,))}


def variant_gain(result, variant: str, over: str = "pool_all") -> np.ndarray:
    """Test accuracy points of one search variant over another: (seeds, targets)."""
    acc = np.asarray(result["search"], dtype=float)
    names = list(result["variants"])
    return 100 * (acc[..., names.index(variant)] - acc[..., names.index(over)])


def _stats(points) -> tuple[float, float]:
    """Mean over seeds and targets, and its seed standard error (of the per-seed means)."""
    mean, se = lottery_pools.seed_stats(np.asarray(points, dtype=float).reshape(len(points), -1).mean(1))
    return float(mean), float(se)


def adjacency_profile(matrix) -> np.ndarray:
    """Mean of a (seeds, L, L) matrix's off-diagonal cells by distance |i - j| = 1 .. L-1."""
    m = np.asarray(matrix, dtype=float).mean(0)
    n = m.shape[0]
    return np.array([np.mean(np.diagonal(m, d)) for d in range(1, n)])


def checks(result, config: Config) -> list[Claim]:
    z = config.sign_z
    out = []
    pair = np.asarray(result["pair"], dtype=float)                       # (rewinds, seeds, L, L)
    base = np.asarray(result["recalibrated"], dtype=float)               # (rewinds, seeds, L): tickets after BN recalibration
    near = 100 * (np.diagonal(pair, 1, axis1=2, axis2=3) - base[..., 1:])   # neighbour average over the sparser parent
    far = 100 * (np.mean([np.diagonal(pair[0], d, axis1=1, axis2=2).mean() for d in range(max(1, pair.shape[-1] - 5), pair.shape[-1])])
                 - base[0].mean())
    m, e = _stats(near[0])
    out.append(Claim(
        claim="with rewinding, averaging two adjacent tickets beats the sparser ticket, and far-apart pairs do worse",
        source="003 Sec. Methodology (Fig. 1)", source_value="'the closer two subnetworks are located, the larger performance gain'",
        ours=f"adjacent pairs {m:+.2f} ± {e:.2f} points over the sparser parent (both BN-recalibrated); the 5 farthest "
             f"distances {far:+.2f} points against the tickets' mean",
        tolerance=f"adjacent gain beyond {z:g} SE and above the far pairs'",
        **judged(m > z * e and m > far, f"adjacent {m:+.2f} ± {e:.2f}, far {far:+.2f}", partly=m > 0)))
    m_no, e_no = _stats(near[1])
    out.append(Claim(
        claim="without rewinding, averaging adjacent tickets drops accuracy",
        source="003 Sec. Methodology (Fig. 1)", source_value="'a significant accuracy drop without rewinding, across all sparsities'",
        ours=f"adjacent pairs {m_no:+.2f} ± {e_no:.2f} points over the sparser parent (with rewinding {m:+.2f})",
        tolerance=f"a drop beyond {z:g} SE", **judged(m_no < -z * e_no, f"{m_no:+.2f} ± {e_no:.2f}", partly=m_no < m)))
    path = np.asarray(result["path"], dtype=float)                      # (rewinds, seeds, 2, pairs, alphas)
    err = path[:, :, 1]
    inner = err[..., 1:-1].min(-1)
    ends = err[..., [0, -1]].min(-1)
    share = [(inner[r] < ends[r]).mean() for r in (0, 1)]
    barrier = [100 * float(np.mean(err[r][..., 5] - err[r][..., [0, -1]].mean(-1))) for r in (0, 1)]
    out.append(Claim(
        claim="the best accuracy on the path between adjacent tickets lies inside it, with rewinding; without, there is no such path",
        source="003 Sec. Lottery Pools (Fig. 2)", source_value="'the best accuracy is achieved at the middle points ... in most cases'",
        ours=f"an inner point beats both ends on {share[0]:.0%} of the (seed, pair) paths with rewinding, {share[1]:.0%} without; "
             f"error at alpha = 0.5 minus the ends' mean: {barrier[0]:+.2f} points with, {barrier[1]:+.2f} without",
        tolerance="more than half the paths with rewinding, and a higher midpoint error without",
        **judged(share[0] > 0.5 and barrier[1] > barrier[0], f"{share[0]:.0%} of paths; midpoint {barrier[0]:+.2f} vs {barrier[1]:+.2f}",
                 partly=share[0] > share[1])))
    g4, g9 = (_stats(variant_gain(result, f"pool_{k}")) for k in ("25%", "50%"))
    out.append(Claim(
        claim="more candidate tickets give a better Lottery Pool (25, 50, 100% of them)",
        source="003 Sec. Extensive Analysis (Fig. 4)", source_value="'more candidate tickets tend to yield better performance in general'",
        ours=f"25% of the candidates {g4[0]:+.2f} ± {g4[1]:.2f}, 50% {g9[0]:+.2f} ± {g9[1]:.2f} points against all",
        tolerance=f"all ahead of 25% beyond {z:g} SE, and 50% in between or ahead of 25%",
        **judged(-g4[0] > z * g4[1] and g9[0] >= g4[0], f"25% vs all: {g4[0]:+.2f} ± {g4[1]:.2f}", partly=g4[0] < 0)))
    c1, c3, c7 = (_stats(variant_gain(result, f"coef_{k}")) for k in (1, 3, 7))
    out.append(Claim(
        claim="more interpolation coefficients give a better Lottery Pool; 7 only marginally above 3",
        source="003 Sec. Extensive Analysis (Fig. 5)", source_value="1 coefficient (average) lowest; '7 outperforms 3, but only with marginal gains'",
        ours=f"against 11 coefficients: 1 {c1[0]:+.2f} ± {c1[1]:.2f}, 3 {c3[0]:+.2f} ± {c3[1]:.2f}, 7 {c7[0]:+.2f} ± {c7[1]:.2f} points",
        tolerance=f"1 coefficient below 11 beyond {z:g} SE and the lowest of the four",
        **judged(-c1[0] > z * c1[1] and c1[0] <= min(c3[0], c7[0], 0), f"1 coefficient {c1[0]:+.2f} ± {c1[1]:.2f}", partly=c1[0] < 0)))
    after = variant_gain(result, "prune_after")
    sparse = np.asarray(result["target_density"]) < 0.1
    ma, ea = _stats(after[:, sparse]) if sparse.any() else (math.nan, math.nan)
    out.append(Claim(
        claim="pruning after the search instead of during it loses accuracy at high sparsity",
        source="003 Sec. Extensive Analysis (Fig. 6)", source_value="'the performance of prune after drops dramatically at the high sparse situation'",
        ours=f"prune after minus prune during: {ma:+.2f} ± {ea:.2f} points below 10% density "
             f"({int(sparse.sum())} target levels), {_stats(after)[0]:+.2f} over all",
        tolerance=f"a drop beyond {z:g} SE below 10% density",
        **judged(-ma > z * ea, f"{ma:+.2f} ± {ea:.2f}", partly=ma < 0)))
    ens = _stats(variant_gain(result, "pool_2", "ensemble_3"))
    out.append(Claim(
        claim="Lottery Pools over the two nearest tickets matches their output ensemble (with the target)",
        source="003 Sec. Extensive Analysis (Fig. 7)", source_value="'Lottery Pools could match the performance of the output ensemble'",
        ours=f"Lottery Pools minus the 3-member ensemble: {ens[0]:+.2f} ± {ens[1]:.2f} points",
        tolerance=f"within {z:g} SE of the ensemble, or above it",
        **judged(ens[0] > -z * ens[1], f"{ens[0]:+.2f} ± {ens[1]:.2f}", partly=ens[0] > -1.0)))
    dis = np.asarray(result["disagreement"], dtype=float)
    profile = adjacency_profile(dis[0])
    rho = float(np.corrcoef(np.arange(1, len(profile) + 1), profile)[0, 1])
    out.append(Claim(
        claim="tickets disagree little with their neighbours, more the farther apart they are in IMP",
        source="003 Sec. Extensive Analysis (Fig. 8)", source_value="'disagreement gradually increases as their distance becomes larger'",
        ours=f"disagreement {profile[0]:.1%} one level apart, {profile[-1]:.1%} {len(profile)} apart; correlation with distance {rho:+.2f}",
        tolerance="rising with distance (correlation above 0.8)",
        **judged(rho > 0.8 and profile[-1] > profile[0], f"correlation {rho:+.2f}", partly=profile[-1] > profile[0])))
    parts = {v: _stats(variant_gain(result, v)) for v in ("code_threshold", "pool_code", "code_augment", "code_ties", "code_all")}
    tie_extra = np.asarray(result["tie_extra"], dtype=float)
    biggest = max(parts, key=lambda v: abs(parts[v][0]))
    out.append(Claim(
        claim="the authors' script gives what the paper's algorithm gives (each of its departures measured)",
        source="003 Algorithm 2 against the authors' CIFAR/Lottery_pools.py (luuyin/Lottery-pools)",
        source_value="no number: the paper describes Algorithm 2 only",
        ours="; ".join(f"{v}: {m:+.2f} ± {e:.2f}" for v, (m, e) in parts.items())
             + f" points against the paper's search; ties kept {int(tie_extra.max())} extra weights at most",
        tolerance=f"every departure within {z:g} SE of the paper's search",
        **judged(all(abs(m) <= z * e for m, e in parts.values()),
                 f"{biggest} moves the result by {parts[biggest][0]:+.2f} ± {parts[biggest][1]:.2f}", partly=True)))
    swapped, table = np.asarray(result["swapped"], dtype=float), np.asarray(result["table"], dtype=float)
    out.append(Claim(
        claim="App. Table 4's weight decay 0.9 and momentum 1e-4 are swapped: as printed they do not train",
        source="003 App. Table 4", source_value="WD 0.9, momentum 1e-4 (the code: momentum 0.9, weight decay 1e-4)",
        ours=f"dense test accuracy {100 * np.nanmean(swapped):.1f}% as printed ({int(np.isnan(swapped).sum())} of {len(swapped)} "
             f"diverged) against {100 * table.mean():.1f}% with the code's values",
        tolerance="as printed at least 20 points below the code's values",
        **judged(bool(np.all(np.nan_to_num(swapped, nan=0) < table - 0.2)), "the printed values train")))
    return out
