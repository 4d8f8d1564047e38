"""Input checks shared by every module, with one message style: ``<name> must be <allowed>; got <value!r>``.

What counts as what:

- an *integer* is a ``numbers.Integral`` that is not a bool (``3`` and ``np.int64(3)`` pass, ``True``
  and ``3.0`` do not);
- a *real* is a finite ``numbers.Real`` that is not a bool (ints and floats pass; NaN, inf, ``True``,
  strings and complex numbers do not).

The ``check_*`` functions raise a ``ValueError`` (``check_bool``: a ``TypeError``) before any work is
done and return the value as a plain ``int`` / ``float`` / ``bool``. :func:`require` raises the same
message for a condition the ``check_*`` functions do not cover (an even kernel, a tuple of fractions).
:func:`check_tensor` checks a tensor argument (type, kind of dtype, dimensions, emptiness, finiteness).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch

SEED_LIMIT = 2**63  # torch.Generator.manual_seed takes [-2**63, 2**64); seeds are [0, 2**63)


def is_int(value) -> bool:
    """An integer: ``numbers.Integral`` and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A finite real number: ``numbers.Real``, not a bool, not NaN or inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def require(ok: bool, name: str, allowed: str, value, error: type[Exception] = ValueError) -> None:
    """Raise ``error("<name> must be <allowed>; got <value!r>")`` unless ``ok``."""
    if not ok:
        raise error(f"{name} must be {allowed}; got {value!r}")


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def _inside(value, low, high, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return False
    return high is None or (value < high if high_open else value <= high)


def check_int(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int, if it is an integer in [low, high] (either bound may be None)."""
    require(is_int(value) and _inside(value, low, high, False, False), name,
            f"an integer {_interval(low, high, False, False)}".rstrip(), value)
    return int(value)


def check_real(value, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, if it is a finite real number within the bounds (either may be None).

    The bounds are closed unless ``low_open`` / ``high_open``: ``check_real(lr, "lr", 0, low_open=True)``
    wants lr > 0, ``check_real(p, "p", 0, 1, high_open=True)`` wants p in [0, 1).
    """
    interval = _interval(low, high, low_open, high_open)
    allowed = f"a number {interval}" if low is not None and high is not None else f"a finite number {interval}"
    require(is_real(value) and _inside(value, low, high, low_open, high_open), name, allowed.rstrip(), value)
    return float(value)


def check_choice(value, name: str, choices: Iterable):
    """``value``, if it is one of ``choices`` (a bool only where a choice is a bool: True is not 1)."""
    choices = tuple(choices)
    try:
        ok = value in choices and (not isinstance(value, bool) or any(isinstance(c, bool) for c in choices))
    except Exception:  # an array's ambiguous truth value, an odd __eq__
        ok = False
    require(bool(ok), name, f"one of {', '.join(map(str, choices))}", value)
    return value


def check_bool(value, name: str) -> bool:
    """``value``, if it is a bool (not 0 / 1, not a tensor); a TypeError otherwise."""
    require(isinstance(value, bool), name, "a bool", value, TypeError)
    return value


def check_seed(value, name: str = "seed") -> int:
    """``value`` as an int, if it is an integer in [0, 2**63): every seed in rglt."""
    require(is_int(value) and 0 <= value < SEED_LIMIT, name, "an integer in [0, 2**63)", value)
    return int(value)


# Tensors ---------------------------------------------------------------------------------------

TENSOR_KINDS = {
    "floating": ("a floating tensor", lambda d: d.is_floating_point),
    "integer": ("an integer tensor", lambda d: not d.is_floating_point and not d.is_complex and d != torch.bool),
    "real": ("a floating or integer tensor", lambda d: not d.is_complex and d != torch.bool),
    "bool": ("a bool tensor", lambda d: d == torch.bool),
}


def describe(value) -> str:
    """``value`` for a message: a tensor's dtype and shape, anything else its (shortened) repr."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {str(value.dtype).removeprefix('torch.')} and shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... (a {type(value).__name__})"


def check_tensor(value, name: str, *, kind: str | None = None, min_ndim: int = 0, nonempty: bool = False,
                 finite: bool = False) -> torch.Tensor:
    """``value``, if it is a torch.Tensor (a TypeError otherwise, as for the wrong ``kind`` of dtype:
    one of TENSOR_KINDS) with at least ``min_ndim`` dimensions, at least one entry along dim 0 when
    ``nonempty``, and, when ``finite``, no NaN or inf (checked for floating tensors only)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    if kind is not None:
        allowed, ok = TENSOR_KINDS[kind]
        if not ok(value.dtype):
            raise TypeError(f"{name} must be {allowed}; got {describe(value)}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s); got {describe(value)}")
    if nonempty and (value.ndim == 0 or value.shape[0] == 0):
        raise ValueError(f"{name} must hold at least one entry along dim 0; got {describe(value)}")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    return value
