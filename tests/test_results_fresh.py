"""Committed results must match the code that the book runs: a stale figure fails the tests."""
import json
import re
from pathlib import Path

import pytest

from rglt import experiments, identity, store


@pytest.mark.parametrize("name", experiments.names())
def test_cpu_result_is_committed(name):
    assert store.load(name, "cpu") is not None, f"no committed cpu result for {name}: python -m rglt run {name} --profile cpu"


@pytest.mark.parametrize("name", experiments.names())
@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_committed_results_match_the_code(name, profile):
    module = experiments.get(name)
    stored = store.load(name, profile)
    if stored is None:
        pytest.skip(f"no {profile} result committed for {name}")
    config = module.CONFIGS[profile]
    assert stored.provenance["config_hash"] == identity.key(config), (
        f"results/{name}/{profile}.json was made with another config: rerun `python -m rglt run {name} --profile {profile}`")
    assert stored.provenance["experiment_version"] == module.VERSION, (
        f"results/{name}/{profile}.json is from version {stored.provenance['experiment_version']}, "
        f"the code is version {module.VERSION}: rerun it")


ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted([*ROOT.glob("results/*/*.json"), *ROOT.glob("benchmarks/results/*.json")])


def test_there_are_records_to_check():
    assert len(RECORDS) >= len(experiments.names())


@pytest.mark.parametrize("path", RECORDS, ids=[p.relative_to(ROOT).as_posix() for p in RECORDS])
def test_every_committed_record_comes_from_a_clean_commit(path):
    """A number in the book must name the commit that made it: no '+dirty', no uncommitted code."""
    provenance = json.loads(path.read_text())["provenance"]
    commit = provenance["git_commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit), (
        f"{path.relative_to(ROOT)} was made at {commit!r}, not a clean commit: rerun it from a clean checkout")
    assert provenance.get("git_dirty", False) is False, f"{path.relative_to(ROOT)} was made from a dirty tree"
