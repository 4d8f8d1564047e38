"""The CPU fast path of a subnet layer: the reference code under ``torch.compile``, optionally bf16 GEMMs.

One compiled function applies any :class:`rglt.flow.coupling.SubnetLayer` (the module is an argument,
so its weights are inputs, not constants, and every subnet layer of the flow shares the compiled code):
inductor fuses the Swish, weight-norm, residual and coupling arithmetic around the GEMMs into a few
loops, which is where eager PyTorch spends most of a step. The map is the reference's, operation for
operation; only float rounding differs.

``bf16=True`` runs the MLPs under ``torch.autocast(bfloat16)``: their matrix multiplies in bfloat16 with
fp32 accumulation, and nothing else (``WNLinear`` casts each product back to fp32, so the Swish, the
residual stream, the couplings' exp and the log-determinants stay fp32). The flow is still a bijection
with an exact log-det: the inverse recomputes S and T on the same kept half, so it sees the same
rounded values.

Measured and left out (``benchmarks/rg_coupling.py``, chapter 6): skipping the masked halves (the first
Linear on the kept inputs only, the last producing the updated outputs only) saves 10% of the GEMM FLOPs
at the cpu profile but made the compiled step ~10% slower (the column gathers do not fuse); computing S
and T as one batched GEMM gained nothing.
"""
from __future__ import annotations

import os
import shutil
import warnings

import torch


def _apply(subnet, x: torch.Tensor, inverse: bool, bf16: bool):
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        return subnet.inverse(x) if inverse else subnet(x)


_compiled = None


def compiled_apply():
    """:func:`_apply` under ``torch.compile``, built once. Eager instead when RGLT_FLOW_COMPILE=0 or no
    C++ compiler is found (inductor needs one on the CPU), with a warning: the same map, unfused."""
    global _compiled
    if _compiled is None:
        if os.environ.get("RGLT_FLOW_COMPILE", "1") == "0":
            _compiled = _apply
        elif not (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            warnings.warn("rglt.flow.fast: no C++ compiler (g++, c++, clang++ or $CXX) for torch.compile; the "
                          "fast path runs eagerly (install g++ for the fused version)", RuntimeWarning)
            _compiled = _apply
        else:
            # Rows = batch x patches differ per level, direction and grad mode: after the second shape
            # dynamo compiles one graph with a symbolic row count, so the number of graphs stays small.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 32)
            _compiled = torch.compile(_apply)
    return _compiled


def run_subnet(subnet, x: torch.Tensor, inverse: bool, bf16: bool):
    """``subnet.inverse(x)`` if ``inverse`` else ``subnet(x)`` (patches [N, C * m * m]) on the fast path."""
    return compiled_apply()(subnet, x, inverse, bf16)
