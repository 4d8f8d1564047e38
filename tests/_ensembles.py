"""A synthetic tickets_ensembles (version 2) result of a config's shapes, for claims tests that must not
depend on a committed cpu result: every random-mask ensemble at ``random_shift`` (accuracy, a fraction) from
its paired dense ensemble, every IMP-ticket ensemble at ``ticket_shift`` from the mean of the dense ones."""
import numpy as np


def _jitter(n, scale=0.001):
    return scale * (np.arange(n) % 3)            # a small spread, so that every interval has a width


def synthetic_result(config, random_shift, ticket_shift=0.01, random_shifts=None):
    """``random_shifts``: {k: shift} overriding ``random_shift`` for some k."""
    from rglt.experiments.tickets_ensembles import level_for
    R, ks = config.replicates, config.tickets_per_dense
    dense = 0.95 + 0.004 * (np.arange(R) % 4)
    out = {"density": np.array([0.8 ** level_for(k, config.rounds) for k in ks]),
           "ticket_accuracy": np.array([dense + 0.005 for _ in ks]), "dense_accuracy": dense,
           "level": np.array([level_for(k, config.rounds) for k in ks]), "total_steps": 420, "rewind_step": 20,
           "ticket_cost_skip": np.array([3.0 for _ in ks]), "ticket_cost_dense": np.array([4.0 for _ in ks]),
           "random_density": np.array([1 / k for k in ks]), "random_flop_density": np.array([1 / k for k in ks]),
           "flop_density": np.array([0.9 * 0.8 ** level_for(k, config.rounds) + 0.1 for k in ks])}
    for k in ks:
        out[f"member_accuracy_k{k}"] = np.full((R, k), 0.94)
    for b in config.budgets:
        pairs = dense[:R - R % b].reshape(-1, b).mean(1) + 0.002
        out[f"dense_b{b}"] = pairs
        for k in ks:
            shift = (random_shifts or {}).get(k, random_shift)
            out[f"random_b{b}_k{k}"] = pairs + shift + _jitter(pairs.size)
            n = R // (b * k)
            out[f"tickets_b{b}_k{k}"] = pairs.mean() + ticket_shift + _jitter(n, 0.002)
    return out
