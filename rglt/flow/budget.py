"""Learning curves of held-out bits/dim, fitted and extrapolated: how far a longer run would go.

A held-out curve b(n) after n training images is fitted with the saturating power law

    b(n) = b_inf + A n^(-alpha),     A > 0, alpha > 0,

by nonlinear least squares, and extrapolated to a larger n. Bits/dim cannot be negative, so the
asymptote is fitted with b_inf >= 0 (``asymptote_min``); a fit that ends on that bound says the curve
does not determine its asymptote within the law's meaning (``at_bound``), and an extrapolation from it
is outside the law. The points of one curve come from one run and are not independent, so the fit's
own (delta-method) standard error understates the uncertainty of an extrapolation; :func:`extrapolate`
also refits on the later part of the curve only (the last half, the last quarter of its log range,
...) and reports the larger of the fit's 95% normal interval and the farthest refit.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import norm

LEVEL = 0.95   # the fit's normal interval (rglt.stats.LEVEL; this layer does not import it)
SPREADS = ("farthest", "half-range")


def _law(n, b_inf, amplitude, alpha):
    return b_inf + amplitude * n ** (-alpha)


def _check_curve(images, bpd) -> tuple[np.ndarray, np.ndarray]:
    n, b = np.asarray(images, dtype=float), np.asarray(bpd, dtype=float)
    if n.ndim != 1 or n.shape != b.shape or n.size < 4:
        raise ValueError(f"images and bpd must be 1-D arrays of the same length >= 4; got {n.shape} and {b.shape}")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(b)) and np.all(n > 0)):
        raise ValueError("images must be finite and > 0, bpd finite")
    if np.any(np.diff(n) <= 0):
        raise ValueError("images must be strictly increasing")
    return n, b


def fit_learning_curve(images, bpd, *, asymptote_min: float | None = 0.0) -> dict:
    """Fit b(n) = b_inf + A n^-alpha to a held-out curve, with b_inf >= ``asymptote_min`` (0: bits/dim
    cannot be negative; None: free); returns b_inf, amplitude, alpha, their covariance (from the
    residual scatter), the RMS residual and ``at_bound`` (b_inf ended on its bound: the curve does not
    determine the asymptote inside the law's meaning). Needs >= 4 points; raises RuntimeError when the
    fit does not converge or leaves the parameters undetermined."""
    n, b = _check_curve(images, bpd)
    if asymptote_min is not None and not np.isfinite(asymptote_min):
        raise ValueError(f"asymptote_min must be a finite number or None; got {asymptote_min!r}")
    floor = -np.inf if asymptote_min is None else float(asymptote_min)
    scale = n[-1]            # fit in n / n_last: the parameters stay O(1)
    x = n / scale
    p0 = [max(b[-1] - 0.5 * (b[0] - b[-1]), floor + 1e-3 * max(1.0, abs(b[-1]))),
          max(b[0] - b[-1], 1e-3), 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            params, cov = curve_fit(_law, x, b, p0=p0, bounds=([floor, 0, 1e-3], [np.inf, np.inf, 5]),
                                    maxfev=20000)
        except RuntimeError as e:
            raise RuntimeError(f"fit_learning_curve: the fit did not converge ({e})") from None
    if not np.all(np.isfinite(cov)):
        raise RuntimeError("fit_learning_curve: the parameters' covariance could not be estimated "
                           "(the curve does not constrain b_inf, A and alpha)")
    b_inf, a_scaled, alpha = params
    # Back to n in images: A n^-alpha = a_scaled (n / scale)^-alpha.
    amplitude = a_scaled * scale ** alpha
    resid = b - _law(x, *params)
    return {"b_inf": float(b_inf), "amplitude": float(amplitude), "alpha": float(alpha),
            "scale": float(scale), "params_scaled": params.tolist(), "cov_scaled": cov.tolist(),
            "rms_residual": float(np.sqrt(np.mean(resid ** 2))), "points": int(n.size),
            "asymptote_min": None if asymptote_min is None else floor,
            "at_bound": bool(asymptote_min is not None and b_inf - floor <= 1e-6 * max(1.0, float(np.abs(b).max())))}


def predict(fit: dict, images) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curve at ``images`` and its delta-method standard error."""
    x = np.asarray(images, dtype=float) / fit["scale"]
    params, cov = np.asarray(fit["params_scaled"]), np.asarray(fit["cov_scaled"])
    value = _law(x, *params)
    _, a, alpha = params
    grad = np.stack([np.ones_like(x), x ** (-alpha), -a * x ** (-alpha) * np.log(x)], axis=-1)
    se = np.sqrt(np.einsum("...i,ij,...j->...", grad, cov, grad))
    return value, se


def extrapolate(images, bpd, target: float, *, windows=(1.0, 0.5, 0.25), spread: str = "farthest",
                asymptote_min: float | None = 0.0, level: float = LEVEL) -> dict:
    """The curve's value at ``target`` images: the full fit's prediction with an uncertainty, the
    larger of the ``level`` normal interval of its delta-method standard error (``z se``) and the
    spread of refits on the last ``w`` of the curve's log range (for each w in ``windows`` whose part
    keeps >= 4 points):

    - ``spread="farthest"``: the largest distance from the full fit's value to a refit's, so that
      value +- uncertainty covers every refit (the full fit need not lie in the middle of them: a
      curve that bends late puts it at one end);
    - ``spread="half-range"``: the larger of the delta-method standard error itself (not ``z se``) and
      half the range of the refits' predictions: the rule as rg_flow_budget first registered it, then
      with a free asymptote (``asymptote_min=None``); kept to show its reading, it can leave a refit
      outside the interval.

    Every fit has b_inf >= ``asymptote_min`` (None: free). Returns value, se, the refits' predictions,
    ``window_spread`` (farthest), ``window_half_range``, ``uncertainty``, the full ``fit`` and
    ``at_bound`` (the full fit's asymptote sits on its bound)."""
    n, b = _check_curve(images, bpd)
    if not np.isfinite(target) or target <= 0:
        raise ValueError(f"target must be a number of images > 0; got {target!r}")
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {', '.join(SPREADS)}; got {spread!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    fit = fit_learning_curve(n, b, asymptote_min=asymptote_min)
    value, se = (float(v) for v in predict(fit, target))
    log_n = np.log(n)
    preds = {}
    for w in windows:
        keep = log_n >= log_n[-1] - w * (log_n[-1] - log_n[0])
        if keep.sum() >= 4:
            try:
                preds[w] = float(predict(fit_learning_curve(n[keep], b[keep], asymptote_min=asymptote_min), target)[0])
            except RuntimeError:
                continue
    farthest = max(abs(p - value) for p in preds.values()) if preds else 0.0
    half_range = 0.5 * (max(preds.values()) - min(preds.values())) if len(preds) > 1 else 0.0
    if spread == "farthest":
        uncertainty = max(float(norm.ppf(0.5 + level / 2)) * se, farthest)
    else:
        uncertainty = max(se, half_range)
    return {"value": value, "se": se, "window_predictions": preds, "window_spread": farthest,
            "window_half_range": half_range, "uncertainty": uncertainty, "spread": spread, "fit": fit,
            "at_bound": fit["at_bound"]}
