"""Committed results must match the code that the book runs: a stale figure fails the tests."""
import pytest

from rglt import experiments, store


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
    assert stored.provenance["config_hash"] == store.config_hash(config), (
        f"results/{name}/{profile}.json was made with another config: rerun `python -m rglt run {name} --profile {profile}`")
    assert stored.provenance["experiment_version"] == module.VERSION, (
        f"results/{name}/{profile}.json is from version {stored.provenance['experiment_version']}, "
        f"the code is version {module.VERSION}: rerun it")
