"""A small pre-LayerNorm transformer encoder over token sequences, with named blocks (BERT's shape).

Modules, in the order ``Network.groups`` reads them: ``stem`` (token and position embeddings),
``layer1`` ... ``layerL`` (each a :class:`~rglt.models.base.Stage` of two blocks: ``attention``, with
its ``q``, ``k``, ``v``, ``o`` projections, and ``ffn``, with ``up`` and ``down``; each block adds its
output to the residual stream after a LayerNorm of its input), and ``fc`` (a final LayerNorm and the
linear classifier). So ``groups("stage")`` gives one group per transformer layer and ``groups("block")``
separates attention from FFN. :func:`rglt.models.prunable_parameters` then picks the q/k/v/o and FFN
weights, as BERT-Tickets prunes them; the embeddings are never pruned.

Attention-score pruning (:meth:`Transformer.keep_top_scores`): each query keeps only its ``keep``
largest attention scores; the others are set to -inf before the softmax, so they get weight 0. With
``keep`` None (the default) or ``keep >= L`` the block runs the unmasked path unchanged, bit for bit.

Inputs are token ids (B, L). With ``per_token=True`` the classifier is applied at every position
(logits (B, classes, L), for masked-token pretraining); otherwise to the mean over positions (B, classes).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from rglt.models.base import Network, Stage
from rglt.validate import check_bool, check_int, require


class Embedding(nn.Module):
    def __init__(self, vocab: int, length: int, width: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(length, width)

    def forward(self, ids):
        return self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))
        self.heads = heads
        self.keep = None          # attention-score pruning: the scores each query keeps (None: all)

    def _pruned(self, length: int) -> bool:
        return self.keep is not None and self.keep < length

    def _scores(self, q, k):
        """The scaled scores (B, heads, L, L); with score pruning, all but each query's ``keep`` largest
        set to -inf (ties at the k-th score broken as torch.topk breaks them)."""
        s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        if self._pruned(s.shape[-1]):
            kept = torch.zeros_like(s, dtype=torch.bool).scatter_(-1, s.topk(self.keep, dim=-1).indices, True)
            s = s.masked_fill(~kept, float("-inf"))
        return s

    def attention_weights(self, x):
        """The attention distributions (B, heads, L, L) of this block for residual stream ``x`` (score
        pruning included when set)."""
        h = self.norm(x)
        q, k = (self._split(p(h)) for p in (self.q, self.k))
        return torch.softmax(self._scores(q, k), dim=-1)

    def _split(self, t):
        b, length, width = t.shape
        return t.view(b, length, self.heads, width // self.heads).transpose(1, 2)

    def forward(self, x):
        h = self.norm(x)
        q, k, v = (self._split(p(h)) for p in (self.q, self.k, self.v))
        if self._pruned(x.shape[1]):
            out = torch.softmax(self._scores(q, k), dim=-1) @ v
        else:                     # unpruned: torch's fused attention, as before score pruning existed
            out = F.scaled_dot_product_attention(q, k, v)
        return x + self.o(out.transpose(1, 2).reshape(x.shape))


class FeedForward(nn.Module):
    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up, self.down = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x):
        return x + self.down(F.gelu(self.up(self.norm(x))))


class Head(nn.Module):
    def __init__(self, width: int, classes: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, classes)

    def forward(self, x):
        return self.linear(self.norm(x))


class Transformer(Network):
    stem_layer = "stem"
    output_layer = "fc"

    def __init__(self, vocab: int, length: int, num_classes: int, *, width: int = 32, layers: int = 4,
                 heads: int = 4, ffn: int | None = None, per_token: bool = False):
        super().__init__()
        vocab, length = check_int(vocab, "vocab", 2), check_int(length, "length", 1)
        num_classes, width = check_int(num_classes, "num_classes", 1), check_int(width, "width", 1)
        layers, heads = check_int(layers, "layers", 1), check_int(heads, "heads", 1)
        require(width % heads == 0, "width", f"a multiple of heads ({heads})", width)
        self.per_token = check_bool(per_token, "per_token")
        self.layers = layers
        self.stem = Embedding(vocab, length, width)
        for i in range(layers):
            self.add_module(f"layer{i + 1}", Stage(OrderedDict(
                attention=SelfAttention(width, heads), ffn=FeedForward(width, ffn or 2 * width))))
        self.fc = Head(width, num_classes)

    def keep_top_scores(self, keep: int | None) -> None:
        """Prune attention scores in every layer: each query keeps its ``keep`` largest scores (an int
        >= 1), or all of them (None)."""
        if keep is not None:
            keep = check_int(keep, "keep", 1)
        for i in range(self.layers):
            getattr(self, f"layer{i + 1}").attention.keep = keep

    def stream(self, ids, upto: int | None = None):
        """The residual stream after the embeddings and the first ``upto`` layers (all by default)."""
        if ids.dtype != torch.long or ids.dim() != 2:
            raise ValueError(f"ids must be a (batch, length) tensor of token ids (torch.long); got "
                             f"{ids.dtype} {tuple(ids.shape)}")
        x = self.stem(ids)
        for i in range(self.layers if upto is None else upto):
            x = getattr(self, f"layer{i + 1}")(x)
        return x

    def forward(self, ids):
        x = self.stream(ids)
        if self.per_token:
            return self.fc(x).transpose(1, 2)
        return self.fc(x.mean(dim=1))
