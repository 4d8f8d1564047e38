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
    # 003's CIFAR recipe: random crop after padding by 4, horizontal flip (its loaders' transforms)
    assert t.augment == "crop4-flip"
    # the authors' interpolate_LTs: on equal validation scores, stay nearest the current best
    assert config.tie_break == "current" == lottery_pools.CONFIGS["cpu"].tie_break


def test_the_cpu_config_is_the_rung_the_pilot_chose_on_validation_or_its_last():
    """The pilot's rule picks the first rung that meets the regime; where none does at the pilot's seeds
    (its committed result), the last rung is the setting and the regime is read again on lottery_pools' own
    runs, its precondition."""
    from rglt import store
    from rglt.experiments import lottery_pools_regime as pilot
    result, ladder = store.load("lottery_pools_regime", "cpu"), pilot.CONFIGS["cpu"]
    pick = pilot.chosen(result, ladder.pools.regime_gap)
    rung = pilot.setting_config(ladder.pools, ladder.ladder[pick if pick is not None else -1])
    config = lottery_pools.CONFIGS["cpu"]
    assert (rung.task, rung.train, rung.rewind_step) == (config.task, config.train, config.rewind_step)
    assert (config.task.noise, config.task.train_size, config.task.val_size) == (1, 3000, 1000)
    assert config.train.augment == "translate4" and config.train.epochs == 30
    # 5% of training: 3,000 signals in batches of 128 are 24 steps an epoch, 720 in all
    assert config.rewind_step == round(0.05 * 30 * math.ceil(3000 / 128))


def test_bad_configs_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="targets"):
        lottery_pools.Config(targets=(25,))
    with pytest.raises(ValueError, match="ema_decay"):
        lottery_pools.Config(ema_decay=1.0)
    with pytest.raises(ValueError, match="targets"):
        lottery_pools_analysis.Config(targets=(3,))


def test_the_analyses_read_lottery_pools_own_resnet18_chains():
    """No chain is trained twice: the analyses' runs are lottery_pools' ResNet-18 runs, with and without
    rewinding, in the same order, on every profile."""
    from rglt import identity
    for profile, config in lottery_pools_analysis.CONFIGS.items():
        pools = lottery_pools.CONFIGS[profile]
        ours = [identity.key(r) for r in lottery_pools_analysis._runs(config)]
        assert ours == [identity.key(r) for r in lottery_pools.runs(pools) if r.model.name == "resnet18"], profile


def test_the_table_shows_the_mean_and_its_95_t_interval_over_seeds_and_marks_each_rows_best():
    import numpy as np
    methods = list(lottery_pools.METHODS)
    acc = np.full((1, 2, 2, len(methods), 2), 0.5)                  # (models, rewinds, seeds, methods, levels)
    acc[0, 0, :, methods.index("swa"), 1] = [0.70, 0.72]            # best at level 1: 71.00, sd 1.41
    # the 95% t interval's half width with 2 seeds: t(0.975, 1 df) = 12.706 times sd / sqrt(2) = 12.71
    table = lottery_pools.accuracy_table({"accuracy": acc, "methods": methods, "density": [1.0, 0.8],
                                          "models": ["m"]}, 0)
    html = table._repr_html_()
    # the best cell of each row in bold: the seven methods' row 0 (all tie at 50%), row 1's SWA
    assert '<td class="rglt-best">71.00±12.71</td>' in html and html.count("rglt-best") == 1 + len(methods)
    assert table.rows[1][0] == "80.00" and table.headers[0] == "weights remaining (%)"
    assert "95% t interval of the mean over seeds" in str(table)


def test_the_validation_chosen_ticket_is_each_runs_best_level_on_validation_at_every_density():
    import numpy as np
    methods = list(lottery_pools.METHODS)
    acc = np.zeros((1, 1, 2, len(methods), 3))                      # (models, rewinds, seeds, methods, levels)
    acc[0, 0, :, methods.index("ticket")] = [[0.6, 0.7, 0.8], [0.6, 0.7, 0.8]]
    hits = np.zeros((1, 1, 2, 3, 4), dtype=bool)                    # (..., levels, validation examples)
    hits[0, 0, 0, 1] = True                                         # seed 0: level 1 best on validation
    hits[0, 0, 1, 2, :3] = True                                     # seed 1: level 2
    result = {"models": ["m"], "rewinds": ["rewind"], "methods": methods, "density": [1.0, 0.8, 0.64],
              "accuracy": acc, "corrupted": acc / 2, "val_correct": hits}
    assert lottery_pools.chosen_level(result).tolist() == [[[1, 2]]]
    extended = lottery_pools.with_chosen(result)
    chosen = np.asarray(extended["accuracy"])[0, 0, :, extended["methods"].index("chosen")]
    np.testing.assert_allclose(chosen, [[0.7] * 3, [0.8] * 3])
    np.testing.assert_allclose(np.asarray(extended["corrupted"])[0, 0, :, -1], [[0.35] * 3, [0.4] * 3])
    # Lottery Pools (all zeros here) against the chosen ticket, in points
    np.testing.assert_allclose(lottery_pools.gain(result, "interpolation", "chosen")[0, 0], [[-70] * 3, [-80] * 3])
