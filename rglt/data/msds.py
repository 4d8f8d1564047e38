"""MSDS1 / MSDS2 (Hu et al. 2022): 32 x 32 RGB images of 16 ellipses on a jittered 4 x 4 grid, seeded.

The rendering follows the authors' generators: for each cell (i, j) a transparent 8 x 8 RGBA tile gets
an aliased ellipse with bounding box (1, 3, 7, 5), is rotated about its centre with bicubic resampling
and pasted with its own alpha at (8 i + d, 8 j + d'), d, d' uniform in {-1, 0, 1} (i is the x, i.e.
column, position), on a black canvas.

- MSDS1: one base colour per image (each channel uniform in 32..223); each ellipse adds an
  independent uniform integer in [-32, 32] per channel; each ellipse has its own angle, U[0, 180).
- MSDS2: one angle per image, U[0, 180), plus U[0, 45) per ellipse (so angles lie in [0, 225));
  each ellipse has its own colour, each channel uniform in 0..255.

Labels per ellipse, ellipse k = 4 i + j: (x, y, angle, r, g, b) with (x, y) the tile's paste
position. The original stored them as int32, truncating the angle; here they are float64 and exact.
The originals are unseeded (Python's ``random``); here every draw comes from a numpy Generator
seeded with ``seed``, so the same seed gives the same images bit for bit with the same Pillow
version (Pillow's ellipse rasteriser has changed between major versions).
"""
from __future__ import annotations


import numpy as np
import torch
from PIL import Image, ImageDraw

from rglt.validate import check_choice, check_int, check_seed

KINDS = ("msds1", "msds2")
SIZE, CELL, GRID = 32, 8, 4
ELLIPSE_BOX = (1, 3, 7, 5)


def _draws(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """All random draws up front: labels [n, 16, 6] = (x, y, angle, r, g, b)."""
    k = GRID * GRID
    if kind == "msds1":
        base = rng.integers(32, 224, size=(n, 1, 3))
        colour = base + rng.integers(-32, 33, size=(n, k, 3))
        angle = rng.random((n, k)) * 180.0
    else:
        angle = rng.random((n, 1)) * 180.0 + rng.random((n, k)) * 45.0
        colour = rng.integers(0, 256, size=(n, k, 3))
    jitter = rng.integers(-1, 2, size=(n, k, 2))
    cell = np.arange(k)
    corner = np.stack([cell // GRID, cell % GRID], axis=1) * CELL       # (8 i, 8 j), k = 4 i + j
    labels = np.empty((n, k, 6), dtype=np.float64)
    labels[:, :, 0:2] = corner[None] + jitter
    labels[:, :, 2] = angle
    labels[:, :, 3:6] = colour
    return labels


def render(labels) -> np.ndarray:
    """Render one image from its labels [16, 6]: uint8 [32, 32, 3] (height, width, RGB)."""
    img = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
    for x, y, angle, r, g, b in np.asarray(labels, dtype=np.float64):
        tile = Image.new("RGBA", (CELL, CELL), (255, 255, 255, 0))
        ImageDraw.Draw(tile).ellipse(ELLIPSE_BOX, (int(r), int(g), int(b), 255))
        tile = tile.rotate(float(angle), resample=Image.Resampling.BICUBIC)
        img.paste(tile, (int(x), int(y)), mask=tile)
    return np.asarray(img)


def msds(kind: str, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of MSDS1 or MSDS2: (uint8 images [n, 3, 32, 32], float64 labels [n, 16, 6])."""
    check_choice(kind, "kind", KINDS)
    n = check_int(n, "n", 1)
    seed = check_seed(seed)
    # Different kinds with the same seed get unrelated streams.
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    labels = _draws(kind, n, rng)
    images = np.stack([render(lab) for lab in labels]).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)


def msds1(n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MSDS1: a shared base colour with per-ellipse jitter, independent angles. See :func:`msds`."""
    return msds("msds1", n, seed=seed)


def msds2(n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MSDS2: a shared angle plus up to 45 degrees per ellipse, independent colours. See :func:`msds`."""
    return msds("msds2", n, seed=seed)
