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

from rglt.report import Claim, judged
from rglt.store import unhashed

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
    threads: int = unhashed(2)         # torch threads per run: execution only
    density_tol: float = unhashed(0.01)  # percentage points, against 003's weights-remaining schedule


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


# "Weights Remaining%" of 003's Tables 6-7 (IMP at 20% per iteration), as printed.
LOTTERY_POOLS_REMAINING = ("100", "80", "64", "51.20", "40.96", "32.77", "26.21", "20.97", "16.78", "13.42", "10.74",
                           "8.59", "6.87", "5.50", "4.40", "3.52", "2.81", "2.25", "1.80")
ALGORITHM_1 = "003 Algorithm 1 (IMP with rewinding)"
NO_NUMBER = "no number: 003 never interrupts IMP; resuming is this book's requirement (DESIGN.md)"


def checks(result, config: Config) -> list[Claim]:
    """Whether the killed run was killed mid-level and resumed to the same tickets, level by level, and
    whether IMP's density follows 003's schedule. ``result``: the stored result (or a dict of its data)."""
    levels = [int(k) for k in np.asarray(result["levels"])]
    differ = lambda key: [k for k, same in zip(levels, np.asarray(result[key])) if not same]
    k = config.kill_level
    after = [int(v) for v in result["levels_after_kill"]]
    out = [Claim(
        claim=f"the second run was SIGKILLed in the middle of level {k}",
        source=ALGORITHM_1, source_value=NO_NUMBER,
        ours=f"{'alive' if result['alive_at_kill'] else 'already ended'} at the kill, {result['killed_after_s']} s into "
             f"level {k} (a level takes {result['level_s']} s); complete levels after it: {after}",
        tolerance=f"alive at the kill, with levels 0..{k - 1} complete and no later one",
        **judged(bool(result["killed_mid_level"]), f"not killed mid-level: alive at the kill = "
                                                   f"{bool(result['alive_at_kill'])}, complete levels {after}"))]
    masks = differ("masks_equal")
    out.append(Claim(
        claim="resumed, the killed run's masks equal the uninterrupted run's at every level",
        source=f"{ALGORITHM_1}, line 3 (prune, update the mask)", source_value=NO_NUMBER,
        ours=f"equal at {len(levels) - len(masks)} of {len(levels)} levels (0..{levels[-1]})",
        tolerance="every level, bit for bit",
        **judged(not masks, f"the masks differ at level(s) {masks}")))
    weights, accuracy = differ("weights_equal"), [
        lvl for lvl, a, b in zip(levels, result["accuracy_uninterrupted"], result["accuracy_resumed"]) if a != b]
    out.append(Claim(
        claim="resumed, its trained weights and test accuracies equal the uninterrupted run's at every level",
        source=f"{ALGORITHM_1}, line 4 (train m ⊙ θ_j)", source_value=NO_NUMBER,
        ours=f"weights equal at {len(levels) - len(weights)} of {len(levels)} levels, test accuracy at "
             f"{len(levels) - len(accuracy)} of {len(levels)}",
        tolerance="every level, bit for bit",
        **judged(not weights and not accuracy,
                 f"the weights differ at level(s) {weights}, the test accuracy at level(s) {accuracy}")))
    density = 100 * np.asarray(result["density"], dtype=float)
    if config.fraction == 0.2:
        n = min(len(density), len(LOTTERY_POOLS_REMAINING))
        expected = np.asarray([float(v) for v in LOTTERY_POOLS_REMAINING[:n]])
        quoted = ", ".join(LOTTERY_POOLS_REMAINING[:n])
        source_value = f"Weights Remaining%: {quoted}"
    else:
        n = len(density)
        expected = 100 * (1 - config.fraction) ** np.arange(n)
        source_value = f"003 quotes the schedule of p = 0.2; here p = {config.fraction}: 100 (1 - p)^t %"
    gap = np.abs(density[:n] - expected)
    out.append(Claim(
        claim=f"each IMP iteration keeps {1 - config.fraction:.0%} of the remaining weights (pruning rate p = "
              f"{config.fraction})",
        source="003 Algorithm 1 (pruning rate p); Tables 6-7 (weights remaining)", source_value=source_value,
        ours=", ".join(f"{v:.2f}" for v in density[:n]) + " %",
        tolerance=f"within {config.density_tol} percentage points at each of the {n} levels",
        **judged(bool(np.all(gap <= config.density_tol)),
                 f"off by up to {gap.max():.3f} points (at level {int(np.argmax(gap))})")))
    return out


if __name__ == "__main__":
    _run_imp(Config(**json.loads(sys.argv[1])), sys.argv[2])
