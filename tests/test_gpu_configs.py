"""Every gpu config that reads data from RGLT_DATA fails, naming the data path, before any training
when the data are not there."""
import pytest

from rglt.experiments import imp_flow_depth, imp_flow_tasks, lottery_pools, lottery_pools_analysis


@pytest.mark.parametrize("module", [imp_flow_tasks, imp_flow_depth, lottery_pools, lottery_pools_analysis])
def test_gpu_configs_fail_clearly_without_the_data(module, monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="RGLT_DATA"):
        module.run(module.CONFIGS["gpu"])
    assert not (tmp_path / "cache").exists()  # nothing trained


def _train_configs(config):
    """Every TrainConfig a config holds, nested configs included."""
    import dataclasses
    from rglt.train import TrainConfig
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, TrainConfig):
            yield field.name, value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _train_configs(value)


@pytest.mark.parametrize("module", [imp_flow_tasks, imp_flow_depth, lottery_pools, lottery_pools_analysis])
def test_gpu_configs_train_cifar_with_the_papers_crop_and_flip(module):
    # the papers' code (CV_LTH, OpenLTH / E-LTH, Lottery Pools) trains CIFAR with a random crop after 4 pixels
    # of padding and a horizontal flip: without it the networks overfit and the regime differs
    found = list(_train_configs(module.CONFIGS["gpu"]))
    assert found
    for name, train in found:
        assert train.augment == "crop4-flip", (module.NAME, name)
