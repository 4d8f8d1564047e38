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


# ---- attention-score pruning (top-k of the scores per query) --------------------------------------------

def _brute_force_top_k_attention(block, x, keep):
    """The oracle: per batch, head and query, in float64 loops, keep the ``keep`` largest scaled scores
    (found by sorting), softmax over those alone, weight the values, then the output projection."""
    h = block.norm(x)
    b, length, width = x.shape
    d = width // block.heads
    split = lambda t: t.reshape(b, length, block.heads, d).permute(0, 2, 1, 3)
    q, k, v = split(block.q(h)), split(block.k(h)), split(block.v(h))
    weights = torch.zeros(b, block.heads, length, length, dtype=torch.float64)
    for i in range(b):
        for j in range(block.heads):
            for t in range(length):
                scores = [float((q[i, j, t] @ k[i, j, s]).detach()) / d ** 0.5 for s in range(length)]
                top = sorted(range(length), key=lambda s: -scores[s])[:keep]
                m = max(scores[s] for s in top)
                z = sum(np.exp(scores[s] - m) for s in top)
                for s in top:
                    weights[i, j, t, s] = np.exp(scores[s] - m) / z
    out = (weights @ v).permute(0, 2, 1, 3).reshape(b, length, width)
    return x + block.o(out), weights


@pytest.mark.parametrize("keep", (1, 2, 5))
def test_top_k_score_pruning_equals_a_brute_force_masked_softmax(keep):
    torch.manual_seed(1)
    block = SelfAttention(8, heads=2).double()
    block.keep = keep
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    expected_out, expected_weights = _brute_force_top_k_attention(block, x, keep)
    weights = block.attention_weights(x)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(block(x), expected_out)
    assert ((weights > 0).sum(-1) == keep).all()          # exactly keep positions per query carry weight


def test_keeping_every_score_is_the_unpruned_model_bit_for_bit():
    model = build("transformer2", dim=1, in_channels=17, num_classes=4, width=8, input_size=32, seed=0)
    ids = torch.randint(0, 17, (5, 32), generator=torch.Generator().manual_seed(0))
    plain = model(ids)
    plain_weights = model.layer2.attention.attention_weights(model.stream(ids, upto=1))
    for keep in (32, 40):
        model.keep_top_scores(keep)
        assert torch.equal(model(ids), plain)
        assert torch.equal(model.layer2.attention.attention_weights(model.stream(ids, upto=1)), plain_weights)
    model.keep_top_scores(4)
    assert not torch.equal(model(ids), plain)
    assert all(getattr(model, f"layer{i}").attention.keep == 4 for i in (1, 2))
    model.keep_top_scores(None)
    assert torch.equal(model(ids), plain)
    for bad in (0, 2.5, "4"):
        with pytest.raises(ValueError, match="keep"):
            model.keep_top_scores(bad)


def test_gradients_flow_only_through_the_kept_scores():
    torch.manual_seed(2)
    block = SelfAttention(8, heads=2).double()
    block.keep = 1                     # one kept score per query: softmax weight 1, no gradient to the scores
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    block(x).sum().backward()
    assert block.q.weight.grad.abs().max() == 0 and block.k.weight.grad.abs().max() == 0
    assert block.v.weight.grad.abs().max() > 0
