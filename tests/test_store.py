"""The results cache: round trips, provenance, staleness, reruns, and where each profile writes."""
import dataclasses
import json
import sys
import types

import numpy as np
import pytest

from rglt import experiments, store


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

    module.run = run
    return module


@pytest.fixture
def toy(monkeypatch, tmp_path):
    calls = []
    module = _toy_module(calls)
    monkeypatch.setitem(sys.modules, "toy_experiment", module)
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", "toy_experiment")
    monkeypatch.setenv("RGLT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("RGLT_SMOKE_CACHE", str(tmp_path / "smoke"))
    monkeypatch.delenv("RGLT_RERUN", raising=False)
    return module, calls, tmp_path


def test_round_trip_with_provenance(toy):
    module, calls, tmp = toy
    result = store.load_or_run("toy", "cpu")
    assert len(calls) == 1
    np.testing.assert_array_equal(result["values"], [0.0, 2.0, 4.0])
    assert result["total"] == 6.0 and result["label"] == "toy"
    prov = result.provenance
    for key in ("experiment", "experiment_version", "profile", "config", "config_hash", "rglt_version",
                "git_commit", "torch", "triton", "device", "wall_time_s", "date"):
        assert key in prov, key
    assert prov["config"] == {"n": 3, "scale": 2.0} and prov["profile"] == "cpu"
    doc = json.loads((tmp / "results" / "toy" / "cpu.json").read_text())
    assert list(doc["arrays"]["sha256"]) == ["values"] and doc["data"]["total"] == 6.0
    assert (tmp / "results" / "toy" / doc["arrays"]["file"]).exists()
    assert sorted(p.name for p in (tmp / "results" / "toy").iterdir()) == sorted(["cpu.json", doc["arrays"]["file"]])


def test_fresh_result_is_reused_and_rerun_forces(toy, monkeypatch):
    module, calls, _ = toy
    store.load_or_run("toy", "cpu")
    store.load_or_run("toy", "cpu")
    assert len(calls) == 1
    monkeypatch.setenv("RGLT_RERUN", "1")
    store.load_or_run("toy", "cpu")
    assert len(calls) == 2
    store.load_or_run("toy", "cpu", rerun=False)
    assert len(calls) == 2


def test_stale_config_or_version_reruns(toy):
    module, calls, _ = toy
    store.load_or_run("toy", "cpu")
    module.CONFIGS["cpu"] = ToyConfig(n=4)
    assert not store.is_fresh(store.load("toy", "cpu"), module, module.CONFIGS["cpu"])
    assert store.load_or_run("toy", "cpu")["total"] == 8.0
    module.VERSION = 2
    assert not store.is_fresh(store.load("toy", "cpu"), module, module.CONFIGS["cpu"])
    store.load_or_run("toy", "cpu")
    assert len(calls) == 3


def test_smoke_results_stay_out_of_the_results_directory(toy):
    _, _, tmp = toy
    store.load_or_run("toy", "smoke")
    assert (tmp / "smoke" / "toy" / "smoke.json").exists()
    assert not (tmp / "results").exists()


def test_profile_comes_from_the_environment(toy, monkeypatch):
    monkeypatch.setenv("RGLT_PROFILE", "gpu")
    assert store.load_or_run("toy")["total"] == 10.0
    monkeypatch.setenv("RGLT_PROFILE", "huge")
    with pytest.raises(ValueError, match="RGLT_PROFILE must be one of"):
        store.load_or_run("toy")


def test_bad_names_are_refused_before_any_work(toy):
    _, calls, _ = toy
    with pytest.raises(ValueError, match="experiment must be one of"):
        store.load_or_run("nope", "cpu")
    with pytest.raises(ValueError, match="profile must be one of"):
        store.load_or_run("toy", "laptop")
    assert calls == []


def test_config_hash_is_stable_and_sensitive():
    assert store.config_hash(ToyConfig()) == store.config_hash(ToyConfig())
    assert store.config_hash(ToyConfig()) != store.config_hash(ToyConfig(n=4))
    with pytest.raises(TypeError, match="dataclass instance"):
        store.config_hash({"n": 3})


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
        tol: float = store.unhashed(0.1)

    module = types.SimpleNamespace(NAME="moved", VERSION=1)
    made = store.Result("moved", "cpu", {"x": 1.0}, store.provenance(module, "cpu", Before(), 1.0))
    assert made.provenance["config_hash"] != store.config_hash(After())
    fixed = store.rehash(made, module, After(tol=0.5))
    assert fixed.provenance["config_hash"] == store.config_hash(After())
    assert fixed.provenance["rehashed_from"] == made.provenance["config_hash"]
    assert fixed.provenance["git_commit"] == made.provenance["git_commit"] and fixed.data == made.data
    with pytest.raises(ValueError, match="other science"):
        store.rehash(made, module, After(steps=4))
    with pytest.raises(ValueError, match="version"):
        store.rehash(made, types.SimpleNamespace(NAME="moved", VERSION=2), After())


def test_a_result_answers_in_for_its_keys():
    from rglt.store import Result
    r = Result("e", "cpu", {"a": 1}, {})
    assert "a" in r and "b" not in r and r["a"] == 1
