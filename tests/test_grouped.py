"""Grouped replicates (rglt.models.grouped, TicketRun.group) against the replicates trained alone as the
oracle: the same initialisation bit for bit, the same forward, gradients, BatchNorm statistics and
training to float rounding, each member's tickets pruned on its own; deterministic whichever member
asks; a key of their own; refused where grouping would mix the replicates."""
import concurrent.futures as cf
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from rglt.data import Task
from rglt.models import build, to_layout
from rglt.models.grouped import GroupedModel, member_states, merge_states
from rglt.prune import IMPConfig, ModelSpec, TicketRun, run_all, store_of, train_tickets
from rglt.train import TrainConfig, train

RUN = TicketRun(ModelSpec("resnet8", width=4), Task(train_size=256), TrainConfig(epochs=2, batch_size=64),
                IMPConfig(rounds=2, rewind_step=3))


def _members(name, layout="default", n=3, **kw):
    return [to_layout(build(name, dim=1, in_channels=1, num_classes=10, width=4, input_size=40, seed=s, **kw), layout)
            for s in range(n)]


def _close(a, b, scale_floor=1e-3, rel=1e-4):
    return float((a - b).abs().max()) <= rel * max(float(b.abs().max()), scale_floor)


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RGLT_PROGRESS", "0")
    return tmp_path / "cache"


@pytest.mark.parametrize("name", ["resnet20", "vgg16"])
@pytest.mark.parametrize("layout", ["default", "channels-last"])
def test_a_group_computes_each_member_as_alone(name, layout):
    members = _members(name, layout)
    group = GroupedModel(members)
    # its initial state is the members' own, bit for bit, and back
    states = member_states(group.state_dict(), 3, members[0].state_dict())
    for state, member in zip(states, members):
        assert all(torch.equal(state[k], v) for k, v in member.state_dict().items())
    merged = merge_states(states, group.state_dict())
    assert all(torch.equal(merged[k], v) for k, v in group.state_dict().items())

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 16, 1, 40, generator=gen), torch.randint(0, 10, (3, 16), generator=gen)
    logits = group(x.reshape(48, 1, 40))
    F.cross_entropy(logits, y.reshape(48), reduction="sum").backward()
    for r, member in enumerate(members):
        alone = member(x[r])
        assert _close(logits[16 * r:16 * (r + 1)].detach(), alone.detach())
        F.cross_entropy(alone, y[r], reduction="sum").backward()
    grads = member_states({k: p.grad for k, p in group.named_parameters()}, 3,
                          {k: p for k, p in members[0].named_parameters()})
    stats = member_states(group.state_dict(), 3, members[0].state_dict())
    for r, member in enumerate(members):
        # a conv bias before BatchNorm has a zero gradient up to rounding: compare on the member's largest
        scale = max(float(p.grad.abs().max()) for p in member.parameters())
        for k, p in member.named_parameters():
            assert float((grads[r][k] - p.grad).abs().max()) <= 1e-4 * scale, (r, k)
        for k, v in member.state_dict().items():   # BatchNorm's running statistics, each member's own
            assert _close(stats[r][k].float(), v.float()), (r, k)


@pytest.mark.parametrize("augment", ["none", "translate4"])
def test_grouped_training_follows_each_member_alone_and_keeps_its_masks(augment):
    members = _members("resnet20", "channels-last", n=2)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 1, 40, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    names = [k for k, p in members[0].named_parameters() if p.dim() > 1]
    masks = [{k: torch.rand(dict(members[0].named_parameters())[k].shape, generator=gen) > 0.5 for k in names}
             for _ in members]
    group = GroupedModel(members)
    config = TrainConfig(epochs=1, batch_size=64, lr=0.05, augment=augment)
    train(group, (x, y), config, masks=merge_states(masks, group.state_dict()), group_seeds=[4, 9])
    states = member_states(group.state_dict(), 2, members[0].state_dict())
    for member, mask, seed, state in zip(members, masks, (4, 9), states):
        train(member, (x, y), dataclasses.replace(config, seed=seed), masks=mask)
        for k, v in member.state_dict().items():
            if v.is_floating_point():
                assert _close(state[k], v, rel=1e-4), k   # 2 steps: rounding, not another batch or mask
        assert all(bool((state[k][~mask[k]] == 0).all()) for k in names)


def test_groups_refuse_what_would_mix_the_replicates():
    with pytest.raises(ValueError, match="stage2.block0.shortcut"):
        GroupedModel(_members("resnet8", shortcut="A", n=2))
    two_d = [build("resnet8", dim=2, in_channels=1, num_classes=10, width=4, seed=s) for s in range(2)]
    with pytest.raises(ValueError, match="Conv2d"):
        GroupedModel(two_d)
    with pytest.raises(ValueError, match="at least 2"):
        GroupedModel(_members("resnet8", n=1))
    with pytest.raises(ValueError, match="one architecture"):
        GroupedModel(_members("resnet8", n=1) + _members("vgg11", n=1))
    with pytest.raises(ValueError, match="group_seeds"):
        train(GroupedModel(_members("resnet8", n=2)), (torch.randn(8, 1, 40), torch.randint(0, 10, (8,))),
              TrainConfig(epochs=1, batch_size=4))
    with pytest.raises(ValueError, match="one seed per member"):
        train(GroupedModel(_members("resnet8", n=2)), (torch.randn(8, 1, 40), torch.randint(0, 10, (8,))),
              TrainConfig(epochs=1, batch_size=4), group_seeds=[0])


def test_a_grouped_run_validates_its_group_and_has_its_own_key():
    alone, grouped = RUN.replicates(2), RUN.replicates(3, group=2)
    assert [r.group for r in grouped] == [(0, 1), (0, 1), ()]
    assert grouped[2].key == RUN.replicates(3)[2].key        # a last group of one trains alone
    assert {r.key for r in alone}.isdisjoint(r.key for r in grouped[:2])
    assert TicketRun.from_json(grouped[1].to_json()) == grouped[1]
    assert grouped[1].members() == grouped[:2] and alone[1].members() == [alone[1]]
    for bad, match in [(dict(group=(1,)), "at least 2"), (dict(group=(1, 0)), "increasing"),
                       (dict(group=(1, 2)), "own replicate"), (dict(group=(0, 1), replicate=1), "train.seed"),
                       (dict(group=(0, 1), model=ModelSpec("resnet8", width=4, shortcut="A")), "shortcut 'B'"),
                       (dict(group=(0, 1), model=ModelSpec("mlp")), "1D ResNets")]:
        with pytest.raises(ValueError, match=match):
            dataclasses.replace(RUN, **bad)


def _tickets(store):
    return [(t.weights, t.masks, store.metrics(level)) for level, t in
            ((level, store.load(level)) for level in store.levels())]


def _same(a, b):
    return all(all(torch.equal(x[k], y[k]) for k in x) and all(torch.equal(m[k], n[k]) for k in m) and s == t
               for (x, m, s), (y, n, t) in zip(_tickets(a), _tickets(b)))


def test_a_group_is_bit_identical_whichever_member_asks_and_after_a_resume(cache, tmp_path, monkeypatch):
    runs = RUN.replicates(2, group=2)
    first = [train_tickets(runs[1]), store_of(runs[0])]   # member 1 asks: both are trained
    assert all(s.levels() == [0, 1, 2] for s in first)
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "other"))
    second = run_all(runs, workers=1)                    # member 0 first, in another cache
    assert _same(first[1], second[0]) and _same(first[0], second[1])
    # a level lost from one member: the group retrains that level and stores it where it is missing
    store_of(runs[1]).set_aside(2)
    assert store_of(runs[1]).levels() == [0, 1] and store_of(runs[0]).levels() == [0, 1, 2]
    assert _same(train_tickets(runs[1]), first[0])
    # each member is pruned on its own weights: 20% of its own survivors per level
    for store in second:
        kept = [sum(int(m.sum()) for m in store.load(level).masks.values()) for level in (0, 1, 2)]
        assert kept[1] == pytest.approx(0.8 * kept[0], abs=1) and kept[2] == pytest.approx(0.8 * kept[1], abs=1)


def test_the_runner_trains_a_group_as_one_job(cache):
    submitted = []

    class Counting(cf.ThreadPoolExecutor):
        def submit(self, fn, run_json, *args):
            submitted.append(TicketRun.from_json(run_json))
            return super().submit(fn, run_json, *args)

    runs = RUN.replicates(5, group=2)   # groups (0, 1), (2, 3) and replicate 4 alone
    threads = torch.get_num_threads()
    try:
        with Counting(1) as executor:
            stores = run_all(runs, executor=executor)
    finally:
        torch.set_num_threads(threads)   # a worker sets one thread
    assert sorted(r.replicate for r in submitted) == [0, 2, 4]
    assert all(s.levels() == [0, 1, 2] for s in stores)
