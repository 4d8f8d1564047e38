"""The benchmark harness: running benchmark cases, timing them, and their records.

The scripts in ``benchmarks/`` share three pieces:

- **Cases in fresh processes** (:func:`run_case`, :func:`serve_case`): a script calls itself with
  ``--case JSON``; the child runs the case and prints its result as JSON on the last line of stdout.
  Each case starts cold (a new interpreter and an empty inductor cache), with the environment it is
  given (thread count, ``TRITON_INTERPRET``), so one case's allocations, caches and compilations never
  flatter the next.
- **Timing** (:func:`time_calls`, :func:`time_call`): on the CPU ``torch.utils.benchmark.Timer``, on
  CUDA ``triton.testing.do_bench``; median and interquartile range over the measured blocks.
- **Records** (:func:`write_record`, :func:`load_record`): ``benchmarks/results/<name>.json`` of the
  checkout, the record's data with its ``provenance`` (:func:`record_provenance`), written atomically
  and read back like an :class:`rglt.store.Result` (``.data``, ``record[key]``, ``.provenance``). A
  record judged by rules (:class:`rglt.claims.Rule`) carries them and their hash in its provenance
  (:func:`register_rules`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from rglt import claims
from rglt.paths import benchmark_records_root, checkout_root
from rglt.provenance import environment
from rglt.storage import DamagedFileError, atomic_write

CASE_FLAG = "--case"    # the hidden option by which a script runs one case (see serve_case)
DEVICES = ("cpu", "cuda")


# ---- cases in fresh processes ---------------------------------------------------------------------

class CaseError(RuntimeError):
    """A case whose process failed: ``stderr`` holds what it wrote there (the traceback)."""

    def __init__(self, message: str, stderr: str):
        super().__init__(message)
        self.stderr = stderr


def run_case(script: str | os.PathLike, case: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
             threads: int | None = None, timeout: float | None = None) -> Any:
    """Run ``python script --case <case as JSON>`` in a fresh process and return the JSON value it
    prints on its last line of stdout (the script answers with :func:`serve_case`).

    ``env``: variables added to this process's environment (e.g. ``TRITON_INTERPRET="1"``, read by
    Triton when it is imported, hence the fresh process). ``threads``: torch's intra-op threads there
    (``OMP_NUM_THREADS``, read when torch starts); None keeps torch's default. Every case gets an empty
    inductor cache, so a compile it times is cold. A process that fails, times out or prints no JSON
    raises :class:`CaseError` with the end of its stderr.
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an int >= 1 or None; got {threads!r}")
    text = json.dumps(case)
    what = f"{Path(script).name} {CASE_FLAG} {text}"
    child = dict(os.environ, **(env or {}))
    if threads is not None:
        child["OMP_NUM_THREADS"] = str(threads)
    # From a checkout, the child imports the same rglt and kernels as this process even when they are
    # not installed (as before the harness: the scripts put the checkout on PYTHONPATH).
    if (root := checkout_root()) is not None:
        child["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), child.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="rglt-bench-inductor-") as cache:
        child["TORCHINDUCTOR_CACHE_DIR"] = cache
        try:
            proc = subprocess.run([sys.executable, str(script), CASE_FLAG, text], env=child,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise CaseError(f"{what} ran past its {timeout} s:\n{stderr[-3000:]}", stderr) from None
    if proc.returncode != 0:
        raise CaseError(f"{what} failed with exit status {proc.returncode}:\n{proc.stderr[-3000:]}", proc.stderr)
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise CaseError(f"{what} printed no JSON result on its last line of stdout "
                        f"(stdout ends {proc.stdout[-300:]!r}):\n{proc.stderr[-3000:]}", proc.stderr) from None


def serve_case(worker: Callable[[Any], Any], case: str) -> None:
    """The child's side of :func:`run_case`: run ``worker`` on the case (the ``--case`` JSON text) and
    print its JSON-able result as the last line of stdout."""
    print(json.dumps(worker(json.loads(case))), flush=True)


# ---- timing ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per call, one entry per measured block (a block times ``number`` calls together)."""

    times_s: tuple[float, ...]
    number: int
    method: str

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s))

    @property
    def iqr_s(self) -> float:
        """Interquartile range of the per-call times (numpy's linear interpolation, as torch's)."""
        p25, p75 = np.percentile(self.times_s, [25, 75])
        return float(p75 - p25)


def timing_method(device: str) -> str:
    """How :func:`time_calls` times on ``device``, in words for a record's metadata."""
    if device == "cuda":
        return ("triton.testing.do_bench per round (CUDA events, L2 cache cleared before each call); "
                "median and IQR over the calls")
    return ("torch.utils.benchmark.Timer at the process's torch thread count: round 1 blocked_autorange "
            "(which picks the calls per block; its calibration calls are untimed), later rounds one timeit "
            "block each; median and IQR over the blocks' seconds per call")


def time_calls(calls: Mapping[str, Callable[[], Any]], *, device: str = "cpu", rounds: int = 3,
               min_run_time: float = 0.1) -> dict[str, Timing]:
    """Time each function in ``calls`` (no arguments; results discarded): ``rounds`` rounds, each
    measuring every function in turn, so that machine noise hits them alike.

    CPU: ``torch.utils.benchmark.Timer``. Round 1 is ``blocked_autorange(min_run_time)``: it picks how
    many calls a block needs for the timer's overhead to vanish and measures blocks for ``min_run_time``
    seconds; later rounds time one block of that size each. ``min_run_time=0`` times single calls (a
    slow step: one block per round). CUDA: each round is ``triton.testing.do_bench`` with
    ``min_run_time`` of timed calls, every call its own sample (CUDA events, L2 cleared before each).
    Warm-up the caller wants counted apart (a cold compile) is the caller's to do first.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an int >= 1; got {rounds!r}")
    if not min_run_time >= 0:
        raise ValueError(f"min_run_time must be >= 0 seconds; got {min_run_time!r}")
    if not calls or not all(callable(f) for f in calls.values()):
        raise TypeError("calls must be a non-empty mapping of names to functions of no arguments")
    times: dict[str, list[float]] = {name: [] for name in calls}
    if device == "cuda":
        from triton.testing import do_bench
        for _ in range(rounds):
            for name, fn in calls.items():
                ms = do_bench(fn, warmup=1, rep=1e3 * min_run_time, return_mode="all")
                times[name] += [t / 1e3 for t in ms]
        return {name: Timing(tuple(t), 1, timing_method(device)) for name, t in times.items()}

    from torch.utils.benchmark import Timer
    # Timer defaults to one thread; the benchmarks choose theirs for the process (run_case's threads).
    timers = {name: Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
              for name, fn in calls.items()}
    number = {}
    for name, timer in timers.items():
        first = timer.blocked_autorange(min_run_time=min_run_time)
        number[name] = first.number_per_run
        times[name] += first.times
    for _ in range(rounds - 1):
        for name, timer in timers.items():
            times[name] += timer.timeit(number[name]).times
    return {name: Timing(tuple(t), number[name], timing_method(device)) for name, t in times.items()}


def time_call(fn: Callable[[], Any], **kwargs) -> Timing:
    """:func:`time_calls` of one function."""
    return time_calls({"fn": fn}, **kwargs)["fn"]


# ---- records --------------------------------------------------------------------------------------

class DamagedRecordError(DamagedFileError):
    KIND = "benchmark record"


@dataclasses.dataclass(frozen=True)
class Record:
    """A benchmark record, shaped like :class:`rglt.store.Result`: ``data`` (the file's keys but
    ``provenance``) and ``provenance``. ``record[key]`` reads the file's keys, ``provenance`` included,
    so code written for the file's JSON reads a record as it is."""

    name: str
    path: Path
    data: dict[str, Any]
    provenance: dict[str, Any]
    # What report.provenance_table shows by default: the keys every record's provenance holds.
    provenance_keys: ClassVar[tuple[str, ...]] = ("git_commit", "git_dirty", "device", "torch", "threads", "date")

    def __getitem__(self, key: str) -> Any:
        return self.provenance if key == "provenance" else self.data[key]

    def __contains__(self, key: str) -> bool:
        return key == "provenance" or key in self.data


def device_kind(device: str) -> tuple[str, str]:
    """(a file-name-safe kind such as ``cpu`` or ``cuda-nvidia-h100-80gb-hbm3``, the device's name):
    records are named ``<benchmark>-<kind>``."""
    if device == "cuda":
        name = torch.cuda.get_device_name()
        return "cuda-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-"), name
    return "cpu", platform.processor() or platform.machine()


def record_provenance(device: str, code: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """A record's provenance: :func:`rglt.provenance.environment` (``code``: the paths whose uncommitted
    changes make it dirty), the device's name and kind (:func:`device_kind`), and ``extra``."""
    kind, name = device_kind(device)
    return dict(environment(code=code), device=name, device_kind=kind, **extra)


def records_root() -> Path:
    """The checkout's ``benchmarks/results/``; a FileNotFoundError outside a checkout."""
    root = benchmark_records_root()
    if root is None:
        raise FileNotFoundError("benchmark records live in benchmarks/results/ of an rglt checkout, and this rglt "
                                "is not running from one (an installed package): pass a record's path instead")
    return root


def record_path(name: str) -> Path:
    """``benchmarks/results/<name>.json`` of the checkout."""
    if not isinstance(name, str) or not name or "/" in name or name.endswith(".json"):
        raise ValueError(f"name must be a record's name such as 'masked_topk-cpu' (no folder, no .json); got {name!r}")
    return records_root() / f"{name}.json"


def record_names(pattern: str = "*") -> list[str]:
    """Names of the checkout's records matching the glob ``pattern`` (``rg_coupling-cpu*``), in the order
    of their file names (``rg_coupling-cpu-original.json`` before ``rg_coupling-cpu.json``, as ``ls``)."""
    return [p.stem for p in sorted(records_root().glob(f"{pattern}.json"))]


def write_record(path: str | os.PathLike, data: Mapping[str, Any], provenance: Mapping[str, Any]) -> Path:
    """Write ``provenance`` and ``data`` as one indented JSON object to ``path``, atomically."""
    if "provenance" in data:
        raise ValueError("data must not hold a 'provenance' key: pass the provenance as its own argument")
    if not isinstance(provenance, Mapping):
        raise TypeError(f"provenance must be a mapping; got {type(provenance).__name__}")
    return atomic_write(path, json.dumps({"provenance": dict(provenance), **data}, indent=2) + "\n")


def load_record(name: str | os.PathLike) -> Record:
    """A record by name (``masked_topk-cpu``: :func:`record_path`) or by path (a ``.json`` file).

    A missing file is a FileNotFoundError, a file that is not a JSON object with a ``provenance`` a
    :class:`DamagedRecordError`; both name the file."""
    path = Path(name) if isinstance(name, os.PathLike) or "/" in name or name.endswith(".json") else record_path(name)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"no benchmark record {path}: the scripts in benchmarks/ write them "
                                "(see benchmarks/README.md)") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DamagedRecordError(path, f"not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("provenance"), dict):
        raise DamagedRecordError(path, "not a JSON object with a 'provenance' object")
    provenance = doc.pop("provenance")
    return Record(path.stem, path, doc, provenance)


def register_rules(name: str | os.PathLike, rules, when: str) -> bool:
    """Add to a record made before rules were data the rules it is judged by: each as first registered
    (:meth:`rglt.claims.Rule.first`) under ``rules``, their hash under ``rules_hash``, and
    ``rules_registered`` saying ``when`` and that it was after the record. Nothing is retimed and nothing
    else changes (the file is rewritten only where it reads back exactly as :func:`write_record` writes).
    Returns False, leaving the file alone, when the record already has its rules."""
    record = load_record(name)
    if "rules" in record.provenance:
        return False
    text = record.path.read_text()
    doc = json.loads(text)
    if json.dumps(doc, indent=2) + "\n" != text:
        raise ValueError(f"{record.path} is not laid out as write_record writes it: left alone")
    stored = claims.rules_record(rules, first=True)
    doc["provenance"].update(rules=stored, rules_hash=claims.rules_hash(stored),
                             rules_registered=f"{when}, after the record: the rules were first written as data then")
    atomic_write(record.path, json.dumps(doc, indent=2) + "\n")
    return True
