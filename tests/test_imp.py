"""IMP with rewinding: densities, nested masks, exact zeros, rewinding, and resuming after a kill."""
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from rglt.prune.imp import IMPConfig, imp, round_fraction
from rglt.prune.ticket_store import TicketStore
from rglt.train import TrainConfig, train

TRAIN = TrainConfig(epochs=2, batch_size=64, lr=0.05)


def _data():
    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:1200] / 16.0, dtype=torch.float32), torch.tensor(y[:1200])


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))


def _weights(model):
    return [name for name, _ in model.named_parameters() if name.endswith("weight")]


class Killed(Exception):
    pass


def test_levels_densities_nested_masks_and_exact_zeros(tmp_path):
    store = imp(_model, _weights, _data(), TRAIN, IMPConfig(rounds=3, rewind_step=5), tmp_path, evaluate_on=_data())
    assert store.levels() == [0, 1, 2, 3]
    n = 64 * 48 + 48 * 10
    previous = None
    for level in store.levels():
        ticket = store.load(level)
        kept = n
        for _ in range(level):
            kept -= round(0.2 * kept)
        assert ticket.density == pytest.approx(kept / n)
        assert 0 <= ticket.metrics["accuracy"] <= 1
        for name, mask in ticket.masks.items():
            assert torch.all(ticket.weights[name][~mask] == 0)
            if previous is not None:
                assert not torch.any(mask & ~previous.masks[name]), "a pruned weight came back"
        previous = ticket


def test_channel_imp_prunes_whole_rows_as_structured_masks_would(tmp_path):
    from rglt.prune.masks import structured_masks
    from rglt.identity import key as config_hash
    config = IMPConfig(rounds=2, rewind_step=5, granularity="channels")
    store = imp(_model, lambda m: ["0.weight"], _data(), TRAIN, config, tmp_path)
    for level in (1, 2):
        previous, ticket = store.load(level - 1), store.load(level)
        mask = ticket.masks["0.weight"]
        assert torch.all(mask.all(1) | ~mask.any(1)), "a row is either whole or gone"
        expected = structured_masks([previous.weights["0.weight"]], [previous.masks["0.weight"]], 0.2)[0]
        assert torch.equal(mask, expected)
    assert int(store.load(2).masks["0.weight"].any(1).sum()) == 48 - round(0.2 * 48) - round(0.2 * 38)
    assert config_hash(IMPConfig()) == config_hash(IMPConfig(granularity="weights"))   # stored keys stand
    with pytest.raises(ValueError, match="granularity must be one of"):
        IMPConfig(granularity="blocks")


def test_rewind_point_is_the_dense_run_at_step_k(tmp_path):
    store = imp(_model, _weights, _data(), TRAIN, IMPConfig(rounds=1, rewind_step=7), tmp_path)
    kept = {}
    train(_model(), _data(), TRAIN, on_step=lambda s, m: kept.setdefault(s, {k: v.clone() for k, v in m.state_dict().items()}))
    for name, value in store.rewind().items():
        assert torch.equal(value, kept[7][name])


def test_killed_run_resumes_to_the_same_tickets(tmp_path):
    config = IMPConfig(rounds=4, rewind_step=3)
    whole = imp(_model, _weights, _data(), TRAIN, config, tmp_path / "whole")

    def kill_at_level_3(level):
        if level == 3:
            raise Killed

    with pytest.raises(Killed):
        imp(_model, _weights, _data(), TRAIN, config, tmp_path / "resumed", on_level=kill_at_level_3)
    partial = TicketStore(tmp_path / "resumed")
    assert partial.levels() == [0, 1, 2]
    resumed = imp(_model, _weights, _data(), TRAIN, config, partial)
    for level in whole.levels():
        a, b = whole.load(level), resumed.load(level)
        for name in a.masks:
            assert torch.equal(a.masks[name], b.masks[name])
            assert torch.equal(a.weights[name], b.weights[name])


def test_other_settings_refuse_to_resume(tmp_path):
    imp(_model, _weights, _data(), TRAIN, IMPConfig(rounds=1), tmp_path)
    with pytest.raises(ValueError, match="holds a run with other settings"):
        imp(_model, _weights, _data(), TRAIN, IMPConfig(rounds=1, fraction=0.3), tmp_path)


def test_bert_schedule_prunes_a_tenth_of_the_original_each_round():
    config = IMPConfig(rounds=9, fraction=0.1, schedule="original")
    density = 1.0
    for t in range(1, 10):
        density *= 1 - round_fraction(config, t)
        assert density == pytest.approx(1 - 0.1 * t)
    assert round_fraction(config, 3) == pytest.approx(1 / (10 - 2))


@pytest.mark.parametrize("kwargs, message", [
    (dict(fraction=1.0), r"fraction must be a number in \(0, 1\)"),
    (dict(schedule="layer"), "schedule must be one of survivors, original"),
    (dict(rounds=-1), "rounds must be an integer >= 0"),
    (dict(rewind_step=-2), "rewind_step must be an integer >= 0"),
    (dict(rounds=10, fraction=0.1, schedule="original"), "rounds \\* fraction must be < 1"),
])
def test_bad_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IMPConfig(**kwargs)


def test_rewind_step_beyond_training_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rewind_step must be <="):
        imp(_model, _weights, _data(), TRAIN, IMPConfig(rounds=1, rewind_step=10_000), tmp_path)
    assert not (tmp_path / "run.json").exists()


def _ddp_imp_worker(rank, world, init_file, root):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    data = _data()
    store = imp(_model, _weights, data, TrainConfig(epochs=2, batch_size=64, lr=0.05),
                IMPConfig(rounds=1, rewind_step=5), root / "ddp")
    final = store.load(1)
    torch.save(final.masks, root / f"masks{rank}.pt")
    dist.destroy_process_group()


def test_imp_round_under_ddp_equals_one_process(tmp_path):
    import torch.multiprocessing as mp
    single = imp(_model, _weights, _data(), TrainConfig(epochs=2, batch_size=64, lr=0.05),
                 IMPConfig(rounds=1, rewind_step=5), tmp_path / "single")
    mp.spawn(_ddp_imp_worker, args=(2, str(tmp_path / "init"), tmp_path), nprocs=2, join=True)
    ddp = TicketStore(tmp_path / "ddp")
    assert ddp.levels() == [0, 1]
    masks = [torch.load(tmp_path / f"masks{r}.pt") for r in range(2)]
    a, b = single.load(1), ddp.load(1)
    for name in a.masks:
        assert torch.equal(masks[0][name], masks[1][name])
        assert torch.equal(a.masks[name], b.masks[name]), name
        torch.testing.assert_close(a.weights[name], b.weights[name], rtol=1e-4, atol=1e-5)


def test_imp_under_torchrun_equals_one_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    single = imp(_model, _weights, _data(), TrainConfig(epochs=2, batch_size=64, lr=0.05),
                 IMPConfig(rounds=1, rewind_step=5), tmp_path / "single")
    script = Path(__file__).parent / "torchrun_imp.py"
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    a, b = single.load(1), TicketStore(tmp_path / "torchrun").load(1)
    ranks = [torch.load(tmp_path / f"torchrun_masks{r}.pt") for r in range(2)]
    for name in a.masks:
        assert torch.equal(ranks[0][name], ranks[1][name]) and torch.equal(a.masks[name], b.masks[name]), name
        torch.testing.assert_close(a.weights[name], b.weights[name], rtol=1e-4, atol=1e-5)
