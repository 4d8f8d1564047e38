"""Fused RG-Flow patch coupling glue: gather, affine coupling epilogue (+ scatter), scatter.

An RG layer of ``rglt.flow.model.RGLayer`` is gather -> couplings -> scatter, where each coupling runs
two residual MLPs (the GEMMs, kept in torch / cuBLAS) and then an elementwise epilogue. These public
functions do the rest, with Triton kernels (``triton.py``) on CUDA and the PyTorch reference
(``reference.py``) otherwise; gradients flow through all of them (``torch.autograd.Function``):

- :func:`gather_patches`: image [B, C, size, size] -> patches [B * P, C * kernel^2] of the RG layer
  (kernel, level, offset), the rows and columns of ``geometry.gather_patches``;
- :func:`affine_coupling`: the coupling epilogue on patch rows, forward or inverse, with per-row log-det;
- :func:`affine_coupling_scatter`: the same, writing its result straight into a copy of the image
  (the last coupling of a layer: epilogue and scatter in one kernel);
- :func:`scatter_patches`: a copy of the image with the layer's sites replaced by the patches.

The epilogue, with W = C * kernel^2 and per-feature vectors keep (the checkerboard mask: 1 = kept),
a (the S net's final ``scale``) and b (the T net's), and s_raw / t_raw the S / T nets' outputs before
that scale:  s = (1 - keep) tanh(a s_raw), t = (1 - keep) b t_raw,
y = keep x + (1 - keep)(x e^s + t), log-det = sum_j s  (inverse: x = keep y + (1 - keep)(y - t) e^-s,
log-det = -sum_j s). Log-dets are per patch row [B * P]; sum them per sample with
``ld.reshape(B, -1).sum(1)`` (deterministic, as RGLayer does).
"""
from __future__ import annotations

import numbers
import os

import torch

from . import reference
from .geometry import check_geometry

BACKENDS = ("auto", "reference", "triton")
TRITON_DTYPES = (torch.float32, torch.float64)  # float64: for gradcheck (tests/test_rg_coupling.py)


# ----------------------------------------------------------------------------------------------------
# input checks


def _check_tensor(x, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor; got "
                        f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")


def _check_image(x, name: str, kernel, level, offset) -> None:
    _check_tensor(x, name)
    if x.dim() != 4 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name} must have shape [batch, channels, size, size]; got {list(x.shape)}")
    levels = check_geometry(x.shape[-1], kernel)
    if isinstance(level, bool) or not isinstance(level, numbers.Integral) or not 0 <= level < levels:
        raise ValueError(f"level must be an integer in [0, {levels - 1}] (size {x.shape[-1]}, kernel "
                         f"{kernel}); got {level!r}")
    if not isinstance(offset, bool):
        raise TypeError(f"offset must be a bool; got {offset!r}")


def _patch_shape(image: torch.Tensor, kernel: int, level: int) -> tuple[int, int]:
    bsz, c, size, _ = image.shape
    blocks = size // (kernel * 2 ** level)
    return bsz * blocks * blocks, c * kernel * kernel


def _check_same(tensors: dict, ref_name: str) -> None:
    ref = tensors[ref_name]
    for name, t in tensors.items():
        if t.dtype != ref.dtype:
            raise TypeError(f"{name} must have the dtype of {ref_name}, {ref.dtype}; got {t.dtype}")
        if t.device != ref.device:
            raise ValueError(f"{name} must be on the device of {ref_name}, {ref.device}; got {t.device}")


def _check_coupling(x, s_raw, t_raw, keep, a, b, expected=None) -> None:
    for name, t in (("x", x), ("s_raw", s_raw), ("t_raw", t_raw), ("keep", keep), ("a", a), ("b", b)):
        _check_tensor(t, name)
    if x.dim() != 2:
        raise ValueError(f"x must be a patch matrix [rows, C * kernel^2]; got shape {list(x.shape)}")
    if expected is not None and tuple(x.shape) != expected:
        raise ValueError(f"x must have shape [B * patches, C * kernel^2] = {list(expected)} for this "
                         f"image and layer; got {list(x.shape)}")
    for name, t in (("s_raw", s_raw), ("t_raw", t_raw)):
        if t.shape != x.shape:
            raise ValueError(f"{name} must have the shape of x, {list(x.shape)}; got {list(t.shape)}")
    for name, t in (("keep", keep), ("a", a), ("b", b)):
        if t.dim() != 1 or t.shape[0] != x.shape[1]:
            raise ValueError(f"{name} must be a vector [{x.shape[1]}] (one entry per patch feature); "
                             f"got shape {list(t.shape)}")
    if keep.requires_grad and torch.is_grad_enabled():
        raise ValueError("keep (the checkerboard mask) is a constant: it must not require grad")
    _check_same({"x": x, "s_raw": s_raw, "t_raw": t_raw, "keep": keep, "a": a, "b": b}, "x")


def _pick_backend(backend, x: torch.Tensor) -> str:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        return "triton" if x.is_cuda and x.dtype == torch.float32 else "reference"
    if backend == "triton":
        if x.dtype not in TRITON_DTYPES:
            raise TypeError(f"backend 'triton' supports float32 and float64; got {x.dtype}")
        if not x.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError("backend 'triton' needs CUDA tensors, or TRITON_INTERPRET=1 (set before "
                             "rglt.kernels.rg_coupling.triton is imported) to run on the CPU")
    return backend


def _kernels():
    from . import triton as kernels  # imported late: defining the kernels reads TRITON_INTERPRET
    return kernels


def _index(image: torch.Tensor, kernel: int, level: int, offset: bool) -> torch.Tensor:
    return reference.layer_index(image.shape[-1], kernel, level, offset, image.device)


# ----------------------------------------------------------------------------------------------------
# autograd functions


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, level, offset, backend):
        ctx.geometry, ctx.backend, ctx.shape = (kernel, level, offset), backend, x.shape
        return _gather(x, ctx.geometry, backend)

    @staticmethod
    def backward(ctx, grad):
        # Each site is in at most one patch: the adjoint is a conflict-free scatter into zeros.
        zeros = grad.new_zeros(ctx.shape)
        return _scatter(zeros, grad.contiguous(), ctx.geometry, ctx.backend), None, None, None, None


def _scatter(image, patches, geometry, backend):
    """Copy of image with the layer's sites set to patches (zeros when patches is None)."""
    kernel, level, offset = geometry
    if backend == "triton":
        return _kernels().scatter(image, patches, kernel, level, offset)
    index = _index(image, kernel, level, offset)
    if patches is None:
        patches = image.new_zeros(_patch_shape(image, kernel, level))
    return reference.scatter(image, patches, index)


def _gather(image, geometry, backend):
    kernel, level, offset = geometry
    if backend == "triton":
        return _kernels().gather(image, kernel, level, offset)
    return reference.gather(image, _index(image, kernel, level, offset))


class _Scatter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, image, patches, kernel, level, offset, backend):
        ctx.geometry, ctx.backend = (kernel, level, offset), backend
        return _scatter(image, patches, ctx.geometry, backend)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        d_image = _scatter(grad, None, ctx.geometry, ctx.backend) if ctx.needs_input_grad[0] else None
        d_patches = _gather(grad, ctx.geometry, ctx.backend) if ctx.needs_input_grad[1] else None
        return d_image, d_patches, None, None, None, None


class _Coupling(torch.autograd.Function):
    """(out, logdet rows) = epilogue(x, s_raw, t_raw; keep, a, b), out = patches or the image copy."""

    @staticmethod
    def forward(ctx, x, s_raw, t_raw, keep, a, b, image, geometry, inverse, backend):
        ctx.save_for_backward(x, s_raw, t_raw, keep, a, b)
        ctx.geometry, ctx.inverse, ctx.backend = geometry, inverse, backend
        if backend == "triton":
            return _kernels().coupling_forward(x, s_raw, t_raw, keep, a, b, inverse=inverse,
                                               image=image, geometry=geometry)
        fn = reference.affine_epilogue_inverse if inverse else reference.affine_epilogue
        y, ld = fn(x, s_raw, t_raw, keep, a, b)
        if image is not None:
            y = reference.scatter(image, y, _index(image, *geometry))
        return y, ld

    @staticmethod
    def backward(ctx, grad_out, grad_ld):
        x, s_raw, t_raw, keep, a, b = ctx.saved_tensors
        grad_out, grad_ld = grad_out.contiguous(), grad_ld.contiguous()
        if ctx.backend == "triton":
            dx, ds, dt, da, db, dimg = _kernels().coupling_backward(
                grad_out, grad_ld, x, s_raw, t_raw, keep, a, b, inverse=ctx.inverse, geometry=ctx.geometry)
        else:
            dimg = None
            if ctx.geometry is not None:
                dimg = _scatter(grad_out, None, ctx.geometry, "reference")
                grad_out = _gather(grad_out, ctx.geometry, "reference")
            dx, ds, dt, da, db = reference.affine_epilogue_backward(
                grad_out, grad_ld, x, s_raw, t_raw, keep, a, b, inverse=ctx.inverse)
        need = ctx.needs_input_grad
        grads = (dx, ds, dt, None, da, db, dimg)
        return tuple(g if n else None for g, n in zip(grads, need)) + (None, None, None)


# ----------------------------------------------------------------------------------------------------
# public functions


def gather_patches(x: torch.Tensor, kernel: int, level: int, offset: bool, *,
                   backend: str = "auto") -> torch.Tensor:
    """Patches [B * P, C * kernel^2] of the RG layer (kernel, level, offset) of x [B, C, size, size].

    Rows: batch slowest, then patch (row-major); columns: channel slowest, then (i, j) row-major:
    exactly ``geometry.gather_patches(x, geometry.layer_index(size, kernel, level, offset))``.
    """
    _check_image(x, "x", kernel, level, offset)
    backend = _pick_backend(backend, x)
    return _Gather.apply(x.contiguous(), int(kernel), int(level), offset, backend)


def scatter_patches(x: torch.Tensor, patches: torch.Tensor, kernel: int, level: int, offset: bool, *,
                    backend: str = "auto") -> torch.Tensor:
    """A copy of x [B, C, size, size] with the sites of the RG layer set to ``patches``."""
    _check_image(x, "x", kernel, level, offset)
    _check_tensor(patches, "patches")
    expected = _patch_shape(x, kernel, level)
    if tuple(patches.shape) != expected:
        raise ValueError(f"patches must have shape [B * patches, C * kernel^2] = {list(expected)}; "
                         f"got {list(patches.shape)}")
    _check_same({"x": x, "patches": patches}, "x")
    backend = _pick_backend(backend, x)
    return _Scatter.apply(x.contiguous(), patches.contiguous(), int(kernel), int(level), offset, backend)


def affine_coupling(x, s_raw, t_raw, keep, a, b, *, inverse: bool = False,
                    backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """One affine coupling epilogue on patch rows x [N, W]: (y [N, W], log-det per row [N]).

    s_raw, t_raw [N, W]: the S and T nets' outputs before their final scale; keep, a, b [W]: the
    checkerboard mask (constant, 0 / 1 for the inverse to invert), the S scale and the T scale.
    ``inverse`` maps y back to x (log-det of the inverse).
    """
    _check_coupling(x, s_raw, t_raw, keep, a, b)
    if not isinstance(inverse, bool):
        raise TypeError(f"inverse must be a bool; got {inverse!r}")
    backend = _pick_backend(backend, x)
    c = [t.contiguous() for t in (x, s_raw, t_raw, keep, a, b)]
    return _Coupling.apply(*c, None, None, inverse, backend)


def affine_coupling_scatter(image, x, s_raw, t_raw, keep, a, b, kernel: int, level: int, offset: bool, *,
                            inverse: bool = False,
                            backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`affine_coupling`, its result scattered into a copy of ``image``: (image', log-det rows).

    Equals ``scatter_patches(image, affine_coupling(x, ...)[0], kernel, level, offset)`` in one kernel;
    x must be the patch matrix of this layer of ``image`` ([B * P, C * kernel^2]).
    """
    _check_image(image, "image", kernel, level, offset)
    _check_coupling(x, s_raw, t_raw, keep, a, b, expected=_patch_shape(image, kernel, level))
    _check_same({"x": x, "image": image}, "x")
    if not isinstance(inverse, bool):
        raise TypeError(f"inverse must be a bool; got {inverse!r}")
    backend = _pick_backend(backend, x)
    c = [t.contiguous() for t in (x, s_raw, t_raw, keep, a, b)]
    return _Coupling.apply(*c, image.contiguous(), (int(kernel), int(level), offset), inverse, backend)


__all__ = ["gather_patches", "scatter_patches", "affine_coupling", "affine_coupling_scatter", "BACKENDS"]
