"""The results cache: round trips, provenance, staleness, reruns, and where each profile writes."""
import dataclasses
import json
import multiprocessing
import time
import types

import numpy as np
import pytest

from rglt import claims, experiments, identity, store
from rglt.claims import Rule
from rglt.storage import LOCK_NAME


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    n: int = 3
    scale: float = 2.0


def _toy_module(calls):
    module = types.ModuleType("toy_experiment")
    module.NAME, module.VERSION, module.Config = "toy", 1, ToyConfig
    module.CONFIGS = {"smoke": ToyConfig(n=2), "cpu": ToyConfig(), "gpu": ToyConfig(n=5)}

    def run(config):
        calls.append(config)
        return {"values": np.arange(config.n) * config.scale, "total": float(config.n * config.scale),
                "label": "toy"}

    module.run, module.checks = run, lambda result, config: []
    module.rules = lambda config: (Rule("total", "the toy's total is positive", "000 (none: a toy)", "no number",
                                        what="total", test="exact", low=0.0),)
    return module


@pytest.fixture
def toy(monkeypatch, tmp_path, register_experiment):
    calls = []
    module = register_experiment(_toy_module(calls))
    monkeypatch.setenv("RGLT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("RGLT_SMOKE_CACHE", str(tmp_path / "smoke"))
    monkeypatch.delenv("RGLT_RERUN", raising=False)
    return module, calls, tmp_path


def test_round_trip_with_provenance(toy):
    module, calls, tmp = toy
    result = experiments.load("toy", "cpu")
    assert len(calls) == 1
    np.testing.assert_array_equal(result["values"], [0.0, 2.0, 4.0])
    assert result["total"] == 6.0 and result["label"] == "toy"
    prov = result.provenance
    for key in ("experiment", "experiment_version", "profile", "config", "config_hash", "rglt_version",
                "git_commit", "torch", "triton", "device", "wall_time_s", "date"):
        assert key in prov, key
    assert prov["config"] == {"n": 3, "scale": 2.0} and prov["profile"] == "cpu"
    # the rules are registered when the experiment runs, before it is judged
    assert [r["id"] for r in prov["rules"]] == ["total"] and prov["rules"][0]["high"] is None
    assert prov["rules_hash"] == claims.rules_hash(module.rules(None)) and "rules_registered" not in prov
    doc = json.loads((tmp / "results" / "toy" / "cpu.json").read_text())
    assert list(doc["arrays"]["sha256"]) == ["values"] and doc["data"]["total"] == 6.0
    assert (tmp / "results" / "toy" / doc["arrays"]["file"]).exists()
    left = sorted(p.name for p in (tmp / "results" / "toy").iterdir() if p.name != LOCK_NAME)  # the lock stays
    assert left == sorted(["cpu.json", doc["arrays"]["file"]])


def test_fresh_result_is_reused_and_rerun_forces(toy, monkeypatch):
    module, calls, _ = toy
    experiments.load("toy", "cpu")
    experiments.load("toy", "cpu")
    assert len(calls) == 1
    monkeypatch.setenv("RGLT_RERUN", "1")
    experiments.load("toy", "cpu")
    assert len(calls) == 2
    experiments.load("toy", "cpu", rerun=False)
    assert len(calls) == 2


def test_stale_config_or_version_reruns(toy):
    module, calls, _ = toy
    experiments.load("toy", "cpu")
    module.CONFIGS["cpu"] = ToyConfig(n=4)
    assert not experiments.is_fresh(store.load("toy", "cpu"), module, module.CONFIGS["cpu"])
    assert experiments.load("toy", "cpu")["total"] == 8.0
    module.VERSION = 2
    assert not experiments.is_fresh(store.load("toy", "cpu"), module, module.CONFIGS["cpu"])
    experiments.load("toy", "cpu")
    assert len(calls) == 3


def test_smoke_results_stay_out_of_the_results_directory(toy):
    _, _, tmp = toy
    experiments.load("toy", "smoke")
    assert (tmp / "smoke" / "toy" / "smoke.json").exists()
    assert not (tmp / "results").exists()


def test_profile_comes_from_the_environment(toy, monkeypatch):
    monkeypatch.setenv("RGLT_PROFILE", "gpu")
    assert experiments.load("toy")["total"] == 10.0
    monkeypatch.setenv("RGLT_PROFILE", "huge")
    with pytest.raises(ValueError, match="RGLT_PROFILE must be one of"):
        experiments.load("toy")


def test_bad_names_are_refused_before_any_work(toy):
    _, calls, _ = toy
    with pytest.raises(ValueError, match="experiment must be one of"):
        experiments.load("nope", "cpu")
    with pytest.raises(ValueError, match="profile must be one of"):
        experiments.load("toy", "laptop")
    assert calls == []


def test_config_hash_is_stable_and_sensitive():
    assert identity.key(ToyConfig()) == identity.key(ToyConfig())
    assert identity.key(ToyConfig()) != identity.key(ToyConfig(n=4))
    with pytest.raises(TypeError, match="dataclass instance"):
        identity.key({"n": 3})


def test_rehash_follows_fields_moved_to_unhashed_and_refuses_other_science(tmp_path, monkeypatch):
    """A field moved to unhashed() after a result was made: rehash() gives it today's hash, keeping its
    commit and date; a result of other science is refused (the oracle: the configs' own fields)."""
    @dataclasses.dataclass(frozen=True)
    class Before:
        steps: int = 3
        tol: float = 0.1

    @dataclasses.dataclass(frozen=True)
    class After:
        steps: int = 3
        tol: float = identity.unhashed(0.1)

    module = types.SimpleNamespace(NAME="moved", VERSION=1, rules=_toy_module([]).rules)
    made = store.Result("moved", "cpu", {"x": 1.0}, experiments.provenance(module, "cpu", Before(), 1.0))
    assert made.provenance["config_hash"] != identity.key(After())
    fixed = experiments.rehash(made, module, After(tol=0.5))
    assert fixed.provenance["config_hash"] == identity.key(After())
    assert fixed.provenance["rehashed_from"] == made.provenance["config_hash"]
    assert fixed.provenance["git_commit"] == made.provenance["git_commit"] and fixed.data == made.data
    with pytest.raises(ValueError, match="other science"):
        experiments.rehash(made, module, After(steps=4))
    with pytest.raises(ValueError, match="version"):
        experiments.rehash(made, types.SimpleNamespace(NAME="moved", VERSION=2), After())


def test_a_result_answers_in_and_iterates_over_its_keys_as_a_dict_does():
    from rglt.store import Result
    r = Result("e", "cpu", {"a": 1, "b_2": 2}, {})
    assert "a" in r and "b" not in r and r["a"] == 1
    assert list(r) == ["a", "b_2"] and [k for k in r if k.startswith("b_")] == ["b_2"]


def test_experiments_are_discovered_and_checked_against_the_contract(register_experiment):
    import types
    assert "ising_rg" in experiments.names() and not any(n.startswith("_") for n in experiments.names())
    broken = types.ModuleType("rglt.experiments.broken")
    broken.NAME, broken.VERSION = "broken", 1
    register_experiment(broken)
    with pytest.raises(TypeError, match="broken does not meet the experiment contract: it lacks Config, CONFIGS"):
        experiments.get("broken")
    with pytest.raises(ValueError, match="experiment must be one of .*ising_rg"):
        experiments.get("no_such_experiment")


def test_load_returns_the_config_it_was_made_with(toy):
    module, _, _ = toy
    assert experiments.load("toy", "gpu").config == module.CONFIGS["gpu"]
    assert experiments.load("toy", "gpu").config == module.CONFIGS["gpu"]   # the stored one, read back


def test_register_writes_each_rule_as_first_registered_and_says_it_came_after(toy):
    module, _, _ = toy
    first = module.rules(None)[0]
    changed = dataclasses.replace(first, low=1.0, registered=first, change="the bound moved")
    module.rules = lambda config: (changed,)
    result = experiments.load("toy", "cpu")
    bare = dataclasses.replace(result, provenance={k: v for k, v in result.provenance.items()
                                                   if not k.startswith("rules")})
    done = experiments.register(bare, module, module.CONFIGS["cpu"], "2026-12-06")
    assert done.provenance["rules"] == claims.rules_record([first])      # the registered version, not the new one
    assert "after the result" in done.provenance["rules_registered"]
    assert experiments.register(done, module, module.CONFIGS["cpu"], "later") is done
    assert claims.registration_problems([changed], done.provenance["rules"]) == []


def test_two_processes_asking_for_the_same_result_run_it_once(toy, monkeypatch, tmp_path):
    """The second waits for the first's run and reads its result (a chapter and the intro under xdist)."""
    module, _, _ = toy
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs.txt"
    plain = module.run

    def slow_run(config):
        with open(runs, "a") as f:
            f.write("run\n")
        time.sleep(1.5)
        return plain(config)

    monkeypatch.setattr(module, "run", slow_run)
    fork = multiprocessing.get_context("fork")
    workers = [fork.Process(target=experiments.load, args=("toy", "cpu")) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert runs.read_text().count("run") == 1


def test_an_archived_version_survives_its_successor_and_refuses_the_wrong_one(toy, monkeypatch):
    module, calls, tmp = toy
    first = experiments.load("toy", "cpu")
    path = store.archive("toy", "cpu")
    assert path == tmp / "results" / "toy" / "v1" / "cpu.json"
    with pytest.raises(FileExistsError, match="never overwritten"):
        store.archive("toy", "cpu")
    monkeypatch.setattr(module, "VERSION", 2)
    monkeypatch.setattr(module, "CONFIGS", {**module.CONFIGS, "cpu": ToyConfig(n=4)})
    second = experiments.load("toy", "cpu")                         # the successor replaces the live result
    assert second.provenance["experiment_version"] == 2 and len(second["values"]) == 4
    old = store.load_archived("toy", "cpu", 1)
    np.testing.assert_array_equal(old["values"], first["values"])
    assert old.provenance == first.provenance
    with pytest.raises(FileNotFoundError, match="version 2"):
        store.load_archived("toy", "cpu", 2)
    with pytest.raises(ValueError, match="version must be"):
        store.load_archived("toy", "cpu", 0)
    # an archive moved to another version's place is refused, and so is one edited by hand
    (tmp / "results" / "toy" / "v1").rename(tmp / "results" / "toy" / "v3")
    with pytest.raises(store.CorruptResultError, match="experiment_version"):
        store.load_archived("toy", "cpu", 3)
    moved = tmp / "results" / "toy" / "v3" / "cpu.json"
    doc = json.loads(moved.read_text())
    doc["data"]["total"] = 7.0
    moved.write_text(json.dumps(doc))
    with pytest.raises(store.CorruptResultError):
        store.load_archived("toy", "cpu", 3)
