"""The sources' numbers (rglt.sources): typed once, named by table or figure, found in the seed texts, and
the ones the experiments' rules and the chapters' figures use."""
import os
import re
from pathlib import Path

import numpy as np
import pytest

from rglt import sources
from rglt.experiments import (imp_flow_depth, imp_flow_tasks, imp_flow_transformer, imp_resume, lottery_pools,
                              rg_flow, rg_flow_budget, tickets_compression)
from rglt.sources import hu2022, lth_essay, redman2022, yin2023

MODULES = {"000": redman2022, "001": hu2022, "002": lth_essay, "003": yin2023}
SEEDS = Path(os.environ.get("RGLT_SEEDS", Path(__file__).resolve().parents[2] / "shared" / "seeds"))


def _floats(value):
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, (tuple, list)):
        return [f for v in value for f in _floats(v)]
    if isinstance(value, str):
        return [float(value)] if re.fullmatch(r"-?\d+(\.\d+)?", value) else []
    return [float(value)]


@pytest.mark.parametrize("seed", sorted(MODULES))
def test_every_number_names_its_seed_and_where_it_is_printed(seed):
    module = MODULES[seed]
    numbers = sources.numbers(module)
    assert numbers and module.SEED == seed
    for name, number in numbers.items():
        assert number.seed == seed and number.where.strip() and number.cite.startswith(seed), name
    with pytest.raises(ValueError, match="where"):
        sources.Number(seed, " ", 1.0)


@pytest.mark.parametrize("seed", ["000", "001", "003"])
def test_the_tables_numbers_are_printed_in_the_seed_text(seed):
    files = sorted(SEEDS.glob(f"{seed}_*.txt"))
    if not files:
        pytest.skip(f"no seed text {seed} under {SEEDS} (set RGLT_SEEDS)")
    text = files[0].read_text().replace("−", "-")
    for name, number in sources.numbers(MODULES[seed]).items():
        if not number.where.startswith(("Table", "App. Table")):
            continue
        missing = [v for v in _floats(number.value)
                   if not any(f.format(v) in text or f.format(abs(v)) in text for f in ("{:.2f}", "{:.3f}", "{:.4f}", "{:g}"))]
        assert not missing, f"{seed} {name}: {missing[:5]} not found in {files[0].name}"


def test_the_experiments_use_the_sources_numbers():
    assert imp_flow_tasks.TABLE_2 is redman2022.TABLE_2.value and imp_flow_tasks.TABLE_5 is redman2022.TABLE_5.value
    assert imp_flow_transformer.TABLE_3 is redman2022.TABLE_3.value and imp_flow_depth.PAPER is redman2022.STAGE_TABLES.value
    assert rg_flow.REPORT_TABLE1 is hu2022.TABLE_1.value and rg_flow_budget.REPORT_BPD == 1.8562
    assert rg_flow_budget.REPORT_IMAGES == 60 * 90000 and imp_resume.LOTTERY_POOLS_REMAINING is yin2023.REMAINING.value
    assert tickets_compression.DEEP_COMPRESSION is lth_essay.DEEP_COMPRESSION.value


def test_the_lottery_pools_quotes_agree_with_tables_6_7():
    for model, (lp, lt) in yin2023.TABLES_6_7.value.items():
        lp, lt = np.array(lp), np.array(lt)
        assert len(lp) == len(lt) == len(yin2023.REMAINING.value)
        best = lt.max()
        assert lottery_pools.PAPER_REGIME[model] == f"{lt[0]:.2f} against {best:.2f}: {best - lt[0]:.2f}"
        assert f"{lp[0] - lt[0]:.2f}" in lottery_pools.PAPER_DENSE[model]
        assert f"{yin2023.DENSE_GAIN.value[model]:.2f}%" in lottery_pools.PAPER_DENSE[model]
        assert f"{yin2023.OOD_GAIN.value[model]:.2f}%" in lottery_pools.PAPER_OOD[model]
    lp, lt = (np.array(v) for v in yin2023.TABLES_6_7.value["resnet18"])
    assert f"{lp[-1]:.2f} against {lt[-1]:.2f}" in lottery_pools.PAPER_SPARSEST["resnet18"]
    assert np.allclose(yin2023.paper_density(), 100 * 0.8 ** np.arange(19), atol=0.006)


def test_the_essays_published_numbers_are_the_ones_its_claims_quote():
    from rglt.experiments import tickets_low_data, tickets_structured
    assert f"{lth_essay.CHEN_RUNNING_TIME.value}%" in tickets_structured.CHEN
    low, high = lth_essay.VARMA_PER_CLASS.value
    assert f"{low}-{high}" in tickets_low_data.VARMA
    assert [name for _, _, name, _ in lth_essay.CLAIMS.value] == list(
        __import__("rglt.experiments._chapters", fromlist=["CHAPTERS"]).CHAPTERS[5])
