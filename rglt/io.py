"""One way to write a file so that readers see the old content or the new, never a part of it."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users of a shared cache
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
