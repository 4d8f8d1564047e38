"""The results cache: every number the book shows comes from here, with its provenance.

A result is one unit on disk::

    results/<experiment>/<profile>.json              provenance, scalars, the arrays' file and checksums
    results/<experiment>/<profile>.<digest>.npz      the arrays (when there are any), named by content

The JSON is written last, by one atomic rename, and it names the arrays file it belongs to, so a
result is either the old one or the new one, never a mixture: a save killed half-way leaves the old
JSON pointing at the old arrays, and two processes saving at once each publish a complete result (an
exclusive lock on the experiment's directory orders them; the later one wins). A checksum over the
provenance, the scalars and every array is recorded in the JSON and checked on load, so a truncated,
swapped or hand-edited file is reported (:class:`CorruptResultError`, naming the file and what is
wrong), never served. Smoke results go to a temporary directory and are never committed. A stored
result is reused only while its config hash and experiment version match the code; ``RGLT_RERUN=1``
forces a rerun.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import numbers
import os
import pickle
import platform
import re
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

import rglt
from rglt.storage import DamagedFileError, atomic_write

try:
    import fcntl
except ImportError:  # not on Windows: saves there are still atomic, only not ordered
    fcntl = None

REPO_ROOT = Path(__file__).resolve().parents[1]
FORMAT = 2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class CorruptResultError(DamagedFileError):
    """A stored result that cannot be trusted: ``path`` names the file, ``reason`` what is wrong."""

    KIND = "stored result"


@dataclasses.dataclass(frozen=True)
class Result:
    """An experiment's outputs (``data``) and how they were made (``provenance``)."""

    experiment: str
    profile: str
    data: dict[str, Any]
    provenance: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: str) -> bool:   # without it, `in` would iterate __getitem__ with 0, 1, ...
        return key in self.data


def results_root() -> Path:
    """Where committed results live: ``RGLT_RESULTS`` or ``<repo>/results``."""
    return Path(os.environ.get("RGLT_RESULTS") or REPO_ROOT / "results")


def cache_dir(profile: str) -> Path:
    """The directory holding one profile's results; smoke results stay out of the repository."""
    rglt.check_profile(profile)
    if profile == "smoke":
        return Path(os.environ.get("RGLT_SMOKE_CACHE") or Path(tempfile.gettempdir()) / "rglt-smoke")
    return results_root()


def unhashed(default: Any) -> Any:
    """A config field that does not change the science (workers, threads, check tolerances): it is
    stored in the provenance but left out of :func:`config_hash`, so changing it keeps results fresh."""
    return dataclasses.field(default=default, metadata={"hashed": False})


def hashed_unless_default(default: Any) -> Any:
    """A science field added after results were stored: hashed only when it differs from ``default``
    (the behaviour before the field existed), so every key and config hash stored earlier stays valid."""
    return dataclasses.field(default=default, metadata={"hashed": "unless-default"})


def hashed_fields(config: Any) -> dict[str, Any]:
    """The fields of a config that decide its results (recursively for nested dataclasses)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance; got {type(config).__name__}")
    out = {}
    for f in dataclasses.fields(config):
        hashed, value = f.metadata.get("hashed", True), getattr(config, f.name)
        if hashed is False or (hashed == "unless-default" and value == f.default):
            continue
        out[f.name] = _science(value)
    return out


def _science(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return hashed_fields(value)
    if isinstance(value, (list, tuple)):
        return [_science(v) for v in value]
    if isinstance(value, dict):
        return {k: _science(v) for k, v in value.items()}
    return value


def config_hash(config: Any) -> str:
    """A short, stable hash of a frozen-dataclass config's hashed fields (see :func:`unhashed`)."""
    text = json.dumps(hashed_fields(config), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_experiment_name(experiment) -> str:
    """A name that stays inside the results directory: letters, digits, ``_ . -``, no ``..``."""
    if not isinstance(experiment, str) or not _NAME.fullmatch(experiment) or ".." in experiment:
        raise ValueError("experiment must be a name of letters, digits, '_', '.' and '-' (no path, no '..'); "
                         f"got {experiment!r}")
    return experiment


def paths(experiment: str, profile: str) -> tuple[Path, Path]:
    """(the result's JSON, the directory holding it and its arrays)."""
    base = cache_dir(profile) / check_experiment_name(experiment)
    return base / f"{profile}.json", base


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                          timeout=10).stdout.strip()


def _git_state(paths: tuple[str, ...]) -> tuple[str, bool]:
    """(HEAD's commit or "unknown", whether ``paths`` hold uncommitted changes)."""
    try:
        return _git("rev-parse", "HEAD") or "unknown", bool(_git("status", "--porcelain", "--", *paths))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


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


def environment(code: tuple[str, ...] = ("rglt", "kernels")) -> dict[str, Any]:
    """Where and with what something ran: the provenance every result, branch and benchmark records.

    ``git_commit`` is HEAD; ``git_dirty`` says whether the ``code`` paths (relative to the repository)
    held uncommitted changes, so that a result never implies a commit it was not made from.
    """
    import torch

    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    commit, dirty = _git_state(code)
    return {
        "rglt_version": rglt.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "triton": triton_version,
        "device": _device(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def provenance(module: Any, profile: str, config: Any, wall_time_s: float) -> dict[str, Any]:
    """Everything needed to tell where a result came from and whether it is stale."""
    env = environment()
    return {
        "experiment": module.NAME,
        "experiment_version": module.VERSION,
        "profile": profile,
        "config": dataclasses.asdict(config),
        "config_hash": config_hash(config),
        **env,
        # The commit names its dirtiness too: a result from uncommitted code must not imply the commit.
        "git_commit": env["git_commit"] + ("+dirty" if env["git_dirty"] else ""),
        "wall_time_s": round(wall_time_s, 2),
    }


# ---- one result as one unit -------------------------------------------------------------------

def _jsonable(value: Any, where: str) -> Any:
    """``value`` in plain JSON types: NumPy scalars and nested arrays become Python numbers and lists."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        return _jsonable(value.item(), where)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
                k = str(int(k))  # JSON keys are strings; convert up front so the checksum round-trips
            if not isinstance(k, str):
                raise TypeError(f"{where} has a key {k!r} of type {type(k).__name__}; keys must be strings or ints")
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    raise TypeError(f"{where} is a {type(value).__name__}, which the results cache cannot store "
                    "(use NumPy arrays, numbers, strings, bools, None, and lists or dicts of them)")


def _array_digest(array: np.ndarray) -> str:
    h = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _checksum(provenance_: dict, scalars: dict, digests: dict[str, str]) -> str:
    text = json.dumps({"provenance": provenance_, "data": scalars, "arrays": digests}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _split(data: dict, provenance_: dict) -> tuple[dict, dict[str, np.ndarray], dict]:
    """(scalars as JSON, arrays incl. 0-d, provenance as JSON), checked before anything is written."""
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict; got {type(data).__name__}")
    arrays, scalars = {}, {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"data keys must be strings; got {key!r}")
        if isinstance(value, np.ndarray):
            if not _NAME.fullmatch(key):
                raise ValueError(f"array names must be letters, digits, '_', '.', '-'; got data[{key!r}]")
            if value.dtype.hasobject:
                raise TypeError(f"data[{key!r}] is an object array; store numbers or strings")
            arrays[key] = value
        else:
            scalars[key] = _jsonable(value, f"data[{key!r}]")
    return scalars, arrays, _jsonable(provenance_, "provenance")


@contextlib.contextmanager
def _locked(directory: Path, exclusive: bool):
    """Hold an advisory lock on ``directory``: exclusive for a save, shared for a load."""
    if fcntl is None or not directory.is_dir():
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_npz(handle, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, without its keyword arguments shadowing arrays named "file" or "allow_pickle"."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def write_unit(base: Path, stem: str, data: dict[str, Any], provenance_: dict[str, Any]) -> Path:
    """Store ``data`` and its provenance as one unit, ``base/<stem>.json`` beside its arrays file
    (see the module docstring); returns the JSON's path. Every value is checked and converted before
    the first byte is written (NumPy scalars become numbers, 0-d arrays stay arrays); an error names
    the offending key. Shared by the results cache and the branch results of the ticket cache."""
    scalars, arrays, prov = _split(data, provenance_)
    digests = {k: _array_digest(v) for k, v in sorted(arrays.items())}
    checksum = _checksum(prov, scalars, digests)
    npz_name = f"{stem}.{checksum[:16]}.npz" if arrays else None
    doc = {"format": FORMAT, "provenance": prov, "data": scalars,
           "arrays": {"file": npz_name, "sha256": digests}, "checksum": checksum}
    text = json.dumps(doc, indent=1) + "\n"
    json_path = base / f"{stem}.json"
    base.mkdir(parents=True, exist_ok=True)
    with _locked(base, exclusive=True):
        if arrays:
            atomic_write(base / npz_name, lambda f: _write_npz(f, arrays))
        atomic_write(json_path, text)
        # Under the lock no other save is in flight: what this JSON does not name is left over.
        for stray in base.glob(f"{stem}.*"):
            if stray.name.endswith(".npz") and stray.name != npz_name or stray.name.endswith(".tmp"):
                stray.unlink(missing_ok=True)
    return json_path


def read_unit(json_path: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(provenance, data) of the unit at ``json_path``, None when there is none;
    :class:`CorruptResultError` (naming the file) when it is damaged."""
    if not json_path.exists():
        return None
    with _locked(json_path.parent, exclusive=False):
        prov, data, arrays = _read(json_path)
    data.update(arrays)
    return prov, data


def save(result: Result) -> Path:
    """Store ``result`` as one unit; returns the JSON's path."""
    base = paths(result.experiment, result.profile)[1]
    return write_unit(base, result.profile, result.data, result.provenance)


def _read(json_path: Path) -> tuple[dict, dict, dict]:
    """(provenance, data, arrays) of the result at ``json_path``; CorruptResultError if damaged."""
    try:
        doc = json.loads(json_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptResultError(json_path, f"not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise CorruptResultError(json_path, "not a JSON object")
    if doc.get("format") != FORMAT:
        raise CorruptResultError(json_path, f"written in format {doc.get('format', 1)!r}, this rglt reads "
                                            f"format {FORMAT} (rerun the experiment)")
    missing = [k for k in ("provenance", "data", "arrays", "checksum") if k not in doc]
    if missing:
        raise CorruptResultError(json_path, f"missing {', '.join(missing)}")
    try:
        npz_name, digests = doc["arrays"]["file"], dict(doc["arrays"]["sha256"])
    except (TypeError, KeyError, ValueError):
        raise CorruptResultError(json_path, "its 'arrays' entry is not {file, sha256}") from None
    arrays = {}
    if digests:
        npz_path = json_path.parent / str(npz_name)
        if not isinstance(npz_name, str) or not _NAME.fullmatch(npz_name):
            raise CorruptResultError(json_path, f"it names an invalid arrays file {npz_name!r}")
        try:
            with np.load(npz_path, allow_pickle=False) as npz:
                absent = sorted(set(digests) - set(npz.files))
                if absent:
                    raise CorruptResultError(npz_path, f"arrays {', '.join(absent)} are missing")
                arrays = {k: npz[k] for k in digests}
        except FileNotFoundError:
            raise CorruptResultError(json_path, f"its arrays file {npz_path.name} does not exist") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            if isinstance(err, CorruptResultError):
                raise
            raise CorruptResultError(npz_path, f"unreadable ({type(err).__name__}: {err})") from None
        for key, value in arrays.items():
            if _array_digest(value) != digests[key]:
                raise CorruptResultError(npz_path, f"array {key!r} does not match its checksum in {json_path.name}")
    if _checksum(doc["provenance"], doc["data"], digests) != doc["checksum"]:
        raise CorruptResultError(json_path, "its contents do not match the checksum recorded in it "
                                            "(edited by hand, or mixed with another save)")
    return doc["provenance"], dict(doc["data"]), arrays


def load(experiment: str, profile: str) -> Result | None:
    """The stored result of one experiment at one profile, or None when there is none.

    Raises :class:`CorruptResultError` (naming the file) when the stored result is damaged.
    """
    unit = read_unit(paths(experiment, profile)[0])
    return None if unit is None else Result(experiment, profile, unit[1], unit[0])


def set_aside(experiment: str, profile: str) -> Path | None:
    """Rename a damaged result's JSON to ``<profile>.json.damaged-<time>`` (kept for inspection);
    a later save then writes a fresh one. Returns the new path, or None when there was nothing."""
    json_path, base = paths(experiment, profile)
    with _locked(base, exclusive=True):
        if not json_path.exists():
            return None
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        aside = json_path.with_name(f"{json_path.name}.damaged-{stamp}")
        os.replace(json_path, aside)
    return aside


def is_fresh(result: Result, module: Any, config: Any) -> bool:
    """True when a stored result was made by this experiment version with this config."""
    prov = result.provenance
    return prov.get("config_hash") == config_hash(config) and prov.get("experiment_version") == module.VERSION


def _stored_science(stored: Any, config: Any) -> Any:
    """The part of a stored config (``dataclasses.asdict`` of an older one) that ``config``'s type hashes now."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        if not isinstance(stored, dict):
            return stored
        return {f.name: _stored_science(stored.get(f.name), getattr(config, f.name))
                for f in dataclasses.fields(config) if f.metadata.get("hashed", True)}
    return stored


def rehash(result: Result, module: Any, config: Any) -> Result:
    """``result`` with the config hash of ``config``, when only the hashing changed: the stored config's
    science (its fields that ``config`` hashes today) must equal ``config``'s, and the version must match.
    For fields moved to :func:`unhashed` after a result was made; the provenance records the old hash
    (``rehashed_from``) and keeps its commit, date and wall time. A ValueError when the science differs."""
    prov = dict(result.provenance)
    if prov.get("experiment_version") != module.VERSION:
        raise ValueError(f"result is version {prov.get('experiment_version')}, the code is {module.VERSION}: rerun it")
    ours = json.dumps(_science(hashed_fields(config)), sort_keys=True, default=repr)
    theirs = json.dumps(_stored_science(prov.get("config"), config), sort_keys=True, default=repr)
    if ours != theirs:
        raise ValueError(f"result was made with other science than config: rerun it (stored {theirs}, now {ours})")
    if prov["config_hash"] != config_hash(config):
        prov.update(rehashed_from=prov["config_hash"], config_hash=config_hash(config),
                    config=dataclasses.asdict(config))
    return dataclasses.replace(result, provenance=prov)


def rerun_requested() -> bool:
    return os.environ.get("RGLT_RERUN", "").strip().lower() in {"1", "true", "yes"}


def _rescue(result: Result) -> Path:
    """Pickle a result the cache refused, so that the run behind it is not lost."""
    base = paths(result.experiment, result.profile)[1]
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{result.profile}.unsaved-{time.strftime('%Y%m%dT%H%M%S')}.pkl"
    with open(path, "wb") as handle:
        pickle.dump(result, handle)
    return path


def load_or_run(experiment: str, profile: str | None = None, *, rerun: bool | None = None) -> Result:
    """The experiment's result at ``profile`` (default: :func:`rglt.profile`).

    A fresh stored result is returned as it is; otherwise the experiment runs with the profile's
    config and its result is stored (under ``results/`` for cpu and gpu, a temporary directory for
    smoke). ``rerun=True`` or ``RGLT_RERUN=1`` forces a run. A damaged stored result is reported,
    set aside (see :func:`set_aside`) and treated as missing.
    """
    from rglt import experiments

    module = experiments.get(experiment)
    profile = rglt.check_profile(profile) if profile is not None else rglt.profile()
    config = module.CONFIGS[profile]
    rerun = rerun_requested() if rerun is None else rerun
    if not rerun:
        try:
            stored = load(experiment, profile)
        except CorruptResultError as err:
            print(f"[rglt] {err}; set aside as {set_aside(experiment, profile)}, rerunning", file=sys.stderr)
            stored = None
        if stored is not None and is_fresh(stored, module, config):
            return stored
    start = time.perf_counter()
    data = module.run(config)
    result = Result(experiment, profile, data, provenance(module, profile, config, time.perf_counter() - start))
    try:
        save(result)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err}; the run's output was pickled to {_rescue(result)}") from err
    print(f"[rglt] ran {experiment} at profile {profile} in {result.provenance['wall_time_s']:.1f} s; "
          f"stored in {paths(experiment, profile)[0]}", file=sys.stderr)
    return load(experiment, profile)
