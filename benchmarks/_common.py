"""What the benchmark scripts share beyond the harness (rglt.benchmark): how a run ends."""
from __future__ import annotations

from pathlib import Path

from rglt import benchmark


def save(out: Path | None, data: dict, provenance: dict) -> None:
    """Write the record to ``out``, or say that a ``--quick`` run (``out`` None) keeps nothing."""
    if out is None:
        print("--quick: nothing written (pass --output to keep the results)")
        return
    print(f"wrote {benchmark.write_record(out, data, provenance)}")
