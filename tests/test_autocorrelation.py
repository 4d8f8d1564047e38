"""Integrated autocorrelation times against closed forms: an AR(1) process x_t = phi x_{t-1} + e_t has
rho(t) = phi^t and tau = 1 + 2 sum rho(t) = (1 + phi) / (1 - phi); its mean's variance is tau var(x) / N."""
import numpy as np
import pytest

from rglt.rg import autocorrelation, integrated_autocorrelation_time, mean_and_error, ratio_and_error


def _ar1(phi, n, chains=1, seed=0):
    """Stationary AR(1) series (chains, n) with unit marginal variance (first value drawn from it)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, np.sqrt(1 - phi**2), (chains, n))
    x = np.empty((chains, n))
    x[:, 0] = rng.normal(0.0, 1.0, chains)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.95])
def test_ar1_tau_is_the_closed_form(phi):
    exact = (1 + phi) / (1 - phi)
    got = integrated_autocorrelation_time(_ar1(phi, 50_000, chains=4, seed=int(phi * 100)))
    assert got["reliable"]
    assert abs(got["tau"] - exact) < 3 * got["tau_err"], (got, exact)
    assert got["tau_err"] < 0.06 * exact           # 200,000 steps: a few per cent
    assert got["window"] >= 3 * got["tau"]         # Sokal's condition W >= c tau_int, c = 6


def test_autocorrelation_is_the_direct_sum_and_phi_to_the_t():
    x = _ar1(0.7, 400, seed=3)[0]
    d = x - x.mean()
    direct = np.array([np.sum(d[: d.size - t] * d[t:]) for t in range(d.size)]) / np.sum(d * d)
    np.testing.assert_allclose(autocorrelation(x), direct, atol=1e-12)
    long = autocorrelation(_ar1(0.7, 200_000, seed=4))
    np.testing.assert_allclose(long[:6], 0.7 ** np.arange(6), atol=0.01)


def test_chains_are_pooled_like_one_series():
    x = _ar1(0.6, 20_000, chains=6, seed=5)
    pooled = integrated_autocorrelation_time(x)
    singles = [integrated_autocorrelation_time(c)["tau"] for c in x]
    assert pooled["tau"] == pytest.approx(np.mean(singles), rel=0.05)
    assert pooled["tau_err"] < min(integrated_autocorrelation_time(c)["tau_err"] for c in x)


def test_the_error_of_the_mean_matches_the_spread_over_replicas():
    # Independent oracle: the standard deviation of the means of 400 independent replicas.
    phi, n = 0.9, 4000
    reps = _ar1(phi, n, chains=400, seed=6)
    spread = reps.mean(axis=1).std(ddof=1)
    errors = np.array([mean_and_error(r)["error"] for r in reps[:50]])
    naive = np.array([mean_and_error(r)["naive_error"] for r in reps[:50]])
    exact = np.sqrt((1 + phi) / (1 - phi) / n)     # unit variance: sqrt(tau / N)
    assert spread == pytest.approx(exact, rel=0.1)
    assert np.median(errors) == pytest.approx(spread, rel=0.1)
    assert np.median(errors / naive) == pytest.approx(np.sqrt(19), rel=0.1)


def test_independent_draws_have_tau_one_and_the_naive_error():
    x = np.random.default_rng(7).normal(size=(3, 30_000))
    got = mean_and_error(x)
    assert got["tau"] == pytest.approx(1.0, abs=0.05)
    assert got["error"] == pytest.approx(x.std() / np.sqrt(x.size), rel=0.05)
    assert got["mean"] == pytest.approx(x.mean())


def test_a_series_too_short_for_its_tau_is_flagged():
    short = integrated_autocorrelation_time(_ar1(0.999, 500, seed=8))  # tau = 1999 > N
    assert not short["reliable"] and short["tau"] < 1999 / 5          # badly underestimated
    assert not integrated_autocorrelation_time(_ar1(0.9, 500, seed=8))["reliable"]  # N < 50 tau
    assert integrated_autocorrelation_time(_ar1(0.9, 5000, seed=8))["reliable"]


def test_the_ratio_error_keeps_the_covariance_of_series_measured_together():
    # a = 2 + 0.1 x + 0.02 y, b = 1 + 0.05 x with x, y AR(1): a and b are strongly correlated. Oracle:
    # the spread of the ratio over 300 independent replicas.
    x, y = _ar1(0.8, 2000, chains=300, seed=9), _ar1(0.5, 2000, chains=300, seed=10)
    a, b = 2 + 0.1 * x + 0.02 * y, 1 + 0.05 * x
    spread = np.std(a.mean(axis=1) / b.mean(axis=1), ddof=1)
    got = [ratio_and_error(a[i], b[i]) for i in range(40)]
    assert got[0]["ratio"] == pytest.approx(a[0].mean() / b[0].mean())
    assert np.median([g["error"] for g in got]) == pytest.approx(spread, rel=0.15)
    quadrature = np.hypot(mean_and_error(a[0])["error"] / b[0].mean(),
                          a[0].mean() * mean_and_error(b[0])["error"] / b[0].mean() ** 2)
    assert quadrature > 5 * spread                             # what dropping the covariance would give
    with pytest.raises(ValueError, match="one shape"):
        ratio_and_error(a[0], b[0, :100])
    with pytest.raises(ValueError, match="mean 0"):
        ratio_and_error(np.arange(8.0), np.array([1.0, -1.0] * 4))


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((2, 3, 4)), ValueError, r"1-D \(one series\) or 2-D \(chains, steps\)"),
    (np.arange(3.0), ValueError, "at least 4 steps"),
    (np.array([1.0, 2.0, np.nan, 4.0, 5.0]), ValueError, "finite"),
    (np.ones(10), ValueError, "constant within every chain"),
    (np.array(["a", "b", "c", "d"]), TypeError, "real numbers"),
    (np.array([1 + 1j, 2, 3, 4]), TypeError, "real numbers"),
])
def test_bad_series_are_refused(x, error, message):
    with pytest.raises(error, match=message):
        integrated_autocorrelation_time(x)
    with pytest.raises(error, match=message):
        mean_and_error(x)


@pytest.mark.parametrize("c", [0, -1.0, float("nan"), "6"])
def test_bad_window_constant_is_refused(c):
    with pytest.raises(ValueError, match="c must be a finite number > 0"):
        integrated_autocorrelation_time(np.arange(10.0), c=c)
