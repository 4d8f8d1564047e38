"""One module per chapter experiment.

Each module defines ``NAME``, ``VERSION`` (bump it when the code changes what the results mean),
a frozen ``Config`` dataclass, ``CONFIGS`` (one config per profile) and ``run(config) -> dict``
returning arrays and JSON-able scalars. :func:`rglt.store.load_or_run` caches what ``run`` returns.
"""
from __future__ import annotations

import importlib
from types import ModuleType

EXPERIMENTS = {
    "imp_resume": "rglt.experiments.imp_resume",
    "ising_rg": "rglt.experiments.ising_rg",
    "rg_flow": "rglt.experiments.rg_flow",
}


def names() -> list[str]:
    return sorted(EXPERIMENTS)


def get(name: str) -> ModuleType:
    """The experiment module called ``name``; a ValueError lists the known ones otherwise."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(names())}; got {name!r}")
    return importlib.import_module(EXPERIMENTS[name])
