"""Generated token sequences: a small language to pretrain a transformer on and fine-tune it for tasks.

Every sequence (length 32 over 16 tokens) comes from one of 4 first-order Markov chains whose
transition rows are drawn once from Dirichlet(0.3) (fixed seed: sparse rows, so each chain has a
grammar of its own) and whose first token is uniform. Token 16 is ``[MASK]``. Tasks on these sequences:

==============  =============================================================  =========
name            label                                                          classes
==============  =============================================================  =========
seq-mlm         masked-token pretraining: 15% of the positions are replaced    17 (per
                by [MASK]; the label is the original token there, -100          position)
                (ignored) elsewhere
seq-chain       which chain generated the sequence                             4
seq-majority    whether tokens 0-7 outnumber tokens 8-15                       2
seq-firstlast   whether the first token occurs again in the last 8             2
seq-first       the first token (read from position 0: attention by position)  16
seq-count       how often token 0 occurs: 0, 1, 2, 3 or more                   4
==============  =============================================================  =========

The pretraining corpus and each downstream split are separate draws (their own seeds), so a
downstream example is never a pretraining sequence.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

VOCAB, LENGTH, CHAINS, MASK = 16, 32, 4, 16
MASK_SHARE = 0.15
TARGETS = ("mlm", "chain", "majority", "firstlast", "first", "count")
_CHAIN_SEED = 20221202


@functools.lru_cache(maxsize=1)
def chains() -> np.ndarray:
    """The 4 transition matrices (CHAINS, VOCAB, VOCAB), rows summing to 1."""
    rng = np.random.default_rng(_CHAIN_SEED)
    return rng.dirichlet(np.full(VOCAB, 0.3), size=(CHAINS, VOCAB))


def generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (n, LENGTH) of token ids and the chain of each, from ``seed``."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, CHAINS, n)
    cum = np.cumsum(chains(), axis=-1)                       # (CHAINS, VOCAB, VOCAB)
    tokens = np.empty((n, LENGTH), dtype=np.int64)
    tokens[:, 0] = rng.integers(0, VOCAB, n)
    u = rng.random((n, LENGTH))
    for t in range(1, LENGTH):
        rows = cum[which, tokens[:, t - 1]]                  # (n, VOCAB)
        tokens[:, t] = np.minimum((u[:, t, None] > rows).sum(axis=1), VOCAB - 1)
    return tokens, which


def labelled(target: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) of ``n`` sequences for ``target`` (one of :data:`TARGETS`)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {target!r}")
    tokens, which = generate(n, seed)
    if target == "mlm":
        rng = np.random.default_rng(seed + 1)
        masked = rng.random(tokens.shape) < MASK_SHARE
        labels = np.where(masked, tokens, -100)
        return torch.from_numpy(np.where(masked, MASK, tokens)), torch.from_numpy(labels)
    if target == "chain":
        y = which
    elif target == "majority":
        y = ((tokens < VOCAB // 2).sum(1) > LENGTH // 2).astype(np.int64)
    elif target == "firstlast":
        y = (tokens[:, -8:] == tokens[:, :1]).any(1).astype(np.int64)
    elif target == "first":
        y = tokens[:, 0]
    else:
        y = np.minimum((tokens == 0).sum(1), 3)
    return torch.from_numpy(tokens), torch.from_numpy(np.asarray(y, dtype=np.int64))


def classes(target: str) -> int:
    return {"mlm": VOCAB + 1, "chain": CHAINS, "majority": 2, "firstlast": 2, "first": VOCAB, "count": 4}[target]
