"""rglt.applications against independent oracles: enumeration of small masks, closed-form expectations, a
quadratic's known Hessian, exact round trips, hand-checked overlaps."""
import itertools
import math

import numpy as np
import pytest
import torch

from rglt.applications import (binary_entropy, code_length, code_lengths, critical_learning_rate, decode_ticket,
                          dense_size, encode_ticket, jaccard, log2_binomial, random_jaccard, top_eigenvalue)


def test_log2_binomial_counts_the_masks():
    for n in range(1, 9):
        for k in range(n + 1):
            masks = sum(1 for bits in itertools.product([0, 1], repeat=n) if sum(bits) == k)
            assert log2_binomial(n, k) == pytest.approx(math.log2(masks), abs=1e-9)


def test_binary_entropy_known_values():
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert binary_entropy(0.25) == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))


def test_code_length_of_a_known_mask():
    mask = torch.tensor([[True, False], [False, True]])
    # iid: C(4, 2) = 6 masks and 5 possible counts; rows: each row C(2, 1) = 2 masks, 3 counts.
    assert code_length(mask, "iid") == pytest.approx(math.log2(6) + math.log2(5))
    assert code_length(mask, "rows") == pytest.approx(2 * (1 + math.log2(3)))
    full = torch.ones(8, 8, dtype=torch.bool)
    assert code_length(full, "iid") == pytest.approx(math.log2(65))      # only the count


def test_rows_beat_iid_on_a_mask_that_prunes_whole_rows():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[::4] = True                                                  # every fourth unit survives whole
    lengths = code_lengths(mask)
    # each row is all or nothing: only its count (one of 65) is sent
    assert lengths["rows"] == pytest.approx(64 * math.log2(65))
    assert lengths["iid"] == pytest.approx(log2_binomial(4096, 1024) + math.log2(4097))
    assert lengths["bound"] == pytest.approx(lengths["rows"] + math.log2(3))


def test_a_random_mask_costs_its_entropy():
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(200, 300, generator=g) < 0.2
    n, p = mask.numel(), float(mask.float().mean())
    for model in ("iid", "rows", "columns"):
        assert code_length(mask, model) == pytest.approx(n * float(binary_entropy(p)), rel=0.03)


@pytest.mark.parametrize("compressor", ["lzma", "zlib", "bz2", "none"])
def test_a_ticket_round_trips_exactly_at_fp32(compressor):
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(16, 8, generator=g), torch.randn(5, 3, 3, generator=g), torch.randn(7, generator=g)]
    masks = [torch.rand(w.shape, generator=g) < 0.3 for w in weights]
    back, back_masks = decode_ticket(encode_ticket(weights, masks, "fp32", compressor))
    for w, m, b, bm in zip(weights, masks, back, back_masks):
        assert torch.equal(bm, m) and torch.equal(b, w * m)


def test_fp16_and_int8_restore_their_roundings():
    g = torch.Generator().manual_seed(2)
    weights = [torch.randn(32, 32, generator=g)]
    masks = [torch.rand(32, 32, generator=g) < 0.5]
    half, _ = decode_ticket(encode_ticket(weights, masks, "fp16"))
    assert torch.equal(half[0], (weights[0] * masks[0]).half().float())
    q, _ = decode_ticket(encode_ticket(weights, masks, "int8"))
    scale = float(weights[0][masks[0]].abs().max()) / 127
    assert float((q[0] - weights[0] * masks[0]).abs().max()) <= scale / 2 + 1e-7
    assert torch.equal(q[0] == 0, ~masks[0] | (q[0] == 0))


def test_a_sparse_ticket_is_smaller_than_the_dense_model():
    g = torch.Generator().manual_seed(3)
    weights = [torch.randn(100, 100, generator=g)]
    masks = [torch.rand(100, 100, generator=g) < 0.05]
    assert len(encode_ticket(weights, masks)) < 0.2 * dense_size(weights)


def test_a_corrupt_blob_is_reported():
    blob = encode_ticket([torch.ones(4)], [torch.ones(4, dtype=torch.bool)], compressor="none")
    with pytest.raises(ValueError, match="magic"):
        decode_ticket(b"garbage" + blob)
    with pytest.raises(ValueError, match="trailing"):
        decode_ticket(blob + b"\0")
    with pytest.raises(ValueError, match="precision"):
        encode_ticket([torch.ones(4)], [torch.ones(4, dtype=torch.bool)], precision="fp8")


def test_jaccard_by_hand_and_the_random_expectation():
    a = torch.tensor([1, 1, 0, 0, 1], dtype=torch.bool)
    b = torch.tensor([1, 0, 1, 0, 1], dtype=torch.bool)
    assert jaccard(a, b) == pytest.approx(2 / 4)
    assert jaccard([a, a], [a, b]) == pytest.approx((3 + 2) / (3 + 4))
    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(200000, generator=g) < 0.3, torch.rand(200000, generator=g) < 0.3
    assert jaccard(x, y) == pytest.approx(random_jaccard(0.3), abs=0.005)
    assert random_jaccard(0.3) == pytest.approx(0.3 / 1.7)
    with pytest.raises(ValueError, match="empty"):
        jaccard(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool))


def test_top_eigenvalue_of_a_quadratic_and_of_its_masked_submatrix():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    a = q @ np.diag(np.linspace(-2, 7, 30)) @ q.T                       # eigenvalues -2 .. 7
    A = torch.tensor(a)
    x = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    loss = lambda: 0.5 * x @ A @ x
    assert top_eigenvalue(loss, [x]) == pytest.approx(7.0, rel=1e-6)
    keep = torch.tensor(rng.random(30) < 0.5)
    sub = a[np.ix_(keep.numpy(), keep.numpy())]
    assert top_eigenvalue(loss, [x], [keep]) == pytest.approx(np.linalg.eigvalsh(sub)[-1], rel=1e-6)
    assert critical_learning_rate(7.0) == pytest.approx(2 / 7)


def test_gradient_descent_diverges_just_above_two_over_lambda():
    a = torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64))
    lam = top_eigenvalue(lambda: 0.5 * x @ a @ x, [x := torch.zeros(2, dtype=torch.float64, requires_grad=True)])
    for lr, grows in ((0.99 * critical_learning_rate(lam), False), (1.01 * critical_learning_rate(lam), True)):
        v = torch.ones(2, dtype=torch.float64)
        for _ in range(500):
            v = v - lr * (a @ v)
        assert (float(v.abs().max()) > 1) == grows
