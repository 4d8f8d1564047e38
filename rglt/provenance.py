"""Provenance: where and with what something ran, recorded by every result, branch and benchmark."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

import rglt
from rglt.paths import checkout_root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10).stdout.strip()


def git_state(paths: tuple[str, ...] = ("rglt", "kernels")) -> tuple[str, bool]:
    """(the checkout's HEAD commit or "unknown", whether ``paths`` in it hold uncommitted changes)."""
    root = checkout_root()
    if root is None:
        return "unknown", False
    try:
        return _git(root, "rev-parse", "HEAD") or "unknown", bool(_git(root, "status", "--porcelain", "--", *paths))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def device() -> str:
    """The GPU's name, or the CPU's model with its core and torch thread counts."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {cpu} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def environment(code: tuple[str, ...] = ("rglt", "kernels")) -> dict[str, Any]:
    """Where and with what something ran.

    ``git_commit`` is HEAD; ``git_dirty`` says whether the ``code`` paths (relative to the checkout)
    held uncommitted changes, so that a record never implies a commit it was not made from.
    """
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    commit, dirty = git_state(code)
    return {
        "rglt_version": rglt.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "triton": triton_version,
        "device": device(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
