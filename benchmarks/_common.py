"""What the benchmark scripts share: the device's name, git state for provenance, atomic JSON writes."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def device_kind(device: str) -> tuple[str, str]:
    """(a file-name-safe kind such as "cpu" or "cuda-nvidia-h100-80gb-hbm3", the device's name)."""
    import torch
    if device == "cuda":
        name = torch.cuda.get_device_name()
        return "cuda-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"), name
    return "cpu", platform.processor() or platform.machine()


def git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
