"""The experiment registry: discovery of the experiment modules and the contract they meet."""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

PACKAGE = "rglt.experiments"
_PATH = [str(Path(__file__).parent)]


@runtime_checkable
class Experiment(Protocol):
    """The contract every experiment module meets (see the module docstring)."""

    NAME: str
    VERSION: int
    Config: type
    CONFIGS: Mapping[str, Any]
    run: Callable[[Any], dict]
    rules: Callable[[Any], tuple]
    checks: Callable[[Any, Any], list]


def names() -> list[str]:
    """Every experiment's name: the public modules of this package (none is imported to list them)."""
    return sorted(m.name for m in pkgutil.iter_modules(_PATH) if not m.name.startswith("_"))


def get(name: str) -> Experiment:
    """The experiment module called ``name``, checked against the contract; a ValueError lists the
    known names otherwise."""
    known = names()
    if name not in known:
        raise ValueError(f"experiment must be one of {', '.join(known)}; got {name!r}")
    module: ModuleType = importlib.import_module(f"{PACKAGE}.{name}")
    if not isinstance(module, Experiment) or module.NAME != name:
        missing = [a for a in Experiment.__annotations__ if not hasattr(module, a)]
        raise TypeError(f"rglt.experiments.{name} does not meet the experiment contract: "
                        + (f"it lacks {', '.join(missing)}" if missing else f"its NAME is {module.NAME!r}"))
    return module
