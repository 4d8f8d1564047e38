"""examples/own_model.py at its tiny size (what CI runs), checked against facts that do not come from the
example's own output, and the input checks of the two calls it relies on: rglt.rg.imp_flow.flow_exponents
and rglt.pools.lottery_pool."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rglt import pools
from rglt.prune import IMPConfig, TicketStore, imp
from rglt.rg import imp_flow
from rglt.train import TrainConfig, evaluate, train

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("layer1", "layer2", "layer3", "layer4")


def _example():
    spec = importlib.util.spec_from_file_location("own_model", ROOT / "examples" / "own_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return _example()


@pytest.fixture(scope="module")
def tiny(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("own_model") / "tickets"
    result = example.main(["--tiny", "--out", str(out)])
    return example, out, result


def _stage_weights(model):
    """The weights of layer1..layer4 with four dimensions (conv kernels), read off the model's parameters."""
    return {n: p for n, p in model.named_parameters() if n.split(".")[0] in STAGES and p.ndim == 4}


@pytest.mark.slow
def test_store_holds_rounds_plus_one_levels_pruned_20_percent_of_the_survivors_each(tiny):
    example, out, result = tiny
    rounds = example.SIZES["tiny"]["rounds"]
    store = TicketStore(out)                     # read afresh from the directory the user named
    assert store.levels() == list(range(rounds + 1))
    expected = _stage_weights(example.make_model())
    assert len(expected) == 16 + 3              # ResNet-18: 4 stages x 2 blocks x 2 convs, 3 downsample convs
    total = sum(p.numel() for p in expected.values())
    survivors, previous = total, None
    for level in store.levels():
        ticket = store.load(level)
        assert set(ticket.masks) == set(expected)
        count = sum(int(m.sum()) for m in ticket.masks.values())
        if level:
            survivors -= round(0.2 * survivors)  # round(fraction x survivors), as torch.nn.utils.prune
            # pruned weights stay pruned and hold zeros
            assert all(not (ticket.masks[n] & ~previous[n]).any() for n in expected)
            assert all(not ticket.weights[n][~ticket.masks[n]].any() for n in expected)
        assert count == survivors
        assert abs(count - total * 0.8 ** level) <= 0.5 * level
        assert ticket.density == pytest.approx(0.8 ** level, abs=level / total)
        previous = ticket.masks


@pytest.mark.slow
def test_rewind_point_is_the_dense_run_after_rewind_step_steps(tiny):
    example, out, result = tiny
    k = result["imp_config"].rewind_step
    assert k >= 1

    class Stop(Exception):
        pass

    kept = {}

    def keep(step, model):                         # on_step runs before step `step`: k updates done
        if step == k:
            kept.update({n: v.detach().clone() for n, v in model.state_dict().items()})
            raise Stop

    model = example.make_model()
    initial = {n: v.clone() for n, v in model.state_dict().items()}
    with pytest.raises(Stop):
        train(model, result["data"], result["train_config"], on_step=keep)
    rewind = TicketStore(out).rewind()
    assert set(rewind) == set(kept)
    for name in kept:                              # BatchNorm statistics included, bit for bit
        assert torch.equal(rewind[name], kept[name]), name
    dense = TicketStore(out).load(0).weights
    assert not torch.equal(rewind["layer1.0.conv1.weight"], initial["layer1.0.conv1.weight"])
    assert not torch.equal(rewind["layer1.0.conv1.weight"], dense["layer1.0.conv1.weight"])


def _shares(weights, masks, groups):
    """Each group's share of the remaining |weight| mass, computed directly."""
    mass = {g: sum(float((weights[n].double().abs() * masks[n]).sum()) for n in masks if n.split(".")[0] == g)
            for g in groups}
    total = sum(float((weights[n].double().abs() * masks[n]).sum()) for n in masks)
    return [mass[g] / total for g in groups]


@pytest.mark.slow
def test_stage_groups_cover_the_prunable_weights_and_the_exponents_follow_the_store(tiny):
    example, out, result = tiny
    flow = result["flow"]
    store = TicketStore(out)
    assert flow["groups"] == STAGES
    assert list(flow["levels"]) == store.levels()
    # P_i sums to 1 only if the four stages hold every prunable weight; dense, it is each stage's size
    P = flow["flow"].P
    assert P.sum(axis=1) == pytest.approx(1.0, abs=1e-12)
    sizes = _stage_weights(example.make_model())
    total = sum(p.numel() for p in sizes.values())
    assert P[0] == pytest.approx([sum(p.numel() for n, p in sizes.items() if n.startswith(g + ".")) / total
                                  for g in STAGES], abs=1e-12)
    # M_i, lambda_i and sigma_i = log_1.25 lambda_i recomputed from the tickets
    M = [_shares(t.weights, t.masks, STAGES) for t in map(store.load, store.levels())]
    ratios = [[b / a for a, b in zip(m0, m1)] for m0, m1 in zip(M, M[1:])]
    lam = [sum(r[g] for r in ratios) / len(ratios) for g in range(4)]
    np.testing.assert_allclose(flow["flow"].M, M, rtol=1e-9)
    assert flow["lam"] == pytest.approx(lam, rel=1e-9)
    assert flow["c"] == pytest.approx([1.25] * len(ratios))
    assert flow["sigma"] == pytest.approx([math.log(v) / math.log(1.25) for v in lam], rel=1e-9)
    # the null flow: the rewind point's stage weights, pruning the smallest |w| over all stages at each
    # level (by a full sort; equal |w| go in order of position, rglt's documented tie rule)
    rewind = store.rewind()
    values = {n: rewind[n] for n in sizes}
    order = torch.cat([v.abs().flatten() for v in values.values()]).argsort(stable=True)
    null, keep = [], total
    for level in store.levels():
        if level:
            keep -= round(0.2 * keep)
        flat = torch.ones(total, dtype=torch.bool)
        flat[order[:total - keep]] = False
        masks, start = {}, 0
        for n, v in values.items():
            masks[n] = flat[start:start + v.numel()].reshape(v.shape)
            start += v.numel()
        null.append(_shares(values, masks, STAGES))
    null_lam = [sum(b[g] / a[g] for a, b in zip(null, null[1:])) / (len(null) - 1) for g in range(4)]
    assert flow["untrained_sigma"] == pytest.approx([math.log(v) / math.log(1.25) for v in null_lam], rel=1e-9)


@pytest.mark.slow
def test_lottery_pools_is_at_least_as_good_as_its_target_ticket_on_validation(tiny):
    # greedy() starts from the target ticket's validation score and accepts a merge only when it scores
    # >= the best so far (strict=False), so this is what the search guarantees; nothing is guaranteed
    # against the other tickets, which it merges but never scores alone.
    example, out, result = tiny
    pool, val = result["pool"], result["val"]
    store = TicketStore(out)
    assert pool.target == store.levels()[-1]
    assert [s.level for s in pool.steps] == [pool.target - d for d in range(1, pool.target + 1)]  # nearest first
    model = example.make_model()
    ticket = store.load(pool.target)
    model.load_state_dict(ticket.weights)
    before = evaluate(model, val)["accuracy"]
    model.load_state_dict(pool.state)
    after = evaluate(model, val)["accuracy"]
    assert before == pool.ticket_score and after == pool.score
    assert after >= before
    # re-pruned to the target's exact count of surviving weights
    count = sum(int(torch.count_nonzero(pool.state[n])) for n in ticket.masks)
    assert count == sum(int(m.sum()) for m in ticket.masks.values())


def test_command_line_refuses_bad_sizes(example, tmp_path):
    with pytest.raises(SystemExit):
        example.parse(["--out", str(tmp_path), "--steps", "0"])
    with pytest.raises(SystemExit):
        example.parse(["--tiny"])                    # --out is required: the user names the directory
    args = example.parse(["--out", str(tmp_path), "--tiny", "--rounds", "3"])
    assert args.size["rounds"] == 3 and args.size["steps"] == example.SIZES["tiny"]["steps"]


# ---- input checks of the two one-call functions, on a small network ----------------------------------

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(self.stem(x))).mean((2, 3)))


def _small():
    torch.manual_seed(0)
    return Small()


def _small_prunable(model):
    return ["layer1.0.weight", "layer2.0.weight"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    data = (torch.randn(64, 1, 6, 6, generator=g), torch.randint(0, 3, (64,), generator=g))
    root = tmp_path_factory.mktemp("small")
    config = IMPConfig(rounds=3, rewind_step=1)
    store = imp(_small, _small_prunable, data, TrainConfig(epochs=2, batch_size=16), config, root / "run")
    single = imp(_small, _small_prunable, data, TrainConfig(epochs=2, batch_size=16), IMPConfig(rounds=0),
                 root / "single")
    return store, single, data, config


def test_flow_exponents_checks_its_inputs(small):
    store, _, _, config = small
    groups = ["layer1", "layer2"]
    with pytest.raises(TypeError, match="imp_config"):
        imp_flow.flow_exponents(store, groups, {"fraction": 0.2})
    with pytest.raises(ValueError, match="observable"):
        imp_flow.flow_exponents(store, groups, config, observable="Q")
    with pytest.raises(TypeError, match="untrained"):
        imp_flow.flow_exponents(store, groups, config, untrained=1)
    with pytest.raises(ValueError, match="untrained"):
        imp_flow.flow_exponents([store.load(n) for n in store.levels()], groups, config, untrained=True)
    with pytest.raises(ValueError, match="layer3"):
        imp_flow.flow_exponents(store, ["layer1", "layer3"], config)
    with pytest.raises(TypeError, match="source"):
        imp_flow.flow_exponents(42, groups, config)
    # a directory works as the store; a group may gather several prefixes of the model's own names
    by_path = imp_flow.flow_exponents(str(store.root), {"all": ["layer1", "layer2"]}, config, observable="P")
    assert by_path["groups"] == ("all",) and by_path["flow"].P[:, 0] == pytest.approx(1.0)


def test_lottery_pool_checks_its_inputs(small):
    store, single, data, _ = small
    val = data
    with pytest.raises(TypeError, match="model"):
        pools.lottery_pool(_small().state_dict(), store, data, val)
    with pytest.raises(TypeError, match="store"):
        pools.lottery_pool(_small(), 3, data, val)
    with pytest.raises(TypeError, match="config"):
        pools.lottery_pool(_small(), store, data, val, {"bn_batches": 1})
    with pytest.raises(TypeError, match="data"):
        pools.lottery_pool(_small(), store, data[0], val)
    with pytest.raises(ValueError, match="val"):
        pools.lottery_pool(_small(), store, data, (data[0], data[1][:3]))
    with pytest.raises(ValueError, match="target"):
        pools.lottery_pool(_small(), store, data, val, target=7)
    with pytest.raises(ValueError, match="target"):
        pools.lottery_pool(_small(), store, data, val, target=-1)
    with pytest.raises(ValueError, match="store must hold at least 2"):
        pools.lottery_pool(_small(), single, data, val)
    with pytest.raises(ValueError, match="model must have the run's architecture"):
        pools.lottery_pool(nn.Sequential(nn.Linear(2, 2)), store, data, val)
    for bad in (dict(coefficients=(1.5,)), dict(coefficients=[0.5]), dict(coefficients=())):
        with pytest.raises(ValueError, match="coefficients"):
            pools.PoolConfig(**bad)
    for name, value in (("bn_batches", 0), ("bn_batch_size", 0), ("candidates", 0), ("ties", "some")):
        with pytest.raises(ValueError, match=name):
            pools.PoolConfig(**{name: value})


def test_lottery_pool_visits_the_nearest_candidates_and_leaves_the_merged_state_in_the_model(small):
    store, _, data, _ = small
    model = _small()
    result = pools.lottery_pool(model, str(store.root), data, data,
                                pools.PoolConfig(coefficients=(0.5,), bn_batches=1, candidates=2), target=1)
    assert [s.level for s in result.steps] == [0, 2]   # t-1, t+1; level 3 is beyond the 2 candidates
    assert result.score >= result.ticket_score
    assert all(torch.equal(v, result.state[k]) for k, v in model.state_dict().items())
