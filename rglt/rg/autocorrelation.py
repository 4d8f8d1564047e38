"""Integrated autocorrelation times of Monte Carlo time series, with Sokal's automatic window.

For a stationary series x_1 .. x_N with normalised autocorrelation rho(t), the variance of its mean is
var(x) tau / N with

    tau = 1 + 2 sum_{t >= 1} rho(t)

(the *statistical inefficiency*: the number of steps per effectively independent sample; Sokal's
tau_int is half of it, tau_int = 1/2 + sum rho(t)). The sum is estimated up to a window W and cut
there, because beyond a few tau the estimated rho(t) is noise whose sum grows without bound. Sokal's
automatic window (Sokal 1997, "Monte Carlo methods in statistical mechanics", Sec. 3; Madras and
Sokal 1988) takes the smallest W with W >= c tau(W); with the estimate's own standard error
tau sqrt(2 (2W + 1) / N). For an AR(1) process x_t = phi x_{t-1} + noise, rho(t) = phi^t and
tau = (1 + phi) / (1 - phi) exactly: the oracle of the tests.

Several independent chains of the same process are pooled: each chain's own mean is subtracted and
the autocovariances are averaged over chains (as in emcee's ``integrated_time``).
"""
from __future__ import annotations

import numpy as np

from rglt.validate import check_real


def _series(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers (a series, or chains x steps); got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one series) or 2-D (chains, steps); got shape {arr.shape}")
    if arr.shape[1] < 4:
        raise ValueError(f"{name} needs at least 4 steps per chain; got {arr.shape[1]}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def autocorrelation(x) -> np.ndarray:
    """Normalised autocorrelation rho(t), t = 0 .. N - 1, of one series (1-D) or pooled over chains
    (2-D, chains x steps: each chain's mean subtracted, autocovariances averaged). rho(0) = 1; a
    series that never changes has no defined rho and raises ValueError."""
    arr = _series(x)
    n = arr.shape[1]
    centred = arr - arr.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()  # zero-padded FFT: no wrap-around
    f = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n].mean(axis=0) / n
    if acov[0] <= 0:
        raise ValueError("x is constant within every chain: its autocorrelation is undefined")
    return acov / acov[0]


def integrated_autocorrelation_time(x, *, c: float = 6.0, min_length: float = 50.0) -> dict[str, float]:
    """tau = 1 + 2 sum_{t=1}^{W} rho(t) of a series (1-D) or of chains of it (2-D, chains x steps).

    The window W is Sokal's automatic one: the smallest W with W >= c tau(W) / 2, i.e. W >= c tau_int
    in Sokal's convention (tau_int = tau / 2; ``c`` = 6 by default, Sokal's choice for
    nearly exponential decay). Returns ``tau``, its standard error ``tau_err`` (Madras-Sokal:
    tau sqrt(2 (2W + 1) / N), N all steps of all chains), ``window`` W and ``reliable``: False when
    no W shorter than a chain satisfied the condition, or a chain is shorter than
    ``min_length`` tau (50 by default, emcee's rule of thumb): a series too short for its tau
    underestimates it (its mean-subtracted autocorrelation falls to zero too early), so the value is
    then at best a lower bound. tau < 1 (anticorrelated steps) is returned as measured.
    """
    c = check_real(c, "c", 0, low_open=True)
    min_length = check_real(min_length, "min_length", 0)
    arr = _series(x)
    rho = autocorrelation(arr)
    n = arr.shape[1]
    taus = 2.0 * np.cumsum(rho) - 1.0          # taus[W] = 1 + 2 sum_{t=1}^{W} rho(t)
    ok = np.arange(n) >= c * taus / 2.0
    found = bool(ok[1:].any())
    window = int(np.argmax(ok[1:]) + 1) if found else n - 1
    tau = float(taus[window])
    return {"tau": tau, "tau_err": float(abs(tau) * np.sqrt(2.0 * (2 * window + 1) / arr.size)),
            "window": window, "reliable": found and n >= min_length * tau}


def mean_and_error(x, *, c: float = 6.0, min_length: float = 50.0) -> dict[str, float]:
    """Mean of a series (1-D) or of chains of it (2-D), and its standard error from the integrated
    autocorrelation time: ``error`` = sqrt(var(x) tau / N), with var the within-chain variance
    (about each chain's own mean, as tau's) and N all steps. Also ``naive_error`` (tau = 1, the
    error that ignores the autocorrelation), ``tau``, ``tau_err``, ``window`` and ``reliable`` as in
    :func:`integrated_autocorrelation_time` (``c``, ``min_length`` as there). A tau below 1 is not used to shrink the error."""
    arr = _series(x)
    tau = integrated_autocorrelation_time(arr, c=c, min_length=min_length)
    var = float(np.mean((arr - arr.mean(axis=1, keepdims=True)) ** 2))
    naive = np.sqrt(var / arr.size)
    return {"mean": float(arr.mean()), "error": float(naive * np.sqrt(max(tau["tau"], 1.0))),
            "naive_error": float(naive), **tau}


def ratio_and_error(numerator, denominator, *, c: float = 6.0, min_length: float = 50.0) -> dict[str, float]:
    """The ratio of means r = <a> / <b> of two series measured on the same steps (1-D, or 2-D chains x
    steps, of one shape), and its standard error by the delta method: z = a - r b has mean zero, and
    err(r) = err(<z>) / <b> with err(<z>) from z's own autocorrelation time (:func:`mean_and_error`).
    Measured together, a and b are correlated; this keeps their covariance, which adding their
    errors in quadrature would drop. Returns ``ratio``, ``error`` and z's ``tau``."""
    a, b = _series(numerator, "numerator"), _series(denominator, "denominator")
    if a.shape != b.shape:
        raise ValueError(f"numerator and denominator must have one shape; got {a.shape} and {b.shape}")
    if b.mean() == 0:
        raise ValueError("denominator has mean 0: the ratio of means is undefined")
    r = float(a.mean() / b.mean())
    z = mean_and_error(a - r * b, c=c, min_length=min_length)
    return {"ratio": r, "error": float(z["error"] / abs(b.mean())), "tau": z["tau"]}
