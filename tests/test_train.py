"""The training loop: schedules against torch's own schedulers, exact masks, determinism, DDP."""
import dataclasses
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
import torch.nn.functional as F
from torch import nn

from rglt.train import TrainConfig, accuracy_by_epoch, epoch_order, evaluate, lr_at, steps_per_epoch, train


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


def test_accuracy_by_epoch_reads_what_a_run_stopped_after_that_epoch_would_score():
    # With a constant rate, a run of e epochs is the first e epochs of a longer one, so each row can be checked
    # against a separate shorter run from the same initialisation.
    data = _digits()
    train_data, splits = (data[0][:1200], data[1][:1200]), ((data[0][1200:1500], data[1][1200:1500]),
                                                          (data[0][1500:], data[1][1500:]))
    config = TrainConfig(epochs=3, batch_size=64, lr=0.05, schedule="constant")
    curve = accuracy_by_epoch(_mlp(), train_data, config, splits)
    assert curve.shape == (3, 2)
    for epochs in (1, 3):
        model = _mlp()
        train(model, train_data, dataclasses.replace(config, epochs=epochs))
        assert curve[epochs - 1].tolist() == [evaluate(model, split)["accuracy"] for split in splits]
    with pytest.raises(ValueError, match=r"splits\[1\]"):
        accuracy_by_epoch(_mlp(), train_data, config, (splits[0], (data[0][:5], data[1][:4])))


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


def test_the_training_step_is_a_plain_per_tensor_sgd_loop_bit_for_bit():
    """The oracle: masks applied tensor by tensor and torch's per-tensor SGD (foreach=False), the batches
    and rates train() documents. The foreach masking and SGD change no bit of it."""
    data = _digits()
    config = TrainConfig(epochs=2, batch_size=100, lr=0.1, weight_decay=5e-3, seed=3)
    torch.manual_seed(1)
    masks = {name: torch.rand_like(p) > 0.4 for name, p in _mlp().named_parameters() if name.endswith("weight")}
    fast, plain = _mlp(), _mlp()
    train(fast, data, config, masks=masks)
    params = dict(plain.named_parameters())
    sgd = torch.optim.SGD(plain.parameters(), lr=config.lr, momentum=config.momentum,
                          weight_decay=config.weight_decay, foreach=False)
    per_epoch = steps_per_epoch(len(data[1]), config.batch_size)
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)
    for epoch in range(config.epochs):
        order = epoch_order(len(data[1]), config.seed, epoch)
        for b in range(per_epoch):
            batch = order[b * 100:(b + 1) * 100]
            for group in sgd.param_groups:
                group["lr"] = lr_at(epoch * per_epoch + b, per_epoch * config.epochs, config)
            sgd.zero_grad()
            (F.cross_entropy(plain(data[0][batch]), data[1][batch], reduction="sum") / batch.numel()).backward()
            with torch.no_grad():
                for name, mask in masks.items():
                    params[name].grad.mul_(mask)
                sgd.step()
                for name, mask in masks.items():
                    params[name].mul_(mask)
    for name, value in plain.state_dict().items():
        assert torch.equal(fast.state_dict()[name], value), name


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


# ---- Mixup and CutMix ----------------------------------------------------------------------------

def _distinct_batch(n=6, length=20):
    # every value distinct, labels = row index: the partner of each row can be read off its label
    return torch.arange(n * length, dtype=torch.float64).reshape(n, 1, length), torch.arange(n)


def test_mixup_mixes_each_input_with_the_partner_its_label_names():
    from rglt.train import mix_batch
    x, y = _distinct_batch()
    mixed, partner, lam = mix_batch(x, y, TrainConfig(mix="mixup", mix_alpha=0.4, seed=3), step=11)
    assert 0 < lam < 1 and sorted(partner.tolist()) == list(range(6))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[partner])


@pytest.mark.parametrize("shape", [(6, 1, 20), (6, 2, 8, 8)])
def test_cutmix_pastes_one_window_and_lambda_is_the_share_kept(shape):
    from rglt.train import mix_batch
    x = torch.arange(torch.Size(shape).numel(), dtype=torch.float64).reshape(shape)
    y = torch.arange(shape[0])
    for step in range(20):
        mixed, partner, lam = mix_batch(x, y, TrainConfig(mix="cutmix", seed=1), step=step)
        moved = partner != y                      # a row drawn as its own partner is left as it was
        assert torch.equal(mixed[~moved], x[~moved])
        mixed, x_moved, partner = mixed[moved], x[moved], x[partner[moved]]
        kept = (mixed == x_moved)
        assert kept.double().mean().item() == pytest.approx(lam)          # every input keeps the same share
        pasted = ~kept
        assert torch.equal(mixed[pasted], partner[pasted])
        # one window, the same in every input and channel: its cells form a box
        cells = pasted[0, 0].nonzero()
        if len(cells):
            lo, hi = cells.min(0).values, cells.max(0).values
            assert len(cells) == int(torch.prod(hi - lo + 1)) and torch.equal(pasted, pasted[:1, :1].expand_as(pasted))


def test_mixing_is_a_function_of_seed_and_step_and_the_loss_is_the_mixed_cross_entropy():
    from rglt.train import mix_batch
    x, y = _distinct_batch()
    config = TrainConfig(mix="mixup", seed=5, epochs=1, batch_size=6, lr=0.5, momentum=0.0, weight_decay=0.0,
                         schedule="constant")
    a, b = mix_batch(x, y, config, 2), mix_batch(x, y, config, 2)
    assert torch.equal(a[0], b[0]) and a[2] == b[2] and mix_batch(x, y, config, 3)[2] != a[2]
    # One SGD step of train() against the gradient of lam CE(y) + (1 - lam) CE(partner) worked by hand.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(20, 6)).double()
    manual = nn.Sequential(nn.Flatten(), nn.Linear(20, 6)).double()
    manual.load_state_dict(model.state_dict())
    order = torch.randperm(6, generator=torch.Generator().manual_seed(5 * 1_000_003))   # epoch_order(6, 5, 0)
    xb, yb = x[order], y[order]
    mixed, partner, lam = mix_batch(xb, yb, config, 0)
    logits = manual(mixed)
    loss = (lam * nn.functional.cross_entropy(logits, yb) + (1 - lam) * nn.functional.cross_entropy(logits, partner))
    loss.backward()
    with torch.no_grad():
        for p in manual.parameters():
            p -= 0.5 * p.grad
    train(model, (x, y), config)
    for p, q in zip(model.parameters(), manual.parameters()):
        assert torch.allclose(p, q, atol=1e-12)


def test_mix_settings_are_checked_and_the_default_changes_no_key():
    with pytest.raises(ValueError, match="mix must be one of"):
        TrainConfig(mix="manifold")
    with pytest.raises(ValueError, match="mix_alpha"):
        TrainConfig(mix="mixup", mix_alpha=0.0)
    from rglt.identity import key as config_hash
    assert config_hash(TrainConfig()) == config_hash(TrainConfig(mix="none", mix_alpha=1.0))
    assert config_hash(TrainConfig()) != config_hash(TrainConfig(mix="mixup"))


def test_bf16_runs_the_forward_in_bfloat16_and_keeps_fp32_weights_masks_and_determinism():
    from rglt.identity import key
    data = _digits()
    assert key(TrainConfig()) == key(TrainConfig(precision="fp32")) != key(TrainConfig(precision="bf16"))
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")
    seen = []
    config = TrainConfig(epochs=2, batch_size=64, lr=0.1, precision="bf16")
    torch.manual_seed(1)
    masks = {name: torch.rand_like(p) > 0.5 for name, p in _mlp().named_parameters() if name.endswith("weight")}
    a, b = _mlp(), _mlp()
    a[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    train(a, (data[0][:1400], data[1][:1400]), config, masks=masks)
    train(b, (data[0][:1400], data[1][:1400]), config, masks=masks)
    assert seen[0] == torch.float32 and set(seen[1:]) == {torch.bfloat16}   # check_fits' look, then every step
    params = dict(a.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values())
    assert all(torch.all(params[n][~m] == 0) for n, m in masks.items())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())   # the same bits on a rerun
    c = _mlp()   # the same run in fp32: bfloat16 rounding, not another training
    train(c, (data[0][:1400], data[1][:1400]), dataclasses.replace(config, precision="fp32"), masks=masks)
    accuracy = [evaluate(m, (data[0][1400:], data[1][1400:]))["accuracy"] for m in (a, c)]
    assert abs(accuracy[0] - accuracy[1]) < 0.03, accuracy
