"""Progress bars for long loops: tqdm, quiet in CI logs (CI set) or when RGLT_PROGRESS=0."""
from __future__ import annotations

import os

from tqdm import tqdm


def progress(iterable=None, **kwargs):
    quiet = bool(os.environ.get("CI")) or os.environ.get("RGLT_PROGRESS", "1") == "0"
    return tqdm(iterable, disable=quiet, mininterval=2.0, dynamic_ncols=True, **kwargs)
