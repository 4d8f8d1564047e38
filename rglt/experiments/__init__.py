"""One module per chapter experiment, all following one contract.

Each module defines:

- ``NAME`` and ``VERSION`` (bump it when a change to ``run`` changes what the results mean);
- ``Config``, a frozen dataclass. Its ordinary fields are the **science**: everything that changes what
  ``run`` computes (sizes, steps, seeds, hyperparameters, and every ``TicketRun`` it uses), and
  :func:`rglt.store.config_hash` covers them and nothing else. Fields that do not change the science
  (workers, threads, progress bars, and the claims' tolerances and margins) are declared with
  ``rglt.store.unhashed(default)``: they live beside the science and are stored in the provenance, but
  changing them keeps a stored result fresh;
- ``CONFIGS``: one config per profile (``smoke``, ``cpu``, ``gpu``);
- ``run(config) -> dict``: arrays and JSON-able scalars, cached by :func:`rglt.store.load_or_run`;
- ``checks(result, config) -> list[rglt.report.Claim]``: the experiment's claims, one per row, each
  naming the source's number (quoted, with the seed file and its table, figure or section), ours, the
  tolerance (from the config's unhashed fields) and its own verdict (reproduced, partly, or not with
  the measured reason). ``result`` is a stored result or a dict of its data. A chapter shows them with
  :func:`rglt.report.claims_table`; they are never reduced to one word, and never asserted.

``tests/test_experiment_contract.py`` holds every experiment to this: each has a test in which a
result that makes a claim false turns that claim's verdict.
"""
from __future__ import annotations

import importlib
from types import ModuleType

EXPERIMENTS = {
    "imp_flow_depth": "rglt.experiments.imp_flow_depth",
    "imp_flow_tasks": "rglt.experiments.imp_flow_tasks",
    "imp_flow_transformer": "rglt.experiments.imp_flow_transformer",
    "imp_projection": "rglt.experiments.imp_projection",
    "imp_resume": "rglt.experiments.imp_resume",
    "ising_rg": "rglt.experiments.ising_rg",
    "lottery_pools": "rglt.experiments.lottery_pools",
    "lottery_pools_analysis": "rglt.experiments.lottery_pools_analysis",
    "rg_flow": "rglt.experiments.rg_flow",
    "rg_flow_budget": "rglt.experiments.rg_flow_budget",
    "tickets_attention": "rglt.experiments.tickets_attention",
    "tickets_compression": "rglt.experiments.tickets_compression",
    "tickets_distillation": "rglt.experiments.tickets_distillation",
    "tickets_ensembles": "rglt.experiments.tickets_ensembles",
    "tickets_fairness": "rglt.experiments.tickets_fairness",
    "tickets_geometry": "rglt.experiments.tickets_geometry",
    "tickets_lottery": "rglt.experiments.tickets_lottery",
    "tickets_low_data": "rglt.experiments.tickets_low_data",
    "tickets_mixing": "rglt.experiments.tickets_mixing",
    "tickets_recurrent": "rglt.experiments.tickets_recurrent",
    "tickets_structured": "rglt.experiments.tickets_structured",
    "tickets_transfer": "rglt.experiments.tickets_transfer",
}


def names() -> list[str]:
    return sorted(EXPERIMENTS)


def get(name: str) -> ModuleType:
    """The experiment module called ``name``; a ValueError lists the known ones otherwise."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(names())}; got {name!r}")
    return importlib.import_module(EXPERIMENTS[name])
