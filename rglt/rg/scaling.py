"""Fits of critical power laws, y = A x^p, optionally with the leading correction to scaling."""
from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit


def _with_correction(x, amplitude, exponent, a):
    return amplitude * x**exponent * (1.0 + a * x)


def fit_power_law(x, y, y_err=None, *, correction: bool = False) -> dict[str, float]:
    """Fit y = A x^p, or y = A x^p (1 + a x) with ``correction=True``.

    Returns the exponent p, its standard error, A, a (0 without correction) and the reduced chi^2.
    With ``y_err`` (standard errors of y) points are weighted by them and the exponent's error is the
    statistical one scaled by sqrt(reduced chi^2) when that exceeds 1 (the model then misses part of
    the data, and the purely statistical error would overstate the precision). Without ``y_err`` the
    error comes from the scatter about the fit. The plain law is fitted by weighted least squares in
    log-log space; the corrected one by nonlinear least squares started from the plain fit.

    Raises ValueError on bad input (x needs at least 2 distinct values, 3 with ``correction``), and
    RuntimeError when the corrected fit does not converge or leaves the exponent's error undefined.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n_params = 3 if correction else 2
    if x.shape != y.shape or x.ndim != 1 or x.size <= n_params:
        raise ValueError(f"x and y must be 1-D arrays of the same length > {n_params}; got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(x) & np.isfinite(y)):
        raise ValueError("x and y must be finite and > 0 for a power-law fit")
    # Fewer distinct x (as the fit sees them, log x) than parameters leave the law undetermined:
    # a singular normal matrix, or a covariance that is inf or meaninglessly huge.
    distinct = np.unique(np.log(x)).size
    if distinct < n_params:
        raise ValueError(f"x must hold at least {n_params} distinct values for a fit with {n_params} "
                         f"parameters ({'correction=True' if correction else 'plain law'}); got {distinct}")
    if y_err is not None:
        y_err = np.asarray(y_err, float)
        if y_err.shape != y.shape or np.any(y_err <= 0) or not np.all(np.isfinite(y_err)):
            raise ValueError("y_err must have y's shape and be finite and > 0")
    # Plain law: straight line in log-log space, weights from the relative errors.
    sigma_log = np.ones_like(y) if y_err is None else y_err / y
    w = 1.0 / sigma_log**2
    design = np.stack([np.ones_like(x), np.log(x)], axis=1)
    cov = np.linalg.inv(design.T @ (design * w[:, None]))
    intercept, slope = cov @ (design.T @ (w * np.log(y)))
    params, a = np.array([np.exp(intercept), slope]), 0.0
    if correction:
        with warnings.catch_warnings():
            # An inf covariance comes with an OptimizeWarning: checked below, raised as an error.
            warnings.simplefilter("ignore", OptimizeWarning)
            try:
                params, cov = curve_fit(_with_correction, x, y, p0=[params[0], params[1], 0.0],
                                        sigma=y_err, absolute_sigma=y_err is not None, maxfev=20000)
            except RuntimeError as e:  # no convergence within maxfev
                raise RuntimeError(f"fit_power_law(correction=True): the corrected fit did not "
                                   f"converge ({e}); try the plain law or more points") from None
        if not np.all(np.isfinite(cov)):
            raise RuntimeError("fit_power_law(correction=True): the exponent's covariance could not be "
                               "estimated (the data do not constrain A, p and a); try the plain law")
        resid = (y - _with_correction(x, *params)) / (1.0 if y_err is None else y_err)
        a = float(params[2])
    else:
        resid = (np.log(y) - (intercept + slope * np.log(x))) / sigma_log
        if y_err is None:
            cov = cov * float(np.sum(resid**2) / (x.size - 2))
    chi2 = float(np.sum(resid**2) / (x.size - n_params))
    err = float(np.sqrt(cov[1, 1]))
    if y_err is not None:
        err *= max(1.0, np.sqrt(chi2))
    return {"exponent": float(params[1]), "exponent_err": err, "amplitude": float(params[0]),
            "correction": a, "reduced_chi2": chi2}
