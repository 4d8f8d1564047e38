"""Affine couplings on patch vectors [N, C * m * m] with a checkerboard split inside the patch.

One subnet layer = two couplings that share one S and one T network: first condition on the
(even, even) + (odd, odd) half and update the other, then the reverse. A coupling with mask M maps

    y = M x + (1 - M) (x exp(s) + t),   s = (1 - M) S(M x),   t = (1 - M) T(M x),

with S = tanh(a * MLP_S) and T = b * MLP_T; log|det| = sum of s over the updated entries.

:meth:`SubnetLayer.fused` computes the same map with the fused epilogue kernels of
``rglt.kernels.rg_coupling`` (the MLPs stay in torch); ``RGFlow(backend="triton")`` uses it.
"""
from __future__ import annotations

import torch
from torch import nn

from rglt.flow.layers import ResidualMLP
from rglt.kernels.rg_coupling import affine_coupling, affine_coupling_scatter


def checkerboard_mask(channels: int, kernel: int) -> torch.Tensor:
    """[C * m * m] float mask: 1 at patch positions (a, b) with a + b even, the same for every channel."""
    a = torch.arange(kernel)
    mask = ((a[:, None] + a[None, :]) % 2 == 0).to(torch.get_default_dtype())
    return mask.reshape(1, -1).expand(channels, -1).reshape(-1).clone()


class SubnetLayer(nn.Module):
    """Two affine couplings (mask, then 1 - mask) sharing the S and T residual MLPs."""

    def __init__(self, channels: int, kernel: int, hidden: int, blocks: int):
        super().__init__()
        width = channels * kernel * kernel
        self.s_net = ResidualMLP(width, hidden, blocks, final_tanh=True)
        self.t_net = ResidualMLP(width, hidden, blocks, final_tanh=False)
        self.register_buffer("mask", checkerboard_mask(channels, kernel), persistent=False)

    def _st(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cond = keep * x
        return (1 - keep) * self.s_net(cond), (1 - keep) * self.t_net(cond)

    def _couple(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._st(x, keep)
        return keep * x + (1 - keep) * (x * torch.exp(s) + t), s.sum(dim=1)

    def _uncouple(self, y: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._st(y, keep)  # the kept half is unchanged, so S and T see the same input
        return keep * y + (1 - keep) * (y - t) * torch.exp(-s), -s.sum(dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> latent direction: (y, log|det J| per row)."""
        mask = self.mask.to(x.dtype)
        x, ld1 = self._couple(x, mask)
        x, ld2 = self._couple(x, 1 - mask)
        return x, ld1 + ld2

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent -> data direction: (x, log|det J| of the inverse per row)."""
        mask = self.mask.to(y.dtype)
        y, ld2 = self._uncouple(y, 1 - mask)
        y, ld1 = self._uncouple(y, mask)
        return y, ld1 + ld2

    def fused(self, x: torch.Tensor, inverse: bool, backend: str,
              scatter: tuple | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` (or :meth:`inverse`) with the coupling epilogues in ``rglt.kernels.rg_coupling``.

        Only the S / T MLPs up to their final scale run here; ``backend`` is the kernels' backend.
        ``scatter = (image, kernel, level, offset)``: the second coupling writes its result straight into
        a copy of ``image`` (x must be that layer's patches of it), which is then returned in place of the
        patches. Returns (patches or image, log|det J| per row).
        """
        mask = self.mask.to(x.dtype)
        lds = []
        for i, keep in enumerate((1 - mask, mask) if inverse else (mask, 1 - mask)):
            cond = keep * x
            args = (x, self.s_net.pre_scale(cond), self.t_net.pre_scale(cond), keep,
                    self.s_net.scale, self.t_net.scale)
            if i == 1 and scatter is not None:
                image, kernel, level, offset = scatter
                x, ld = affine_coupling_scatter(image, *args, kernel, level, offset, inverse=inverse,
                                                backend=backend)
            else:
                x, ld = affine_coupling(*args, inverse=inverse, backend=backend)
            lds.append(ld)
        return x, lds[0] + lds[1]
