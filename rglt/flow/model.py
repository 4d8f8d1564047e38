"""RG-Flow (Hu et al. 2022) as the original code builds it: 2H RG layers of patch couplings.

The latent z keeps the image shape; there is no squeeze or split. Level h contributes the sites whose
coordinates have min(v2(i), v2(j)) = h (capped at H - 1), see :func:`level_of_sites`.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from rglt.flow.coupling import SubnetLayer
from rglt.flow.fast import run_subnet
from rglt.flow.priors import check_prior, check_temperature, prior_log_prob, prior_sample
from rglt.kernels.rg_coupling import gather_patches as fused_gather
from rglt.kernels.rg_coupling.geometry import (check_geometry, gather_patches, layer_index, level_of_sites,
                                               scatter_patches)
from rglt.validate import check_bool, check_choice, check_int, is_int, require

BACKENDS = ("reference", "fast", "fast-bf16", "triton", "auto")


def check_layers_per_level(layers_per_level, levels: int) -> tuple[int, ...]:
    """An int n means n at every level; a sequence must have one entry >= 1 per level."""
    if is_int(layers_per_level):
        layers_per_level = (layers_per_level,) * levels
    try:
        out = tuple(layers_per_level)
    except TypeError:
        out = ()
    require(len(out) == levels and all(is_int(n) and n >= 1 for n in out), "layers_per_level",
            f"an integer >= 1 or {levels} of them (one per RG level, H = log2(size / kernel) + 1)", layers_per_level)
    return tuple(int(n) for n in out)


class RGLayer(nn.Module):
    """One RG layer: gather the layer's patches, apply its subnet layers, scatter them back."""

    def __init__(self, channels: int, size: int, kernel: int, level: int, offset: bool, subnet_layers: int,
                 hidden: int, residual_blocks: int):
        super().__init__()
        self.level, self.offset, self.kernel = level, offset, kernel
        self.register_buffer("index", layer_index(size, kernel, level, offset), persistent=False)
        self.subnets = nn.ModuleList(SubnetLayer(channels, kernel, hidden, residual_blocks)
                                     for _ in range(subnet_layers))
        self.checkpointing = False
        self.backend = "reference"  # set through RGFlow.backend, which checks it

    def _subnet_fn(self, patches: torch.Tensor, inverse: bool):
        """The function that applies one subnet layer to patches: the reference module's or the fast path's."""
        backend = self._eager_backend(patches)
        if backend == "reference":
            return (lambda subnet, p: subnet.inverse(p)) if inverse else (lambda subnet, p: subnet(p))
        bf16 = backend == "fast-bf16"
        return lambda subnet, p: run_subnet(subnet, p, inverse, bf16)

    def _run(self, fn, subnet: SubnetLayer, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Recompute each subnet layer's activations in the backward pass instead of storing them.
        if self.checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(fn, subnet, patches, use_reentrant=False)
        return fn(subnet, patches)

    def _eager_backend(self, x: torch.Tensor) -> str:
        """"reference", "fast" or "fast-bf16": how a non-Triton run applies its subnet layers."""
        if self.backend == "auto":   # the fast path where torch.compile targets the CPU
            return "fast" if x.device.type == "cpu" and x.dtype == torch.float32 else "reference"
        return self.backend

    def _kernel_backend(self, x: torch.Tensor) -> str | None:
        """The rglt.kernels.rg_coupling backend to run x with, or None for the eager code below."""
        # "auto" follows the kernels' own rule: Triton for CUDA float32, the eager path otherwise.
        if self.backend == "triton" or (self.backend == "auto" and x.is_cuda and x.dtype == torch.float32):
            return "triton"
        return None

    def _fused(self, x: torch.Tensor, inverse: bool, backend: str) -> tuple[torch.Tensor, torch.Tensor]:
        """forward / inverse with the fused kernels: gather, the couplings' epilogues, the last one fused
        with the scatter. Same map and the same per-sample log-det summation order as the eager path."""
        geometry = (self.kernel, self.level, self.offset)
        out = fused_gather(x, *geometry, backend=backend)
        subnets = list(self.subnets)[::-1] if inverse else list(self.subnets)
        # Checkpoint as _run does (forward direction, training with grad).
        ckpt = not inverse and self.checkpointing and self.training and torch.is_grad_enabled()
        ldj = out.new_zeros(out.shape[0])
        for i, subnet in enumerate(subnets):
            args = (out, inverse, backend, (x, *geometry) if i == len(subnets) - 1 else None)
            out, ld = checkpoint(subnet.fused, *args, use_reentrant=False) if ckpt else subnet.fused(*args)
            ldj = ldj + ld
        return out, ldj.reshape(x.shape[0], -1).sum(dim=1)  # out: the image after the last subnet

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> latent direction: (y, log|det J| per sample)."""
        backend = self._kernel_backend(x)
        if backend is not None:
            return self._fused(x, False, backend)
        patches = gather_patches(x, self.index)
        fn = self._subnet_fn(patches, inverse=False)
        ldj = patches.new_zeros(patches.shape[0])
        for subnet in self.subnets:
            patches, ld = self._run(fn, subnet, patches)
            ldj = ldj + ld
        return scatter_patches(x, patches, self.index), ldj.reshape(x.shape[0], -1).sum(dim=1)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent -> data direction: (x, log|det J| of the inverse per sample)."""
        backend = self._kernel_backend(z)
        if backend is not None:
            return self._fused(z, True, backend)
        patches = gather_patches(z, self.index)
        fn = self._subnet_fn(patches, inverse=True)
        ldj = patches.new_zeros(patches.shape[0])
        for subnet in reversed(self.subnets):
            patches, ld = fn(subnet, patches)
            ldj = ldj + ld
        return scatter_patches(z, patches, self.index), ldj.reshape(z.shape[0], -1).sum(dim=1)


class RGFlow(nn.Module):
    """RG-Flow from logit-space images [B, channels, size, size] to latents of the same shape.

    ``layers_per_level[h]`` subnet layers in each of the two RG layers of level h (CelebA: (8, 6, 4, 2);
    MSDS: 4 everywhere). Each subnet layer has two residual MLPs (S and T) of ``residual_blocks`` blocks
    with ``hidden`` units. ``prior`` is "laplace" or "gaussian" at temperature 1 for training, with the
    temperature ``parametrisation`` "original" (default) or "report" (see :mod:`rglt.flow.priors`).
    At initialisation the flow is the identity (zero output scales a, b).

    ``backend`` (settable later, like ``checkpointing``): "reference" (default) runs the eager PyTorch
    code; "fast" the same code under torch.compile (:mod:`rglt.flow.fast`), "fast-bf16" that with the
    MLP GEMMs in bfloat16 (everything else, couplings and log-dets included, in fp32); "triton" runs each
    RG layer with the fused kernels of ``rglt.kernels.rg_coupling`` (gather, coupling epilogues,
    epilogue + scatter; the S / T MLPs stay in torch), which needs CUDA tensors, or TRITON_INTERPRET=1
    on the CPU; "auto" is "triton" for CUDA float32 inputs, "fast" for CPU float32 ones and "reference"
    otherwise.
    The kernels' autograd functions have a backward only (no forward-mode AD, no torch.func), so
    :mod:`rglt.flow.analysis` runs the reference path.
    """

    def __init__(self, channels=3, size=32, kernel=4, layers_per_level=(8, 6, 4, 2), residual_blocks=4,
                 hidden=512, prior="laplace", *, parametrisation="original", checkpointing=False,
                 backend="reference"):
        super().__init__()
        self.levels = check_geometry(size, kernel)
        self.channels = check_int(channels, "channels", 1)
        self.size, self.kernel = int(size), int(kernel)
        self.layers_per_level = check_layers_per_level(layers_per_level, self.levels)
        self.residual_blocks = check_int(residual_blocks, "residual_blocks", 1)
        self.hidden = check_int(hidden, "hidden", 1)
        check_prior(prior, parametrisation)
        self.prior, self.parametrisation = prior, parametrisation
        self.layers = nn.ModuleList(
            RGLayer(self.channels, self.size, self.kernel, h, offset, self.layers_per_level[h], self.hidden,
                    self.residual_blocks)
            for h in range(self.levels) for offset in (False, True))
        self.register_buffer("site_levels", level_of_sites(self.size, self.kernel), persistent=False)
        self.checkpointing = checkpointing
        self.backend = backend

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        check_choice(value, "backend", BACKENDS)
        self._backend = value
        for layer in self.layers:
            layer.backend = value

    @contextlib.contextmanager
    def using(self, backend: str):
        """``with flow.using("fast"): ...``: run the block with ``backend``, then restore the previous one."""
        before = self.backend
        self.backend = backend
        try:
            yield self
        finally:
            self.backend = before

    @property
    def checkpointing(self) -> bool:
        return self._checkpointing

    @checkpointing.setter
    def checkpointing(self, value: bool) -> None:
        check_bool(value, "checkpointing")
        self._checkpointing = value
        for layer in self.layers:
            layer.checkpointing = value

    @property
    def dims(self) -> int:
        return self.channels * self.size * self.size

    def _check_input(self, x, name: str, *, run: bool = True) -> None:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor")
        expected = (self.channels, self.size, self.size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"{name} must have shape [batch, {self.channels}, {self.size}, {self.size}] "
                             f"(channels={self.channels}, size={self.size}); got {list(x.shape)}")
        if not run:   # only indexed (latents_by_level), never sent through the layers
            return
        # Checked here, before any layer: inside them these end in a reshape or matmul RuntimeError.
        param = next(self.parameters())
        if x.is_meta or x.device != param.device:
            raise ValueError(f"{name} is on device {x.device}, the flow's parameters on {param.device}"
                             + (" (a meta tensor holds no data)" if x.is_meta else ""))
        if x.dtype != param.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the flow's parameters are {param.dtype}; "
                            f"convert one of them (x.to({param.dtype}) or flow.to({x.dtype}))")
        if x.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one sample; got shape {list(x.shape)}")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data (logit space) -> (z, log|det dz/dx| per sample)."""
        self._check_input(x, "x")
        ldj = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            ldj = ldj + ld
        return x, ldj

    def inverse_and_logdet(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents -> (x, log|det dx/dz| per sample)."""
        self._check_input(z, "z")
        ldj = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z)
            ldj = ldj + ld
        return z, ldj

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> data (logit space)."""
        return self.inverse_and_logdet(z)[0]

    def log_prob(self, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """log p(x) per sample in logit space: prior log density of z plus the flow's log-det.

        Add the logit log-det of :func:`rglt.flow.preprocess.preprocess` for the density of x_tilde.
        """
        self._check_input(x, "x")
        temperature = check_temperature(temperature)
        if not torch.isfinite(x).all():
            raise ValueError("x must be finite (no NaN or inf); preprocess images with rglt.flow.preprocess")
        z, ldj = self(x)
        return prior_log_prob(z, self.prior, temperature, self.parametrisation) + ldj

    def sample_latents(self, n: int, temperature: float = 1.0, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        n = check_int(n, "n", 1)
        temperature = check_temperature(temperature)
        ref = self.site_levels
        dtype = next(self.parameters()).dtype
        z = prior_sample((n, self.channels, self.size, self.size), self.prior, temperature,
                         self.parametrisation, generator=generator, dtype=dtype, device=ref.device)
        # The scale times a draw overflows the flow's dtype for a large enough temperature.
        if not z.is_meta and not torch.isfinite(z).all():
            raise ValueError(f"temperature={temperature!r} is too large for this flow's {dtype}: "
                             f"the latents are not finite")
        return z

    def sample(self, n: int, temperature: float = 1.0, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in logit space (map to images with :func:`rglt.flow.preprocess.to_uint8`).

        A ValueError names the temperature when the latents or the samples are not finite in the flow's dtype.
        """
        x = self.inverse(self.sample_latents(n, temperature, generator=generator))
        if not torch.isfinite(x).all():
            raise ValueError(f"temperature={temperature!r}: the samples are not finite in {x.dtype} (the "
                             f"temperature is too large for this flow, or its weights are not finite)")
        return x

    def level_of_sites(self) -> torch.Tensor:
        """[size, size] LongTensor: the RG level each site's latent belongs to."""
        return self.site_levels.clone()

    def level_mask(self, level: int) -> torch.Tensor:
        """[size, size] bool mask of the sites of RG ``level`` (the same for every channel)."""
        check_int(level, "level", 0, self.levels - 1)
        return self.site_levels == level

    def latents_by_level(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Split z [B, C, size, size] into H tensors [B, C, n_h], sites in row-major order."""
        self._check_input(z, "z", run=False)
        return [z[:, :, self.site_levels == h] for h in range(self.levels)]


def backend_outputs(flow: RGFlow, backend: str, x: torch.Tensor) -> dict:
    """One training step's quantities with ``flow.backend = backend``, to compare backends: latents,
    log-det, the inverse of the latents and its log-det, the log_prob loss, its gradient with respect
    to ``x`` and (``"gradients"``) to every parameter by name. Leaves ``flow.backend`` as it was."""
    with flow.using(backend):
        flow.zero_grad(set_to_none=True)
        x = x.detach().clone().requires_grad_()
        z, logdet = flow(x)
        # RGFlow.log_prob's formula on this forward pass (one pass less through the interpreter).
        loss = -(prior_log_prob(z, flow.prior, 1.0, flow.parametrisation) + logdet).mean()
        loss.backward()
        with torch.no_grad():
            inverse, inverse_logdet = flow.inverse_and_logdet(z.detach())
        return {"latents": z.detach(), "logdet": logdet.detach(), "inverse": inverse, "inverse_logdet": inverse_logdet,
                "loss": loss.detach(), "input_grad": x.grad.clone(),
                "gradients": {name: p.grad.clone() for name, p in flow.named_parameters()}}
