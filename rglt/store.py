"""The results cache: every number the book shows comes from here, with its provenance.

A result lives at ``results/<experiment>/<profile>.json`` (provenance and scalars) beside
``<profile>.npz`` (arrays, when there are any). Smoke results go to a temporary directory and are
never committed. A cached result is reused only while its config hash and experiment version match
the code; ``RGLT_RERUN=1`` forces a rerun.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import rglt

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Result:
    """An experiment's outputs (``data``) and how they were made (``provenance``)."""

    experiment: str
    profile: str
    data: dict[str, Any]
    provenance: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def results_root() -> Path:
    """Where committed results live: ``RGLT_RESULTS`` or ``<repo>/results``."""
    return Path(os.environ.get("RGLT_RESULTS") or REPO_ROOT / "results")


def cache_dir(profile: str) -> Path:
    """The directory holding one profile's results; smoke results stay out of the repository."""
    rglt.check_profile(profile)
    if profile == "smoke":
        return Path(os.environ.get("RGLT_SMOKE_CACHE") or Path(tempfile.gettempdir()) / "rglt-smoke")
    return results_root()


def config_hash(config: Any) -> str:
    """A short, stable hash of a frozen-dataclass config (its fields, in order, as JSON)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance; got {type(config).__name__}")
    text = json.dumps(dataclasses.asdict(config), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def paths(experiment: str, profile: str) -> tuple[Path, Path]:
    base = cache_dir(profile) / experiment
    return base / f"{profile}.json", base / f"{profile}.npz"


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "rglt", "kernels"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")


def _device() -> str:
    import torch

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


def provenance(module: Any, profile: str, config: Any, wall_time_s: float) -> dict[str, Any]:
    """Everything needed to tell where a result came from and whether it is stale."""
    import torch

    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return {
        "experiment": module.NAME,
        "experiment_version": module.VERSION,
        "profile": profile,
        "config": dataclasses.asdict(config),
        "config_hash": config_hash(config),
        "rglt_version": rglt.__version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "triton": triton_version,
        "device": _device(),
        "wall_time_s": round(wall_time_s, 2),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(result: Result) -> Path:
    """Write a result atomically: arrays to ``.npz`` first, then the ``.json`` that points at them."""
    json_path, npz_path = paths(result.experiment, result.profile)
    arrays = {k: v for k, v in result.data.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in result.data.items() if not isinstance(v, np.ndarray)}
    if arrays:
        _atomic_write(npz_path, lambda f: np.savez_compressed(f, **arrays))
    else:
        npz_path.unlink(missing_ok=True)
    doc = {"provenance": result.provenance, "arrays": sorted(arrays), "data": scalars}
    text = json.dumps(doc, indent=1, sort_keys=False) + "\n"
    _atomic_write(json_path, lambda f: f.write(text.encode()))
    return json_path


def load(experiment: str, profile: str) -> Result | None:
    """The stored result of one experiment at one profile, or None when there is none."""
    json_path, npz_path = paths(experiment, profile)
    if not json_path.exists():
        return None
    doc = json.loads(json_path.read_text())
    data = dict(doc["data"])
    if doc["arrays"]:
        with np.load(npz_path, allow_pickle=False) as npz:
            data.update({k: npz[k] for k in doc["arrays"]})
    return Result(experiment, profile, data, doc["provenance"])


def is_fresh(result: Result, module: Any, config: Any) -> bool:
    """True when a stored result was made by this experiment version with this config."""
    prov = result.provenance
    return prov.get("config_hash") == config_hash(config) and prov.get("experiment_version") == module.VERSION


def rerun_requested() -> bool:
    return os.environ.get("RGLT_RERUN", "").strip().lower() in {"1", "true", "yes"}


def load_or_run(experiment: str, profile: str | None = None, *, rerun: bool | None = None) -> Result:
    """The experiment's result at ``profile`` (default: :func:`rglt.profile`).

    A fresh stored result is returned as it is; otherwise the experiment runs with the profile's
    config and its result is stored (under ``results/`` for cpu and gpu, a temporary directory for
    smoke). ``rerun=True`` or ``RGLT_RERUN=1`` forces a run.
    """
    from rglt import experiments

    module = experiments.get(experiment)
    profile = rglt.check_profile(profile) if profile is not None else rglt.profile()
    config = module.CONFIGS[profile]
    rerun = rerun_requested() if rerun is None else rerun
    if not rerun:
        stored = load(experiment, profile)
        if stored is not None and is_fresh(stored, module, config):
            return stored
    start = time.perf_counter()
    data = module.run(config)
    result = Result(experiment, profile, data, provenance(module, profile, config, time.perf_counter() - start))
    save(result)
    print(f"[rglt] ran {experiment} at profile {profile} in {result.provenance['wall_time_s']:.1f} s; "
          f"stored in {paths(experiment, profile)[0]}", file=sys.stderr)
    return load(experiment, profile)
