"""rglt.pools against oracles: exact densities, the dense target untouched, hand-computed BatchNorm
statistics, a toy search with a known best coefficient, test labels that cannot steer the search, and
the search's memory."""
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from rglt import pools


def _state(seed, n=200):
    g = torch.Generator().manual_seed(seed)
    return {"a.weight": torch.randn(n, generator=g), "b.weight": torch.randn(n // 2, generator=g),
            "bn.running_mean": torch.randn(4, generator=g), "bn.num_batches_tracked": torch.tensor(seed)}


def test_interpolate_acts_on_every_float_entry_and_keeps_integer_ones():
    a, b = _state(1), _state(2)
    out = pools.interpolate(a, b, 0.3)
    for k in ("a.weight", "b.weight", "bn.running_mean"):
        torch.testing.assert_close(out[k], 0.3 * a[k] + 0.7 * b[k])
    assert out["bn.num_batches_tracked"] == a["bn.num_batches_tracked"]
    with pytest.raises(ValueError, match="alpha must be"):
        pools.interpolate(a, b, 1.5)
    with pytest.raises(ValueError, match="differ in"):
        pools.interpolate(a, {k: v for k, v in b.items() if k != "b.weight"}, 0.5)


def test_reprune_gives_the_targets_exact_density_and_never_prunes_the_dense_target():
    state = _state(3)
    g = torch.Generator().manual_seed(0)
    target = {"a.weight": torch.rand(200, generator=g) < 0.37, "b.weight": torch.rand(100, generator=g) < 0.2}
    out, masks = pools.reprune(state, target)
    assert sum(int(m.sum()) for m in masks.values()) == sum(int(m.sum()) for m in target.values())
    # oracle: the kept entries are the largest |w| over both tensors
    everything = torch.cat([state["a.weight"], state["b.weight"]]).abs()
    keep = sum(int(m.sum()) for m in target.values())
    top = torch.zeros(300, dtype=torch.bool)
    top[torch.topk(everything, keep).indices] = True
    assert torch.equal(torch.cat([masks["a.weight"], masks["b.weight"]]), top)
    assert torch.equal(out["a.weight"], state["a.weight"] * masks["a.weight"])
    dense = {k: torch.ones_like(v, dtype=torch.bool) for k, v in target.items()}
    same, _ = pools.reprune(state, dense)
    assert all(torch.equal(same[k], state[k]) for k in state)


def test_bn_recalibration_equals_the_hand_computed_mean_and_variance():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    x = torch.randn(10, 3)
    net[1].running_mean.fill_(5.0)
    pools.recalibrate_bn(net, x, batches=2, batch_size=4)   # batches x[0:4], x[4:8]; x[8:] unused
    with torch.no_grad():
        h = net[0](x)
    b1, b2 = h[:4], h[4:8]
    torch.testing.assert_close(net[1].running_mean, (b1.mean(0) + b2.mean(0)) / 2)
    torch.testing.assert_close(net[1].running_var, (b1.var(0, unbiased=True) + b2.var(0, unbiased=True)) / 2)
    assert net[1].momentum == 0.1  # restored


def test_adjacency_order():
    assert pools.adjacency_order(5, range(10)) == [4, 6, 3, 7, 2, 8, 1, 9, 0]
    assert pools.adjacency_order(0, range(4)) == [1, 2, 3]
    assert pools.adjacency_order(3, [0, 3, 4, 9]) == [4, 0, 9]


def _toy(best_alpha):
    """Candidates and a score whose maximum over the merge with candidate 1 is at ``best_alpha``."""
    target = {"w": torch.zeros(3)}
    cand = {"w": torch.ones(3)}
    goal = (1 - best_alpha) * cand["w"]          # alpha * target + (1 - alpha) * cand
    score = lambda s: -float((s["w"] - goal).abs().sum())
    return target, cand, score


@pytest.mark.parametrize("best_alpha", [0.05, 0.3, 0.7, 0.95])
def test_the_search_finds_a_known_best_coefficient(best_alpha):
    target, cand, score = _toy(best_alpha)
    best, steps = pools.greedy(target, [(1, lambda: cand)], score, finish=lambda s: s)
    assert steps[0].alpha == best_alpha and steps[0].accepted
    torch.testing.assert_close(best["w"], best_alpha * target["w"] + (1 - best_alpha) * cand["w"])
    # a candidate that only hurts is refused, and >= against > matters at a tie
    worse = {"w": torch.full((3,), 50.0)}
    _, steps = pools.greedy(best, [(2, lambda: worse)], score, finish=lambda s: s, coefficients=(1.0,))
    assert steps[0].accepted  # alpha 1 reproduces the best: equal score, kept under >=
    _, steps = pools.greedy(best, [(2, lambda: worse)], score, finish=lambda s: s, coefficients=(1.0,), strict=True)
    assert not steps[0].accepted


def test_test_labels_cannot_steer_the_search():
    """The search sees only its score (validation data); shuffled test labels change nothing chosen."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x_val, y_val = torch.randn(64, 4), torch.randint(0, 3, (64,))
    x_test, y_test = torch.randn(64, 4), torch.randint(0, 3, (64,))
    states = [{k: v + 0.5 * torch.randn_like(v) for k, v in model.state_dict().items()} for _ in range(5)]

    def run(test_labels):
        def score(state):
            model.load_state_dict(state)
            with torch.no_grad():
                _ = (model(x_test).argmax(1) == test_labels).float().mean()  # evaluated, never used
                return float((model(x_val).argmax(1) == y_val).float().mean())
        return pools.greedy(states[2], [(n, (lambda s=states[n]: s)) for n in pools.adjacency_order(2, range(5))],
                            score, finish=lambda s: s)[1]

    assert run(y_test) == run(y_test[torch.randperm(64)])


def test_the_search_holds_one_merged_state_at_a_time():
    refs, peak = [], [0]

    class Tracked(dict):
        pass  # a dict subclass can be weakly referenced

    def trace(event, state):
        refs.append(weakref.ref(state))
        peak[0] = max(peak[0], sum(r() is not None for r in refs))

    def finish(state):
        return Tracked(state)

    states = [{"w": torch.randn(1000)} for _ in range(6)]
    best, steps = pools.greedy(states[0], [(n, (lambda s=states[n]: s)) for n in range(1, 6)],
                               lambda s: -float(s["w"].abs().sum()), finish, trace=trace)
    # alive: at most the current best (a merged state once one is accepted) and the one being scored
    assert peak[0] <= 2 and len(steps) == 5


def test_swa_is_the_equal_mean_and_ema_weights_the_running_state():
    states = [{"w": torch.tensor([float(n)])} for n in range(4)]
    cands = [(n, (lambda s=states[n]: s)) for n in (1, 2, 3)]
    swa, steps = pools.running_average(states[0], cands, lambda s: 0.0, lambda s: s, kind="swa")
    assert float(swa["w"]) == pytest.approx(np.mean([0, 1, 2, 3])) and all(s.accepted for s in steps)
    ema, _ = pools.running_average(states[0], cands, lambda s: 0.0, lambda s: s, kind="ema", decay=0.5)
    assert float(ema["w"]) == pytest.approx(((0 * 0.5 + 1 * 0.5) * 0.5 + 2 * 0.5) * 0.5 + 3 * 0.5)


def test_ensemble_and_disagreement():
    p1 = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    p2 = torch.tensor([[0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    labels = torch.tensor([0, 1, 1])
    # mean: [0.65, 0.35] -> 0, [0.25, 0.75] -> 1, [0.35, 0.65] -> 1: all right
    assert pools.ensemble_accuracy([p1, p2], labels) == 1.0
    d = pools.disagreement([p1, p2])
    torch.testing.assert_close(d, torch.tensor([[0.0, 2 / 3], [2 / 3, 0.0]]))


def test_an_ensemble_of_identical_models_is_the_model():
    """Issue 12's oracle: k copies of one network ensemble to that network's own accuracy and probabilities."""
    from rglt.models import build
    model = build("resnet8", dim=1, in_channels=1, num_classes=4, width=4, seed=0)
    x, labels = torch.randn(64, 1, 16), torch.randint(0, 4, (64,))
    p = pools.predictions(model, x)
    alone = float((model.eval()(x).argmax(1) == labels).float().mean())
    for k in (1, 3):
        assert pools.ensemble_accuracy([p] * k, labels) == pytest.approx(alone)
    torch.testing.assert_close(pools.disagreement([p, p]), torch.zeros(2, 2))


def test_the_finisher_reprunes_then_recalibrates_and_the_search_runs_on_a_real_network():
    from rglt.models import build, prunable_parameters
    from rglt.prune import magnitude_masks
    torch.manual_seed(0)
    model = build("resnet8", dim=1, in_channels=1, num_classes=3, width=4, seed=0)
    names = [n for n, _ in prunable_parameters(model)]
    x, y = torch.randn(96, 1, 16), torch.randint(0, 3, (96,))
    states = []
    for seed in range(3):
        state = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v.clone()
                 for k, v in model.state_dict().items()}
        states.append(state)
    target_masks = dict(zip(names, magnitude_masks([states[1][n] for n in names], None, 0.6)))
    finish = pools.finisher(model, target_masks, x, batches=2, batch_size=32)
    out = finish(pools.interpolate(states[0], states[2], 0.5))
    kept = sum(int((out[n] != 0).sum()) for n in names)
    assert kept == sum(int(m.sum()) for m in target_masks.values())
    # BN statistics are those of the re-pruned network on the first two batches
    check = build("resnet8", dim=1, in_channels=1, num_classes=3, width=4, seed=0)
    check.load_state_dict(pools.reprune(pools.interpolate(states[0], states[2], 0.5), target_masks)[0])
    pools.recalibrate_bn(check, x, batches=2, batch_size=32)
    torch.testing.assert_close(out["stem.bn.running_mean"], check.state_dict()["stem.bn.running_mean"])
    best, steps = pools.greedy(states[1], [(0, lambda: states[0]), (2, lambda: states[2])],
                               pools.scorer(model, (x, y)), finish, coefficients=(0.3, 0.7))
    assert [s.level for s in steps] == [0, 2]
    assert sum(int((best[n] != 0).sum()) for n in names) == kept or not any(s.accepted for s in steps)


def test_reprune_keeping_ties_keeps_every_weight_at_the_threshold_as_the_authors_code():
    # three weights share the 3rd-largest magnitude: the exact rule keeps 3, the authors' rule 5
    state = {"w": torch.tensor([0.9, -0.2, 0.2, 0.2, 0.1, 0.05, 0.8])}
    target = {"w": torch.tensor([1, 1, 1, 0, 0, 0, 0], dtype=torch.bool)}
    _, exact = pools.reprune(state, target)
    out, kept = pools.reprune(state, target, ties="keep")
    assert int(exact["w"].sum()) == 3
    assert kept["w"].tolist() == [True, True, True, True, False, False, True]
    assert int(kept["w"].sum()) == 5 and torch.equal(out["w"], state["w"] * kept["w"])
    with pytest.raises(ValueError, match="ties must be one of"):
        pools.reprune(state, target, ties="some")


def test_the_finisher_recalibrates_on_freshly_augmented_inputs_when_asked():
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.BatchNorm1d(2))
    x = torch.randn(64, 1, 40, generator=torch.Generator().manual_seed(1))
    calls = []

    def augment(inputs):
        calls.append(inputs)
        return inputs + 1.0   # a known shift of the inputs moves the BN mean by the conv's weight sum

    state = {k: v.clone() for k, v in model.state_dict().items()}
    plain = pools.finisher(model, None, x, batches=1, batch_size=64)(state)
    shifted = pools.finisher(model, None, x, batches=1, batch_size=64, augment=augment)(state)
    assert len(calls) == 1 and calls[0] is x
    moved = shifted["1.running_mean"] - plain["1.running_mean"]
    assert torch.allclose(moved, model[0].weight.detach().sum(dim=(1, 2)), atol=1e-5)
    with pytest.raises(TypeError, match="augment must be"):
        pools.finisher(model, None, x, batches=1, augment=3)


def test_the_best_state_after_k_candidates_is_the_search_over_those_k():
    g = torch.Generator().manual_seed(3)
    states = [{"w": torch.randn(50, generator=g)} for _ in range(7)]
    goal = torch.randn(50, generator=g)

    def score(s):
        return -float((s["w"] - goal).square().sum())

    cands = [(n, (lambda s=states[n]: s)) for n in range(1, 7)]
    seen = []
    full, _ = pools.greedy(states[0], cands, score, dict, on_step=lambda step, best: seen.append(dict(best)))
    assert len(seen) == 6 and torch.equal(seen[-1]["w"], full["w"])
    for k in (1, 3, 5):   # oracle: a search run over the first k candidates only
        prefix, _ = pools.greedy(states[0], cands[:k], score, dict)
        assert torch.equal(seen[k - 1]["w"], prefix["w"])


def _interpolate_lts(best, candidates, score, grid):
    """The authors' interpolate_LTs search, transcribed as the oracle: for each new ticket, the weight
    alpha on the *new* one scanned upwards, the first strict maximum kept, accepted on a strict >."""
    best_score, alphas = score(best), []
    for new in candidates:
        top, top_alpha = -np.inf, None
        for alpha in grid:
            merged = {k: new[k] * alpha + best[k] * (1 - alpha) for k in best}
            value = score(merged)
            if value > top:
                top, top_alpha = value, alpha
        alphas.append(top_alpha)
        if top > best_score:
            best = {k: new[k] * top_alpha + best[k] * (1 - top_alpha) for k in best}
            best_score = top
    return best, alphas


def test_equal_scores_stay_nearest_the_current_best_as_the_authors_code():
    # a coarse score (steps of 1/40, as accuracy on 40 validation examples): ties are the rule
    g = torch.Generator().manual_seed(0)
    goal = torch.randn(6, generator=g)
    score = lambda s: float(np.floor(40 * np.exp(-float((s["w"] - goal).square().sum()))) / 40)
    target = {"w": torch.randn(6, generator=g)}
    cands = [{"w": goal + torch.randn(6, generator=g)} for _ in range(6)]
    oracle, alphas = _interpolate_lts(target, cands, score, pools.COEFFICIENTS)
    ours, steps = pools.greedy(target, [(n + 1, lambda c=c: c) for n, c in enumerate(cands)], score,
                               finish=lambda s: s, strict=True)
    # Algorithm 2 puts alpha on theta_best: the authors' weight on the new ticket is 1 - alpha
    np.testing.assert_allclose([1 - s.alpha for s in steps], alphas, atol=1e-12)
    torch.testing.assert_close(ours["w"], oracle["w"])
    # not vacuous: ties happened and decided something, for the other rule ends elsewhere
    other, _ = pools.greedy(target, [(n + 1, lambda c=c: c) for n, c in enumerate(cands)], score,
                            finish=lambda s: s, strict=True, tie_break="candidate")
    assert not torch.allclose(other["w"], oracle["w"])


def test_the_tie_break_decides_between_equal_merges():
    target, cand = {"w": torch.zeros(3)}, {"w": torch.ones(3)}
    flat = lambda s: 0.5                          # every merge scores alike
    stay, steps = pools.greedy(target, [(1, lambda: cand)], flat, finish=lambda s: s)
    assert steps[0].alpha == 0.95 and steps[0].accepted
    torch.testing.assert_close(stay["w"], torch.full((3,), 0.05))
    move, steps = pools.greedy(target, [(1, lambda: cand)], flat, finish=lambda s: s, tie_break="candidate")
    assert steps[0].alpha == 0.05
    torch.testing.assert_close(move["w"], torch.full((3,), 0.95))
    with pytest.raises(ValueError, match="tie_break must be one of"):
        pools.greedy(target, [(1, lambda: cand)], flat, finish=lambda s: s, tie_break="first")
    with pytest.raises(ValueError, match="tie_break must be one of"):
        pools.PoolConfig(tie_break="first")
