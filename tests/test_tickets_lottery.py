"""rglt.applications.lottery against brute force and closed forms."""
import itertools

import numpy as np
import pytest

from rglt.applications.lottery import subset_sum_lottery, subset_sums, wilson_interval


def test_subset_sums_enumerate_every_subset():
    w = np.array([0.5, -0.25, 2.0, 1.0])
    brute = sorted(sum(c) for r in range(5) for c in itertools.combinations(w, r))
    assert np.allclose(sorted(subset_sums(w)), brute)
    assert subset_sums(w)[0b0101] == pytest.approx(0.5 + 2.0)       # bit i selects weight i


def test_one_weight_wins_with_the_probability_of_its_interval():
    # n = 1: subsets {} (sum 0) and {w}; target 0.5, eps 0.1: {w} wins iff w in [0.4, 0.6], P = 0.1
    out = subset_sum_lottery(1, 0.5, 0.1, 20000, seed=1)
    assert out["any"].mean() == pytest.approx(0.1, abs=0.01)
    assert out["share"].mean() == pytest.approx(0.05, abs=0.005)    # one subset of two


def test_any_win_grows_with_n_while_a_given_subset_rarely_wins():
    small, large = (subset_sum_lottery(n, 0.3, 0.01, 300, seed=2) for n in (4, 16))
    assert large["any"].mean() > 0.95 > small["any"].mean()
    assert large["share"].mean() < 0.01


def test_wilson_interval_closed_form_and_bad_input():
    lo, hi = wilson_interval(0, 40)
    assert lo == 0 and hi == pytest.approx(1.96 ** 2 / (40 + 1.96 ** 2))
    lo, hi = wilson_interval(20, 40)
    assert lo == pytest.approx(1 - hi)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="n must be"):
        subset_sum_lottery(30, 0.1, 0.1, 1)
