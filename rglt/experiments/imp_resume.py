"""IMP survives being killed: a run SIGKILLed in the middle of a level resumes to the same tickets.

One :class:`~rglt.prune.TicketRun` (IMP with rewinding of a 1D ResNet-20 on MNIST-1D at the cpu
profile), trained three times through the ticket cache, each in a cache of its own so that nothing
is shared between them:

1. uninterrupted: ``python -m rglt tickets`` in its own process, into cache A;
2. the same command into cache B, in parallel with 1, SIGKILLed partway (``kill_fraction`` of a
   level's measured duration) into level ``kill_level``: a real kill of a real training process;
3. resumed on cache B by the runner (:func:`rglt.prune.run_all`), which trains only what is missing.

The result records, per level, density, test accuracy and whether B's masks and weights equal A's.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rglt.claims import Claim, Rule
from rglt.data.tasks import Task
from rglt.identity import unhashed
from rglt.prune import TicketStore, run_all, use_cache
from rglt.prune.imp import IMPConfig
from rglt.prune.runs import ModelSpec, TicketRun
from rglt.stats import Interval
from rglt.train import TrainConfig
from rglt.validate import check_int, check_real, require
from rglt.sources import yin2023

NAME = "imp_resume"
VERSION = 2   # 2: trained through the ticket cache (one thread per run) and resumed by the runner


def _run(model: str, epochs: int, rounds: int, rewind_step: int, width: int = 16) -> TicketRun:
    return TicketRun(ModelSpec(model, width=width), Task("mnist1d"),
                     TrainConfig(epochs=epochs, batch_size=128, lr=0.1, weight_decay=5e-4, seed=0),
                     IMPConfig(rounds=rounds, fraction=0.2, rewind_step=rewind_step), prunable="no-fc")


@dataclasses.dataclass(frozen=True)
class Config:
    # rewind_step 21: ~5% of the 420 training steps (15 epochs of 3,600 / 128), as Lottery Pools rewinds
    run: TicketRun = _run("resnet20", epochs=15, rounds=10, rewind_step=21)
    kill_level: int = 5                # >= 3: a level's duration is measured on levels 1..kill_level-1
    kill_fraction: float = 0.5         # how far into the killed level, as a share of a level's time
    density_tol: float = unhashed(0.01)  # percentage points, against 003's weights-remaining schedule

    def __post_init__(self):
        require(isinstance(self.run, TicketRun), "run", "an rglt.prune.TicketRun", self.run, TypeError)
        check_int(self.kill_level, "kill_level", 3, self.run.imp.rounds)
        check_real(self.kill_fraction, "kill_fraction", 0, 1, low_open=True, high_open=True)


CONFIGS = {
    # Four levels before the kill, so a level's duration is a median of three (one level's time alone
    # jittered enough on a loaded machine that the kill sometimes missed its level).
    "smoke": Config(run=_run("resnet8", epochs=3, rounds=5, rewind_step=3, width=8), kill_level=4),
    "cpu": Config(),
    "gpu": Config(run=_run("resnet56", epochs=30, rounds=15, rewind_step=42), kill_level=8),
}


def _train_in_subprocess(spec: Path, cache: Path) -> subprocess.Popen:
    """``python -m rglt tickets spec`` against ``cache``: what a cluster task runs for one run."""
    env = dict(os.environ, RGLT_CACHE=str(cache), RGLT_PROGRESS="0")
    return subprocess.Popen([sys.executable, "-m", "rglt", "tickets", str(spec)], env=env,
                            stdout=subprocess.DEVNULL)


def _wait(process: subprocess.Popen, what: str) -> None:
    if process.wait() != 0:
        raise RuntimeError(f"{what} failed with exit code {process.returncode}")


def _finished_at(store, levels) -> list[float]:
    return [(store.root / f"level_{k:03d}" / "meta.json").stat().st_mtime for k in levels]


def run(config: Config) -> dict:
    run_ = config.run
    k = config.kill_level
    with tempfile.TemporaryDirectory(prefix="rglt-imp-resume-") as tmp:
        spec = Path(tmp) / "run.json"
        spec.write_text(run_.to_json())
        whole_cache, killed_cache = Path(tmp) / "whole", Path(tmp) / "killed"
        start = time.perf_counter()
        whole = _train_in_subprocess(spec, whole_cache)
        killed = _train_in_subprocess(spec, killed_cache)
        try:
            store_b = TicketStore(killed_cache / "tickets" / run_.label)
            while k - 1 not in store_b.levels():
                if killed.poll() is not None:
                    raise RuntimeError(f"the run to be killed ended before level {k} (code {killed.returncode})")
                time.sleep(0.05)
            # A level's duration from the killed run's own levels 1..k-1 (level 0 also loads the data).
            level_s = float(np.median(np.diff(_finished_at(store_b, range(1, k)))))
            time.sleep(config.kill_fraction * level_s)
            alive_at_kill = killed.poll() is None
            killed.send_signal(signal.SIGKILL)
            killed.wait()
            levels_after_kill = store_b.levels()
            leftovers = sorted(p.name for p in store_b.root.iterdir() if p.name.startswith(".level_"))

            resumed_at = time.perf_counter()
            with use_cache(killed_cache):
                run_all([run_], workers=1)
            wall_resumed = time.perf_counter() - resumed_at
            _wait(whole, "the uninterrupted run")
            wall_whole = time.perf_counter() - start
        finally:  # on any failure, no training process outlives its temporary cache
            for process in (whole, killed):
                if process.poll() is None:
                    process.kill()
                    process.wait()

        store_a = TicketStore(whole_cache / "tickets" / run_.label)
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
        "run_key": run_.key,
        "levels": np.array(levels), "density": np.array(density),
        "accuracy_uninterrupted": np.array(acc_a), "accuracy_resumed": np.array(acc_b),
        "masks_equal": np.array(masks_equal), "weights_equal": np.array(weights_equal),
        "level_s": round(level_s, 2), "killed_after_s": round(config.kill_fraction * level_s, 2),
        "alive_at_kill": alive_at_kill, "levels_after_kill": levels_after_kill,
        "killed_mid_level": alive_at_kill and levels_after_kill == list(range(k)),
        "partial_levels_left": leftovers,
        "wall_uninterrupted_s": round(wall_whole, 1), "wall_resumed_s": round(wall_resumed, 1),
    }


# "Weights Remaining%" of 003's Tables 6-7 (IMP at 20% per iteration), as printed (rglt.sources.yin2023).
LOTTERY_POOLS_REMAINING = yin2023.REMAINING.value
ALGORITHM_1 = "003 Algorithm 1 (IMP with rewinding)"
NO_NUMBER = "no number: 003 never interrupts IMP; resuming is this book's requirement (DESIGN.md)"


EXACT = "exact: a deterministic outcome of one run, no seed spread"


def _schedule(config: Config) -> tuple[np.ndarray, str]:
    """003's weights remaining (%) for this config's pruning rate, and how the source gives it."""
    fraction, n = config.run.imp.fraction, config.run.imp.rounds + 1
    if fraction == 0.2:
        n = min(n, len(LOTTERY_POOLS_REMAINING))
        return (np.asarray([float(v) for v in LOTTERY_POOLS_REMAINING[:n]]),
                "Weights Remaining%: " + ", ".join(LOTTERY_POOLS_REMAINING[:n]))
    return 100 * (1 - fraction) ** np.arange(n), f"003 quotes the schedule of p = 0.2; here p = {fraction}: 100 (1 - p)^t %"


def rules(config: Config) -> tuple[Rule, ...]:
    k, fraction = config.kill_level, config.run.imp.fraction
    return (
        Rule("killed_mid_level", f"the second run was SIGKILLed in the middle of level {k}", ALGORITHM_1, NO_NUMBER,
             f"1 when the run was alive at the kill with levels 0..{k - 1} complete and no later one, else 0",
             EXACT, low=0.5),
        Rule("masks_equal", "resumed, the killed run's masks equal the uninterrupted run's at every level",
             f"{ALGORITHM_1}, line 3 (prune, update the mask)", NO_NUMBER,
             "levels whose masks differ, bit for bit", EXACT, high=0.5),
        Rule("weights_equal", "resumed, its trained weights and test accuracies equal the uninterrupted run's at every level",
             f"{ALGORITHM_1}, line 4 (train m ⊙ θ_j)", NO_NUMBER,
             "levels whose weights or test accuracy differ, bit for bit", EXACT, high=0.5),
        Rule("density_schedule",
             f"each IMP iteration keeps {1 - fraction:.0%} of the remaining weights (pruning rate p = {fraction})",
             "003 Algorithm 1 (pruning rate p); Tables 6-7 (weights remaining)", _schedule(config)[1],
             "largest gap to the source's weights remaining over the levels (percentage points)", EXACT,
             high=config.density_tol),
    )


def checks(result, config: Config) -> list[Claim]:
    """Whether the killed run was killed mid-level and resumed to the same tickets, level by level, and
    whether IMP's density follows 003's schedule. ``result``: the stored result (or a dict of its data)."""
    by_id = {r.id: r for r in rules(config)}
    levels = [int(k) for k in np.asarray(result["levels"])]
    differ = lambda key: [k for k, same in zip(levels, np.asarray(result[key])) if not same]  # noqa: E731
    k = config.kill_level
    after = [int(v) for v in result["levels_after_kill"]]
    n = len(levels)
    out = [by_id["killed_mid_level"].judge(
        Interval.exact(1.0 if result["killed_mid_level"] else 0.0),
        ours=f"{'alive' if result['alive_at_kill'] else 'already ended'} at the kill, {result['killed_after_s']} s into "
             f"level {k} (a level takes {result['level_s']} s); complete levels after it: {after}")]
    masks = differ("masks_equal")
    out.append(by_id["masks_equal"].judge(Interval.exact(len(masks), n),
                                          ours=f"equal at {n - len(masks)} of {n} levels (0..{levels[-1]})"
                                               + (f"; differ at {masks}" if masks else "")))
    weights, accuracy = differ("weights_equal"), [
        lvl for lvl, a, b in zip(levels, result["accuracy_uninterrupted"], result["accuracy_resumed"]) if a != b]
    out.append(by_id["weights_equal"].judge(
        Interval.exact(len(set(weights) | set(accuracy)), n),
        ours=f"weights equal at {n - len(weights)} of {n} levels, test accuracy at {n - len(accuracy)} of {n}"))
    density = 100 * np.asarray(result["density"], dtype=float)
    expected = _schedule(config)[0]
    m = min(len(density), len(expected))
    gap = np.abs(density[:m] - expected[:m])
    out.append(by_id["density_schedule"].judge(
        Interval.exact(float(gap.max()), m),
        ours=", ".join(f"{v:.2f}" for v in density[:m]) + f" %; largest gap at level {int(np.argmax(gap))}"))
    return out
