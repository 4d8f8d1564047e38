"""The IMP-flow experiments' gpu configs name the paper's data sets and fail, naming the data path,
before any training when the data are not there."""
import math

import pytest

from rglt.experiments import imp_flow_depth, imp_flow_tasks


@pytest.mark.parametrize("module", [imp_flow_tasks, imp_flow_depth])
def test_gpu_configs_fail_clearly_without_the_data(module, monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="RGLT_DATA"):
        module.run(module.CONFIGS["gpu"])
    assert not (tmp_path / "cache").exists()  # nothing trained


def test_gpu_configs_carry_the_papers_settings():
    config = imp_flow_tasks.CONFIGS["gpu"]
    assert config.model.name == "resnet50_bottleneck"
    assert [t.name for _, t in config.tasks] == ["cifar10", "cifar100", "svhn"]
    # CV_LTH rewinds to epoch 9 of 182 (~5%); 45,000 training images in batches of 128: 352 steps an epoch
    assert config.rounds == 17 and config.rewind_step == 9 * math.ceil(45000 / 128) and config.train.epochs == 182
    assert imp_flow_depth.CONFIGS["gpu"].task.name == "cifar10"
    assert imp_flow_depth.CONFIGS["gpu"].depths == (14, 20, 32, 44, 56)
