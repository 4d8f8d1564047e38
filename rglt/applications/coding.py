"""A ticket's real size on disk: its mask and surviving weights, coded and compressed, decoded exactly.

``encode_ticket`` writes one blob: a small JSON header (shapes, precision, int8 scales), the masks as
packed bits, then only the surviving weights at fp32, fp16 or 8 bits (symmetric per-tensor
quantisation), the whole compressed with a standard compressor. ``decode_ticket`` restores masks and
weights: exactly at fp32, the fp16 rounding at fp16, the quantised values at int8. ``dense_size`` codes
the dense weights the same way, the size a ticket must beat.
"""
from __future__ import annotations

import bz2
import json
import lzma
import struct
import zlib

import numpy as np
import torch

PRECISIONS = ("fp32", "fp16", "int8")
COMPRESSORS = {"lzma": (lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME), lzma.decompress),
               "zlib": (lambda b: zlib.compress(b, 9), zlib.decompress),
               "bz2": (lambda b: bz2.compress(b, 9), bz2.decompress),
               "none": (bytes, bytes)}
_MAGIC = b"RGLTTKT1"


def _check(precision: str, compressor: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    if compressor not in COMPRESSORS:
        raise ValueError(f"compressor must be one of {tuple(COMPRESSORS)}; got {compressor!r}")


def _values(w: np.ndarray, precision: str) -> tuple[bytes, float]:
    """The values of ``w`` (1-d float32) at ``precision``, and the int8 scale (1.0 otherwise)."""
    if precision == "fp32":
        return w.astype("<f4").tobytes(), 1.0
    if precision == "fp16":
        return w.astype("<f2").tobytes(), 1.0
    peak = float(np.abs(w).max()) if w.size else 0.0
    scale = peak / 127 if peak > 0 else 1.0
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8).tobytes(), scale


def encode_ticket(weights, masks, precision: str = "fp32", compressor: str = "lzma") -> bytes:
    """One blob holding ``masks`` (bool tensors) and the surviving entries of ``weights`` (same shapes)."""
    _check(precision, compressor)
    if len(weights) != len(masks) or not weights:
        raise ValueError(f"need one mask per weight and at least one weight; got {len(weights)} weights, "
                         f"{len(masks)} masks")
    header, bits, values = {"precision": precision, "shapes": [], "scales": []}, [], []
    for i, (w, m) in enumerate(zip(weights, masks)):
        if tuple(w.shape) != tuple(m.shape):
            raise ValueError(f"weights[{i}] has shape {tuple(w.shape)}, masks[{i}] {tuple(m.shape)}")
        header["shapes"].append([int(d) for d in w.shape])
        m = m.detach().cpu().numpy().astype(bool).reshape(-1)
        w = w.detach().cpu().float().numpy().reshape(-1)
        bits.append(np.packbits(m).tobytes())
        data, scale = _values(w[m], precision)
        header["scales"].append(scale)
        values.append(data)
    head = json.dumps(header).encode()
    payload = struct.pack("<I", len(head)) + head + b"".join(bits) + b"".join(values)
    return _MAGIC + compressor.encode().ljust(8, b" ") + COMPRESSORS[compressor][0](payload)


def decode_ticket(blob: bytes) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(weights, masks) from ``encode_ticket``'s blob; pruned weights are 0. A blob that is not one
    raises ValueError."""
    if blob[:8] != _MAGIC:
        raise ValueError("not a ticket blob (bad magic bytes)")
    name = blob[8:16].decode().strip()
    if name not in COMPRESSORS:
        raise ValueError(f"unknown compressor {name!r} in the blob")
    payload = COMPRESSORS[name][1](blob[16:])
    (n,) = struct.unpack("<I", payload[:4])
    header = json.loads(payload[4:4 + n])
    at = 4 + n
    sizes = [int(np.prod(s)) for s in header["shapes"]]
    masks = []
    for size in sizes:
        nbytes = (size + 7) // 8
        masks.append(np.unpackbits(np.frombuffer(payload[at:at + nbytes], np.uint8))[:size].astype(bool))
        at += nbytes
    dtype, width = {"fp32": ("<f4", 4), "fp16": ("<f2", 2), "int8": (np.int8, 1)}[header["precision"]]
    weights = []
    for m, shape, scale in zip(masks, header["shapes"], header["scales"]):
        k = int(m.sum())
        v = np.frombuffer(payload[at:at + k * width], dtype).astype(np.float32) * np.float32(scale)
        at += k * width
        w = np.zeros(m.size, np.float32)
        w[m] = v
        weights.append(torch.from_numpy(w.reshape(shape)))
    if at != len(payload):
        raise ValueError(f"ticket blob has {len(payload) - at} trailing bytes: corrupt")
    return weights, [torch.from_numpy(m.reshape(s)) for m, s in zip(masks, header["shapes"])]


def dense_size(weights, precision: str = "fp32", compressor: str = "lzma") -> int:
    """Bytes of the dense weights coded the same way (every entry survives, so no mask bits are needed
    in principle; the all-ones mask that the blob still carries compresses to almost nothing)."""
    return len(encode_ticket(weights, [torch.ones_like(w, dtype=torch.bool) for w in weights], precision, compressor))
