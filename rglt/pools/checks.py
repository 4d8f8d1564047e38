"""The input checks every function of :mod:`rglt.pools` shares, one implementation each: model states,
prunable masks, batches of inputs for a model, scores, class probabilities. Each raises a ValueError /
TypeError naming the argument (and the entry of a state dict) and what is allowed, before any work."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch
from torch import nn

from rglt.validate import check_tensor, describe


def check_model(model, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}")
    return model


def check_callable(value, name: str, what: str, *, optional: bool = False):
    if not (callable(value) or (optional and value is None)):
        raise TypeError(f"{name} must be {'None or ' if optional else ''}a callable {what}; got {type(value).__name__}")
    return value


def _mapping(value, name: str, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be {what} (a mapping of entry names to tensors); got {type(value).__name__}")
    if len(value) == 0:
        raise ValueError(f"{name} must hold at least one entry; got an empty {type(value).__name__}")
    for key, x in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} must map entry names (str) to tensors; got the key {key!r}")
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a torch.Tensor; got {type(x).__name__}")
    return value


def check_state(state, name: str, *, like: Mapping | None = None, like_name: str = "",
                devices: bool = True) -> Mapping[str, torch.Tensor]:
    """``state``, if it is a non-empty mapping of names (str) to real tensors whose floating entries are
    finite. With ``like`` (a state of the same model, named ``like_name``): the same entries, each of
    the same shape and dtype (and device, when ``devices``)."""
    _mapping(state, name, "a state dict")
    for key, x in state.items():
        if x.is_complex():
            raise TypeError(f"{name}[{key!r}] must be a floating, integer or bool tensor; got {describe(x)}")
        check_tensor(x, f"{name}[{key!r}]", finite=True)
    if like is None:
        return state
    differ = set(state) ^ set(like)
    if differ:
        raise ValueError(f"{name} and {like_name} must hold the same entries; they differ in {sorted(differ)[:8]}")
    for key, x in state.items():
        y = like[key]
        for what, mine, theirs in (("shape", tuple(x.shape), tuple(y.shape)), ("dtype", x.dtype, y.dtype),
                                   ("device", x.device, y.device)):
            if mine != theirs and (what != "device" or devices):
                raise ValueError(f"{name}[{key!r}] must have the {what} of {like_name}[{key!r}], {theirs}; got {mine}")
    return state


def check_masks(masks, name: str, *, state: Mapping[str, torch.Tensor], state_name: str,
                devices: bool = True) -> Mapping[str, torch.Tensor]:
    """``masks``, if it is a non-empty mapping of entries of ``state`` to bool tensors of their shapes
    (True: the entry survives), keeping at least one entry."""
    _mapping(masks, name, "a dict of masks")
    missing = [key for key in masks if key not in state]
    if missing:
        raise ValueError(f"{name} names entries that {state_name} lacks: {missing[:8]}")
    for key, m in masks.items():
        check_tensor(m, f"{name}[{key!r}]", kind="bool")
        x = state[key]
        if m.shape != x.shape:
            raise ValueError(f"{name}[{key!r}] must have the shape of {state_name}[{key!r}], "
                             f"{tuple(x.shape)}; got {tuple(m.shape)}")
        if devices and m.device != x.device:
            raise ValueError(f"{name}[{key!r}] must be on the device of {state_name}[{key!r}], {x.device}; "
                             f"got {m.device}")
    if not any(bool(m.any()) for m in masks.values()):
        raise ValueError(f"{name} must keep at least one entry (a ticket with no surviving weight); "
                         f"every mask is all False")
    return masks


def _dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's floating parameters (or buffers), None when it has none."""
    for x in (*model.parameters(), *model.buffers()):
        if x.is_floating_point():
            return x.dtype
    return None


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters (or buffers) live; the CPU when it has neither."""
    for x in (*model.parameters(), *model.buffers()):
        return x.device
    return torch.device("cpu")


def check_inputs(inputs, name: str, model: nn.Module, *, limit: int | None = None) -> torch.Tensor:
    """``inputs`` for ``model``: a tensor of at least one example (dim 0), of the model's floating dtype
    (or an integer dtype: token ids), finite in the first ``limit`` examples (the ones used; all when None)."""
    check_tensor(inputs, name, kind="real", min_ndim=1, nonempty=True)
    dtype = _dtype(model)
    if inputs.is_floating_point() and dtype is not None and inputs.dtype != dtype:
        raise TypeError(f"{name} must have the dtype of the model's parameters, "
                        f"{str(dtype).removeprefix('torch.')} (or an integer dtype); got {describe(inputs)}")
    if limit is None or limit >= len(inputs):
        check_tensor(inputs, name, finite=True)
    else:
        check_tensor(inputs[:limit], f"{name}[:{limit}] (the examples used)", finite=True)
    return inputs


def check_score(value, name: str) -> float:
    """``value`` as a float, if it is a finite real number (or a one-entry real tensor): a score that a
    search compares. A NaN compares False with everything and inf wins every comparison, so either
    would decide a search silently."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    one = (isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex()
           and value.dtype != torch.bool)
    if not (number or one):
        raise TypeError(f"{name} must be a finite number; got {describe(value)}")
    score = float(value)
    if not math.isfinite(score):
        raise ValueError(f"{name} must be a finite number; got {score!r}")
    return score


def check_probabilities(probabilities, name: str = "probabilities") -> list[torch.Tensor]:
    """A non-empty list or tuple of finite floating (N, classes) tensors (N >= 1), one shape, dtype and device."""
    if not isinstance(probabilities, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of (N, classes) tensors, one per member; "
                        f"got {type(probabilities).__name__}")
    if len(probabilities) == 0:
        raise ValueError(f"{name} must hold at least one member's predictions; "
                         f"got an empty {type(probabilities).__name__}")
    first = probabilities[0]
    for i, p in enumerate(probabilities):
        check_tensor(p, f"{name}[{i}]", kind="floating")
        if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] == 0:
            raise ValueError(f"{name}[{i}] must be (N, classes) with N >= 1 and classes >= 1; got {describe(p)}")
        for what, mine, theirs in (("shape", tuple(p.shape), tuple(first.shape)), ("dtype", p.dtype, first.dtype),
                                   ("device", p.device, first.device)):
            if mine != theirs:
                raise ValueError(f"{name}[{i}] must have the {what} of {name}[0], {theirs}; got {mine}")
        check_tensor(p, f"{name}[{i}]", finite=True)
    return list(probabilities)
