"""What a config is, for caching: which of its fields are science, and the one hash that names it.

The results store (an experiment's config), the ticket cache (a ``TicketRun``) and its branches all
name what they store by :func:`key`, a hash of a frozen dataclass's **science**: every field, except
those declared :func:`unhashed` (workers, threads, tolerances: how something runs, not what it
computes) and those declared :func:`hashed_unless_default` while they hold their default (science
added after results were stored, so every key stored earlier stays valid).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np


def unhashed(default: Any) -> Any:
    """A config field that does not change the science (workers, threads, check tolerances): it is
    stored in the provenance but left out of :func:`key`, so changing it keeps results fresh."""
    return dataclasses.field(default=default, metadata={"hashed": False})


def hashed_unless_default(default: Any) -> Any:
    """A science field added after results were stored: hashed only when it differs from ``default``
    (the behaviour before the field existed), so every key and config hash stored earlier stays valid."""
    return dataclasses.field(default=default, metadata={"hashed": "unless-default"})


def normalised(value: Any, annotation: Any = None) -> Any:
    """``value`` as the plain Python value it equals, so that equal configs have equal keys: NumPy
    scalars become Python numbers (inside lists and tuples too), and an int in a field annotated
    ``float`` becomes a float (``lr=1`` and ``lr=1.0`` are one run)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(normalised(v) for v in value)
    if annotation in ("float", float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def normalise_fields(config: Any) -> None:
    """Normalise a frozen dataclass's fields in place (see :func:`normalised`); call it first in
    ``__post_init__``, so that validation, keys and JSON all see plain Python values."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        plain = normalised(value, f.type)
        if plain is not value:
            object.__setattr__(config, f.name, plain)


def _check(config: Any) -> None:
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance; got {type(config).__name__}")


def hashed_fields(config: Any) -> dict[str, Any]:
    """The fields of a config that decide its results (recursively for nested dataclasses)."""
    _check(config)
    out = {}
    for f in dataclasses.fields(config):
        hashed, value = f.metadata.get("hashed", True), getattr(config, f.name)
        if hashed is False or (hashed == "unless-default" and value == f.default):
            continue
        out[f.name] = _science(normalised(value, f.type))
    return out


def _science(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return hashed_fields(value)
    if isinstance(value, (list, tuple)):
        return [_science(v) for v in value]
    if isinstance(value, dict):
        return {k: _science(v) for k, v in value.items()}
    return value


def science_text(config: Any, **salt: Any) -> str:
    """The text :func:`key` hashes: the hashed fields (and ``salt``, e.g. a key format) as sorted JSON."""
    return json.dumps({**salt, **hashed_fields(config)}, sort_keys=True, default=repr)


def key(config: Any, *, length: int = 16, **salt: Any) -> str:
    """A short, stable hash of a frozen dataclass's science (see the module docstring)."""
    return hashlib.sha256(science_text(config, **salt).encode()).hexdigest()[:length]


def stored_science(stored: Any, config: Any) -> Any:
    """The part of a stored config (``dataclasses.asdict`` of an older one) that ``config``'s type
    hashes now, for comparing a stored result's science with today's config."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        if not isinstance(stored, dict):
            return stored
        return {f.name: stored_science(stored.get(f.name), getattr(config, f.name))
                for f in dataclasses.fields(config) if f.metadata.get("hashed", True)}
    return stored
