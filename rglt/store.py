"""The results store: every number the book shows comes from here, with its provenance.

A result is one unit on disk::

    <results root>/<experiment>/<profile>.json              provenance, scalars, the arrays' file and checksums
    <results root>/<experiment>/<profile>.<digest>.npz      the arrays (when there are any), named by content

The JSON is written last, by one atomic rename, and it names the arrays file it belongs to, so a
result is either the old one or the new one, never a mixture: a save killed half-way leaves the old
JSON pointing at the old arrays, and two processes saving at once each publish a complete result (a
lock on the experiment's directory orders them; the later one wins). A checksum over the
provenance, the scalars and every array is recorded in the JSON and checked on load, so a truncated,
swapped or hand-edited file is reported (:class:`CorruptResultError`, naming the file and what is
wrong), never served. The results root is :func:`rglt.paths.results_root`; smoke results go to a
temporary directory and are never committed. Running experiments and deciding whether a stored result
is fresh is :mod:`rglt.experiments`' job; this module only stores and loads units.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
import re
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

import rglt
from rglt.paths import results_root
from rglt.storage import DamagedFileError, atomic_write, digest, locked
from rglt.storage import set_aside as _set_aside

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
    config: Any = dataclasses.field(default=None, compare=False)   # the config it was made with, when known

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: str) -> bool:   # without it, `in` would iterate __getitem__ with 0, 1, ...
        return key in self.data

    def __iter__(self):                         # the data's keys, as a dict's: `for key in result`
        return iter(self.data)


def cache_dir(profile: str) -> Path:
    """The directory holding one profile's results; smoke results stay out of the repository."""
    rglt.check_profile(profile)
    if profile == "smoke":
        return Path(os.environ.get("RGLT_SMOKE_CACHE") or Path(tempfile.gettempdir()) / "rglt-smoke")
    return results_root()


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


# ---- one result as one unit -------------------------------------------------------------------

def _jsonable(value: Any, where: str, exact: bool) -> Any:
    """``value`` in plain JSON types: NumPy scalars become the Python numbers equal to them.

    ``exact`` (a result's data): refuse, naming the value, anything that would not come back equal
    (tuples come back as lists, int keys as strings, arrays inside lists or dicts as lists, a long
    double as a float). Otherwise (provenance, a description) those are converted as JSON does."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.ndarray):
        if exact:
            raise TypeError(f"{where} is a NumPy array inside a list or dict, which would come back as a list; "
                            "store arrays as top-level values of data")
        return _jsonable(value.tolist(), where, exact)
    if isinstance(value, np.generic):
        item = value.item()
        exact_item = not isinstance(item, np.generic) and (item == value or item != item and value != value)
        if not exact_item and (exact or isinstance(item, np.generic)):   # (nan equals nan here)
            raise TypeError(f"{where} is a {type(value).__name__} that no JSON number holds exactly; store "
                            "it in an array")
        return _jsonable(item, where, exact)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, tuple) and exact:
        raise TypeError(f"{where} is a tuple, which would come back as a list; store a list")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]", exact) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool):
                if exact:
                    raise TypeError(f"{where} has the int key {k!r}, which would come back as the string "
                                    f"{str(int(k))!r}; use string keys")
                k = str(int(k))
            if not isinstance(k, str):
                raise TypeError(f"{where} has a key {k!r} of type {type(k).__name__}; keys must be strings")
            out[k] = _jsonable(v, f"{where}[{k!r}]", exact)
        return out
    raise TypeError(f"{where} is a {type(value).__name__}, which the results store cannot store "
                    "(use NumPy arrays, numbers, strings, bools, None, and lists or dicts of them)")


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
            scalars[key] = _jsonable(value, f"data[{key!r}]", exact=True)
    return scalars, arrays, _jsonable(provenance_, "provenance", exact=False)


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
    digests = {k: digest(v) for k, v in sorted(arrays.items())}
    checksum = _checksum(prov, scalars, digests)
    npz_name = f"{stem}.{checksum[:16]}.npz" if arrays else None
    doc = {"format": FORMAT, "provenance": prov, "data": scalars,
           "arrays": {"file": npz_name, "sha256": digests}, "checksum": checksum}
    text = json.dumps(doc, indent=1) + "\n"
    json_path = base / f"{stem}.json"
    base.mkdir(parents=True, exist_ok=True)
    with locked(base):
        if arrays:
            atomic_write(base / npz_name, lambda f: _write_npz(f, arrays))
        atomic_write(json_path, text)
        # Under the lock no other save is in flight: what this JSON does not name is left over.
        for stray in base.glob(f"{stem}.*"):
            if stray.name.endswith(".npz") and stray.name != npz_name or stray.name.endswith(".tmp"):
                stray.unlink(missing_ok=True)
    return json_path


def read_unit(json_path: Path, place: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(provenance, data) of the unit at ``json_path``, None when there is none;
    :class:`CorruptResultError` (naming the file) when it is damaged, or when its provenance says it
    belongs elsewhere than ``place`` (e.g. ``{"experiment": ..., "profile": ...}``): a unit copied or
    moved to another unit's place is refused, never served as that one."""
    if not json_path.exists():
        return None
    with locked(json_path.parent):
        prov, data, arrays = _read(json_path)
    wrong = {k: prov.get(k) for k, v in (place or {}).items() if prov.get(k) != v}
    if wrong:
        theirs = ", ".join(f"{k} {v!r}" for k, v in wrong.items())
        ours = ", ".join(f"{k} {place[k]!r}" for k in wrong)
        raise CorruptResultError(json_path, f"it belongs to {theirs} (its provenance says so), not to {ours}: "
                                            "it was copied or moved here")
    data.update(arrays)
    return prov, data


def _place(experiment: str, profile: str) -> dict[str, str]:
    return {"experiment": experiment, "profile": profile}


def save(result: Result) -> Path:
    """Store ``result`` as one unit; returns the JSON's path. Its provenance records its place
    (experiment and profile), which :func:`load` checks."""
    base = paths(result.experiment, result.profile)[1]
    provenance = dict(result.provenance)
    for key, value in _place(result.experiment, result.profile).items():
        if provenance.setdefault(key, value) != value:
            raise ValueError(f"result.provenance names {key} {provenance[key]!r}, but the result is {value!r}")
    return write_unit(base, result.profile, result.data, provenance)


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
            if digest(value) != digests[key]:
                raise CorruptResultError(npz_path, f"array {key!r} does not match its checksum in {json_path.name}")
    if _checksum(doc["provenance"], doc["data"], digests) != doc["checksum"]:
        raise CorruptResultError(json_path, "its contents do not match the checksum recorded in it "
                                            "(edited by hand, or mixed with another save)")
    return doc["provenance"], dict(doc["data"]), arrays


def load(experiment: str, profile: str) -> Result | None:
    """The stored result of one experiment at one profile, or None when there is none.

    Raises :class:`CorruptResultError` (naming the file) when the stored result is damaged.
    """
    unit = read_unit(paths(experiment, profile)[0], _place(experiment, profile))
    return None if unit is None else Result(experiment, profile, unit[1], unit[0])


def _archive_path(experiment: str, profile: str, version: int) -> Path:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be an integer >= 1; got {version!r}")
    return paths(experiment, profile)[1] / f"v{version}" / f"{profile}.json"


def archive(experiment: str, profile: str) -> Path:
    """Keep the stored result of ``experiment`` at ``profile`` under ``v<its version>/`` beside it, where
    its successor cannot overwrite it (a chapter that reads an earlier version's headline loads it with
    :func:`load_archived`). Returns the archived JSON's path; refuses to overwrite an archive."""
    result = load(experiment, profile)
    if result is None:
        raise FileNotFoundError(f"no stored result of {experiment} at profile {profile} to archive")
    target = _archive_path(experiment, profile, int(result.provenance["experiment_version"]))
    if target.exists():
        raise FileExistsError(f"{target} exists: an archived result is never overwritten")
    write_unit(target.parent, profile, result.data, result.provenance)
    return target


def load_archived(experiment: str, profile: str, version: int) -> Result:
    """The archived result of ``experiment`` at ``profile`` from its ``version`` (see :func:`archive`);
    :class:`CorruptResultError` when damaged or when it is another version's, FileNotFoundError when
    there is none."""
    path = _archive_path(experiment, profile, version)
    unit = read_unit(path, {**_place(experiment, profile), "experiment_version": version})
    if unit is None:
        raise FileNotFoundError(f"no archived result of {experiment} version {version} at profile {profile} ({path})")
    return Result(experiment, profile, unit[1], unit[0])


def set_aside(experiment: str, profile: str) -> Path | None:
    """Rename a damaged result's JSON to ``<profile>.json.damaged-<time>`` (kept for inspection);
    a later save then writes a fresh one. Returns the new path, or None when there was nothing."""
    json_path, base = paths(experiment, profile)
    with locked(base):
        return _set_aside(json_path) if json_path.exists() else None
