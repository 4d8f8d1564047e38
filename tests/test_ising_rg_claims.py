"""Chapter 1's beta and 2^(1/8) claims on results built by hand (no Monte Carlo): each turns
"reproduced" on a result where it is true, "not" where it is false, and "inconclusive" where its
interval straddles the region's boundary (or the setting cannot test it)."""
import numpy as np
import pytest

from rglt.experiments import ising_rg
from rglt.rg import T_CRITICAL, fit_power_law, onsager_magnetization

CONFIG = ising_rg.CONFIGS["cpu"]
EXACT = 2 ** 0.125


def _ratios(sizes, first=1.0858, last=1.087, value=EXACT):
    """Per-step ratios (sizes x steps, NaN-padded): ``first`` at step 1, ``last`` at the step to 2 x 2,
    ``value`` elsewhere, as the measured pattern (the nearest-neighbour start, the tiny last lattice)."""
    steps = [int(np.log2(s)) - 1 for s in sizes]
    r = np.full((len(sizes), max(steps)), np.nan)
    for i, n in enumerate(steps):
        r[i, :n] = value
        r[i, 0], r[i, n - 1] = first, last
    return r


def _result(**changes):
    """A result whose beta and ratio claims hold: the fit points are Onsager's curve itself, with
    relative errors of 0.05%, fitted exactly as ``run`` fits them."""
    t = np.array(CONFIG.fit_reduced_t)
    m = onsager_magnetization(T_CRITICAL * (1 - t))
    err = 5e-4 * m
    plain, corrected = fit_power_law(t, m, err), fit_power_law(t, m, err, correction=True)
    sizes = np.array(CONFIG.critical_sizes)
    r = _ratios(sizes)
    d = {"fit_t": t, "beta": plain["exponent"], "beta_err": plain["exponent_err"],
         "beta_reduced_chi2": plain["reduced_chi2"], "beta_onsager_window": plain["exponent"],
         "beta_minus_onsager": 0.0001, "beta_minus_onsager_err": 0.0004,
         "beta_corrected": corrected["exponent"], "beta_corrected_err": 0.0009,
         "beta_corrected_a": corrected["correction"], "beta_corrected_reduced_chi2": 1.0,
         "beta_corrected_onsager_window": corrected["exponent"],
         "critical_sizes": sizes, "critical_ratio": r, "critical_ratio_err": np.where(np.isfinite(r), 3e-4, np.nan)}
    d.update(changes)
    return d


def _claim(result, start):
    found = [c for c in ising_rg._beta_claims(result, CONFIG) + [ising_rg._ratio_claim(result, CONFIG)]
             if c.claim.startswith(start)]
    assert len(found) == 1
    return found[0]


PLAIN, CORRECTED, RATIO = "the plain power law", "the exponent beta", "at T_c each blocking step"


def test_the_hand_built_result_reproduces_every_claim():
    for start in (PLAIN, CORRECTED, RATIO):
        assert _claim(_result(), start).verdict == "reproduced", start


def test_the_plain_law_is_judged_against_onsagers_window_not_against_one_eighth():
    result = _result()
    assert result["beta"] < 0.115                              # an effective exponent, far from 1/8
    claim = _claim(result, PLAIN)
    assert claim.verdict == "reproduced" and "effective exponent" in claim.claim
    assert f"against Onsager's {result['beta_onsager_window']:.4f}" in claim.ours
    # Monte Carlo at 1/8 exactly, while Onsager's curve over the window gives 0.109: not reproduced.
    false = _claim(_result(beta=0.125, beta_minus_onsager=0.125 - result["beta_onsager_window"]), PLAIN)
    assert false.verdict == "not" and "outside the claimed region in (-0.003, 0.003)" in false.reason


def test_the_plain_law_too_imprecise_to_match_is_inconclusive():
    """A difference of 0.001 +- 0.01 is no evidence either way (the old rule's "3 standard errors" passed it)."""
    claim = _claim(_result(beta_minus_onsager=0.001, beta_minus_onsager_err=0.01), PLAIN)
    assert claim.verdict == "inconclusive" and "straddles" in claim.reason


# error 0.0009: the 95% interval is beta +- 0.0018, the region 0.125 +- 0.003
@pytest.mark.parametrize("beta, verdict", [(0.1255, "reproduced"), (0.1280, "inconclusive"), (0.1320, "not"),
                                           (0.1180, "not")])
def test_the_corrected_fit_carries_one_eighth(beta, verdict):
    claim = _claim(_result(beta_corrected=beta), CORRECTED)
    assert claim.verdict == verdict, claim


def test_the_corrected_fit_too_imprecise_to_test_is_inconclusive():
    claim = _claim(_result(beta_corrected=0.126, beta_corrected_err=0.01), CORRECTED)
    assert claim.verdict == "inconclusive" and "seeds of this spread would decide" in claim.reason


def test_the_ratio_claim_fails_when_the_counted_steps_miss_two_to_the_one_eighth():
    sizes = np.array(CONFIG.critical_sizes)
    claim = _claim(_result(critical_ratio=_ratios(sizes, value=EXACT + 0.004)), RATIO)
    assert claim.verdict == "not" and "0.004" in claim.reason
    # beta/nu = 1/4 instead of 1/8: 2^(1/4) = 1.189 per step
    assert _claim(_result(critical_ratio=_ratios(sizes, value=2 ** 0.25)), RATIO).verdict == "not"


def test_the_ratio_claim_fails_on_one_step_far_beyond_its_error():
    r = _ratios(np.array(CONFIG.critical_sizes))
    r[-1, 2] = EXACT + 0.006                                   # L = 256, step 3 (64 -> 32), error 0.0003
    claim = _claim(_result(critical_ratio=r), RATIO)
    # the mean of the counted steps moves by 0.0007 only, but every step must hold: not for that step
    assert claim.verdict != "reproduced" and "every counted step (worst: L = 256, step 3): not" in claim.reason


def test_the_ratio_claim_ignores_the_first_step_and_the_smallest_lattices():
    r = _ratios(np.array(CONFIG.critical_sizes), first=1.05, last=1.03)
    assert _claim(_result(critical_ratio=r), RATIO).verdict == "reproduced"


def test_the_ratio_claim_without_a_counted_step_is_outside_its_regime():
    """Lattices too small to count a step cannot test the claim: inconclusive (a failed precondition), never not."""
    sizes = np.array([4, 8])
    result = _result(critical_sizes=sizes, critical_ratio=_ratios(sizes), critical_ratio_err=np.full((2, 2), 3e-4))
    claim = _claim(result, RATIO)
    assert claim.verdict == "inconclusive" and "outside the claim's regime: no blocking step" in claim.reason
    assert "fails" in claim.precondition


def test_the_ratio_claim_with_one_step_too_imprecise_is_partly():
    """The stored pattern: the mean of the counted steps holds, one step's interval straddles the region."""
    r = _ratios(np.array(CONFIG.critical_sizes))
    err = np.where(np.isfinite(r), 3e-4, np.nan)
    r[1, 3], err[1, 3] = EXACT - 0.001, 0.0008                 # L = 128, step 4: 1.96 x 0.0008 reaches past -0.002
    claim = _claim(_result(critical_ratio=r, critical_ratio_err=err), RATIO)
    assert claim.verdict == "partly"
    assert "the mean of the counted steps: reproduced" in claim.reason
    assert "every counted step (worst: L = 128, step 4): inconclusive" in claim.reason


def test_ratio_selection():
    sizes = np.array([16, 64])
    ratios = _ratios(sizes)
    # step k maps L / 2^(k-1) -> L / 2^k; counted: k >= 2 and L / 2^k >= 8
    expected = np.zeros(ratios.shape, bool)
    expected[1, 1:3] = True                                    # 64: steps 2 (-> 16) and 3 (-> 8)
    np.testing.assert_array_equal(ising_rg.ratio_selection(sizes, ratios, CONFIG), expected)


@pytest.mark.parametrize("sizes", [(48,), (2,), (64.0,)])
def test_critical_sizes_must_be_powers_of_two(sizes):
    with pytest.raises(ValueError, match="critical_sizes must be powers of 2 >= 4"):
        ising_rg.Config(critical_sizes=sizes)
