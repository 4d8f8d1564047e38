"""Where rglt keeps what it stores, outside the installed package.

- The **checkout**: the repository rglt runs from, when it runs from one (an editable install or a
  source tree); None for an installed wheel. Its ``results/`` holds the book's committed results.
- **Results** (:func:`results_root`): ``RGLT_RESULTS``; else the checkout's ``results/``; else
  ``$XDG_DATA_HOME/rglt/results`` (``~/.local/share/rglt/results``).
- **The ticket cache** (:func:`cache_root`): ``RGLT_CACHE``, else ``~/.cache/rglt``; never inside the
  checkout (tickets are large and never committed).

``python -m rglt where`` prints them.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def checkout_root() -> Path | None:
    """The repository holding this rglt (its ``pyproject.toml`` beside a ``results/`` folder), or None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "results").is_dir() else None


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def results_root() -> Path:
    """Where results of the cpu and gpu profiles are stored (see the module docstring)."""
    if (path := _env_path("RGLT_RESULTS")) is not None:
        if path.exists() and not path.is_dir():
            raise ValueError(f"RGLT_RESULTS must name a directory; {path} is a file")
        return path
    if (root := checkout_root()) is not None:
        return root / "results"
    return (_env_path("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rglt" / "results"


def cache_root() -> Path:
    """``$RGLT_CACHE`` or ``~/.cache/rglt``; a ValueError when it lies inside the checkout."""
    root = (_env_path("RGLT_CACHE") or Path.home() / ".cache" / "rglt").resolve()
    if root.exists() and not root.is_dir():
        raise ValueError(f"RGLT_CACHE must name a directory (the ticket cache); {root} is a file")
    checkout = checkout_root()
    if checkout is not None and (root == checkout or checkout in root.parents):
        raise ValueError(f"RGLT_CACHE must be outside the repository ({checkout}); got {root}: "
                         "tickets are large and never committed")
    return root


def benchmark_records_root() -> Path | None:
    """The checkout's ``benchmarks/results/`` (recorded timings of the hot paths), or None outside one."""
    root = checkout_root()
    return None if root is None else root / "benchmarks" / "results"
