"""The Ising sampler against exact results: brute-force enumeration of a 4x4 lattice and Onsager."""
import itertools
import math

import numpy as np
import pytest

from rglt.rg import (ALGORITHMS, T_CRITICAL, energy, magnetization, nn_correlation,
                     onsager_magnetization, sample, trajectory)


def _exact_4x4(temperature):
    """<|m|> and <E>/N of the periodic 4x4 model by summing over all 2^16 configurations."""
    configs = np.array(list(itertools.product([-1, 1], repeat=16)), dtype=np.int8).reshape(-1, 4, 4)
    e = energy(configs) * 16
    w = np.exp(-(e - e.min()) / temperature)
    w /= w.sum()
    return float(w @ np.abs(magnetization(configs))), float(w @ (e / 16))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("temperature", [2.0, 2.5])
def test_matches_exact_enumeration(algorithm, temperature):
    exact_m, exact_e = _exact_4x4(temperature)
    chains, burn_in, sweeps = 256, 100, 600
    m_sum, e_sum = np.zeros(chains), np.zeros(chains)
    for i, s in enumerate(trajectory(4, temperature, sweeps=burn_in + sweeps, seed=7, chains=chains,
                                     algorithm=algorithm)):
        if i >= burn_in:
            m_sum += np.abs(magnetization(s))
            e_sum += energy(s)
    for per_chain, exact in ((m_sum / sweeps, exact_m), (e_sum / sweeps, exact_e)):
        se = per_chain.std(ddof=1) / math.sqrt(chains)
        assert abs(per_chain.mean() - exact) < 5 * se + 1e-3, (per_chain.mean(), exact, se)


@pytest.mark.parametrize("algorithm", ["metropolis", "swendsen-wang"])
def test_large_lattice_follows_onsager_below_tc(algorithm):
    s = sample(64, 1.8, sweeps=300, seed=1, chains=4, algorithm=algorithm, start="cold")
    assert abs(np.abs(magnetization(s)).mean() - onsager_magnetization(1.8)) < 0.01


def test_nearest_neighbour_correlation_at_tc_is_sqrt2_over_2():
    # The exact energy per site at T_c is -sqrt(2), i.e. <s_i s_j> = sqrt(2)/2 for a nearest pair.
    corr = []
    for s in trajectory(64, T_CRITICAL, sweeps=400, seed=3, chains=4, algorithm="swendsen-wang"):
        corr.append(nn_correlation(s).mean())
    assert abs(np.mean(corr[100:]) - math.sqrt(2) / 2) < 0.01


def test_same_seed_same_spins_other_seed_other_spins():
    a = sample(16, 2.3, sweeps=20, seed=5, chains=3, algorithm="wolff")
    b = sample(16, 2.3, sweeps=20, seed=5, chains=3, algorithm="wolff")
    c = sample(16, 2.3, sweeps=20, seed=6, chains=3, algorithm="wolff")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int8 and set(np.unique(a)) <= {-1, 1}


def test_shapes_and_starts():
    assert sample(8, 2.0, sweeps=0, seed=0).shape == (8, 8)
    assert sample(8, 2.0, sweeps=2, seed=0, chains=2).shape == (2, 8, 8)
    np.testing.assert_array_equal(sample(8, 2.0, sweeps=0, seed=0, start="cold"), 1)


def test_onsager_closed_form():
    assert onsager_magnetization(T_CRITICAL) == 0.0 and onsager_magnetization(3.0) == 0.0
    assert onsager_magnetization(0.5) == pytest.approx(1.0, abs=1e-6)
    # Leading singularity: m = A t^(1/8) with A = 2^(5/16) ln(1+sqrt2)^(1/8) (1 - T/T_c = t -> 0).
    amplitude = 2 ** (5 / 16) * math.log(1 + math.sqrt(2)) ** (1 / 8)
    t = 1e-7
    assert onsager_magnetization(T_CRITICAL * (1 - t)) / t ** 0.125 == pytest.approx(amplitude, rel=1e-4)
    np.testing.assert_allclose(onsager_magnetization(np.array([1.0, 4.0])), [onsager_magnetization(1.0), 0.0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=8, temperature=0.0), "temperature must be a finite number > 0"),
    (dict(size=8, temperature=-1.0), "temperature must be a finite number > 0"),
    (dict(size=8, temperature=float("nan")), "temperature must be a finite number > 0"),
    (dict(size=1, temperature=2.0), "size must be an integer >= 2"),
    (dict(size=9, temperature=2.0), "size must be even for checkerboard Metropolis"),
    (dict(size=8, temperature=2.0, sweeps=-1), "sweeps must be an integer >= 0"),
    (dict(size=8, temperature=2.0, seed=None), "seed must be an integer >= 0"),
    (dict(size=8, temperature=2.0, chains=0), "chains must be an integer >= 1"),
    (dict(size=8, temperature=2.0, algorithm="heatbath"), "algorithm must be one of metropolis, swendsen-wang, wolff"),
    (dict(size=8, temperature=2.0, start="warm"), "start must be 'hot' or 'cold'"),
])
def test_bad_input_is_refused_before_any_work(kwargs, message):
    full = dict(sweeps=1, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        sample(**full)
    with pytest.raises(ValueError, match=message):
        trajectory(**full)  # refused when called, not at the first sweep


def test_onsager_refuses_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        onsager_magnetization(0.0)


def test_observables_refuse_spins_that_are_not_pm1():
    with pytest.raises(ValueError, match=r"only \+1 and -1"):
        magnetization(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., L, L\)"):
        nn_correlation(np.ones((4, 3)))
