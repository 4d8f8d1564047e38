"""Issue 8, bad inputs: each case from the issue ends in a clear error naming the argument, raised
before any work, or (masked_topk and non-finite weights) in the documented behaviour."""
import os
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import OptimizeWarning

from rglt.kernels.masked_topk import masked_topk
from rglt.prune import magnitude_masks, structured_masks
from rglt.rg import block_spin, fit_power_law, magnetization, onsager_magnetization
from rglt.rg import scaling
from rglt.rg.ising import check_spins

X = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


# fit_power_law ---------------------------------------------------------------------------------

@pytest.mark.parametrize("x", [[2.0] * 5, [1.0] * 5])  # log x = 0: an exactly singular normal matrix
def test_fit_power_law_constant_x(x):
    with pytest.raises(ValueError, match=r"x must hold at least 2 distinct values.*got 1"):
        fit_power_law(x, X)


def test_fit_power_law_correction_needs_three_distinct_x():
    x = [2.0, 2.0, 3.0, 3.0, 3.0]
    fit_power_law(x, [1.0, 1.1, 2.0, 2.1, 2.05])  # two distinct values suffice for the plain law
    with pytest.raises(ValueError, match=r"x must hold at least 3 distinct values.*correction=True.*got 2"):
        fit_power_law(x, [1.0, 1.1, 2.0, 2.1, 2.05], correction=True)


def test_fit_power_law_no_convergence_is_a_clear_error(monkeypatch):
    def fails(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: Number of calls to function has reached "
                           "maxfev = 20000.")
    monkeypatch.setattr(scaling, "curve_fit", fails)
    with pytest.raises(RuntimeError, match=r"correction=True.*did not converge.*maxfev"):
        fit_power_law(X, X**0.5, correction=True)


def test_fit_power_law_infinite_covariance_is_a_clear_error(monkeypatch):
    def no_covariance(f, x, y, p0, **kwargs):  # what curve_fit does when it cannot estimate it
        warnings.warn("Covariance of the parameters could not be estimated", OptimizeWarning)
        return np.asarray(p0, float), np.full((3, 3), np.inf)
    monkeypatch.setattr(scaling, "curve_fit", no_covariance)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no stray OptimizeWarning on the way
        with pytest.raises(RuntimeError, match=r"correction=True.*covariance could not be estimated"):
            fit_power_law(X, X**0.5, correction=True)


def test_fit_power_law_good_input_unchanged():
    fit = fit_power_law(X, 1.7 * X**0.125 * (1 + 0.01 * X), correction=True)
    assert fit["exponent"] == pytest.approx(0.125, abs=1e-6)
    assert np.isfinite(fit["exponent_err"])


# spins and onsager_magnetization ---------------------------------------------------------------

@pytest.mark.parametrize("spins", [
    np.ones((4, 4), complex),                           # +1+0j passed the value check before
    np.array([[1, -1], [-1, 1]], dtype=object),
    np.array([["1", "-1"], ["-1", "1"]]),
    np.ones((4, 4), bool),                              # True == 1: all-True passed as all +1
], ids=["complex", "object", "str", "bool"])
def test_spins_must_be_real_numbers(spins):
    with pytest.raises(TypeError, match=rf"spins must be real integers or floats.*dtype {spins.dtype}"):
        check_spins(spins)
    with pytest.raises(TypeError, match="spins"):
        magnetization(spins)
    with pytest.raises(TypeError, match="spins"):
        block_spin(spins, 2)


@pytest.mark.parametrize("spins", [np.ones((4, 4), np.int8), np.ones((4, 4), np.uint8),
                                   -np.ones((2, 4, 4)), np.ones((4, 4), np.float32)])
def test_real_spins_still_accepted(spins):
    assert check_spins(spins).dtype == np.int8
    assert np.all(np.abs(magnetization(spins)) == 1.0)


@pytest.mark.parametrize("temperature", ["2", np.array(["2", "3"]), 2 + 0j, np.array([2 + 0j]),
                                         True, None, [1.0, "2"]])
def test_onsager_refuses_non_numeric(temperature):
    with pytest.raises(TypeError, match="temperature must be a real number"):
        onsager_magnetization(temperature)


@pytest.mark.parametrize("temperature", [2, 2.0, np.float32(2.0), np.int64(2), [2, 3.0],
                                         np.array([2.0, 3.0], np.float32), torch.tensor([2.0, 3.0])])
def test_onsager_accepts_real_numbers(temperature):
    got = onsager_magnetization(temperature)
    want = onsager_magnetization(np.asarray(temperature, dtype=float))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_onsager_range_unchanged():
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        onsager_magnetization(0)
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        onsager_magnetization([1.0, np.nan])


# structured_masks / magnitude_masks / masked_topk ----------------------------------------------

@pytest.mark.parametrize("shape", [(0, 3), (0,), (3, 0), (4, 0, 2)])
def test_structured_masks_needs_channels_and_entries(shape):
    weights = [torch.randn(4, 3), torch.zeros(shape)]
    with pytest.raises(ValueError, match=r"weights\[1\] must have at least one channel.*" + str(shape[0])):
        structured_masks(weights, None, 0.5)


def test_meta_weights_refused_before_any_work():
    meta = [torch.randn(4, 3), torch.empty(5, device="meta")]
    with pytest.raises(ValueError, match=r"weights\[0\] must hold data.*device meta"):
        masked_topk([meta[1]], None, 0.2)
    with pytest.raises(ValueError, match=r"weights\[0\] must hold data.*device meta"):
        masked_topk([meta[1]], None, 0.2, backend="reference")
    with pytest.raises(ValueError, match=r"weights\[0\] must hold data.*device meta"):
        magnitude_masks([meta[1]], None, 0.2)
    with pytest.raises(ValueError, match=r"weights\[0\] must hold data.*device meta"):
        structured_masks([torch.empty(5, 3, device="meta")], None, 0.2)
    with pytest.raises(ValueError, match=r"weights must be on one device"):
        magnitude_masks(meta, None, 0.2)  # mixed with a CPU tensor: the device rule says so first


def test_meta_masks_refused():
    w = [torch.randn(4, 3)]
    m = [torch.ones(4, 3, dtype=torch.bool, device="meta")]
    for f in (masked_topk, magnitude_masks, structured_masks):
        with pytest.raises(ValueError, match=r"masks\[0\] must be on the device of weights\[0\].*got meta"):
            f(w, m, 0.2)


NAN, INF = float("nan"), float("inf")
# Entries: NaN, 1, +inf, -inf, -NaN, 0.5, 2, -3. Ranked by |w|: 0.5, 1, 2, 3, then +-inf (a tie,
# by index), then +-NaN (same payload: a tie, by index).
NONFINITE = [NAN, 1.0, INF, -INF, -NAN, 0.5, 2.0, -3.0]
PRUNE_ORDER = [5, 1, 6, 7, 2, 3, 0, 4]

BACKENDS = ["reference"]
if os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available():
    BACKENDS.append("triton")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_masked_topk_ranks_inf_then_nan_last(backend, dtype):
    if backend == "triton" and dtype == torch.float64:
        pytest.skip("triton takes float32/16 and bfloat16")
    device = "cuda" if backend == "triton" and torch.cuda.is_available() else "cpu"
    w = torch.tensor(NONFINITE, dtype=dtype, device=device)
    for k in range(len(NONFINITE) + 1):
        want = torch.ones(len(NONFINITE), dtype=torch.bool)
        want[PRUNE_ORDER[:k]] = False
        got = masked_topk([w], None, k, backend=backend)[0].cpu()
        assert torch.equal(got, want), k
    assert masked_topk([w], None, 0.5, backend=backend)[0].cpu().tolist() == \
        [True, False, True, True, True, False, False, False]  # NaN and inf survive half
    assert not masked_topk([w], None, 1.0, backend=backend)[0].any()  # amount=1.0 prunes them too
    # A pruned NaN stays pruned, and a NaN survivor keeps its place above the finite ones.
    mask = torch.ones(len(NONFINITE), dtype=torch.bool, device=device)
    mask[0] = False
    assert masked_topk([w], [mask], 1, backend=backend)[0].cpu().tolist() == \
        [False, True, True, True, True, False, True, True]


def test_magnitude_masks_still_refuses_nan():
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        magnitude_masks([torch.tensor(NONFINITE)], None, 0.2)
