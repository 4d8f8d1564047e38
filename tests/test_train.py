"""The training loop: schedules against torch's own schedulers, exact masks, determinism, DDP."""
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
from torch import nn

from rglt.train import TrainConfig, evaluate, lr_at, steps_per_epoch, train


def _digits():
    x, y = load_digits(return_X_y=True)
    return torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


@pytest.mark.parametrize("schedule, make", [
    ("onecycle", lambda opt, total, c: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=c.lr, total_steps=total, pct_start=c.pct_start, anneal_strategy="cos", cycle_momentum=False)),
    ("step", lambda opt, total, c: torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[round(m * total) for m in c.milestones], gamma=c.gamma)),
    ("cosine", lambda opt, total, c: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)),
])
def test_schedules_match_torch(schedule, make):
    config = TrainConfig(schedule=schedule, lr=0.2)
    total = 137
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    sched = make(opt, total, config)
    for step in range(total):
        assert lr_at(step, total, config) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12), step
        opt.step()
        sched.step()


def test_learns_digits():
    data = _digits()
    model = _mlp()
    train(model, (data[0][:1400], data[1][:1400]), TrainConfig(epochs=20, batch_size=64, lr=0.1))
    assert evaluate(model, (data[0][1400:], data[1][1400:]))["accuracy"] > 0.9


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_pruned_weights_stay_exactly_zero(optimizer):
    data = _digits()
    model = _mlp()
    torch.manual_seed(1)
    masks = {name: torch.rand_like(p) > 0.5 for name, p in model.named_parameters() if name.endswith("weight")}
    train(model, data, TrainConfig(epochs=2, batch_size=64, optimizer=optimizer, lr=0.05, weight_decay=5e-2), masks=masks)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert torch.all(params[name][~mask] == 0), name
        assert torch.count_nonzero(params[name][mask]) == mask.sum(), name


def test_same_seed_same_weights_and_resume_sees_the_same_batches():
    data = _digits()
    config = TrainConfig(epochs=2, batch_size=100, schedule="constant", momentum=0.0, weight_decay=0.0)
    kept = {}
    a, b = _mlp(), _mlp()
    train(a, data, config, on_step=lambda s, m: kept.setdefault(s, {k: v.clone() for k, v in m.state_dict().items()}))
    train(b, data, config)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    # Plain SGD has no state, so resuming at step k from the weights kept at k gives the same end.
    k = steps_per_epoch(len(data[1]), 100) + 3
    c = _mlp()
    c.load_state_dict(kept[k])
    train(c, data, config, start_step=k)
    for name, v in a.state_dict().items():
        torch.testing.assert_close(c.state_dict()[name], v, rtol=0, atol=1e-6)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adamw"):
        TrainConfig(optimizer="adam")
    with pytest.raises(ValueError, match="schedule must be one of constant, step, onecycle, cosine"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        TrainConfig(lr=0.0)
    model = _mlp()
    with pytest.raises(ValueError, match="masks names a parameter"):
        train(model, _digits(), TrainConfig(epochs=1), masks={"nope": torch.ones(1, dtype=torch.bool)})
    with pytest.raises(ValueError, match="start_step must be an integer in"):
        train(model, _digits(), TrainConfig(epochs=1), start_step=10_000)


def _ddp_worker(rank, world, init_file, out_dir):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    model = _mlp()
    data = _digits()
    train(model, (data[0][:1000], data[1][:1000]), TrainConfig(epochs=2, batch_size=96, lr=0.05))
    torch.save(model.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_ddp_on_two_cpu_ranks_equals_one_process():
    data = _digits()
    single = _mlp()
    train(single, (data[0][:1000], data[1][:1000]), TrainConfig(epochs=2, batch_size=96, lr=0.05))
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_ddp_worker, args=(2, os.path.join(tmp, "init"), tmp), nprocs=2, join=True)
        ranks = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(2)]
    for name, v in single.state_dict().items():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        torch.testing.assert_close(ranks[0][name], v, rtol=1e-5, atol=1e-6)
