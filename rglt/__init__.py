"""rglt: lottery tickets and the renormalization group, the library under the book.

The scale of every experiment is chosen in one place, :func:`profile`, from ``RGLT_PROFILE``.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"

PROFILES = ("smoke", "cpu", "gpu")
DEFAULT_PROFILE = "cpu"


def check_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise a ValueError naming the choices."""
    if not isinstance(name, str) or name not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}; got {name!r}")
    return name


def profile() -> str:
    """The active profile: ``RGLT_PROFILE`` (smoke | cpu | gpu), ``cpu`` when unset or empty."""
    name = os.environ.get("RGLT_PROFILE", "").strip() or DEFAULT_PROFILE
    try:
        return check_profile(name)
    except ValueError:
        raise ValueError(
            f"RGLT_PROFILE must be one of {', '.join(PROFILES)} (or unset for {DEFAULT_PROFILE}); "
            f"got {name!r}"
        ) from None
