"""The on-disk ticket store of an IMP run: one directory per level, each written atomically.

Layout::

    <root>/run.json            what decides the run's tickets (configs, prunable names, data
                               fingerprints); a different run refuses to resume here
    <root>/level_000/          dense training (mask all ones)
        weights.pt             state dict after training
        masks.pt               {param name: bool mask}
        rewind.pt              level 0 only: the rewind point theta_k that every later level restarts from
        meta.json              level, density, metrics, the SHA-256 of each file above, the digest of
                               run.json (the run it belongs to), and a checksum over all of it
    <root>/level_001/ ...

A level directory is built under a temporary name and renamed into place, so it either exists
complete or not at all: an interrupted run loses at most the level in progress. Loading trusts
nothing: the metadata against its checksum and its place (this level of this run), every file against
its recorded SHA-256, the masks against the recorded density and the weights' shapes; any damage is a
:class:`CorruptTicketError` naming the file. A level written before metadata had a checksum is
migrated in place the first time it is read (``meta["migrated"]`` says when and by which rglt).
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import torch

import rglt

from rglt.storage import DamagedFileError, atomic_write, digest, set_aside, sha256, share, stamp

FORMAT = 2       # of run.json
META_FORMAT = 3  # of a level's meta.json: 3 added its checksum and its run
FILES = ("weights.pt", "masks.pt")


class CorruptTicketError(DamagedFileError):
    """A file of a ticket store that cannot be trusted: ``path`` names it, ``reason`` says why."""

    KIND = "ticket store file"


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


def fingerprint(tensors) -> str:
    """SHA-256 of a tuple of tensors (dtype, shape and bytes of each): tells data sets apart."""
    return digest(*tensors)


def _serialise(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _checksum(meta: dict) -> str:
    """SHA-256 over every field of a level's metadata but the checksum itself."""
    return sha256(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())


class TicketStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def run_digest(self) -> str | None:
        """The digest of the run record (``run.json``) that this store's levels belong to; None when the
        store has none (levels saved without :meth:`bind`)."""
        path = self.root / "run.json"
        if not path.exists():
            return None
        return sha256(json.dumps(_read_json(path), sort_keys=True).encode())

    def _level_dir(self, level: int) -> Path:
        return self.root / f"level_{level:03d}"

    def levels(self) -> list[int]:
        """The complete levels (their ``meta.json`` exists), in order; :meth:`load` checks them."""
        if not self.root.exists():
            return []
        return sorted(int(p.name[6:]) for p in self.root.glob("level_[0-9][0-9][0-9]") if (p / "meta.json").exists())

    def bind(self, run: dict) -> None:
        """Record what decides the run's tickets, or check that it matches what is already recorded."""
        path = self.root / "run.json"
        doc = {"format": FORMAT, "run": json.loads(json.dumps(run, sort_keys=True, default=repr))}
        if path.exists():
            recorded = _read_json(path)
            if recorded.get("format") != FORMAT or not isinstance(recorded.get("run"), dict):
                raise CorruptTicketError(path, f"not a format-{FORMAT} run record (an older rglt wrote it?)")
            if recorded["run"] != doc["run"]:
                differ = sorted(k for k in set(doc["run"]) | set(recorded["run"])
                                if doc["run"].get(k) != recorded["run"].get(k))
                raise ValueError(f"the ticket store {self.root} holds a run with other settings (they differ in: "
                                 f"{', '.join(differ)}); use another directory or delete it")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(doc, sort_keys=True, indent=1) + "\n")

    def save(self, level: int, weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor],
             metrics: dict, *, rewind: dict[str, torch.Tensor] | None = None) -> None:
        """Write one level as a unit. Non-finite weights are refused: a diverged level is never stored.

        ``rewind`` (the rewind point's state dict) is stored with level 0, which produces it.
        """
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise ValueError(f"level must be an integer >= 0; got {level!r}")
        if (rewind is None) != (level != 0):
            raise ValueError("rewind must be given with level 0 and only with it")
        for name, mask in masks.items():
            if name not in weights:
                raise ValueError(f"masks names {name!r}, which weights does not hold")
            if mask.dtype != torch.bool or mask.shape != weights[name].shape:
                raise ValueError(f"masks[{name!r}] must be a bool tensor of shape {tuple(weights[name].shape)}; "
                                 f"got {mask.dtype} {tuple(mask.shape)}")
        for what, state in (("weights", weights), ("rewind", rewind or {})):
            for name, value in state.items():
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise ValueError(f"{what}[{name!r}] of level {level} holds NaN or inf; a diverged level "
                                     "is not stored")
        final = self._level_dir(level)
        if (final / "meta.json").exists():
            raise FileExistsError(f"level {level} already exists in {self.root}")
        blobs = {"weights.pt": _serialise({k: v.detach().cpu() for k, v in weights.items()}),
                 "masks.pt": _serialise({k: v.cpu() for k, v in masks.items()})}
        if rewind is not None:
            blobs["rewind.pt"] = _serialise({k: v.detach().cpu().clone() for k, v in rewind.items()})
        meta = {"format": META_FORMAT, "level": level, "density": density(masks), "metrics": metrics,
                "sha256": {name: sha256(blob) for name, blob in blobs.items()}, "run": self.run_digest()}
        try:
            meta["checksum"] = _checksum(meta)
        except (TypeError, ValueError) as err:
            raise TypeError(f"metrics of level {level} must be JSON data (numbers, strings, lists, dicts); {err}") from None
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = share(Path(tempfile.mkdtemp(dir=self.root, prefix=f".level_{level:03d}.")))
        try:
            for name, blob in blobs.items():
                share(atomic_write(tmp / name, blob))
            atomic_write(tmp / "meta.json", json.dumps(meta, indent=1) + "\n")
            if final.exists():  # a level without meta.json (damaged by hand): keep it aside, never block
                set_aside(final, "incomplete", hidden=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def verify(self) -> dict[int, CorruptTicketError]:
        """Load every complete level (and the rewind point); return the errors of the damaged ones."""
        damaged = {}
        for level in self.levels():
            try:
                self.load(level)
                if level == 0:
                    self.rewind()
            except CorruptTicketError as err:
                damaged[level] = err
        return damaged

    def set_aside(self, level: int) -> Path:
        """Move a (damaged) level to ``.level_NNN.damaged-<time>``, kept for inspection; IMP then
        retrains it, and, training being deterministic, gets the same ticket back."""
        path = self._level_dir(level)
        if not path.exists():
            raise FileNotFoundError(f"no level {level} in {self.root}")
        return set_aside(path, hidden=True)

    def metrics(self, level: int) -> dict:
        """The level's recorded metrics (from its meta.json, checked), without loading its weights."""
        return self._meta(level)[1]["metrics"]

    def _meta(self, level: int) -> tuple[Path, dict]:
        path = self._level_dir(level)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no complete level {level} in {self.root} (complete: {self.levels()})")
        meta_path = path / "meta.json"
        meta = _read_json(meta_path)
        ok = (isinstance(meta.get("level"), int) and isinstance(meta.get("density"), float)
              and isinstance(meta.get("sha256"), dict) and isinstance(meta.get("metrics"), dict))
        if not ok:
            raise CorruptTicketError(meta_path, "missing or malformed level, density, metrics or sha256 "
                                                "(written by an older rglt, or edited)")
        if "checksum" not in meta and "format" not in meta:
            meta = self._migrate(meta_path, meta)
        if meta.get("format") != META_FORMAT or meta.get("checksum") != _checksum(meta):
            raise CorruptTicketError(meta_path, "its contents do not match the checksum recorded in it (edited by "
                                                "hand, or written by another rglt)")
        run = self.run_digest()
        if meta["level"] != level or meta.get("run") != run:
            raise CorruptTicketError(meta_path, f"it belongs to level {meta['level']} of the run with record "
                                                f"digest {meta.get('run')}, not to level {level} of this store's run "
                                                f"({run}, {self.root / 'run.json'}): it was copied or moved here")
        return path, meta

    def _migrate(self, meta_path: Path, meta: dict) -> dict:
        """A level written before its metadata had a checksum and a run: add them in place (kept in
        memory when the store is not writable), saying so in the metadata."""
        meta = {"format": META_FORMAT, **meta, "run": self.run_digest(),
                "migrated": {"from": "meta.json without checksum or run (before rglt 0.1.0's storage refactor)",
                             "date": stamp(), "rglt_version": rglt.__version__}}
        meta["checksum"] = _checksum(meta)
        try:
            atomic_write(meta_path, json.dumps(meta, indent=1) + "\n")
        except OSError:
            pass   # a read-only shared cache: the check below still holds for this process
        return meta

    def _load_file(self, path: Path, meta: dict) -> dict[str, torch.Tensor]:
        expected = meta["sha256"].get(path.name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptTicketError(path, "missing") from None
        except OSError as err:
            raise CorruptTicketError(path, f"unreadable ({err})") from None
        if expected is None or sha256(data) != expected:
            raise CorruptTicketError(path, f"its SHA-256 does not match the one recorded in {path.parent / 'meta.json'}")
        try:
            state = torch.load(io.BytesIO(data), weights_only=True)
        except Exception as err:  # the checksum matched, so this is a file rglt itself wrote badly
            raise CorruptTicketError(path, f"torch.load failed ({type(err).__name__}: {err})") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CorruptTicketError(path, "not a dict of tensors")
        return state

    def load(self, level: int) -> Ticket:
        """The level's ticket, after checking its files, its density and its masks' shapes."""
        path, meta = self._meta(level)
        weights = self._load_file(path / "weights.pt", meta)
        masks = self._load_file(path / "masks.pt", meta)
        for name, mask in masks.items():
            if name not in weights or mask.dtype != torch.bool or mask.shape != weights[name].shape:
                raise CorruptTicketError(path / "masks.pt", f"the mask of {name!r} does not fit weights.pt")
        measured = density(masks)
        if not math.isclose(measured, meta["density"], rel_tol=0, abs_tol=1e-12):
            raise CorruptTicketError(path / "masks.pt", f"density {measured:.6g}, but meta.json records "
                                                        f"{meta['density']:.6g}")
        return Ticket(level, weights, masks, measured, meta["metrics"])

    def rewind(self) -> dict[str, torch.Tensor]:
        """The rewind point theta_k (state dict), stored with level 0."""
        path, meta = self._meta(0)
        return self._load_file(path / "rewind.pt", meta)


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptTicketError(path, f"not readable JSON ({type(err).__name__}: {err})") from None
    if not isinstance(doc, dict):
        raise CorruptTicketError(path, "not a JSON object")
    return doc

