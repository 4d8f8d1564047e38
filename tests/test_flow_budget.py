"""rglt.flow.budget: the learning-curve fit against curves whose law is known."""
import numpy as np
import pytest

from rglt.flow.budget import extrapolate, fit_learning_curve, predict

N = np.geomspace(6_400, 192_000, 16)       # images seen at each evaluation


def law(n, b_inf=2.0, amplitude=40.0, alpha=0.4):
    return b_inf + amplitude * n ** (-alpha)


def test_an_exact_curve_is_recovered():
    fit = fit_learning_curve(N, law(N))
    assert fit["b_inf"] == pytest.approx(2.0, abs=1e-6)
    assert fit["alpha"] == pytest.approx(0.4, rel=1e-5)
    assert fit["amplitude"] == pytest.approx(40.0, rel=1e-4)
    value, _ = predict(fit, 5.4e6)
    assert value == pytest.approx(law(5.4e6), abs=1e-6)
    out = extrapolate(N, law(N), 5.4e6)
    assert out["value"] == pytest.approx(law(5.4e6), abs=1e-6) and out["uncertainty"] < 1e-5


def test_the_delta_method_error_matches_the_scatter_of_noisy_refits():
    # Independent noise: the stated standard error must match the spread of the estimates (within ~30%).
    rng = np.random.default_rng(0)
    preds, ses = [], []
    for _ in range(200):
        b = law(N) + rng.normal(0, 0.01, N.size)
        value, se = predict(fit_learning_curve(N, b), 1e6)
        preds.append(float(value))
        ses.append(float(se))
    assert np.std(preds) == pytest.approx(np.median(ses), rel=0.3)
    assert abs(np.mean(preds) - law(1e6)) < 3 * np.std(preds) / np.sqrt(len(preds)) + 0.01


def test_a_curve_that_bends_later_widens_the_window_spread():
    # Two regimes: the early points follow a steeper law; refits on the later part disagree with the
    # full fit, and the stated uncertainty covers the difference.
    b = np.where(N < 40_000, law(N, 1.5, 60.0, 0.35), law(N, 2.2, 30.0, 0.45))
    out = extrapolate(N, b, 5.4e6)
    assert out["window_spread"] > out["se"]
    assert out["uncertainty"] == out["window_spread"]
    # value +- uncertainty covers every refit, the farthest one on its edge
    deviations = [abs(p - out["value"]) for p in out["window_predictions"].values()]
    assert max(deviations) == pytest.approx(out["uncertainty"], rel=1e-12)
    assert len(deviations) >= 2 and min(deviations) < max(deviations)


def test_bad_input():
    with pytest.raises(ValueError, match="images and bpd"):
        fit_learning_curve(N[:3], law(N[:3]))
    with pytest.raises(ValueError, match="increasing"):
        fit_learning_curve(N[::-1], law(N))
    with pytest.raises(ValueError, match="finite"):
        fit_learning_curve(N, np.where(N > 1e5, np.nan, law(N)))
    with pytest.raises(ValueError, match="target"):
        extrapolate(N, law(N), -1.0)


def test_the_asymptote_is_bounded_at_zero_and_a_fit_on_the_bound_says_so():
    # A slow power law whose free fit wants an asymptote below zero (alpha small, still falling fast in
    # log n): bits/dim cannot be negative, so the bounded fit ends on b_inf = 0 and says it did.
    b = law(N, -1.0, 12.0, 0.08)
    free = fit_learning_curve(N, b, asymptote_min=None)
    assert free["b_inf"] == pytest.approx(-1.0, abs=1e-3) and not free["at_bound"]
    bounded = fit_learning_curve(N, b)
    assert bounded["b_inf"] >= 0 and bounded["at_bound"]
    assert extrapolate(N, b, 5.4e6)["at_bound"]
    # a law with a positive asymptote stays off the bound
    assert not fit_learning_curve(N, law(N))["at_bound"]


def test_the_registered_half_range_spread_and_the_farthest_refit():
    b = np.where(N < 40_000, law(N, 1.5, 60.0, 0.35), law(N, 2.2, 30.0, 0.45))
    farthest = extrapolate(N, b, 5.4e6)
    half = extrapolate(N, b, 5.4e6, spread="half-range")
    preds = list(half["window_predictions"].values())
    assert half["window_half_range"] == pytest.approx(0.5 * (max(preds) - min(preds)), rel=1e-12)
    assert half["uncertainty"] == pytest.approx(max(half["se"], half["window_half_range"]), rel=1e-12)
    assert farthest["uncertainty"] >= farthest["window_spread"] >= half["window_half_range"]
    with pytest.raises(ValueError, match="spread"):
        extrapolate(N, b, 5.4e6, spread="sd")
