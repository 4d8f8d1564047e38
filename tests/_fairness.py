"""Synthetic tickets_fairness results with the group accuracies set by hand: the oracle of its claims tests."""
import numpy as np

PER_GROUP = 200                                          # test signals in each group: accuracies in steps of 0.005
JITTER = np.array([0.0, 0.005, -0.005, 0.01, -0.01])     # per seed, so that intervals have a width


def fairness_result(majority, minority, sparsities):
    """A result whose test set holds PER_GROUP majority then PER_GROUP minority signals; ``majority`` and
    ``minority``: [seeds, levels] accuracies (level 0 dense, then one per sparsity); the first signals of each
    group are the ones classified right."""
    majority, minority = np.asarray(majority, dtype=float), np.asarray(minority, dtype=float)
    assert majority.shape == minority.shape and majority.shape[1] == len(sparsities) + 1
    correct = np.zeros((*majority.shape, 2 * PER_GROUP), dtype=bool)
    for index in np.ndindex(majority.shape):
        correct[index][:round(majority[index] * PER_GROUP)] = True
        correct[index][PER_GROUP:PER_GROUP + round(minority[index] * PER_GROUP)] = True
    return {"correct": correct, "minority": np.arange(2 * PER_GROUP) >= PER_GROUP,
            "sparsities": np.array(sparsities, dtype=float),
            "sparsity": np.tile(np.array(sparsities, dtype=float), (majority.shape[0], 1))}


def accuracies(dense, changes, seeds=5, jitter=0.0):
    """[seeds, levels]: ``dense`` at level 0, ``dense + changes[i]`` at sparsity i, plus ``jitter`` times
    each seed's JITTER at the pruned levels."""
    pruned = dense + np.asarray(changes, dtype=float)[None, :] + jitter * JITTER[:seeds, None]
    return np.concatenate([np.full((seeds, 1), dense), pruned], axis=1)


def pruned_result(sparsities, majority_change, minority_change, seeds=5, minority_jitter=1.0):
    """Dense majority 0.9 and minority 0.6; each group's change at every sparsity (a number, or one per
    sparsity); the minority's change varies by seed (``minority_jitter`` x JITTER)."""
    k = len(sparsities)
    per = lambda c: np.broadcast_to(np.asarray(c, dtype=float), (k,))  # noqa: E731
    return fairness_result(accuracies(0.9, per(majority_change), seeds),
                           accuracies(0.6, per(minority_change), seeds, minority_jitter), sparsities)
