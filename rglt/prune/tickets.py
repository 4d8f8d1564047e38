"""The on-disk ticket store of an IMP run: one directory per level, each written atomically.

Layout::

    <root>/run.json            the run's configs; a different run refuses to resume here
    <root>/rewind.pt           the rewind point theta_k (state dict), shared by every level
    <root>/level_000/          dense training (mask all ones)
        weights.pt             state dict after training
        masks.pt               {param name: bool mask}
        meta.json              level, density, metrics
    <root>/level_001/ ...

A level directory is built under a temporary name and renamed into place, so it either exists
complete or not at all: an interrupted run loses at most the level in progress.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch


@dataclasses.dataclass(frozen=True)
class Ticket:
    level: int
    weights: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    density: float
    metrics: dict


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of prunable weights that survive."""
    total = sum(m.numel() for m in masks.values())
    return sum(int(m.sum()) for m in masks.values()) / total if total else 1.0


class TicketStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _level_dir(self, level: int) -> Path:
        return self.root / f"level_{level:03d}"

    def levels(self) -> list[int]:
        """The complete levels, in order."""
        if not self.root.exists():
            return []
        return sorted(int(p.name[6:]) for p in self.root.glob("level_[0-9][0-9][0-9]") if (p / "meta.json").exists())

    def bind(self, run: dict) -> None:
        """Record the run's configs, or check that they match the ones already recorded."""
        path = self.root / "run.json"
        text = json.dumps(run, sort_keys=True, indent=1, default=repr)
        if path.exists():
            if json.loads(path.read_text()) != json.loads(text):
                raise ValueError(f"the ticket store {self.root} holds a run with other settings; "
                                 "use another directory or delete it")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_bytes(path, text.encode())

    def save_rewind(self, state: dict[str, torch.Tensor]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "rewind.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.root / "rewind.pt")

    def rewind(self) -> dict[str, torch.Tensor]:
        return torch.load(self.root / "rewind.pt", weights_only=True)

    def save(self, level: int, weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
             metrics: dict) -> None:
        final = self._level_dir(level)
        if final.exists():
            raise FileExistsError(f"level {level} already exists in {self.root}")
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".level_{level:03d}."))
        try:
            torch.save({k: v.detach().cpu() for k, v in weights.items()}, tmp / "weights.pt")
            torch.save({k: v.cpu() for k, v in masks.items()}, tmp / "masks.pt")
            meta = {"level": level, "density": density(masks), "metrics": metrics}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def load(self, level: int) -> Ticket:
        path = self._level_dir(level)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no complete level {level} in {self.root} (complete: {self.levels()})")
        meta = json.loads((path / "meta.json").read_text())
        return Ticket(level, torch.load(path / "weights.pt", weights_only=True),
                      torch.load(path / "masks.pt", weights_only=True), meta["density"], meta["metrics"])


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
