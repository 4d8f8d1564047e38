"""rglt.experiments.imp_null_paper: its configs, the measures its claims use, its claims turning on
results made by hand (a null equal to the published sigma, opposite to it, a fifth of it), and the smoke
profile run end to end."""
import numpy as np
import pytest

from rglt.experiments import imp_null_paper as null
from rglt.sources import redman2022


# ---- the experiment ------------------------------------------------------------------------------

def test_configs_refuse_bad_fields():
    for field, value, match in (("seeds", 1, "seeds must be an integer >= 2"),
                                ("tables", ("2", "8"), "tables must be a non-empty tuple"),
                                ("elth_depths", (15,), "elth_depths must be"),
                                ("elth_rounds", (17, 17), "elth_rounds must be"),
                                ("bert_rounds", 10, "bert_rounds must be an integer in")):
        with pytest.raises(ValueError, match=match):
            null.Config(**{field: value})


def _result(config, sigma_of):
    """A result for ``config`` whose null sigma is ``sigma_of(key, groups)`` (seeds, groups), both readings."""
    out = {}
    for key, (build, *_rest) in null.networks(config).items():
        if key.startswith("bert"):
            groups = [f"layer{i}" for i in range(1, 13)]
        elif key.startswith("resnet50"):
            groups = ["layer1", "layer2", "layer3", "layer4"]
        else:
            groups = list(build(0).groups)
        out[f"{key}_groups"] = groups
        for reading in ("prunable", "all"):
            out[f"{key}_sigma_{reading}"] = sigma_of(key, groups)
    return out


def _judged(key, config):
    """The key of the null a table judges that ``key`` is a variant of (Table 5's conv1, other rounds)."""
    key = key.removesuffix("_conv1")
    for rounds in config.elth_rounds:
        key = key.replace(f"_r{rounds}", f"_r{config.elth_rounds[0]}")
    return key


def _as_published(config, factor, table):
    """A null equal to ``factor`` x ``table``'s published sigma in its entries (variants alike; a network
    behind several rows, BERT's, takes the last), 0.05 elsewhere; seeds 1e-4 apart."""
    def sigma_of(key, groups):
        values = np.full((config.seeds, len(groups)), 0.05)
        for _, k, row, cells in null._rows(table, config):
            if k == _judged(key, config):
                values[:, cells] = factor * np.asarray(row)
        return values + 1e-4 * np.arange(config.seeds)[:, None]
    return sigma_of


def _verdict(config, factor, table):
    rows = {c.rule: c for c in null.checks(_result(config, _as_published(config, factor, table)), config)}
    assert set(rows) == set(null.TABLES)
    return rows[table]


@pytest.mark.parametrize("table", list(null.TABLES))
def test_claims_turn_with_the_null(table):
    config = null.CONFIGS["cpu"]
    assert _verdict(config, 1.0, table).verdict == "reproduced"
    assert _verdict(config, -1.0, table).verdict == "not"
    # right signs, a fifth of the size: the sign part holds, the size part fails, so each reading fails
    small = _verdict(config, 0.2, table)
    assert small.verdict == "not" and "sign: reproduced" in small.reason and "size: not" in small.reason


def test_entries_leave_out_the_unsigned_and_count_the_tables():
    config = null.CONFIGS["cpu"]
    result = _result(config, _as_published(config, 1.0, "table7"))
    sizes = {t: len(null.entries(result, config, t)[0]) for t in null.TABLES}
    # Table 4 prints ResNet-44's second stage-1 block as -0.00: no sign, left out
    assert sizes == {"table2_random": 8, "table2_pretrained": 8, "table5": 4, "table4": 20, "table6": 21,
                     "table7": 21, "table3": 120}
    labels, published, sigma = null.entries(result, config, "table7")
    assert labels[0] == "ResNet-14 stage3.block1" and published[0] == redman2022.STAGE_TABLES.value[3][14][0]
    np.testing.assert_allclose(null.sign_share(np.array([0.2, -0.1]), np.array([[0.1, 0.1], [0.3, -0.2]])), [0.5, 1])
    np.testing.assert_allclose(null.magnitude_share(np.array([0.2, -0.1, 0.4]), np.array([[0.1, -0.1, 0.0]])), [0.5])


def test_smoke_profile_runs_and_judges_its_tables():
    config = null.CONFIGS["smoke"]
    result = null.run(config)
    assert result["networks"] == ["resnet50_cifar10", "resnet50_cifar100", "resnet14_r3", "resnet20_r3"]
    assert result["resnet20_r3_sigma_all"].shape == (2, 9) and result["resnet50_cifar10_M_prunable"].shape == (2, 4, 4)
    # the literal denominator adds the unpruned parameters: every M_i is smaller under it
    assert np.all(result["resnet50_cifar10_M_all"] < result["resnet50_cifar10_M_prunable"])
    np.testing.assert_allclose(result["resnet50_cifar10_density"][0], 0.8 ** np.arange(4), rtol=1e-6)
    rows = null.checks(result, config)
    assert [c.rule for c in rows] == ["table2_random", "table2_pretrained", "table4", "table6", "table7"]


def test_side_by_side_puts_each_null_beside_its_published_entry():
    config = null.CONFIGS["cpu"]
    rows = null.side_by_side(_result(config, _as_published(config, 0.5, "table2_random")), config, "table2_random")
    assert [r[0] for r in rows[:2]] == ["CIFAR-10 layer1", "CIFAR-10 layer2"] and rows[0][1] == 0.20
    # seeds 1e-4 apart around half the published value: the mean, its 95% t half-width, the share
    assert rows[0][2] == rows[0][3] == "+0.100±0.000" and rows[0][4] == rows[0][5] == 0.5
