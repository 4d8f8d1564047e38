"""Power-law fits of critical scaling, y = A x^p, by weighted least squares in log-log space."""
from __future__ import annotations

import numpy as np


def fit_power_law(x, y, y_err=None) -> dict[str, float]:
    """Fit y = A x^p; return p, its standard error, A and the reduced chi^2.

    ``y_err`` (standard errors of y) weights each point by its relative error; the exponent's
    uncertainty then comes from those errors. Without them the points are weighted equally and the
    uncertainty comes from the scatter about the line.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3:
        raise ValueError(f"x and y must be 1-D arrays of the same length >= 3; got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(x) & np.isfinite(y)):
        raise ValueError("x and y must be finite and > 0 for a log-log fit")
    lx, ly = np.log(x), np.log(y)
    if y_err is None:
        sigma, absolute = np.ones_like(ly), False
    else:
        y_err = np.asarray(y_err, float)
        if y_err.shape != y.shape or np.any(y_err <= 0):
            raise ValueError("y_err must have y's shape and be > 0")
        sigma, absolute = y_err / y, True
    w = 1.0 / sigma**2
    design = np.stack([np.ones_like(lx), lx], axis=1)
    cov = np.linalg.inv(design.T @ (design * w[:, None]))
    intercept, slope = cov @ (design.T @ (w * ly))
    resid = ly - (intercept + slope * lx)
    chi2 = float(np.sum(w * resid**2) / (x.size - 2))
    if not absolute:
        cov = cov * chi2
    return {"exponent": float(slope), "exponent_err": float(np.sqrt(cov[1, 1])),
            "amplitude": float(np.exp(intercept)), "reduced_chi2": chi2}
