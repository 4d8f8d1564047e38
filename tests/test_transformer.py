"""The transformer against torch's own multi-head attention, its groups and prunable weights; the
generated sequences against their chains; evaluate() with ignored (-100) labels."""
import numpy as np
import pytest
import torch

from rglt.data import sequences
from rglt.data.tasks import Task, load_task
from rglt.models import build, prunable_parameters
from rglt.models.transformer import SelfAttention
from rglt.train import evaluate


def test_self_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = SelfAttention(16, heads=4).double()
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([ours.q.weight, ours.k.weight, ours.v.weight]))
        mha.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        mha.out_proj.weight.copy_(ours.o.weight)
        mha.out_proj.bias.copy_(ours.o.bias)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    h = ours.norm(x)
    expected, weights = mha(h, h, h, average_attn_weights=False)
    torch.testing.assert_close(ours(x), x + expected)
    torch.testing.assert_close(ours.attention_weights(x), weights)


def test_groups_and_prunable_weights_follow_bert_tickets():
    model = build("transformer3", dim=1, in_channels=17, num_classes=4, width=8, input_size=32, seed=0)
    assert list(model.groups("stage")) == ["stem", "layer1", "layer2", "layer3", "fc"]
    assert list(model.groups("block"))[1:3] == ["layer1.attention", "layer1.ffn"]
    names = [n for n, _ in prunable_parameters(model, include_first_conv=False, include_fc=False)]
    assert names == [f"layer{i}.{b}.weight" for i in (1, 2, 3)
                     for b in ("attention.q", "attention.k", "attention.v", "attention.o", "ffn.up", "ffn.down")]
    ids = torch.randint(0, 17, (5, 32))
    assert model(ids).shape == (5, 4)
    per_token = build("transformer1", dim=1, in_channels=17, num_classes=17, width=8, input_size=32,
                      per_token=True, seed=0)
    assert per_token(ids).shape == (5, 17, 32)
    with pytest.raises(ValueError, match="token ids"):
        model(ids.float())
    with pytest.raises(ValueError, match="per_token applies to the transformers only"):
        build("resnet8", dim=1, in_channels=1, per_token=True)
    with pytest.raises(ValueError, match="dim=1 and input_size"):
        build("transformer2", dim=2, in_channels=17, input_size=32)


def test_sequences_follow_their_chains_and_labels_their_definitions():
    tokens, which = sequences.generate(4000, seed=5)
    P = sequences.chains()
    for c in range(sequences.CHAINS):
        seq = tokens[which == c]
        counts = np.zeros((sequences.VOCAB, sequences.VOCAB))
        np.add.at(counts, (seq[:, :-1].ravel(), seq[:, 1:].ravel()), 1)
        rows = counts.sum(1) > 500
        empirical = counts[rows] / counts[rows].sum(1, keepdims=True)
        assert np.abs(empirical - P[c][rows]).max() < 0.06
    x, y = sequences.labelled("count", 300, seed=5)
    for row, label in zip(x.tolist(), y.tolist()):
        assert label == min(row.count(0), 3)
    x, y = sequences.labelled("firstlast", 300, seed=5)
    assert all(label == int(row[0] in row[-8:]) for row, label in zip(x.tolist(), y.tolist()))
    x, y = sequences.labelled("majority", 300, seed=5)
    assert all(label == int(sum(t < 8 for t in row) > 16) for row, label in zip(x.tolist(), y.tolist()))
    x, y = sequences.labelled("mlm", 2000, seed=5)
    clean, _ = sequences.generate(2000, seed=5)
    masked = y != -100
    assert abs(masked.float().mean().item() - sequences.MASK_SHARE) < 0.01
    assert torch.equal(x[masked], torch.full_like(x[masked], sequences.MASK))
    assert torch.equal(x[~masked], torch.from_numpy(clean)[~masked])
    assert torch.equal(y[masked], torch.from_numpy(clean)[masked])
    data = load_task(Task("seq-mlm", train_size=100))
    assert data.token_labels and data.num_classes == 17
    downstream = load_task(Task("seq-chain", train_size=100))
    assert not downstream.token_labels
    # the corpus and the downstream data are separate draws
    assert not (data.train[0][:, :1] == downstream.train[0][:1, :1].T).all()


def test_evaluate_ignores_labels_of_minus_100():
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # evaluate() reads the device off a parameter

        def forward(self, x):
            return x  # logits given directly: (B, C, L)
    logits = torch.tensor([[[5.0, 0.0], [0.0, 5.0]]])     # position 0 -> class 0, position 1 -> class 1
    labels = torch.tensor([[0, -100]])
    out = evaluate(Fixed(), (logits, labels))
    assert out["accuracy"] == 1.0
    expected = torch.nn.functional.cross_entropy(logits[:, :, :1], labels[:, :1]).item()
    assert out["loss"] == pytest.approx(expected)
