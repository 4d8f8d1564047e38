"""rglt.stats against independent oracles: closed forms, scipy's own tests, brute force; and the
derived verdict (rglt.claims.derived) through each of its outcomes."""
import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st

from rglt import stats
from rglt.claims import derived


def test_the_t_interval_is_the_closed_form_with_the_t_quantile():
    x = [1.0, 2.0, 4.0]
    i = stats.mean_interval(x)
    half = 4.302652729911275 * np.std(x, ddof=1) / math.sqrt(3)      # t_{0.975, 2}
    assert i.mean == pytest.approx(7 / 3) and i.high - i.mean == pytest.approx(half) and i.n == 3
    assert (i.high - i.mean) / (np.std(x, ddof=1) / math.sqrt(3)) == pytest.approx(4.3027, abs=1e-4)  # not 2 SE


def test_the_paired_interval_is_the_interval_of_the_differences():
    a, b = np.array([3.0, 5.0, 4.0, 6.0]), np.array([1.0, 2.5, 2.0, 3.5])
    paired, differences = stats.mean_interval(a, paired_with=b), stats.mean_interval(a - b)
    assert (paired.mean, paired.low, paired.high, paired.n) == (differences.mean, differences.low,
                                                                differences.high, differences.n)


def test_one_seed_gives_an_interval_that_decides_nothing():
    i = stats.mean_interval([0.7])
    assert math.isinf(i.low) and math.isinf(i.high)


def test_welch_matches_scipys_welch_test():
    rng = np.random.default_rng(0)
    x, y = rng.normal(1, 1, 6), rng.normal(0, 2, 9)
    i = stats.welch_interval(x, y)
    t, p = st.ttest_ind(x, y, equal_var=False)
    se = (i.high - i.mean) / st.t.ppf(0.975, _welch_df(x, y))
    assert i.mean / se == pytest.approx(t)


def _welch_df(x, y):
    va, vb = np.var(x, ddof=1) / len(x), np.var(y, ddof=1) / len(y)
    return (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + vb ** 2 / (len(y) - 1))


def test_tost_agrees_with_the_90_percent_interval():
    x = np.array([0.1, -0.05, 0.02, 0.08, -0.01])
    inside = stats.mean_interval(x, level=0.90)
    for low, high in [(-0.2, 0.2), (-0.05, 0.05), (0.0, 0.3)]:
        equivalent = stats.equivalence_test(x, low, high) < 0.05
        assert equivalent == (low < inside.low and inside.high < high)


def test_superiority_is_scipys_one_sided_t_test():
    x = np.array([0.3, 0.5, 0.1, 0.4])
    assert stats.superiority_test(x, 0.0) == pytest.approx(st.ttest_1samp(x, 0.0, alternative="greater").pvalue)


def test_mcnemar_and_binomial_are_exact():
    assert stats.binomial_test(9, 10) == pytest.approx(2 * 11 / 1024)            # P(X >= 9) twice
    assert stats.mcnemar_test(1, 9) == pytest.approx(2 * 11 / 1024)
    assert stats.mcnemar_test(0, 0) == 1.0


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    np.testing.assert_allclose(stats.holm([0.04, 0.01, 0.03]), [0.06, 0.03, 0.06])


def test_bootstrap_covers_the_mean_of_a_wide_sample():
    x = np.arange(20.0)
    i = stats.bootstrap_interval(x)
    assert i.low < 9.5 < i.high and i.high - i.low < 10


def test_seeds_to_decide_is_the_first_n_whose_interval_clears_the_boundary():
    i = stats.mean_interval([1.0, 2.0, 3.0])   # mean 2, sd 1
    n = stats.seeds_to_decide(i, 0.5)
    assert st.t.ppf(0.975, n - 1) / math.sqrt(n) < 1.5 <= st.t.ppf(0.975, n - 2) / math.sqrt(n - 1)


@pytest.mark.parametrize("values, verdict", [
    ([0.9, 1.1, 1.0], "reproduced"),         # well above 0
    ([-0.9, -1.1, -1.0], "not"),             # well below 0
    ([0.2, -0.1, 0.4], "inconclusive"),      # straddles 0
])
def test_the_verdict_is_derived_from_the_interval_and_the_region(values, verdict):
    out = derived(stats.mean_interval(values), 0.0, what="gain")
    assert out["verdict"] == verdict
    if verdict == "inconclusive":
        assert "straddles the boundary 0" in out["reason"] and "seeds of this spread would decide it" in out["reason"]
    if verdict == "not":
        assert "outside the claimed region > 0" in out["reason"]


def test_a_failed_precondition_is_inconclusive_never_not():
    out = derived(stats.mean_interval([-0.9, -1.1, -1.0]), 0.0, precondition=(False, "the teacher (81.5%) is "
                                                                                "below every ticket (82.6%)"))
    assert out["verdict"] == "inconclusive" and "outside the claim's regime: the teacher" in out["reason"]


def test_the_normal_interval_is_mean_plus_minus_1_96_se():
    i = stats.normal_interval(2.0, 0.5, n=8)
    assert (i.low, i.high) == pytest.approx((2.0 - 1.959964 * 0.5, 2.0 + 1.959964 * 0.5), abs=1e-5)


def test_the_proportion_interval_is_clopper_pearson():
    i = stats.proportion_interval(3, 10)
    # Clopper-Pearson by its definition: beta quantiles
    assert i.low == pytest.approx(st.beta.ppf(0.025, 3, 8)) and i.high == pytest.approx(st.beta.ppf(0.975, 4, 7))
    with pytest.raises(ValueError, match="successes <= trials"):
        stats.proportion_interval(11, 10)


def test_an_exact_value_is_an_interval_of_zero_width_and_scaling_keeps_its_place():
    i = stats.Interval.exact(0.25, n=3)
    assert (i.low, i.mean, i.high, i.sd) == (0.25, 0.25, 0.25, 0.0)
    j = stats.mean_interval([0.1, 0.2, 0.4]).scaled(100)
    k = stats.mean_interval([10.0, 20.0, 40.0])
    assert (j.mean, j.low, j.high) == pytest.approx((k.mean, k.low, k.high))


def _bernoulli(rng, p, reps, seeds, examples):
    return (rng.random((reps, seeds, len(p), examples)) < np.asarray(p)[None, None, :, None]).astype(float)


def test_crossfit_best_gain_has_no_winners_curse_where_the_plain_maximum_does():
    # 20 tickets as good as the dense network: the plain maximum sits at E[max of 20 N(0, 1)] standard
    # errors of one candidate's mean (1.8675, by quadrature below), the cross-fitted gain at 0
    rng = np.random.default_rng(1)
    p, n, reps = 0.8, 1000, 400
    correct = _bernoulli(rng, [p] * 21, reps, 1, n)
    fits = [stats.crossfit_best_gain(c, split_seed=i) for i, c in enumerate(correct)]
    cross, plain = np.array([f.cross_fitted for f in fits]), np.array([f.plain for f in fits])
    se = math.sqrt(p * (1 - p) / n)
    expected_max = integrate.quad(lambda z: z * 20 * st.norm.pdf(z) * st.norm.cdf(z) ** 19, -12, 12)[0]
    assert expected_max == pytest.approx(1.8675, abs=1e-3)
    # the dense network's own noise adds variance, not bias, to the plain difference
    assert plain.mean() == pytest.approx(expected_max * se, abs=4 * plain.std() / math.sqrt(reps))
    assert abs(cross.mean()) < 4 * cross.std() / math.sqrt(reps)
    # its standard error is the spread it shows across replications
    assert np.mean([f.se for f in fits]) == pytest.approx(cross.std(), rel=0.15)


def test_crossfit_best_gain_recovers_a_real_lead():
    rng = np.random.default_rng(2)
    p, n, reps, lead = 0.8, 2000, 200, 0.05     # one ticket 5 points (5.6 SE) ahead of 19 equal ones
    correct = _bernoulli(rng, [p] * 20 + [p + lead], reps, 2, n)
    cross = np.array([stats.crossfit_best_gain(c, split_seed=i).cross_fitted for i, c in enumerate(correct)])
    assert cross.mean() == pytest.approx(lead, abs=4 * cross.std() / math.sqrt(reps))


def test_crossfit_best_gain_names_the_shape_it_needs():
    with pytest.raises(ValueError, match="correct must be shaped"):
        stats.crossfit_best_gain(np.zeros((3, 1, 10)))
