"""The IMP-flow experiments' gpu configs name the paper's data sets (tests/test_gpu_configs.py: they
fail, naming the data path, before any training when the data are not there)."""
import math

from rglt.experiments import imp_flow_depth, imp_flow_tasks


def test_gpu_configs_carry_the_papers_settings():
    config = imp_flow_tasks.CONFIGS["gpu"]
    assert config.model.name == "resnet50_bottleneck"
    assert [t.name for _, t in config.tasks] == ["cifar10", "cifar100", "svhn"]
    # CV_LTH rewinds to epoch 9 of 182 (~5%); 45,000 training images in batches of 128: 352 steps an epoch
    # sigma over the paper's 17 rounds; the runs go on to 24 (0.47%) so that Eq. 15 sees the error rise
    assert config.sigma_rounds == 17 and config.rounds == 24 and config.group == 1
    assert config.rewind_step == 9 * math.ceil(45000 / 128) and config.train.epochs == 182
    assert imp_flow_depth.CONFIGS["gpu"].task.name == "cifar10"
    assert imp_flow_depth.CONFIGS["gpu"].depths == (14, 20, 32, 44, 56)
