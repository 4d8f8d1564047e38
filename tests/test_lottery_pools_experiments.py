"""The Lottery Pools experiments' gpu configs carry the paper's settings (003 Tables 2 and 4; that they
fail naming the data path is in tests/test_gpu_configs.py), and bad configs are refused."""
import math

import pytest

from rglt.experiments import lottery_pools, lottery_pools_analysis


def test_gpu_configs_carry_the_papers_settings():
    config = lottery_pools.CONFIGS["gpu"]
    assert config.task.name == "cifar100" and [m.name for m in config.models] == ["resnet18", "vgg16"]
    t = config.train
    assert (t.epochs, t.batch_size, t.lr, t.momentum, t.weight_decay) == (182, 128, 0.1, 0.9, 1e-4)
    assert t.schedule == "step" and [round(m * 182) for m in t.milestones] == [91, 136]
    # rewind to epoch 9: 45,000 training images in batches of 128 are 352 steps an epoch
    assert config.rounds == 19 and config.rewind_step == 9 * math.ceil(45000 / 128)
    assert lottery_pools_analysis.CONFIGS["gpu"].pools.train == t


def test_bad_configs_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="targets"):
        lottery_pools.Config(targets=(25,))
    with pytest.raises(ValueError, match="ema_decay"):
        lottery_pools.Config(ema_decay=1.0)
    with pytest.raises(ValueError, match="targets"):
        lottery_pools_analysis.Config(targets=(3,))


def test_the_table_shows_the_mean_and_its_95_t_interval_over_seeds_and_marks_each_rows_best():
    import numpy as np
    methods = list(lottery_pools.METHODS)
    acc = np.full((1, 2, 2, len(methods), 2), 0.5)                  # (models, rewinds, seeds, methods, levels)
    acc[0, 0, :, methods.index("swa"), 1] = [0.70, 0.72]            # best at level 1: 71.00, sd 1.41
    # the 95% t interval's half width with 2 seeds: t(0.975, 1 df) = 12.706 times sd / sqrt(2) = 12.71
    table = lottery_pools.accuracy_table({"accuracy": acc, "methods": methods, "density": [1.0, 0.8],
                                          "models": ["m"]}, 0)
    html = table._repr_html_()
    assert '<td class="rglt-best">71.00±12.71</td>' in html and html.count("rglt-best") == 1 + len(lottery_pools.METHOD_STYLE)
    assert table.rows[1][0] == "80.00" and table.headers[0] == "weights remaining (%)"
    assert "95% t interval of the mean over seeds" in str(table)
