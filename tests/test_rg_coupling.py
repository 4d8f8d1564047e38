"""rglt.kernels.rg_coupling: the Triton kernels (interpreter on CPU, real on CUDA) against the PyTorch
reference, the hand-written backward against gradcheck, and the composed gather -> couplings -> scatter
against rglt.flow's eager RGLayer (an independent check that the kernels compute the model's map)."""
import math
import os

import pytest
import torch

from rglt.kernels.rg_coupling import geometry
from rglt.flow.coupling import checkerboard_mask
from rglt.flow.model import RGLayer
from rglt.kernels.rg_coupling import (affine_coupling, affine_coupling_scatter, gather_patches,
                                      scatter_patches)

KERNEL = 4
# (size, level, offset): every level of sizes 8 (H = 2) and 16 (H = 3), both offsets.
GEOMETRIES = [(size, level, offset) for size in (8, 16)
              for level in range(geometry.check_geometry(size, KERNEL)) for offset in (False, True)]
HAS_TRITON = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="needs CUDA or TRITON_INTERPRET=1")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def inputs(size, level, batch=2, channels=3, dtype=torch.float32, device="cpu", seed=0):
    """An image, its patch matrix shape, random pre-scale outputs and scales, the checkerboard mask."""
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, channels, size, size, generator=g, dtype=dtype)
    blocks = size // (KERNEL * 2 ** level)
    n, w = batch * blocks * blocks, channels * KERNEL * KERNEL
    x, s_raw, t_raw = (torch.randn(n, w, generator=g, dtype=dtype) for _ in range(3))
    a, b = torch.randn(w, generator=g, dtype=dtype), torch.randn(w, generator=g, dtype=dtype)
    keep = checkerboard_mask(channels, KERNEL).to(dtype)
    return [t.to(device) for t in (image, x, s_raw, t_raw, keep, a, b)]


def run_all(backend, size, level, offset, image, x, s_raw, t_raw, keep, a, b, weights):
    """Every public function, forward and inverse; returns outputs and the gradients of a fixed loss."""
    leaves = [t.detach().clone().requires_grad_() for t in (image, x, s_raw, t_raw, a, b)]
    image, x, s_raw, t_raw, a, b = leaves
    outs = [gather_patches(image, KERNEL, level, offset, backend=backend),
            scatter_patches(image, x, KERNEL, level, offset, backend=backend)]
    for inverse in (False, True):
        outs += affine_coupling(x, s_raw, t_raw, keep, a, b, inverse=inverse, backend=backend)
        outs += affine_coupling_scatter(image, x, s_raw, t_raw, keep, a, b, KERNEL, level, offset,
                                        inverse=inverse, backend=backend)
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    grads = torch.autograd.grad(loss, leaves)
    return [o.detach() for o in outs], grads


@needs_triton
@pytest.mark.parametrize("size,level,offset", GEOMETRIES)
def test_triton_equals_reference(size, level, offset):
    args = inputs(size, level, device=DEVICE, seed=level + 10 * offset)
    g = torch.Generator().manual_seed(7)
    shapes = [o.shape for o in run_all("reference", size, level, offset, *args, [0.0] * 10)[0]]
    weights = [torch.randn(s, generator=g).to(DEVICE) for s in shapes]
    out_ref, grad_ref = run_all("reference", size, level, offset, *args, weights)
    out_tri, grad_tri = run_all("triton", size, level, offset, *args, weights)
    assert torch.equal(out_tri[0], out_ref[0])  # gather and scatter only move values: exact
    assert torch.equal(out_tri[1], out_ref[1])
    for got, want in zip(out_tri, out_ref):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    for name, got, want in zip(("image", "x", "s_raw", "t_raw", "a", "b"), grad_tri, grad_ref):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4, msg=lambda m: f"d{name}: {m}")


def test_reference_gather_is_geometry_and_scatter_inverts_it():
    for size, level, offset in GEOMETRIES:
        image = inputs(size, level)[0]
        index = geometry.layer_index(size, KERNEL, level, offset)
        patches = gather_patches(image, KERNEL, level, offset, backend="reference")
        assert torch.equal(patches, geometry.gather_patches(image, index))
        assert torch.equal(scatter_patches(image, patches, KERNEL, level, offset, backend="reference"), image)


def _gradcheck(backend, size=8, level=0, offset=True, fast_mode=False):
    image, x, s_raw, t_raw, keep, a, b = inputs(size, level, batch=1, channels=1, dtype=torch.float64, device=DEVICE)
    leaf = lambda t: t.detach().clone().requires_grad_()  # noqa: E731
    image, x, s_raw, t_raw, a, b = map(leaf, (image, x, s_raw, t_raw, a, b))
    check = lambda fn, args: torch.autograd.gradcheck(fn, args, fast_mode=fast_mode)  # noqa: E731
    for inverse in (False, True):
        assert check(lambda *t: affine_coupling(*t[:3], keep, *t[3:], inverse=inverse, backend=backend),
                     (x, s_raw, t_raw, a, b))
        assert check(lambda im, *t: affine_coupling_scatter(im, *t[:3], keep, *t[3:], KERNEL, level, offset,
                                                            inverse=inverse, backend=backend),
                     (image, x, s_raw, t_raw, a, b))
    assert check(lambda im: gather_patches(im, KERNEL, level, offset, backend=backend), (image,))
    assert check(lambda im, p: scatter_patches(im, p, KERNEL, level, offset, backend=backend), (image, x))


def test_gradcheck_reference_fp64():
    _gradcheck("reference")


@needs_triton
def test_gradcheck_triton_fp64():
    # In the interpreter the full Jacobian costs ~17 s: random projections of it there (fast_mode).
    _gradcheck("triton", fast_mode=not torch.cuda.is_available())


def _pre_scale(net, h):
    # rglt.flow.layers.ResidualMLP.forward without its final `scale` (and tanh): s_raw / t_raw.
    for block in net.blocks:
        h = (h + block(h)) / math.sqrt(2.0)
    return h


def kernel_layer(layer: RGLayer, image: torch.Tensor, inverse: bool, backend: str):
    """RGLayer.forward / .inverse rebuilt from the kernels: gather, the couplings' epilogues, the last
    one fused with the scatter. The MLPs run in torch on the conditioning half."""
    level, offset = layer.level, layer.offset
    couplings = [(sub, keep) for sub in layer.subnets for keep in (sub.mask, 1 - sub.mask)]
    if inverse:
        couplings = couplings[::-1]
    p = gather_patches(image, KERNEL, level, offset, backend=backend)
    ld = 0
    for i, (sub, keep) in enumerate(couplings):
        cond = keep * p
        s_raw, t_raw = _pre_scale(sub.s_net, cond), _pre_scale(sub.t_net, cond)
        args = (p, s_raw, t_raw, keep, sub.s_net.scale, sub.t_net.scale)
        if i == len(couplings) - 1:
            out, l = affine_coupling_scatter(image, *args, KERNEL, level, offset, inverse=inverse,
                                             backend=backend)
        else:
            p, l = affine_coupling(*args, inverse=inverse, backend=backend)
        ld = ld + l
    return out, ld.reshape(image.shape[0], -1).sum(dim=1)


@pytest.mark.parametrize("backend", ["reference", pytest.param("triton", marks=needs_triton)])
@pytest.mark.parametrize("size,level,offset", [(8, 0, False), (8, 1, True), (16, 1, True), (16, 2, False)])
def test_matches_eager_rg_layer(backend, size, level, offset):
    torch.manual_seed(3)
    layer = RGLayer(3, size, KERNEL, level, offset, subnet_layers=2, hidden=8, residual_blocks=1).to(DEVICE)
    with torch.no_grad():  # the scales start at zero (identity flow): make the couplings do something
        for sub in layer.subnets:
            sub.s_net.scale.normal_(0, 0.5)
            sub.t_net.scale.normal_(0, 0.5)
    x = torch.randn(2, 3, size, size, device=DEVICE, requires_grad=True)
    params = [layer.subnets[0].s_net.scale, layer.subnets[1].t_net.scale,
              layer.subnets[0].s_net.blocks[0][1].v]
    for inverse in (False, True):
        want = layer.inverse(x) if inverse else layer(x)
        got = kernel_layer(layer, x, inverse, backend)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)
        g = torch.Generator().manual_seed(1)
        wy, wl = torch.randn(x.shape, generator=g).to(DEVICE), torch.randn(2, generator=g).to(DEVICE)
        grads_want = torch.autograd.grad((want[0] * wy).sum() + (want[1] * wl).sum(), [x] + params)
        grads_got = torch.autograd.grad((got[0] * wy).sum() + (got[1] * wl).sum(), [x] + params)
        for g, w in zip(grads_got, grads_want):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", pytest.param("triton", marks=needs_triton)])
def test_inverse_of_forward_is_identity(backend):
    for size, level, offset in [(16, 0, False), (16, 2, True)]:
        image, x, s_raw, t_raw, keep, a, b = inputs(size, level, device=DEVICE)
        y, ld = affine_coupling(x, s_raw, t_raw, keep, a, b, backend=backend)
        x2, ld2 = affine_coupling(y, s_raw, t_raw, keep, a, b, inverse=True, backend=backend)
        torch.testing.assert_close(x2, x, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ld2, -ld)
        # Through the image: the layer's sites change, the others pass through, and the inverse undoes it.
        out, _ = affine_coupling_scatter(image, x, s_raw, t_raw, keep, a, b, KERNEL, level, offset,
                                         backend=backend)
        p = gather_patches(out, KERNEL, level, offset, backend=backend)
        torch.testing.assert_close(p, y)
        back, _ = affine_coupling_scatter(out, p, s_raw, t_raw, keep, a, b, KERNEL, level, offset,
                                          inverse=True, backend=backend)
        torch.testing.assert_close(gather_patches(back, KERNEL, level, offset, backend=backend), x,
                                   rtol=1e-5, atol=1e-5)
        untouched = geometry.level_of_sites(size, KERNEL) < level
        assert torch.equal(back[..., untouched.to(DEVICE)], image[..., untouched.to(DEVICE)])


def test_bad_input():
    image, x, s_raw, t_raw, keep, a, b = inputs(8, 0)
    with pytest.raises(ValueError, match="backend"):
        gather_patches(image, KERNEL, 0, False, backend="cuda")
    with pytest.raises(ValueError, match="level"):
        gather_patches(image, KERNEL, 2, False)
    with pytest.raises(ValueError, match="kernel"):
        gather_patches(image, 3, 0, False)
    with pytest.raises(TypeError, match="offset"):
        gather_patches(image, KERNEL, 0, 1)
    with pytest.raises(ValueError, match="shape"):
        gather_patches(image[:, :, :, :4], KERNEL, 0, False)
    with pytest.raises(TypeError, match="x"):
        gather_patches(image.long(), KERNEL, 0, False)
    with pytest.raises(ValueError, match="patches"):
        scatter_patches(image, x[:, :16], KERNEL, 0, False)  # one channel's worth: channel mismatch
    with pytest.raises(ValueError, match="s_raw"):
        affine_coupling(x, s_raw[1:], t_raw, keep, a, b)
    with pytest.raises(ValueError, match="keep"):
        affine_coupling(x, s_raw, t_raw, keep[:16], a, b)
    with pytest.raises(TypeError, match="dtype"):
        affine_coupling(x, s_raw, t_raw, keep, a.double(), b)
    with pytest.raises(ValueError, match="x must have shape"):
        affine_coupling_scatter(image[:, :2], x, s_raw, t_raw, keep, a, b, KERNEL, 0, False)
    with pytest.raises(ValueError, match="x must have shape"):
        affine_coupling_scatter(image, x, s_raw, t_raw, keep, a, b, KERNEL, 1, False)
    with pytest.raises(ValueError, match="require grad"):
        affine_coupling(x, s_raw, t_raw, keep.requires_grad_(), a, b)
    with pytest.raises(TypeError, match="inverse"):
        affine_coupling(x, s_raw, t_raw, keep.detach(), a, b, inverse=1)


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    image, x, s_raw, t_raw, keep, a, b = inputs(8, 0)
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        gather_patches(image, KERNEL, 0, False, backend="triton")
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        affine_coupling(x, s_raw, t_raw, keep, a, b, backend="triton")
    with pytest.raises(TypeError, match="float32"):
        affine_coupling(*(t.half() for t in (x, s_raw, t_raw, keep, a, b)), backend="triton")


@cuda
def test_auto_uses_triton_on_cuda():
    image, x, s_raw, t_raw, keep, a, b = inputs(16, 1, device="cuda")
    y_auto, ld_auto = affine_coupling(x, s_raw, t_raw, keep, a, b)
    y_ref, ld_ref = affine_coupling(x, s_raw, t_raw, keep, a, b, backend="reference")
    torch.testing.assert_close(y_auto, y_ref)
    torch.testing.assert_close(ld_auto, ld_ref)
