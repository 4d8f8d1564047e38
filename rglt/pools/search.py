"""Algorithm 2 (Lottery Pools interpolation), Algorithm 3 (average) and the SWA / EMA baselines.

All of them walk the candidate tickets in order of adjacency to the target (t-1, t+1, t-2, t+2, ...)
and hand every merged state to ``finish`` (re-prune to the target's density, recalibrate BatchNorm)
before ``score`` (validation accuracy) sees it. The greedy search keeps the best state and, at any
time, one interpolated state: the coefficient is chosen by scanning the grid and keeping only the
scores, and the winner is recomputed (Algorithm 2, lines 5-6). Candidates come as loaders, so only
the one being merged is in memory.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

from rglt.pools.checks import check_callable, check_score, check_state
from rglt.pools.weights import State, _mix
from rglt.validate import check_bool, check_choice, check_int, check_real, require

COEFFICIENTS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # 003 App. Table 1 (its text says 12)
# 003 App. Table 2: the grids of the coefficient-count study (Fig. 5), by count
COEFFICIENT_GRIDS = {1: (0.5,), 3: (0.05, 0.5, 0.95), 7: (0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95), 11: COEFFICIENTS}
Candidates = Iterable[tuple[int, Callable[[], State]]]
# Which coefficient wins when several merges score alike (with a few hundred validation examples, often):
# "current", the one nearest the current best (the most weight on it), as the authors' interpolate_LTs,
# which scans the weight on the *new* ticket upwards and keeps the first strict maximum; "candidate", the
# one nearest the candidate, as a first-maximum scan of Algorithm 2's weight on theta_best would.
TIE_BREAKS = ("current", "candidate")


@dataclasses.dataclass(frozen=True)
class Step:
    """One candidate visited: its level, the coefficient on the current best, the merged score, and
    whether it was kept."""

    level: int
    alpha: float
    score: float
    accepted: bool


def adjacency_order(target: int, levels: Sequence[int]) -> list[int]:
    """The candidate levels for ``target``, nearest first, the lower one first at equal distance:
    t-1, t+1, t-2, t+2, ... (levels not on hand are skipped; the target itself is not a candidate)."""
    target = check_int(target, "target", 0)
    if isinstance(levels, (str, bytes)) or not isinstance(levels, Iterable):
        raise TypeError(f"levels must be an iterable of integers >= 0 (the levels on hand); "
                        f"got {type(levels).__name__}")
    available = sorted({check_int(n, f"levels[{i}]", 0) for i, n in enumerate(levels)} - {target})
    return sorted(available, key=lambda n: (abs(n - target), n))


def greedy(target: State, candidates: Candidates, score: Callable[[State], float],
           finish: Callable[[State], State], *, coefficients: Sequence[float] = COEFFICIENTS,
           strict: bool = False, initial_score: float | None = None, tie_break: str = "current",
           trace: Callable[[str, State], None] | None = None,
           on_step: Callable[[Step, State], None] | None = None) -> tuple[State, list[Step]]:
    """Algorithm 2 (``coefficients=COEFFICIENTS``) or Algorithm 3 (``coefficients=(0.5,)``).

    For each candidate theta_i: alpha_best = argmax_alpha score(finish(alpha theta_best + (1 - alpha)
    theta_i)) over ``coefficients``, equal scores settled by ``tie_break`` (:data:`TIE_BREAKS`: by default
    the authors' rule, the coefficient with the most weight on theta_best); the merged state replaces
    theta_best when its score is >= the best so far (``strict=True``: >, as the authors' code). The
    best score starts from ``score(target)`` unless ``initial_score`` is given (the authors' code starts
    from the original ticket's *test* accuracy). ``finish`` re-prunes and recalibrates ("prune
    during"); for "prune after", pass a finish that only recalibrates and re-prune the result.
    ``trace(event, state)`` is called with each state made ("merged"), for tests of memory use;
    ``on_step(step, best)`` after each candidate with the best state so far, which is the result of a
    search over the candidates visited until then (the pool-size study reads it off one search).

    Every score must be a finite number: a NaN compares False with everything and inf beats it, so
    either would decide the search silently; one is an error naming the candidate and coefficient.
    Each candidate must have the target's entries, shapes and dtypes, and so must ``finish``'s states.
    """
    require(isinstance(coefficients, Iterable) and not isinstance(coefficients, (str, bytes, Mapping)),
            "coefficients", "a non-empty sequence of numbers in [0, 1]", coefficients)
    coefficients = [check_real(a, f"coefficients[{i}]", 0, 1) for i, a in enumerate(coefficients)]
    require(len(coefficients) >= 1, "coefficients", "a non-empty sequence of numbers in [0, 1]", coefficients)
    check_bool(strict, "strict")
    check_choice(tie_break, "tie_break", TIE_BREAKS)
    if initial_score is not None:
        initial_score = check_real(initial_score, "initial_score")
    check_callable(trace, "trace", "(event, state)", optional=True)
    check_callable(on_step, "on_step", "(step, best)", optional=True)
    target, candidates = _check_search(target, candidates, score, finish)
    best = target
    best_score = check_score(score(target), "score(target)") if initial_score is None else initial_score
    steps = []
    for level, load in candidates:
        candidate = _load(load, level, target)
        scores = []
        for alpha in coefficients:
            merged = _finish(finish, _mix(best, candidate, alpha), level, alpha, target)
            if trace:
                trace("merged", merged)
            scores.append(_score(score, merged, level, alpha))
            del merged
        top = max(scores)
        tied = [j for j, value in enumerate(scores) if value == top]
        sign = 1 if tie_break == "current" else -1
        k = max(tied, key=lambda j: (sign * coefficients[j], -j))
        alpha = coefficients[k]
        keep = scores[k] > best_score if strict else scores[k] >= best_score
        if keep:
            # recomputed: one merged state at a time
            best = _finish(finish, _mix(best, candidate, alpha), level, alpha, target)
            if trace:
                trace("merged", best)
            best_score = scores[k]
        steps.append(Step(level, alpha, scores[k], keep))
        if on_step:
            on_step(steps[-1], best)
        del candidate
    return best, steps


def running_average(target: State, candidates: Candidates, score: Callable[[State], float],
                    finish: Callable[[State], State], *, kind: str = "swa", decay: float = 0.95
                    ) -> tuple[State, list[Step]]:
    """The SWA and EMA baselines over the same candidates, each merge finished like the search's and
    every candidate accepted. SWA: after k candidates the state is the equal mean of the target and
    them (weight k / (k + 1) on the running state). EMA: weight ``decay`` on the running state."""
    check_choice(kind, "kind", ("swa", "ema"))
    decay = check_real(decay, "decay", 0, 1, low_open=True, high_open=True)
    target, candidates = _check_search(target, candidates, score, finish)
    current, steps = target, []
    for k, (level, load) in enumerate(candidates, start=1):
        alpha = k / (k + 1) if kind == "swa" else decay
        current = _finish(finish, _mix(current, _load(load, level, target), alpha), level, alpha, target)
        steps.append(Step(level, alpha, _score(score, current, level, alpha), True))
    return current, steps


def _check_search(target, candidates, score, finish) -> tuple[State, list]:
    """The arguments every search shares, checked before any work; the candidates as a list of
    (level, loader) pairs (the loaders are called later, one candidate at a time)."""
    check_state(target, "target")
    if isinstance(candidates, (str, bytes, dict)) or not isinstance(candidates, Iterable):
        raise TypeError(f"candidates must be an iterable of (level, loader) pairs; got {type(candidates).__name__}")
    candidates = list(candidates)
    for i, pair in enumerate(candidates):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"candidates[{i}] must be a pair (level, loader); got {type(pair).__name__}")
        check_int(pair[0], f"candidates[{i}]'s level", 0)
        check_callable(pair[1], f"candidates[{i}]'s loader", "() -> state dict")
    check_callable(score, "score", "(state) -> number")
    check_callable(finish, "finish", "(state) -> state")
    return target, candidates


def _load(load, level: int, target: State) -> State:
    """A candidate's state, checked against the target's before it is merged."""
    return check_state(load(), f"candidate {level}'s state", like=target, like_name="target")


def _finish(finish, merged: State, level: int, alpha: float, target: State) -> State:
    """``finish(merged)``, checked: a state with the target's entries, shapes and dtypes, finite."""
    return check_state(finish(merged), f"finish(merge of candidate {level} at alpha {alpha})",
                       like=target, like_name="target", devices=False)


def _score(score, merged: State, level: int, alpha: float) -> float:
    """``score(merged)``, checked: a finite number (a NaN or inf would decide the search silently)."""
    return check_score(score(merged), f"score(finish(merge of candidate {level} at alpha {alpha}))")
