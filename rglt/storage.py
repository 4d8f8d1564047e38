"""The storage toolkit shared by the results store, the ticket store and the ticket cache.

One implementation each of what every store on disk needs: writing a file atomically, locking a
directory against other processes (``filelock``), digests of arrays and bytes, setting a damaged file
aside with a time stamp, the error that names a damaged file, and the thread-count guard under which
cached tickets are trained (PyTorch's CPU kernels reduce in a thread-count-dependent order, so a store
is only reproducible bit for bit at a fixed thread count).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import itertools
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import filelock
import numpy as np
import torch

LOCK_NAME = ".lock"


def atomic_write(path: str | os.PathLike, content: bytes | str | Callable[[BinaryIO], None]) -> Path:
    """Write ``content`` (bytes, text, or a function writing to a binary handle) to ``path`` atomically.

    The data goes to a temporary file beside ``path``, is flushed to disk, and is renamed over ``path``
    in one step; on any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode() if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        share(tmp)  # mkstemp's 0600 would hide the file from other users of a shared cache
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class DamagedFileError(ValueError):
    """A file on disk that cannot be trusted: ``path`` names it, ``reason`` says why. Subclasses name
    the kind of file (``KIND``) in the message: a stored result, a ticket store file."""

    KIND = "file"

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"the {self.KIND} {path} is damaged: {reason}")
        self.path, self.reason = Path(path), reason


@contextlib.contextmanager
def locked(directory: str | os.PathLike, *, waiting: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (a ``.lock`` file in it) against other processes.

    ``waiting``: printed to stderr when another process holds the lock, before waiting for it. A
    directory this process cannot write is not locked: nothing of ours can be writing there.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK):
        yield
        return
    lock = filelock.FileLock(directory / LOCK_NAME)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        if waiting:
            print(f"[rglt] {waiting}", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def digest(*arrays: np.ndarray | torch.Tensor) -> str:
    """SHA-256 of arrays or tensors: each one's dtype, shape and bytes, in order.

    Tells data sets apart (the ticket store's fingerprints) and checks stored arrays (the results
    store's checksums). The dtype is spelt as its own library spells it (``<f4``, ``torch.float32``),
    which keeps every digest stored before the two were one function.
    """
    h = hashlib.sha256()
    for a in arrays:
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().contiguous()
            h.update(f"{a.dtype}{tuple(a.shape)}".encode())
            h.update(a.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(a, np.ndarray):
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            raise TypeError(f"arrays must be NumPy arrays or torch tensors; got {type(a).__name__}")
    return h.hexdigest()


def sha256(data: bytes) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def stamp() -> str:
    """The time now in UTC, as a file-name-safe stamp (``20261206T194501``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


def set_aside(path: str | os.PathLike, why: str = "damaged", *, hidden: bool = False) -> Path:
    """Rename ``path`` (file or directory) to ``<name>.<why>-<time>`` beside it (``.<name>...`` when
    ``hidden``), kept for inspection, so that a fresh one can take its place. Returns the new path.
    Two set aside in the same second get their own names (``-2``, ``-3``, ...): none overwrites another."""
    path = Path(path)
    base = f"{'.' if hidden else ''}{path.name}.{why}-{stamp()}"
    for n in itertools.count(1):
        aside = path.with_name(base if n == 1 else f"{base}-{n}")
        try:   # a hard link (files) or mkdir (directories) claims the name atomically, never overwriting
            if path.is_dir():
                aside.mkdir()
                os.replace(path, aside)
            else:
                os.link(path, aside)
                path.unlink()
            return aside
        except FileExistsError:
            continue


@functools.cache
def _umask() -> int:
    """The process's umask, read once (setting it to read it would race other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def share(path: str | os.PathLike) -> Path:
    """Give a new file or directory the permissions the user's umask allows (``0o666`` / ``0o777`` less
    the umask), instead of ``mkstemp``'s and ``mkdtemp``'s 0600 / 0700: with a umask of 002 or 022, the
    other users of a shared cache can read it."""
    path = Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_umask())
    return path


def check_writable(directory: str | os.PathLike, variable: str) -> Path:
    """``directory``, made if missing, after checking that this process can write there; a ValueError
    naming ``variable`` (the setting that chose it, e.g. ``RGLT_RESULTS``) otherwise. Called before any
    work whose output would be lost."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{variable} must name a directory; {directory} is a file")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{variable}: cannot create {directory} ({err.strerror}); set {variable} to a "
                         "directory you can write") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{variable}: {directory} is not writable by this user; set {variable} to a "
                         "directory you can write")
    return directory


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the caller's count after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
