"""What the benchmark scripts share beyond the harness (rglt.benchmark): how a run ends, and a time budget."""
from __future__ import annotations

import time
from pathlib import Path

from rglt import benchmark


def save(out: Path | None, data: dict, provenance: dict) -> None:
    """Write the record to ``out``, or say that a ``--quick`` run (``out`` None) keeps nothing."""
    if out is None:
        print("--quick: nothing written (pass --output to keep the results)")
        return
    print(f"wrote {benchmark.write_record(out, data, provenance)}")


class Budget:
    """``--budget`` seconds for a script's cases (None: no limit), so that a short GPU session cannot be
    spent by one slow case: a case may run for what is left (at most ``per_case`` seconds), and once it
    is spent the remaining cases are skipped and recorded as such."""

    def __init__(self, seconds: float | None, per_case: float | None = None):
        if (seconds is not None and seconds <= 0) or (per_case is not None and per_case <= 0):
            raise ValueError(f"budget and per-case seconds must be > 0; got {seconds!r}, {per_case!r}")
        self.seconds, self.per_case, self.start = seconds, per_case, time.monotonic()

    def left(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.monotonic() - self.start)

    def timeout(self) -> float | None:
        """The next case's timeout for rglt.benchmark.run_case (None: no limit)."""
        limits = [x for x in (self.left(), self.per_case) if x is not None]
        return min(limits) if limits else None

    def spent(self) -> str | None:
        """Why the next case is skipped (under 1 s left: not worth a process start), or None."""
        left = self.left()
        return None if left is None or left >= 1 else f"the script's --budget of {self.seconds:g} s was spent"
