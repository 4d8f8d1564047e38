"""Factorised Gaussian and Laplace priors over every latent, with a temperature T > 0.

Two parametrisations of T, because the original code and the report differ:

==============  ==========================  =================================
parametrisation  Gaussian                    Laplace
==============  ==========================  =================================
``"original"``  std T (variance T^2)        scale T / sqrt(2) (variance T^2)
``"report"``    variance T (std sqrt(T))    scale T (variance 2 T^2), Eqs. 23-24
==============  ==========================  =================================

At T = 1 the original's two priors both have unit variance; the report's Laplace has variance 2.
"""
from __future__ import annotations

import math

import torch

from rglt.validate import check_choice, check_real

PRIORS = ("gaussian", "laplace")
PARAMETRISATIONS = ("original", "report")


def check_prior(prior, parametrisation="original") -> None:
    check_choice(prior, "prior", PRIORS)
    check_choice(parametrisation, "parametrisation", PARAMETRISATIONS)


def check_temperature(temperature) -> float:
    """A prior's temperature: a finite number > 0, returned as a float."""
    return check_real(temperature, "temperature", 0, low_open=True)


def check_batch(x, name: str) -> torch.Tensor:
    """x must be a floating-point tensor with data (not meta) and a batch dimension of >= 1 sample."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor; got {got}")
    # A meta tensor has no values to check or transform; it would fail deep inside a reduction.
    if x.is_meta:
        raise ValueError(f"{name} is on the meta device (no data); move it to a real device first")
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample (a leading batch dimension >= 1); "
                         f"got shape {list(x.shape)}")
    return x


def prior_scale(prior: str, temperature: float = 1.0, parametrisation: str = "original") -> float:
    """The distribution's scale: the Gaussian's standard deviation or the Laplace's b."""
    check_prior(prior, parametrisation)
    t = check_temperature(temperature)
    if prior == "gaussian":
        return t if parametrisation == "original" else math.sqrt(t)
    return t / math.sqrt(2.0) if parametrisation == "original" else t


def prior_log_prob(z: torch.Tensor, prior: str, temperature: float = 1.0,
                   parametrisation: str = "original") -> torch.Tensor:
    """log p(z) summed over all but the first (batch) dimension."""
    scale = prior_scale(prior, temperature, parametrisation)
    check_batch(z, "z")
    if prior == "gaussian":
        lp = -0.5 * (z / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)
    else:
        lp = -z.abs() / scale - math.log(2 * scale)
    return lp.reshape(z.shape[0], -1).sum(dim=1)


def prior_sample(shape, prior: str, temperature: float = 1.0, parametrisation: str = "original", *,
                 generator: torch.Generator | None = None, dtype=None, device=None) -> torch.Tensor:
    """Draws of the prior with ``shape``; seeded through ``generator``."""
    scale = prior_scale(prior, temperature, parametrisation)
    if prior == "gaussian":
        return scale * torch.randn(shape, generator=generator, dtype=dtype, device=device)
    # A Laplace(0, b) variable is b times the difference of two independent Exp(1) variables.
    e = torch.empty((2, *shape), dtype=dtype, device=device).exponential_(generator=generator)
    return scale * (e[0] - e[1])
