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
