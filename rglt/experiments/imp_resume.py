"""IMP survives being killed: a run SIGKILLed in the middle of a level resumes to the same tickets.

Three runs of IMP with rewinding (1D ResNet-20 on MNIST-1D at the cpu profile), each in its own
process, so the kill is a real SIGKILL of a real training process:

1. uninterrupted, into store A;
2. into store B, killed partway (``kill_fraction`` of a level's measured duration) into level
   ``kill_level``;
3. resumed on store B (a fresh process), to the end.

The result records, per level, density, test accuracy and whether B's masks and weights equal A's.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "imp_resume"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class Config:
    model: str = "resnet20"
    width: int = 16
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    rounds: int = 10
    fraction: float = 0.2
    rewind_step: int = 21              # ~5% of the 420 training steps, as Lottery Pools rewinds
    kill_level: int = 5
    kill_fraction: float = 0.5         # how far into the killed level, as a share of a level's time
    seed: int = 0
    threads: int = 2


CONFIGS = {
    "smoke": Config(model="resnet8", width=8, epochs=2, rounds=3, rewind_step=3, kill_level=2),
    "cpu": Config(),
    "gpu": Config(model="resnet56", epochs=30, rounds=15, rewind_step=42, kill_level=8),
}


def _run_imp(config: Config, store_dir: str) -> None:
    """One IMP run (in this process) into ``store_dir``; resumes if the store holds levels."""
    import torch

    from rglt.data import mnist1d_splits
    from rglt.models import build, prunable_parameters
    from rglt.prune import IMPConfig, imp
    from rglt.train import TrainConfig

    torch.set_num_threads(config.threads)
    splits = mnist1d_splits(split_seed=config.seed)
    make = lambda: build(config.model, dim=1, in_channels=1, num_classes=10, width=config.width, seed=config.seed)
    prunable = lambda model: [name for name, _ in prunable_parameters(model)]
    imp(make, prunable, splits.train.tensors,
        TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                    weight_decay=config.weight_decay, seed=config.seed),
        IMPConfig(rounds=config.rounds, fraction=config.fraction, rewind_step=config.rewind_step),
        store_dir, evaluate_on=splits.test.tensors)


def _spawn(config: Config, store_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, RGLT_PROGRESS="0")
    return subprocess.Popen([sys.executable, "-m", __name__, json.dumps(dataclasses.asdict(config)), str(store_dir)],
                            env=env)


def _wait(process: subprocess.Popen, what: str) -> None:
    if process.wait() != 0:
        raise RuntimeError(f"{what} failed with exit code {process.returncode}")


def run(config: Config) -> dict:
    from rglt.prune import TicketStore

    with tempfile.TemporaryDirectory(prefix="rglt-imp-resume-") as tmp:
        whole, killed = Path(tmp) / "whole", Path(tmp) / "killed"
        start = time.perf_counter()
        _wait(_spawn(config, whole), "the uninterrupted run")
        wall_whole = time.perf_counter() - start

        # A level's duration, from when the uninterrupted run finished each level.
        finished = [(whole / f"level_{k:03d}" / "meta.json").stat().st_mtime for k in TicketStore(whole).levels()]
        level_s = float(np.median(np.diff(finished)))
        # Kill the second run kill_fraction of a level into level kill_level.
        process = _spawn(config, killed)
        store_b = TicketStore(killed)
        while config.kill_level - 1 not in store_b.levels():
            if process.poll() is not None:
                raise RuntimeError(f"the run to be killed ended before level {config.kill_level} (code {process.returncode})")
            time.sleep(0.05)
        time.sleep(config.kill_fraction * level_s)
        alive_at_kill = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        levels_after_kill = store_b.levels()
        leftovers = sorted(p.name for p in killed.iterdir() if p.name.startswith(".level_"))

        start = time.perf_counter()
        _wait(_spawn(config, killed), "the resumed run")
        wall_resumed = time.perf_counter() - start

        store_a = TicketStore(whole)
        levels = store_a.levels()
        masks_equal, weights_equal, density, acc_a, acc_b = [], [], [], [], []
        for level in levels:
            a, b = store_a.load(level), store_b.load(level)
            masks_equal.append(all(bool((a.masks[n] == b.masks[n]).all()) for n in a.masks))
            weights_equal.append(all(bool((a.weights[n] == b.weights[n]).all()) for n in a.weights))
            density.append(a.density)
            acc_a.append(a.metrics["accuracy"])
            acc_b.append(b.metrics["accuracy"])
    return {
        "levels": np.array(levels), "density": np.array(density),
        "accuracy_uninterrupted": np.array(acc_a), "accuracy_resumed": np.array(acc_b),
        "masks_equal": np.array(masks_equal), "weights_equal": np.array(weights_equal),
        "level_s": round(level_s, 2), "killed_after_s": round(config.kill_fraction * level_s, 2),
        "alive_at_kill": alive_at_kill, "levels_after_kill": levels_after_kill,
        "killed_mid_level": alive_at_kill and levels_after_kill == list(range(config.kill_level)),
        "partial_levels_left": leftovers,
        "wall_uninterrupted_s": round(wall_whole, 1), "wall_resumed_s": round(wall_resumed, 1),
    }


if __name__ == "__main__":
    _run_imp(Config(**json.loads(sys.argv[1])), sys.argv[2])
