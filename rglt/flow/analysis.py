"""What an RG-Flow has learnt, per RG level: receptive fields, generation across scales, mixing along
the scale direction, and mixed-temperature sampling (the figures of Hu et al. 2022).

Conventions shared by every function here:

- Levels are h = 0 (finest) .. H-1 (top); a site's level is ``model.level_of_sites()``.
- Images are returned in the flow's logit space; map them to uint8 with :func:`rglt.flow.to_uint8`.
- Latents are drawn with ``model.sample_latents(n, temperature, generator=torch.Generator().manual_seed(seed))``,
  so a caller (or a test) can reproduce the exact z a function used.

Receptive field of a latent variable z_{c,l} (channel c at site l), as in the paper (not the report's
finite difference at z = 0):

    RF_{c,l}(p) = E_z sum_{c'} |dG(z)_{c',p} / dz_{c,l}|

with G the generator and the expectation over prior samples. G's output is the image: by default
(``space="pixel"``) G = ``inverse_logit_transform(model.inverse(z))``, the pixel values in [0, 1] that a
sample shows; ``space="logit"`` differentiates ``model.inverse`` alone, in the flow's logit space, where
the sigmoid's slope no longer down-weights saturated pixels (the dark background of MSDS: ~5x).
:func:`latent_sensitivity` gives the
per-site map (averaged over the C latent channels of the site); :func:`receptive_fields` averages it
over all sites of a level after moving each site to the centre of the (periodic) image.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

from rglt.flow.model import RGFlow
from rglt.flow.preprocess import inverse_logit_transform
from rglt.flow.priors import check_temperature, prior_scale
from rglt.validate import check_choice, check_int, check_real, check_seed

GENERATION_MODES = ("intermediate", "truncated")
EXTENT_METHODS = ("square", "rms")
SENSITIVITY_SPACES = ("pixel", "logit")   # what G outputs: pixel values in [0, 1], or the flow's logits


def _check_model(model) -> RGFlow:
    if not isinstance(model, RGFlow):
        raise TypeError(f"model must be an rglt.flow.RGFlow; got {type(model).__name__}")
    return model


def _check_latents(model: RGFlow, z, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor")
    shape = (model.channels, model.size, model.size)
    if z.dim() != 4 or tuple(z.shape[1:]) != shape:
        raise ValueError(f"{name} must have shape [batch, {shape[0]}, {shape[1]}, {shape[2]}]; got {list(z.shape)}")
    return z


def _check_sites(sites) -> torch.Tensor:
    sites = torch.as_tensor(sites)
    # A cast to long would truncate (2.7 -> 2) and quietly measure another site.
    if sites.is_floating_point() or sites.is_complex() or sites.dtype == torch.bool:
        raise ValueError(f"sites must be integer (row, col) pairs; got dtype {sites.dtype}")
    return sites.long()


@contextlib.contextmanager
def _eval_mode(model: RGFlow):
    # Gradient checkpointing only applies in training mode; analyses never need it. The fused kernels
    # have a backward but no forward-mode derivative, so analyses run the reference path.
    was_training = model.training
    model.eval()
    try:
        with model.using("reference"):
            yield model
    finally:
        model.train(was_training)


# ---- receptive fields ----

def latent_sensitivity(model: RGFlow, z: torch.Tensor, sites, *, batch_size: int = 256,
                       space: str = "pixel") -> torch.Tensor:
    """Mean over the samples z [S, C, L, L] of sum_{c'} |dG(z)_{c'} / dz_{c, site}|, averaged over c.

    ``sites``: LongTensor [n, 2] of (row, col). Returns [n, L, L] maps in image coordinates (not centred).
    ``space``: "pixel" (G ends in the sigmoid back to pixel values, as the images shown) or "logit".
    Each Jacobian column is one forward-mode product (``torch.autograd.forward_ad``) along a basis
    vector; the S samples of a column share one batch, ``batch_size`` bounds the rows sent through the
    flow at once.
    """
    _check_model(model)
    z = _check_latents(model, z, "z")
    batch_size = check_int(batch_size, "batch_size", 1)
    check_choice(space, "space", SENSITIVITY_SPACES)
    sites = _check_sites(sites)
    size, channels, samples = model.size, model.channels, z.shape[0]
    if sites.dim() != 2 or sites.shape[1] != 2 or len(sites) == 0 or sites.min() < 0 or sites.max() >= size:
        raise ValueError(f"sites must be a non-empty [n, 2] integer array of (row, col) in [0, {size - 1}]")
    # One tangent per (site, latent channel); a chunk of k tangents runs as one batch of k * S rows.
    tangents = [(int(i), int(j), c) for i, j in sites.tolist() for c in range(channels)]
    chunk = max(1, batch_size // samples)
    out = z.new_zeros(len(tangents), size, size)
    with _eval_mode(model):
        for start in range(0, len(tangents), chunk):
            part = tangents[start:start + chunk]
            k = len(part)
            zrep = z.detach().repeat(k, 1, 1, 1)
            tan = torch.zeros_like(zrep)
            for t, (i, j, c) in enumerate(part):
                tan[t * samples:(t + 1) * samples, c, i, j] = 1.0
            # Forward-mode AD without a backward graph: torch.func.jvp also records one for the
            # parameters, which took gigabytes at a few hundred rows.
            with torch.no_grad(), fwAD.dual_level():
                image = model.inverse(fwAD.make_dual(zrep, tan))
                col = fwAD.unpack_dual(inverse_logit_transform(image) if space == "pixel" else image).tangent
            out[start:start + k] = col.detach().abs().sum(dim=1).reshape(k, samples, size, size).mean(dim=1)
    return out.reshape(len(sites), channels, size, size).mean(dim=1)


def centre_on_sites(maps: torch.Tensor, sites) -> torch.Tensor:
    """Roll each map [n, L, L] periodically so that its site lands on (L // 2, L // 2)."""
    sites = _check_sites(sites)
    size = maps.shape[-1]
    ar = torch.arange(size)
    rows = (ar[None, :] - size // 2 + sites[:, :1]) % size      # centred row a reads row a - L/2 + i
    cols = (ar[None, :] - size // 2 + sites[:, 1:]) % size
    n = torch.arange(len(sites))[:, None, None]
    return maps[n, rows[:, :, None], cols[:, None, :]]


def receptive_fields(model: RGFlow, *, samples: int, temperature: float = 1.0, seed: int,
                     max_sites: int | None = None, batch_size: int = 256, space: str = "pixel") -> np.ndarray:
    """The average receptive field of each RG level: float64 array [H, L, L], centred on (L // 2, L // 2).

    RF_h = mean over the sites l of level h (all of them, or ``max_sites`` drawn without replacement with
    ``seed``) of :func:`latent_sensitivity` at l, rolled so l sits at the centre (periodic boundary). The
    expectation over z uses ``samples`` prior draws at ``temperature`` (the model's prior and
    parametrisation) from ``torch.Generator().manual_seed(seed)``. ``space``: as in
    :func:`latent_sensitivity`. Cost: C * (sites used) Jacobian-vector products of ``samples`` rows each.
    """
    _check_model(model)
    samples = check_int(samples, "samples", 1)
    temperature = check_temperature(temperature)
    seed = check_seed(seed)
    if max_sites is not None:
        max_sites = check_int(max_sites, "max_sites", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    check_choice(space, "space", SENSITIVITY_SPACES)
    gen = torch.Generator().manual_seed(seed)
    z = model.sample_latents(samples, temperature, generator=gen)
    levels = model.level_of_sites().cpu()
    out = np.zeros((model.levels, model.size, model.size))
    for h in range(model.levels):
        sites = torch.nonzero(levels == h)
        if max_sites is not None and len(sites) > max_sites:
            sites = sites[torch.randperm(len(sites), generator=gen)[:max_sites].sort().values]
        maps = latent_sensitivity(model, z, sites, batch_size=batch_size, space=space).cpu()
        out[h] = centre_on_sites(maps, sites).mean(dim=0).double().numpy()
    return out


def receptive_field_extent(rf_map, fraction: float = 0.9, *, method: str = "square"):
    """A measured size of centred receptive-field maps [..., L, L] (as :func:`receptive_fields` returns).

    - ``"square"`` (default): the side 2r + 1 (at most L) of the smallest square centred on (L // 2, L // 2)
      that holds at least ``fraction`` of the map's total sensitivity. A delta gives 1; on the periodic
      L x L image the square of half-width L // 2 is the whole image, so the largest value is L.
    - ``"rms"``: the RMS distance sqrt(sum w d^2 / sum w) of the sensitivity w from the centre, d the
      Euclidean distance in pixels (``fraction`` unused). A delta gives 0.

    Returns a float for one map, else an array of the leading shape.
    """
    check_choice(method, "method", EXTENT_METHODS)
    check_real(fraction, "fraction", 0, 1, low_open=True)
    w = np.asarray(rf_map.detach().cpu() if isinstance(rf_map, torch.Tensor) else rf_map, dtype=np.float64)
    if w.ndim < 2 or w.shape[-1] != w.shape[-2] or w.shape[-1] < 1:
        raise ValueError(f"rf_map must have shape [..., L, L]; got {list(w.shape)}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("rf_map must be finite and non-negative")
    total = w.sum(axis=(-2, -1))
    if (total <= 0).any():
        raise ValueError("rf_map must have a positive total (a map of zeros has no extent)")
    size = w.shape[-1]
    d = np.arange(size) - size // 2
    if method == "rms":
        d2 = d[:, None] ** 2 + d[None, :] ** 2
        out = np.sqrt((w * d2).sum(axis=(-2, -1)) / total)
    else:
        cheb = np.maximum(np.abs(d)[:, None], np.abs(d)[None, :])
        mass = np.stack([(w * (cheb <= r)).sum(axis=(-2, -1)) for r in range(size // 2 + 1)], axis=-1)
        # Relative slack so that rounding cannot push a delta's extent past 1.
        enough = mass >= fraction * total[..., None] * (1 - 1e-12)
        r = np.argmax(enough, axis=-1)
        out = np.minimum(2 * r + 1, size).astype(np.float64)
    return float(out) if out.ndim == 0 else out


# ---- generation across scales ----

@torch.no_grad()
def generation_across_scales(model: RGFlow, z: torch.Tensor, *, mode: str = "intermediate") -> list[torch.Tensor]:
    """H images [B, C, L, L] per latent batch z, coarse to fine: panel k shows level h = H - 1 - k.

    - ``"intermediate"`` (default; the report's Fig. 3 read right to left): run the inverse flow level by
      level from the top; panel h is the state after the two inverse RG layers of level h, restricted to
      the sites that are multiples of 2^h (the coarse image x^(h), (L / 2^h)^2 pixels: the other sites
      still hold raw finer-level latents) and shown as 2^h x 2^h blocks (nearest-neighbour upsampling).
    - ``"truncated"``: panel h is G(z with every latent of a level below h set to 0), i.e. the image
      generated from levels >= h only, the finer latents at the prior's mode.

    In both modes the last panel (h = 0) is ``model.inverse(z)``.
    """
    _check_model(model)
    z = _check_latents(model, z, "z")
    check_choice(mode, "mode", GENERATION_MODES)
    panels = []
    with _eval_mode(model):
        if mode == "truncated":
            levels = model.level_of_sites()
            for h in range(model.levels - 1, -1, -1):
                panels.append(model.inverse(z * (levels >= h).to(z.dtype)))
            return panels
        x = z
        # model.layers is in data -> latent order: level h owns layers 2h (offset 0) and 2h + 1 (offset).
        for h in range(model.levels - 1, -1, -1):
            for layer in (model.layers[2 * h + 1], model.layers[2 * h]):
                x, _ = layer.inverse(x)
            k = 2 ** h
            panels.append(x[:, :, ::k, ::k].repeat_interleave(k, dim=2).repeat_interleave(k, dim=3))
    return panels


# ---- mixing along scale and mixed temperature ----

def mix_latents(model: RGFlow, z_a: torch.Tensor, z_b: torch.Tensor, level: int) -> torch.Tensor:
    """Latents at levels >= ``level`` from z_a, those below from z_b (``level`` in [0, H])."""
    _check_model(model)
    z_a, z_b = _check_latents(model, z_a, "z_a"), _check_latents(model, z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape; got {list(z_a.shape)} and {list(z_b.shape)}")
    level = check_int(level, "level", 0, model.levels)
    return torch.where(model.level_of_sites() >= level, z_a, z_b)


@torch.no_grad()
def mix_along_scale(model: RGFlow, z_a: torch.Tensor, z_b: torch.Tensor, level: int) -> torch.Tensor:
    """G of :func:`mix_latents`: z_a's coarse structure (levels >= ``level``) with z_b's finer details.

    ``level`` = 0 gives G(z_a); ``level`` = H (above the top) gives G(z_b).
    """
    z = mix_latents(model, z_a, z_b, level)
    with _eval_mode(model):
        return model.inverse(z)


def colour_share(mixing, *, foreground: int = 64) -> np.ndarray:
    """How much of image A's colour a mix along scale carries: [H + 1, n] from uint8 ``mixing``
    [H + 1, n, 3, L, L], where column h is ``mix_along_scale(model, z_a, z_b, h)`` (column 0 is A, the
    last is B).

    An image's colour is the mean RGB of its foreground pixels (any channel above ``foreground``: the
    data sets' background is black); the share of column h is the projection of its colour onto the
    line from B's colour to A's: 0 is B's colour, 1 is A's. For MSDS1, whose ellipses share one colour
    per image, a hierarchical flow carries that colour in its coarse latents.
    """
    m = np.asarray(mixing, dtype=np.float64)
    if m.ndim != 5 or m.shape[0] < 2 or m.shape[2] != 3:
        raise ValueError(f"mixing must have shape [H + 1 >= 2, n, 3, L, L]; got {list(m.shape)}")
    fg = m.max(axis=2, keepdims=True) > foreground
    if not fg.any(axis=(2, 3, 4)).all():
        raise ValueError(f"every image of mixing needs a pixel above foreground={foreground}")
    colour = (m * fg).sum(axis=(3, 4)) / fg.sum(axis=(3, 4))          # [H + 1, n, 3]
    a, b = colour[0], colour[-1]
    span = ((a - b) ** 2).sum(axis=-1)
    if (span == 0).any():
        raise ValueError("images A and B of some column pair have the same colour: no share is defined")
    return ((colour - b) * (a - b)).sum(axis=-1) / span


def mixed_temperature_latents(model: RGFlow, n: int, temperatures_per_level: Sequence[float],
                              seed: int) -> torch.Tensor:
    """n latents whose level-h entries follow the model's prior at temperature ``temperatures_per_level[h]``."""
    _check_model(model)
    n = check_int(n, "n", 1)
    seed = check_seed(seed)
    try:
        temps = [float(check_temperature(t)) for t in temperatures_per_level]
    except (TypeError, ValueError):
        temps = []
    if len(temps) != model.levels:
        raise ValueError(f"temperatures_per_level must be {model.levels} finite numbers > 0 (h = 0 first); "
                         f"got {temperatures_per_level!r}")
    z = model.sample_latents(n, 1.0, generator=torch.Generator().manual_seed(seed))
    # Both priors are scale families, so a T = 1 draw times scale(T) / scale(1) is a draw at T.
    unit = prior_scale(model.prior, 1.0, model.parametrisation)
    factor = torch.tensor([prior_scale(model.prior, t, model.parametrisation) / unit for t in temps],
                          dtype=z.dtype, device=z.device)
    return z * factor[model.level_of_sites()]


@torch.no_grad()
def sample_mixed_temperature(model: RGFlow, n: int, temperatures_per_level: Sequence[float], seed: int) -> torch.Tensor:
    """n samples (logit space) with a temperature per RG level, h = 0 first.

    The original's plot_mix_temperature.py uses T = 0.2 at level 0 and 0.8 at levels >= 1 (its
    ``level_cutoff`` = 1): ``temperatures_per_level=(0.2, 0.8, 0.8, 0.8)`` at 32 x 32.
    """
    z = mixed_temperature_latents(model, n, temperatures_per_level, seed)
    with _eval_mode(model):
        return model.inverse(z)


__all__ = ["EXTENT_METHODS", "GENERATION_MODES", "centre_on_sites", "generation_across_scales", "latent_sensitivity",
           "mix_along_scale", "mix_latents", "mixed_temperature_latents", "receptive_field_extent",
           "receptive_fields", "sample_mixed_temperature"]
