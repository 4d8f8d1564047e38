"""What the benchmark scripts share: the device's name and atomic JSON writes. Provenance is
``rglt.store.environment()``, the same as every experiment result's."""
from __future__ import annotations

import json
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def device_kind(device: str) -> tuple[str, str]:
    """(a file-name-safe kind such as "cpu" or "cuda-nvidia-h100-80gb-hbm3", the device's name)."""
    import torch
    if device == "cuda":
        name = torch.cuda.get_device_name()
        return "cuda-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"), name
    return "cpu", platform.processor() or platform.machine()


def write_json(path: Path, data: dict) -> None:
    """``data`` as indented JSON, written atomically (rglt.storage.atomic_write: the one helper for that)."""
    from rglt.storage import atomic_write
    atomic_write(path, json.dumps(data, indent=2) + "\n")


def save(out: Path | None, data: dict) -> None:
    """Write ``data`` to ``out``, or say that a ``--quick`` run (``out`` None) keeps nothing."""
    if out is None:
        print("--quick: nothing written (pass --output to keep the results)")
        return
    write_json(out, data)
    print(f"wrote {out}")
