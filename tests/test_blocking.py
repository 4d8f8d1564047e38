"""Kadanoff majority-rule block spins against a brute-force loop and closed-form tie statistics."""
import numpy as np
import pytest

from rglt.rg import block_spin, magnetization


def _brute_force(spins, b, tie_value):
    n = spins.shape[0] // b
    out = np.empty((n, n), dtype=int)
    for i in range(n):
        for j in range(n):
            total = int(spins[i * b:(i + 1) * b, j * b:(j + 1) * b].sum())
            out[i, j] = tie_value if total == 0 else (1 if total > 0 else -1)
    return out


@pytest.mark.parametrize("size, b", [(8, 2), (9, 3), (12, 4), (10, 5)])
def test_majority_rule_matches_brute_force(size, b):
    rng = np.random.default_rng(size * b)
    spins = np.where(rng.random((size, size)) < 0.5, 1, -1)
    np.testing.assert_array_equal(block_spin(spins, b), _brute_force(spins, b, tie_value=1))


def test_batches_block_each_configuration():
    rng = np.random.default_rng(0)
    spins = np.where(rng.random((3, 2, 8, 8)) < 0.5, 1, -1)
    out = block_spin(spins, 2)
    assert out.shape == (3, 2, 4, 4) and out.dtype == np.int8
    for idx in np.ndindex(3, 2):
        np.testing.assert_array_equal(out[idx], _brute_force(spins[idx], 2, 1))


def test_tie_rules_on_independent_spins():
    # 2x2 blocks of independent +-1 spins: 5/16 up, 5/16 down, 6/16 tied.
    rng = np.random.default_rng(1)
    spins = np.where(rng.random((8, 256, 256)) < 0.5, 1, -1)
    assert magnetization(block_spin(spins, 2, "up")).mean() == pytest.approx(6 / 16, abs=0.006)
    random_ties = block_spin(spins, 2, "random", seed=3)
    assert magnetization(random_ties).mean() == pytest.approx(0.0, abs=0.006)
    decided = block_spin(spins, 2, "up") == block_spin(-spins, 2, "up") * -1
    np.testing.assert_array_equal(random_ties[decided], block_spin(spins, 2, "up")[decided])


def test_random_ties_are_seeded():
    spins = np.array([[1, -1], [-1, 1]] * 1, dtype=np.int8)
    spins = np.tile(spins, (16, 16))
    a = block_spin(spins, 2, "random", seed=4)
    np.testing.assert_array_equal(a, block_spin(spins, 2, "random", seed=4))
    assert not np.array_equal(a, block_spin(spins, 2, "random", seed=5))
    assert set(np.unique(a)) == {-1, 1}


@pytest.mark.parametrize("args, kwargs, message", [
    ((np.ones((6, 6)), 4), {}, "lattice size 6 must be divisible by b=4"),
    ((np.zeros((4, 4)),), {}, r"only \+1 and -1"),
    ((np.full((4, 4), 2),), {}, r"only \+1 and -1"),
    ((np.ones((4, 4)), 1), {}, "b must be an integer >= 2"),
    ((np.ones((4, 4)), 2.0), {}, "b must be an integer >= 2"),
    ((np.ones((4, 4)), 2, "down"), {}, "ties must be one of up, random"),
    ((np.ones((4, 4)), 2, "random"), {}, "seed must be an integer >= 0 when ties='random'"),
    ((np.ones((4, 6)),), {}, r"shape \(\.\.\., L, L\)"),
])
def test_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        block_spin(*args, **kwargs)
