"""Fault injection on the ticket store, IMP and the training loop: typos in configs, files copied,
flipped, truncated or removed, resuming on other data, divergence. Each ends in a clear error naming
the argument or the file, or in a correct resume; nothing already stored is lost or replaced."""
import json
import shutil

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from rglt.prune import IMPConfig, TicketStore, imp
from rglt.prune.ticket_store import CorruptTicketError
from rglt.prune.ticket_store import _checksum as _meta_checksum
from rglt.train import TrainConfig, TrainingDiverged, evaluate, train

TRAIN = TrainConfig(epochs=2, batch_size=64, lr=0.05)
IMP = IMPConfig(rounds=2, rewind_step=3)


def _data(shift=0.0):
    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:600] / 16.0 + shift, dtype=torch.float32), torch.tensor(y[:600])


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _weights(model):
    return [name for name, _ in model.named_parameters() if name.endswith("weight")]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-round IMP run, copied fresh for each test that damages it."""
    root = tmp_path_factory.mktemp("imp") / "run"
    imp(_model, _weights, _data(), TRAIN, IMP, root)
    return root


@pytest.fixture
def run(finished, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(finished, root)
    return root


def _same_tickets(a: TicketStore, b: TicketStore, level: int) -> bool:
    x, y = a.load(level), b.load(level)
    return all(torch.equal(x.masks[n], y.masks[n]) and torch.equal(x.weights[n], y.weights[n]) for n in x.masks)


# ---- configs are checked at construction, before level 0 trains -----------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(scope="layer-wise"), "scope must be one of global, layerwise"),
    (dict(backend="cuda"), "backend must be one of auto, reference, triton"),
    (dict(rounds=True), "rounds must be an integer"),
    (dict(rounds=2.0), "rounds must be an integer"),
    (dict(rewind_step=False), "rewind_step must be an integer"),
    (dict(fraction="0.2"), r"fraction must be a number in \(0, 1\)"),
    (dict(fraction=True), r"fraction must be a number in \(0, 1\)"),
])
def test_imp_config_typos_are_found_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IMPConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(gamma=0.0), "gamma must be a finite number > 0"),
    (dict(gamma=-0.1), "gamma must be a finite number > 0"),
    (dict(seed=-1), "seed must be an integer"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(seed=True), "seed must be an integer"),
    (dict(epochs=True), "epochs must be an integer"),
    (dict(lr=float("nan")), "lr must be a finite number"),
    (dict(momentum="0.9"), r"momentum must be a number in \[0, 1\)"),
    (dict(milestones=[0.5]), "milestones must be a tuple"),
])
def test_train_config_bad_fields(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_train_and_imp_refuse_a_config_of_the_wrong_type(tmp_path):
    with pytest.raises(TypeError, match="config must be an rglt.train.TrainConfig"):
        train(_model(), _data(), {"lr": 0.1})
    with pytest.raises(TypeError, match="train_config must be an rglt.train.TrainConfig"):
        imp(_model, _weights, _data(), {"lr": 0.1}, IMP, tmp_path / "x")
    with pytest.raises(TypeError, match="config must be an rglt.prune.IMPConfig"):
        imp(_model, _weights, _data(), TRAIN, {"rounds": 2}, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_empty_data_is_refused():
    empty = (torch.zeros(0, 64), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="data must be .* non-zero length"):
        evaluate(_model(), empty)
    with pytest.raises(ValueError, match="evaluate_on must be"):
        train(_model(), _data(), TRAIN, evaluate_on=empty)


# ---- divergence ------------------------------------------------------------------------------

def test_divergence_stops_at_the_first_non_finite_loss():
    config = TrainConfig(epochs=3, batch_size=64, lr=1e4, schedule="constant")
    losses = []
    model = _model()
    with pytest.raises(TrainingDiverged, match=r"at step (\d+) \(learning rate 1e\+04") as err:
        train(model, _data(), config, on_step=lambda step, m: losses.append(step))
    assert err.value.step == losses[-1] and err.value.lr == 1e4
    assert isinstance(err.value, FloatingPointError)
    # The oracle: redo the same steps by hand and find the first non-finite loss.
    reference = _model()
    opt = torch.optim.SGD(reference.parameters(), lr=1e4, momentum=0.9, weight_decay=1e-4)
    from rglt.train import epoch_order
    x, y = _data()
    step = 0
    for epoch in range(3):
        order = epoch_order(len(y), 0, epoch)
        for b in range(0, len(y), 64):
            idx = order[b:b + 64]
            loss = nn.functional.cross_entropy(reference(x[idx]), y[idx])
            if not torch.isfinite(loss):
                break
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        else:
            continue
        break
    assert err.value.step == step


def test_imp_never_stores_a_diverged_level(tmp_path):
    with pytest.raises(TrainingDiverged):
        imp(_model, _weights, _data(), TrainConfig(epochs=2, batch_size=64, lr=1e4, schedule="constant"), IMP,
            tmp_path / "run")
    assert TicketStore(tmp_path / "run").levels() == []


def test_the_store_refuses_non_finite_weights(tmp_path):
    store = TicketStore(tmp_path)
    weights = {"w": torch.tensor([1.0, float("nan")])}
    with pytest.raises(ValueError, match=r"weights\['w'\] of level 1 holds NaN"):
        store.save(1, weights, {"w": torch.ones(2, dtype=torch.bool)}, {})
    assert store.levels() == [] and not any(tmp_path.iterdir())


# ---- damaged stores are reported, never used -------------------------------------------------

def _flip(path, where=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    path.write_bytes(bytes(raw))


def _edit_meta(path, **metrics):
    meta = json.loads(path.read_text())
    meta["metrics"].update(metrics)
    path.write_text(json.dumps(meta))


DAMAGE = {
    "masks copied from another level": (lambda r: shutil.copy(r / "level_001/masks.pt", r / "level_002/masks.pt"),
                                        "level_002/masks.pt", "SHA-256"),
    "weights byte flipped": (lambda r: _flip(r / "level_002/weights.pt"), "level_002/weights.pt", "SHA-256"),
    "weights truncated": (lambda r: (r / "level_002/weights.pt").write_bytes((r / "level_002/weights.pt").read_bytes()[:99]),
                          "level_002/weights.pt", "SHA-256"),
    "weights removed": (lambda r: (r / "level_002/weights.pt").unlink(), "level_002/weights.pt", "missing"),
    "meta emptied": (lambda r: (r / "level_002/meta.json").write_text(""), "level_002/meta.json", "not readable JSON"),
    "meta of another level": (lambda r: shutil.copy(r / "level_001/meta.json", r / "level_002/meta.json"),
                              "level_002/meta.json", "belongs to level 1 .* not to level 2"),
    "metrics edited by hand": (lambda r: _edit_meta(r / "level_002/meta.json", accuracy=0.99),
                               "level_002/meta.json", "do not match the checksum"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_level_files_are_named(run, case):
    damage, file, reason = DAMAGE[case]
    damage(run)
    with pytest.raises(CorruptTicketError, match=reason) as err:
        TicketStore(run).load(2)
    assert str(err.value.path).endswith(file) and file in str(err.value)


def test_a_consistent_copy_of_another_levels_masks_is_caught_by_the_density(run):
    """masks.pt from level 1 with its checksum updated too: the recorded density still tells."""
    shutil.copy(run / "level_001/masks.pt", run / "level_002/masks.pt")
    meta = json.loads((run / "level_002/meta.json").read_text())
    meta["sha256"]["masks.pt"] = json.loads((run / "level_001/meta.json").read_text())["sha256"]["masks.pt"]
    meta["checksum"] = _meta_checksum(meta)   # a forger who knows the format
    (run / "level_002/meta.json").write_text(json.dumps(meta))
    with pytest.raises(CorruptTicketError, match=r"density 0\.79\d*, but meta.json records 0\.63\d*"):
        TicketStore(run).load(2)


def test_a_level_from_another_run_is_refused_where_it_lands(run, tmp_path):
    """Same level number, same file layout, its own checksums intact: only its place tells."""
    other = tmp_path / "other"
    imp(_model, _weights, _data(shift=0.5), TRAIN, IMP, other)        # another run: other data
    shutil.rmtree(run / "level_002")
    shutil.copytree(other / "level_002", run / "level_002")
    with pytest.raises(CorruptTicketError, match="belongs to level 2 of the run with record digest"):
        TicketStore(run).load(2)
    assert TicketStore(other).load(2).level == 2                       # at home it still loads


def test_a_level_written_before_the_metadata_checksum_is_migrated_in_place(run):
    path = run / "level_002/meta.json"
    meta = json.loads(path.read_text())
    old = {k: meta[k] for k in ("level", "density", "metrics", "sha256")}     # what rglt wrote before
    path.write_text(json.dumps(old))
    ticket = TicketStore(run).load(2)
    migrated = json.loads(path.read_text())
    assert ticket.metrics == old["metrics"] and "checksum" in migrated and migrated["migrated"]["rglt_version"]
    assert migrated["run"] == meta["run"]
    _edit_meta(path, accuracy=0.5)                                     # and from now on it is protected
    with pytest.raises(CorruptTicketError, match="checksum"):
        TicketStore(run).load(2)


def test_level_files_are_readable_by_the_other_users_of_a_shared_cache(run):
    for path in [run / "level_002", *(run / "level_002").iterdir()]:
        assert path.stat().st_mode & 0o044 == 0o044, path      # group and others may read (umask 022)


def test_a_flipped_rewind_point_is_named(run):
    _flip(run / "level_000/rewind.pt")
    with pytest.raises(CorruptTicketError, match="rewind.pt"):
        TicketStore(run).rewind()


def test_resuming_from_a_damaged_level_names_it_and_changes_nothing(run):
    shutil.rmtree(run / "level_002")
    _flip(run / "level_001/masks.pt")
    before = sorted(p.name for p in run.rglob("*"))
    with pytest.raises(CorruptTicketError, match="level_001/masks.pt"):
        imp(_model, _weights, _data(), TRAIN, IMP, run)
    assert sorted(p.name for p in run.rglob("*")) == before


def test_resuming_on_other_training_data_is_refused(run):
    with pytest.raises(ValueError, match=r"other settings \(they differ in: data\)"):
        imp(_model, _weights, _data(shift=0.01), TRAIN, IMP, run)
    with pytest.raises(ValueError, match=r"differ in: data"):
        imp(_model, _weights, _data(), TRAIN, IMP, run, evaluate_on=_data())


def test_a_damaged_run_record_is_named(run):
    (run / "run.json").write_text('{"imp": ')
    with pytest.raises(CorruptTicketError, match="run.json"):
        imp(_model, _weights, _data(), TRAIN, IMP, run)


def test_a_level_without_meta_does_not_block_a_resume(run, finished):
    (run / "level_002/meta.json").unlink()
    store = TicketStore(run)
    assert store.levels() == [0, 1]
    imp(_model, _weights, _data(), TRAIN, IMP, store)
    assert store.levels() == [0, 1, 2]
    assert _same_tickets(store, TicketStore(finished), 2)
    kept = list(run.glob(".level_002.incomplete-*"))
    assert len(kept) == 1 and (kept[0] / "weights.pt").exists()   # set aside, not deleted
