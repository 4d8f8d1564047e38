import numpy as np
import pytest

from rglt.rg import fit_power_law


def test_exact_power_law_is_recovered():
    x = np.geomspace(0.01, 0.2, 9)
    fit = fit_power_law(x, 1.7 * x ** 0.125)
    assert fit["exponent"] == pytest.approx(0.125, abs=1e-12)
    assert fit["amplitude"] == pytest.approx(1.7, rel=1e-12)


def test_uncertainty_covers_the_truth_on_noisy_data():
    # Over many seeded noisy data sets, |fit - truth| < 2 sigma about 95% of the time.
    rng = np.random.default_rng(0)
    x = np.geomspace(0.01, 0.2, 8)
    hits = 0
    for _ in range(400):
        y_err = 0.01 * np.ones_like(x)
        y = 0.9 * x ** 0.125 + rng.normal(0, y_err)
        fit = fit_power_law(x, y, y_err)
        hits += abs(fit["exponent"] - 0.125) < 2 * fit["exponent_err"]
    assert 0.9 < hits / 400 < 0.99


@pytest.mark.parametrize("x, y, message", [
    ([1, 2], [1, 2], "length >= 3"),
    ([1, 2, 3], [1, 2], "same length"),
    ([1, 2, -3], [1, 2, 3], "finite and > 0"),
])
def test_bad_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        fit_power_law(x, y)
