"""Few-seed statistics, on ``scipy.stats``: the one place claims and figures get their intervals and tests.

One convention everywhere: an interval is the **95% interval of the mean over seeds** (t quantiles
with n - 1 degrees of freedom), unless a function says otherwise. With 3 seeds that interval is
4.30 / sqrt(3) = 2.5 standard errors wide on each side, not 2: "2 SE" over 3 seeds is an 82% interval.

- :func:`mean_interval`: one sample's mean (or the paired differences of two, by seed);
- :func:`welch_interval`: the difference of two unpaired means (Welch's t);
- :func:`normal_interval`: an estimate with a known standard error (Monte Carlo, a fit);
- :func:`proportion_interval`: an exact interval of a proportion (counts);
- :func:`bootstrap_interval`: a percentile-BCa bootstrap interval of any statistic (``scipy.stats.bootstrap``);
- :func:`binomial_test`, :func:`mcnemar_test`: exact tests on counts;
- :func:`equivalence_test`: two one-sided tests (TOST) that a mean lies within ``(low, high)``;
- :func:`superiority_test`: a one-sided test that a mean exceeds a margin;
- :func:`holm`: Holm's step-down correction when one claim is judged over many cells;
- :func:`seeds_to_decide`: how many seeds an interval of the same spread would need to clear a boundary;
- :func:`crossfit_best_gain`: how far the best of many candidates is ahead of a reference, free of the
  winner's curse of taking the maximum of noisy scores.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as _st

LEVEL = 0.95   # the confidence level of every interval in the book
CONVENTION = "95% t interval of the mean over seeds"


@dataclasses.dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval: ``mean``, ``low``, ``high``, from ``n`` values
    (``sd``: their standard deviation, or of the paired differences), by ``method``."""

    mean: float
    low: float
    high: float
    n: int
    sd: float
    method: str

    def __str__(self) -> str:
        return f"{self.mean:.4g} [{self.low:.4g}, {self.high:.4g}] (n = {self.n})"

    @classmethod
    def exact(cls, value: float, n: int = 1, method: str = "exact (deterministic)") -> "Interval":
        """A value with no sampling error (a count, an exact computation): an interval of zero width."""
        value = float(value)
        return cls(value, value, value, int(n), 0.0, method)

    def scaled(self, factor: float) -> "Interval":
        """The same interval in other units (``factor`` > 0), e.g. fractions to points."""
        if not factor > 0:
            raise ValueError(f"factor must be > 0; got {factor}")
        return dataclasses.replace(self, mean=self.mean * factor, low=self.low * factor, high=self.high * factor,
                                   sd=self.sd * factor)


def _values(x, name: str, min_n: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=float).reshape(-1)
    if a.size < min_n:
        raise ValueError(f"{name} must hold at least {min_n} value(s); got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite; got {a}")
    return a


def _half_width(sd: float, n: int, level: float) -> float:
    if n < 2:
        return math.inf   # one seed says nothing about the spread
    return float(_st.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


def mean_interval(x, paired_with=None, *, level: float = LEVEL) -> Interval:
    """The ``level`` t interval of the mean of ``x`` over seeds; with ``paired_with``, of the mean of
    ``x - paired_with`` (runs paired by seed). One value gives an infinite interval."""
    a = _values(x, "x")
    method = "t interval of the mean"
    if paired_with is not None:
        b = _values(paired_with, "paired_with")
        if b.shape != a.shape:
            raise ValueError(f"paired_with must pair with x seed by seed; got {b.size} and {a.size} values")
        a, method = a - b, "paired t interval of the mean difference"
    sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
    half = _half_width(sd, a.size, level)
    mean = float(a.mean())
    return Interval(mean, mean - half, mean + half, a.size, sd, method)


def normal_interval(mean: float, se: float, n: int = 1, *, level: float = LEVEL,
                    method: str = "normal interval from the standard error") -> Interval:
    """The ``level`` interval ``mean +- z se`` of an estimate with a known standard error (a Monte
    Carlo mean with its autocorrelation-corrected error, a fit's parameter); ``n``: the samples behind it."""
    if not (math.isfinite(mean) and math.isfinite(se) and se >= 0):
        raise ValueError(f"mean and se must be finite and se >= 0; got {mean}, {se}")
    half = float(_st.norm.ppf(0.5 + level / 2) * se)
    return Interval(float(mean), float(mean) - half, float(mean) + half, int(n), float(se) * math.sqrt(max(n, 1)), method)


def proportion_interval(successes: int, trials: int, *, level: float = LEVEL) -> Interval:
    """The exact (Clopper-Pearson) ``level`` interval of a proportion ``successes / trials``."""
    if not 0 <= int(successes) <= int(trials) or int(trials) < 1:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1; got {successes}, {trials}")
    ci = _st.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="exact")
    p = successes / trials
    return Interval(p, float(ci.low), float(ci.high), int(trials), math.sqrt(p * (1 - p)),
                    "exact binomial interval of a proportion")


def welch_interval(x, y, *, level: float = LEVEL) -> Interval:
    """The ``level`` Welch interval of ``mean(x) - mean(y)`` for unpaired samples."""
    a, b = _values(x, "x", 2), _values(y, "y", 2)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if se > 0 else a.size + b.size - 2
    half = float(_st.t.ppf(0.5 + level / 2, df) * se)
    mean = float(a.mean() - b.mean())
    return Interval(mean, mean - half, mean + half, min(a.size, b.size), se * math.sqrt(min(a.size, b.size)),
                    "Welch t interval of the difference of means")


def bootstrap_interval(x, statistic=np.mean, *, level: float = LEVEL, resamples: int = 9999,
                       seed: int = 0) -> Interval:
    """A BCa bootstrap interval of ``statistic`` over the values of ``x`` (seeded: reproducible). Its
    ``sd`` is the bootstrap standard error times sqrt(n), a spread of the values as the other intervals
    give it (so that :func:`seeds_to_decide` reads it alike)."""
    a = _values(x, "x", 2)
    res = _st.bootstrap((a,), statistic, confidence_level=level, n_resamples=resamples, method="BCa",
                        random_state=np.random.default_rng(seed))
    return Interval(float(statistic(a)), float(res.confidence_interval.low), float(res.confidence_interval.high),
                    a.size, float(res.standard_error) * math.sqrt(a.size), "BCa bootstrap interval")


def binomial_test(successes: int, trials: int, p: float = 0.5, *, alternative: str = "two-sided") -> float:
    """The exact binomial test's p-value."""
    return float(_st.binomtest(int(successes), int(trials), p, alternative=alternative).pvalue)


def mcnemar_test(only_a: int, only_b: int) -> float:
    """Exact McNemar p-value (two-sided) from the discordant pairs: examples only A gets right, only B."""
    n = int(only_a) + int(only_b)
    return 1.0 if n == 0 else binomial_test(min(only_a, only_b), n, 0.5)


def equivalence_test(x, low: float, high: float, paired_with=None, *, alpha: float = 1 - LEVEL) -> float:
    """Two one-sided t tests (TOST) that the mean of ``x`` (or of ``x - paired_with``) lies in
    ``(low, high)``: the larger of the two one-sided p-values. Equivalent at ``alpha`` exactly when the
    ``1 - 2 alpha`` t interval lies inside (low, high)."""
    a = _values(x, "x", 2) - (0 if paired_with is None else _values(paired_with, "paired_with", 2))
    se = a.std(ddof=1) / math.sqrt(a.size)
    if se == 0:
        return 0.0 if low < a.mean() < high else 1.0
    df = a.size - 1
    p_low = _st.t.sf((a.mean() - low) / se, df)
    p_high = _st.t.cdf((a.mean() - high) / se, df)
    return float(max(p_low, p_high))


def superiority_test(x, margin: float = 0.0, paired_with=None) -> float:
    """One-sided t test that the mean of ``x`` (or of ``x - paired_with``) exceeds ``margin``: its p-value."""
    a = _values(x, "x", 2) - (0 if paired_with is None else _values(paired_with, "paired_with", 2))
    se = a.std(ddof=1) / math.sqrt(a.size)
    if se == 0:
        return 0.0 if a.mean() > margin else 1.0
    return float(_st.t.sf((a.mean() - margin) / se, a.size - 1))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given): reject where adjusted <= alpha."""
    p = _values(pvalues, "pvalues")
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def seeds_to_decide(interval: Interval, boundary: float, *, level: float = LEVEL, limit: int = 1000) -> int | None:
    """The fewest seeds whose ``level`` interval, with this interval's mean and spread, would clear
    ``boundary``; None when the mean sits on the boundary or more than ``limit`` would be needed."""
    gap = abs(interval.mean - boundary)
    if gap == 0 or not math.isfinite(interval.sd):
        return None
    if interval.sd == 0:
        return 2
    for n in range(2, limit + 1):
        if _half_width(interval.sd, n, level) < gap:
            return n
    return None


class BestGain(NamedTuple):
    """:func:`crossfit_best_gain`'s answer, as fractions."""
    cross_fitted: float   # chosen on one half, scored on the other, both ways averaged
    se: float             # its standard error, from the per-example differences on the scoring halves
    plain: float          # chosen and scored on the same examples: biased upwards


def crossfit_best_gain(correct, *, split_seed: int = 0) -> BestGain:
    """How far the best candidate is ahead of the reference, on per-example scores ``correct`` shaped
    (seeds, candidates, examples), candidate 0 the reference (e.g. the dense network, the others its
    tickets).

    ``plain`` is the best candidate's seed-mean score minus the reference's, with the best chosen and
    scored on the same examples: the maximum of noisy means, biased upwards (with k equally good
    candidates by about E[max of k N(0, 1)] standard errors, 1.87 for 20). ``cross_fitted`` chooses the
    best on one random half of the examples and scores it against the reference on the other half, then
    the other way round, and averages the two: unbiased for the chosen candidate's true lead.
    """
    c = np.asarray(correct, dtype=float)
    if c.ndim != 3 or c.shape[1] < 2 or c.shape[2] < 4:
        raise ValueError(f"correct must be shaped (seeds, candidates >= 2, examples >= 4); got {c.shape}")
    order = np.random.default_rng(split_seed).permutation(c.shape[2])
    halves = order[: c.shape[2] // 2], order[c.shape[2] // 2:]
    gains, variances = [], []
    for choose, score in (halves, halves[::-1]):
        best = 1 + int(np.argmax(c[:, 1:, choose].mean(axis=(0, 2))))
        diff = (c[:, best, score] - c[:, 0, score]).mean(0)          # per example, over seeds
        gains.append(diff.mean())
        variances.append(diff.var(ddof=1) / diff.size)
    means = c.mean(axis=(0, 2))
    return BestGain(float(np.mean(gains)), float(math.sqrt(sum(variances)) / 2), float(means[1:].max() - means[0]))
