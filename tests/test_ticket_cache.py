"""IMP runs as data: the run's key, the ticket cache, branches, the runner (kills, determinism, Dask)."""
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from rglt.data import Task
from rglt.prune import (IMPConfig, ModelSpec, TicketRun, TicketStore, cache_root, imp, is_complete, map_jobs,
                        read_runs, run_all, run_dir, store_of, train_tickets, use_cache)
from rglt.prune.branches import Branch, MaskTransfer, RandomMask, Reinit, branch
from rglt.prune.ticket_store import CorruptTicketError
from rglt.train import TrainConfig

RUN = TicketRun(ModelSpec("resnet8", width=4), Task(train_size=256), TrainConfig(epochs=2, batch_size=64),
                IMPConfig(rounds=2, rewind_step=3))


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RGLT_PROGRESS", "0")
    return tmp_path / "cache"


def _equal(a: TicketStore, b: TicketStore) -> bool:
    assert a.levels() == b.levels()
    for level in a.levels():
        x, y = a.load(level), b.load(level)
        if not all(torch.equal(x.weights[k], y.weights[k]) for k in x.weights):
            return False
        if not all(torch.equal(x.masks[k], y.masks[k]) for k in x.masks):
            return False
    return True


# ---- the key ---------------------------------------------------------------------------------

def test_the_key_ignores_execution_and_follows_the_science():
    same = [dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, backend="reference")),
            TicketRun.from_json(RUN.to_json())]
    assert all(r.key == RUN.key for r in same)
    changed = [
        dataclasses.replace(RUN, train=dataclasses.replace(RUN.train, lr=0.05)),
        dataclasses.replace(RUN, train=dataclasses.replace(RUN.train, seed=1)),
        dataclasses.replace(RUN, train=dataclasses.replace(RUN.train, milestones=(0.4, 0.8))),
        dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, fraction=0.3)),
        dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, rewind_step=0)),
        dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, scope="layerwise")),
        dataclasses.replace(RUN, model=ModelSpec("resnet8", width=8)),
        dataclasses.replace(RUN, task=Task(train_size=256, noise=1)),
        dataclasses.replace(RUN, task=Task(train_size=256, split_seed=1)),
        dataclasses.replace(RUN, prunable="no-fc"),
        dataclasses.replace(RUN, replicate=1),
        dataclasses.replace(RUN, init=dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, rounds=0))),
    ]
    keys = {r.key for r in changed}
    assert RUN.key not in keys and len(keys) == len(changed)
    # Execution settings are not fields of a run at all: the runner takes them.
    assert not {"workers", "threads", "progress"} & {f.name for f in dataclasses.fields(TicketRun)}


def test_a_field_added_at_its_default_keeps_every_earlier_key():
    # The key of RUN as it was before TicketRun had ``init`` (commit fb216ad): stored tickets stay found.
    assert RUN.key == "5c5d3ace219b1aed" and "init" not in RUN.science()
    pretrained = dataclasses.replace(RUN, init=dataclasses.replace(RUN, task=Task(train_size=512)))
    assert pretrained.science()["init"]["task"]["train_size"] == 512
    assert TicketRun.from_json(pretrained.to_json()) == pretrained


def test_a_pretrained_run_starts_from_the_sources_dense_weights_with_a_new_head(cache):
    source = dataclasses.replace(RUN, task=Task(train_size=512), imp=dataclasses.replace(RUN.imp, rounds=0),
                                 prunable="weights")
    run = dataclasses.replace(RUN, imp=dataclasses.replace(RUN.imp, rewind_step=0), init=source, replicate=1)
    start = train_tickets(run).rewind()  # rewind_step 0: the weights level 0 started from
    pretrained = store_of(source).load(0).weights
    fresh = ModelSpec("resnet8", width=4).build(__import__("rglt").data.load_task(run.task), seed=1).state_dict()
    for name, value in start.items():
        expected = fresh[name] if name.startswith("fc.") else pretrained[name]
        assert torch.equal(value, expected), name
    assert is_complete(source) and is_complete(run)
    with pytest.raises(ValueError, match="init must train the same model"):
        dataclasses.replace(run, init=dataclasses.replace(source, model=ModelSpec("resnet8", width=8)))


def test_bad_runs_are_refused():
    with pytest.raises(ValueError, match="prunable must be one of weights, no-fc, no-stem-no-fc"):
        TicketRun(prunable="conv")
    with pytest.raises(ValueError, match="name must be one of"):
        ModelSpec("resnet7")
    with pytest.raises(TypeError, match="train must be a TrainConfig"):
        TicketRun(train={"lr": 0.1})
    with pytest.raises(ValueError, match="noise applies to mnist1d only"):
        Task("digits", noise=2)


def test_the_cache_lives_outside_the_repository(monkeypatch):
    monkeypatch.setenv("RGLT_CACHE", os.path.dirname(os.path.dirname(__file__)) + "/results/cache")
    with pytest.raises(ValueError, match="RGLT_CACHE must be outside the repository"):
        cache_root()


# ---- the cache ---------------------------------------------------------------------------------

def test_tickets_trains_once_and_equals_imp_by_hand(cache, tmp_path):
    store = train_tickets(RUN)
    assert store.root == run_dir(RUN) and store.levels() == [0, 1, 2] and is_complete(RUN)
    stamp = (store.root / "level_002" / "meta.json").stat().st_mtime_ns
    assert train_tickets(RUN).levels() == [0, 1, 2]
    assert (store.root / "level_002" / "meta.json").stat().st_mtime_ns == stamp   # nothing retrained
    # The oracle: the same run spelled out with imp() by hand, in this process with 2 threads.
    from rglt.data import load_task
    from rglt.models import build, prunable_parameters
    data = load_task(RUN.task)
    make = lambda: build("resnet8", dim=1, in_channels=1, num_classes=10, width=4, seed=0)  # noqa: E731
    names = lambda m: [n for n, _ in prunable_parameters(m, include_fc=True)]  # noqa: E731
    torch.set_num_threads(1)
    try:
        by_hand = imp(make, names, data.train, RUN.train, RUN.imp, tmp_path / "by-hand", evaluate_on=data.test)
    finally:
        torch.set_num_threads(2)
    assert _equal(store, by_hand)


def test_tickets_do_not_depend_on_the_callers_threads(cache, tmp_path, monkeypatch):
    torch.set_num_threads(2)
    a = train_tickets(RUN)
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "other"))
    torch.set_num_threads(1)
    try:
        b = train_tickets(RUN)
    finally:
        torch.set_num_threads(2)
    assert a.root != b.root and _equal(a, b)


def test_a_truncated_level_is_named_and_repair_retrains_it(cache, tmp_path):
    store = train_tickets(RUN)
    reference = tmp_path / "reference"
    import shutil
    shutil.copytree(store.root, reference)
    weights = store.root / "level_001" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:500])
    with pytest.raises(CorruptTicketError, match="level_001/weights.pt"):
        store.load(1)
    masks = store.root / "level_002" / "masks.pt"
    masks.write_bytes(b"")
    with pytest.raises(CorruptTicketError, match="level_002/masks.pt"):
        store.load(2)
    repaired = train_tickets(RUN, repair=True)
    assert _equal(repaired, TicketStore(reference))
    assert len(list(store.root.glob(".level_00[12].damaged-*"))) == 2


# ---- branches ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CountingBranch(Branch):
    NAME = "counting"
    VERSION = 1
    scale: float = 1.0
    calls = []

    def compute(self, run, store, level):
        CountingBranch.calls.append(level)
        ticket = store.load(level)
        return {"kept": sum(int(m.sum()) for m in ticket.masks.values()) * self.scale}


def test_branches_are_cached_under_the_run(cache):
    CountingBranch.calls.clear()
    first = branch(RUN, CountingBranch(), 2)
    again = branch(RUN, CountingBranch(), 2)
    assert first == again and CountingBranch.calls == [2]
    expected = sum(int(m.sum()) for m in train_tickets(RUN).load(2).masks.values())
    assert first["kept"] == expected
    assert branch(RUN, CountingBranch(scale=2.0), 2)["kept"] == 2 * expected and CountingBranch.calls == [2, 2]
    assert len(list((run_dir(RUN) / "branches").iterdir())) == 2
    with pytest.raises(ValueError, match=r"level must be an integer in \[0, 2\]"):
        branch(RUN, CountingBranch(), 3)


def test_reinit_and_mask_transfer_keep_the_mask(cache):
    r = branch(RUN, Reinit(seed=5), 2)
    t = branch(RUN, MaskTransfer(task=Task(train_size=256, noise=2)), 2)
    density = train_tickets(RUN).load(2).density
    assert r["density"] == t["density"] == pytest.approx(density)
    assert 0 <= r["accuracy"] <= 1 and 0 <= t["accuracy"] <= 1


def test_the_random_mask_control_keeps_each_layers_count(cache):
    from rglt.prune.masks import random_like
    masks = train_tickets(RUN).load(2).masks
    for i, m in enumerate(masks.values()):
        a, b = random_like(m, 7 + i), random_like(m, 7 + i)
        assert torch.equal(a, b) and a.shape == m.shape and int(a.sum()) == int(m.sum())
        if 0 < int(m.sum()) < m.numel():
            assert not torch.equal(random_like(m, 8 + i), a)
    out = branch(RUN, RandomMask(seed=3), 2)
    assert out["density"] == pytest.approx(train_tickets(RUN).load(2).density) and 0 <= out["accuracy"] <= 1


# ---- the runner -------------------------------------------------------------------------------

def _square(x):
    return x * x


def test_map_jobs_keeps_the_order_and_raises_failures():
    assert map_jobs(_square, [3, 1, 2], workers=2) == [9, 1, 4]
    with pytest.raises(RuntimeError, match="1 of 2 jobs failed"):
        map_jobs(_square, [1, "x"], workers=2)


RUNNER = textwrap.dedent("""
    import sys
    from rglt.prune import TicketRun, run_all
    runs = [TicketRun.from_json(open(p).read()) for p in sys.argv[1:]]
    run_all(runs, workers=2, poll_s=0.2)
""")


def test_a_killed_runner_resumes_to_the_same_tickets(cache, tmp_path):
    runs = RUN.replicates(2)
    files = []
    for i, run in enumerate(runs):
        files.append(tmp_path / f"run{i}.json")
        files[-1].write_text(run.to_json())
    env = {**os.environ, "RGLT_CACHE": str(cache), "RGLT_PROGRESS": "0"}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *map(str, files)], env=env, start_new_session=True)
    deadline = time.time() + 120
    while not all(store_of(r).levels() for r in runs):      # level 0 done in both: now in level 1
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)                     # the runner and its workers, mid-level
    proc.wait()
    assert not all(is_complete(r) for r in runs)
    assert subprocess.run([sys.executable, "-c", RUNNER, *map(str, files)], env=env).returncode == 0
    assert all(is_complete(r) for r in runs)
    # Uninterrupted, in this process, one run after the other: the same tickets.
    with use_cache(tmp_path / "uninterrupted"):
        for run in runs:
            assert _equal(TicketStore(cache / "tickets" / run.label), train_tickets(run))


def test_run_all_on_a_dask_local_cluster(cache, tmp_path):
    distributed = pytest.importorskip("distributed")
    runs = RUN.replicates(2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        stores = run_all(runs, executor=client.get_executor(), poll_s=0.2)
    assert all(s.levels() == [0, 1, 2] for s in stores)
    with use_cache(tmp_path / "local"):
        assert all(_equal(s, train_tickets(run)) for s, run in zip(stores, runs))


def test_run_all_here_leaves_the_callers_threads_alone(cache):
    torch.set_num_threads(2)
    run_all([RUN], workers=1)
    assert torch.get_num_threads() == 2 and is_complete(RUN)


def test_read_runs_takes_an_object_a_list_or_json_lines():
    runs = RUN.replicates(3)
    assert read_runs(runs[0].to_json()) == runs[:1]
    assert read_runs("[" + ",".join(r.to_json() for r in runs) + "]") == runs
    assert read_runs("\n".join(r.to_json(indent=None) for r in runs) + "\n") == runs
    with pytest.raises(ValueError, match="JSON Lines"):
        read_runs("{not json")
    with pytest.raises(ValueError, match="at least one"):
        read_runs("[]")
    with pytest.raises(ValueError, match="a TicketRun JSON object has the keys"):
        read_runs('{"modle": {}}')


def test_the_command_line_trains_one_run_of_a_list(cache, tmp_path):
    """What a SLURM array task runs: ``python -m rglt tickets runs.jsonl --index $SLURM_ARRAY_TASK_ID``."""
    runs = RUN.replicates(2)
    listing = tmp_path / "runs.jsonl"
    listing.write_text("\n".join(r.to_json(indent=None) for r in runs))
    env = {**os.environ, "RGLT_CACHE": str(cache), "RGLT_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-m", "rglt", "tickets", str(listing), "--index", "1"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert runs[1].label in done.stdout and is_complete(runs[1]) and not store_of(runs[0]).levels()
    with use_cache(tmp_path / "here"):
        assert _equal(TicketStore(cache / "tickets" / runs[1].label), train_tickets(runs[1]))
    bad = subprocess.run([sys.executable, "-m", "rglt", "tickets", str(listing), "--index", "2"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--index must be in [0, 1] for 2 run(s); got 2" in bad.stderr


@pytest.mark.slow
def test_imp_resume_at_the_smoke_profile(tmp_path, monkeypatch):
    """The experiment end to end: a real SIGKILL mid-level, resumed by the runner, same tickets."""
    from rglt.experiments import imp_resume
    monkeypatch.setenv("RGLT_PROGRESS", "0")
    config = imp_resume.CONFIGS["smoke"]
    result = imp_resume.run(config)
    claims = imp_resume.checks(result, config)
    assert [c.verdict for c in claims] == ["reproduced"] * 4, claims
    assert result["run_key"] == config.run.key


def test_metrics_are_read_without_the_weights_and_equal_the_loaded_ones(cache):
    store = train_tickets(RUN)
    for level in store.levels():
        assert store.metrics(level) == store.load(level).metrics


def test_a_run_directory_copied_to_another_runs_place_is_refused(cache):
    train_tickets(RUN)
    other = dataclasses.replace(RUN, replicate=5)
    shutil.copytree(run_dir(RUN), run_dir(other))
    with pytest.raises(CorruptTicketError, match=f"holds the run {RUN.label}, not {other.label}"):
        train_tickets(other)
    with pytest.raises(CorruptTicketError, match="copied or moved here"):
        store_of(other)


def test_a_cache_that_names_a_file_is_refused_naming_the_variable(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "file"))
    with pytest.raises(ValueError, match="RGLT_CACHE must name a directory"):
        train_tickets(RUN)
    runs = tmp_path / "runs.json"
    runs.write_text(RUN.to_json())
    from rglt.__main__ import main
    with pytest.raises(SystemExit) as exit_:
        main(["tickets", str(runs)])
    assert exit_.value.code == 2 and "RGLT_CACHE must name a directory" in capsys.readouterr().err



def test_a_mask_moved_to_another_label_set_keeps_the_body_and_starts_a_new_classifier(cache, monkeypatch):
    from rglt.data.tasks import load_task
    from rglt.prune import branches
    seen = {}
    real_train = branches.train

    def spy(model, *args, **kwargs):
        seen["state"] = {k: v.clone() for k, v in model.state_dict().items()}
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(branches, "train", spy)
    target = Task(train_size=256, templates="shapes20")
    out = branch(RUN, MaskTransfer(task=target), 2)
    rewind = train_tickets(RUN).rewind()
    fresh = RUN.model.build(load_task(target), seed=RUN.replicate).state_dict()
    head = [k for k in fresh if k.startswith("fc.")]
    assert head and all(torch.equal(seen["state"][k], fresh[k]) for k in head)          # a new 20-way classifier
    assert all(torch.equal(seen["state"][k], rewind[k]) for k in rewind if k not in head)  # the rewind point's body
    from rglt.prune.ticket_store import density
    masks = train_tickets(RUN).load(2).masks                      # RUN prunes fc too: the new head trains dense
    assert "fc.weight" in masks
    assert out["density"] == pytest.approx(density({k: m for k, m in masks.items() if k not in head}))
