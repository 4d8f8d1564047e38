"""Closed-form parameter count of an RG-Flow configuration, from the architecture description alone.

Per residual MLP of width w = C m^2, hidden n, r residual blocks (widths w -> n -> n -> w):
  Linear weights v   r (w n + n n + n w)
  weight-norm g      r (n + n + w)          one per output row
  Linear biases      r (n + n + w)
  Swish betas        r (w + n + n)          one per input feature of each Linear
  output scale       w                      the zero-initialised a (S net) or b (T net)
Two MLPs (S and T) per subnet layer; layers_per_level[h] subnet layers in each of the two RG layers
of level h.
"""
from __future__ import annotations

from rglt.flow.model import check_layers_per_level
from rglt.kernels.rg_coupling.geometry import check_geometry
from rglt.validate import check_int


def parameter_count(channels=3, size=32, kernel=4, layers_per_level=(8, 6, 4, 2), residual_blocks=4,
                    hidden=512) -> dict[str, int]:
    """Parameters of ``RGFlow(channels, size, kernel, layers_per_level, residual_blocks, hidden)`` by
    component, plus "mlp" (one residual MLP), "subnet_layer", "subnet_layers" (their number) and "total"."""
    levels = check_geometry(size, kernel)
    lpl = check_layers_per_level(layers_per_level, levels)
    c = check_int(channels, "channels", 1)
    r = check_int(residual_blocks, "residual_blocks", 1)
    n = check_int(hidden, "hidden", 1)
    w = c * kernel * kernel
    per_mlp = {
        "linear_weight": r * (w * n + n * n + n * w),
        "weight_norm_g": r * (n + n + w),
        "linear_bias": r * (n + n + w),
        "swish_beta": r * (w + n + n),
        "output_scale": w,
    }
    subnet_layers = 2 * sum(lpl)           # two RG layers per level
    mlps = 2 * subnet_layers               # S and T in each subnet layer
    out = {name: mlps * k for name, k in per_mlp.items()}
    out["mlp"] = sum(per_mlp.values())
    out["subnet_layer"] = 2 * out["mlp"]
    out["subnet_layers"] = subnet_layers
    out["total"] = mlps * out["mlp"]
    return out
