"""The IMP flow of Redman et al. (seed 000): per-group observables of a ticket store, their eigenvalues
and exponents, and the pruning scaling law of Rosenfeld et al.

- ``M_i(n)`` (Eq. 13): the share of the remaining |weight| mass that lies in group i after n rounds,
  ``sum_{j in i} |m_j theta_j| / sum_k |m_k theta_k|``; ``P_i(n)`` (Sec. 4): the share of the remaining
  weights, ``sum_{j in i} m_j / sum_k m_k``. The sums run over the *prunable* weights (the ones with a
  mask); a group is any set of them named by prefixes (layers, residual blocks, stages, attention or
  FFN blocks), and groups need not cover every prunable weight (the denominator always does).
  Eq. 13's text sums the denominator over "all N parameters"; with ``unpruned`` (:func:`flow`,
  :func:`untrained_flow`) the parameters that have no mask (norm layers, biases, embeddings, layers
  left out of pruning) join both denominators with their |value| and count, that literal reading.
- ``lambda_i`` (Sec. 4): the mean of the consecutive ratios ``M_i(n+1) / M_i(n)`` over the level range,
  with its standard error; the paper takes ``M_i`` as an eigenfunction when the SEM is below 5% of
  lambda (:data:`EIGEN_SEM`).
- ``sigma_i = log_c lambda_i`` (Eq. 14) with c from App. B: ``c = 1/(1-x)`` for a constant rate x, and
  ``c(n) = 1/(1 - 1/(10 - n))`` for the 10%-of-the-original schedule, n = 0 being the first pruning.
  A per-round c enters per round: ``sigma_i = mean_n log_{c(n)} (M_i(n+1)/M_i(n))``, which is exact for
  a flow ``M(n+1) = c(n)^sigma M(n)``. With a constant c, :func:`exponents` keeps the paper's
  ``log_c(mean ratio)``; the two agree on an exact flow and differ by O(var/mean^2) otherwise.
- Eq. 15 (App. F): ``eps(d) = eps_np |(d - j p (eps_up/eps_np)^(1/gamma)) / (d - j p)|^gamma``, fitted
  with ``scipy.optimize.curve_fit``, eps_np free but bounded tightly around the dense error (the paper's
  change to Rosenfeld et al.), gamma's uncertainty by a bootstrap over seeds.

The curve of Eq. 15 is unchanged under (gamma, p) -> (-gamma, p (eps_up/eps_np)^(1/gamma)): the sign of
gamma is a convention, not a measurement. The paper's Table 8 reports gamma < 0, so :func:`fit_scaling_law`
fits that branch by default.

:func:`flow_exponents` does flow, c and exponents for one run in one call, on any network whose groups
are named by prefixes of its own parameter names (e.g. a torchvision ResNet's ``layer1`` .. ``layer4``).
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from rglt.prune.imp import IMPConfig, round_fraction
from rglt.prune.masks import magnitude_masks
from rglt.prune.ticket_store import Ticket, TicketStore, density
from rglt.validate import check_bool, check_choice, check_int, check_real, require

if TYPE_CHECKING:
    import torch

EIGEN_SEM = 0.05  # Sec. 4: "the standard error of the mean (SEM) is < 5%"


@dataclasses.dataclass(frozen=True)
class Flow:
    """The observables of one IMP run over consecutive levels: rows are levels, columns groups."""

    levels: np.ndarray          # (L,) consecutive levels n
    groups: tuple[str, ...]     # (G,) group names
    M: np.ndarray               # (L, G) share of the remaining |weight| mass (Eq. 13)
    P: np.ndarray               # (L, G) share of the remaining weights
    density: np.ndarray         # (L,) remaining share of all prunable weights


DENOMINATORS = ("prunable", "all")   # Eq. 13 over the prunable weights (ours), or over all N parameters


def _group_members(groups, names: Sequence[str]) -> dict[str, list[str]]:
    """group -> the prunable parameter names it holds; prefixes match whole dotted components."""
    if isinstance(groups, str) or not isinstance(groups, (Mapping, Sequence)):
        raise TypeError(f"groups must be a mapping group -> prefixes or a sequence of prefixes; got {groups!r}")
    spec = dict(groups) if isinstance(groups, Mapping) else {g: [g] for g in groups}
    if not spec:
        raise ValueError("groups must name at least one group; got none")
    members, owner = {}, {}
    for group, prefixes in spec.items():
        prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        hits = [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]
        if not hits:
            raise ValueError(f"group {group!r} (prefixes {prefixes}) matches no prunable parameter; "
                             f"the prunable parameters are {list(names)}")
        for n in hits:
            if n in owner:
                raise ValueError(f"parameter {n!r} is in both group {owner[n]!r} and group {group!r}")
            owner[n] = group
        members[group] = hits
    return members


def _tickets(source, levels):
    """(level, weights, masks) for the requested levels of a TicketStore or a sequence of Tickets."""
    if isinstance(source, TicketStore):
        available = source.levels()
        load = source.load
    elif isinstance(source, Sequence) and all(hasattr(t, "masks") and hasattr(t, "weights") for t in source):
        by_level = {t.level: t for t in source}
        available, load = sorted(by_level), by_level.__getitem__
    else:
        raise TypeError(f"source must be an rglt.prune.TicketStore or a sequence of Tickets; got {type(source).__name__}")
    levels = available if levels is None else [check_int(n, "levels", 0) for n in levels]
    if len(levels) < 2:
        raise ValueError(f"the flow needs at least 2 levels; got {list(levels)} (levels on hand: {available})")
    if any(b != a + 1 for a, b in zip(levels, levels[1:])):
        raise ValueError(f"levels must be consecutive and increasing (ratios are per round); got {list(levels)}")
    missing = [n for n in levels if n not in available]
    if missing:
        raise ValueError(f"levels {missing} are not in the store (levels on hand: {available})")
    return levels, load


def _shares(mass: Mapping[str, float], count: Mapping[str, int], members: Mapping[str, list[str]],
            extra_mass: float = 0.0, extra_count: int = 0, where: str = "") -> tuple[list[float], list[float]]:
    """One level's M_i and P_i from each prunable tensor's remaining |w| mass and count; ``extra_*``:
    the unpruned parameters' mass and count, added to the denominators (Eq. 13's "all N")."""
    total_mass, total_count = sum(mass.values()), sum(count.values())
    if total_mass <= 0 or total_count == 0:
        raise ValueError(f"{where}no remaining weight mass: every prunable weight is pruned or zero")
    total_mass, total_count = total_mass + extra_mass, total_count + extra_count
    return ([sum(mass[k] for k in ks) / total_mass for ks in members.values()],
            [sum(count[k] for k in ks) / total_count for ks in members.values()])


def _unpruned_names(unpruned, weights: Mapping, masks: Mapping) -> list[str]:
    if isinstance(unpruned, str) or not isinstance(unpruned, Sequence):
        raise TypeError(f"unpruned must be a sequence of parameter names; got {unpruned!r}")
    bad = [n for n in unpruned if n not in weights or n in masks]
    if bad:
        raise ValueError(f"unpruned must name parameters of the tickets' weights that have no mask; {bad} "
                         f"{'have a mask' if all(n in masks for n in bad) else 'are not unmasked weights'}")
    return list(unpruned)


def flow(source, groups, levels: Sequence[int] | None = None, *, unpruned: Sequence[str] = ()) -> Flow:
    """M_i(n), P_i(n) and the density at each of ``levels`` (default: every level on hand).

    ``source``: a :class:`rglt.prune.TicketStore` or a sequence of :class:`rglt.prune.Ticket`.
    ``groups``: a mapping group -> parameter-name prefixes, or a sequence of prefixes (each its own
    group), e.g. ``["stage1", "stage2", "stage3", "stage4"]``; a prefix matches a parameter named
    ``prefix`` or ``prefix.<anything>``. A group matching no prunable parameter, or two groups sharing
    one, is a ValueError. ``unpruned``: names of the tickets' weights that have no mask (pass the
    model's parameters, not its buffers) whose |value| and count join the denominators at each level,
    Eq. 13's "all N parameters"; empty (default) sums over the prunable weights only.
    """
    levels, load = _tickets(source, levels)
    members = extra = None
    M, P, density = [], [], []
    for n in levels:
        ticket = load(n)
        names = list(ticket.masks)
        if members is None:
            members = _group_members(groups, names)
            extra = _unpruned_names(unpruned, ticket.weights, ticket.masks)
        mass = {k: float((ticket.weights[k].detach().double().abs() * ticket.masks[k]).sum()) for k in names}
        count = {k: int(ticket.masks[k].sum()) for k in names}
        m, p = _shares(mass, count, members, sum(float(ticket.weights[k].detach().double().abs().sum()) for k in extra),
                       sum(ticket.weights[k].numel() for k in extra), where=f"level {n} has ")
        M.append(m)
        P.append(p)
        density.append(sum(count.values()) / sum(ticket.masks[k].numel() for k in names))
    return Flow(levels=np.asarray(levels), groups=tuple(members), M=np.asarray(M), P=np.asarray(P),
                density=np.asarray(density))


def _null_masks(weights: Mapping[str, "torch.Tensor"], rounds: int, fraction: float, schedule: str):
    """(names, values, generator of (level, masks)) of IMP with F = identity: level 0 keeps everything,
    level n prunes :func:`round_fraction` of the survivors of level n - 1 by global magnitude."""
    import torch

    rounds = check_int(rounds, "rounds", 1)
    config = IMPConfig(rounds=rounds, fraction=fraction, schedule=schedule)
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must be a non-empty mapping name -> tensor; got {type(weights).__name__}")
    names = list(weights)
    values = [weights[n].detach() for n in names]

    def levels():
        masks = [torch.ones_like(v, dtype=torch.bool) for v in values]
        for n in range(rounds + 1):
            if n:
                masks = magnitude_masks(values, masks, round_fraction(config, n))
            yield n, masks
    return names, values, levels()


def untrained_tickets(weights: Mapping[str, "torch.Tensor"], rounds: int, fraction: float = 0.2,
                      schedule: str = "survivors") -> list:
    """A null model of the flow: IMP with the refining operator F = identity (Sec. 3: T = F o M).

    The same ``weights`` (e.g. a run's initialisation or rewind point, prunable entries only) at every
    level, masked by iterated global magnitude pruning of the survivors at the run's rate. Whatever
    sigma this flow has comes from the layers' sizes and initial scales alone, not from training;
    comparing it with the trained flow says how much of sigma is learnt. Every level's masks are kept:
    for a large network use :func:`untrained_flow`, which keeps one level at a time.
    """
    names, values, levels = _null_masks(weights, rounds, fraction, schedule)
    out = []
    for n, masks in levels:
        by_name = dict(zip(names, masks))
        out.append(Ticket(level=n, weights=dict(zip(names, values)), masks=by_name, density=density(by_name),
                          metrics={}))
    return out


def untrained_flow(weights: Mapping[str, "torch.Tensor"], groups, rounds: int, fraction: float = 0.2,
                   schedule: str = "survivors", *, unpruned: Mapping[str, "torch.Tensor"] | None = None
                   ) -> dict[str, Flow]:
    """The flow of :func:`untrained_tickets`, computed level by level with one level's masks in memory
    (BERT-base's 85M prunable weights): ``{"prunable": Flow}``, and with ``unpruned`` (the parameters
    without a mask: norm layers, biases, embeddings, layers left out of pruning) also ``{"all": Flow}``,
    Eq. 13 with their |value| and count in the denominators (:data:`DENOMINATORS`). Equal to
    ``flow(untrained_tickets(weights, ...), groups)`` level by level.
    """
    import torch

    names, values, levels = _null_masks(weights, rounds, fraction, schedule)
    members = _group_members(groups, names)
    readings = {"prunable": (0.0, 0)}
    if unpruned is not None:
        if not isinstance(unpruned, Mapping):
            raise TypeError(f"unpruned must be a mapping name -> tensor; got {type(unpruned).__name__}")
        both = sorted(set(unpruned) & set(names))
        if both:
            raise ValueError(f"unpruned must hold the parameters that are not pruned; {both} are in weights too")
        readings["all"] = (sum(float(t.detach().abs().sum(dtype=torch.float64)) for t in unpruned.values()),
                           sum(t.numel() for t in unpruned.values()))
    magnitudes = [v.abs() for v in values]
    total = sum(v.numel() for v in values)
    rows = {r: ([], []) for r in readings}
    dens = []
    for n, masks in levels:
        # float64 sums: a level's mass is a sum of up to ~1e8 float32 terms
        mass = {k: float(torch.where(m, a, 0).sum(dtype=torch.float64)) for k, a, m in zip(names, magnitudes, masks)}
        count = {k: int(m.sum()) for k, m in zip(names, masks)}
        for r, (extra_mass, extra_count) in readings.items():
            m_row, p_row = _shares(mass, count, members, extra_mass, extra_count, where=f"level {n} has ")
            rows[r][0].append(m_row)
            rows[r][1].append(p_row)
        dens.append(sum(count.values()) / total)
    return {r: Flow(levels=np.arange(len(dens)), groups=tuple(members), M=np.asarray(M), P=np.asarray(P),
                    density=np.asarray(dens)) for r, (M, P) in rows.items()}


def coarse_graining(fraction: float, schedule: str, first: int, transitions: int) -> np.ndarray:
    """c for each transition n -> n+1, n = first .. first+transitions-1 (App. B).

    ``schedule="survivors"``: a constant rate x = ``fraction``, c = 1/(1 - x). ``"original"``: a share
    ``fraction`` of the *original* weights each round, so round n (0-based) prunes x(n) = f/(1 - f n) of
    the survivors; f = 0.1 gives the paper's x(n) = 1/(10 - n) and c(n) = 1/(1 - 1/(10 - n)).
    """
    check_real(fraction, "fraction", 0, 1, low_open=True, high_open=True)
    require(schedule in ("survivors", "original"), "schedule", "'survivors' or 'original'", schedule)
    first = check_int(first, "first", 0)
    transitions = check_int(transitions, "transitions", 1)
    n = np.arange(first, first + transitions, dtype=float)
    if schedule == "survivors":
        x = np.full_like(n, fraction)
    else:
        if fraction * (first + transitions) >= 1:
            raise ValueError(f"schedule 'original' with fraction {fraction} has pruned everything before "
                             f"transition {first + transitions - 1}; use fewer levels")
        x = fraction / (1.0 - fraction * n)
    return 1.0 / (1.0 - x)


def c_of_run(imp_config, levels: Sequence[int]) -> np.ndarray:
    """c for each transition between consecutive ``levels`` of a run with this ``rglt.prune.IMPConfig``."""
    levels = list(levels)
    return coarse_graining(imp_config.fraction, imp_config.schedule, levels[0], len(levels) - 1)


def exponents(observable: np.ndarray, c, *, sem_limit: float = EIGEN_SEM) -> dict[str, np.ndarray]:
    """lambda, its SEM, sigma, its SEM and the eigenfunction verdict per group (columns of ``observable``).

    ``observable``: (L, G) values of M_i or P_i at L consecutive levels. ``c``: one number > 1 for a
    constant rate (sigma = log_c of the mean ratio, as the paper), or L - 1 numbers > 1, one per
    transition (sigma = mean of the per-round log_{c(n)} ratios). ``eigen`` is SEM < ``sem_limit`` x lambda.
    """
    obs = np.asarray(observable, dtype=float)
    if obs.ndim == 1:
        obs = obs[:, None]
    if obs.ndim != 2 or obs.shape[0] < 2:
        raise ValueError(f"observable must be (levels, groups) with at least 2 levels; got shape {obs.shape}")
    if not np.all(np.isfinite(obs)) or np.any(obs < 0):
        raise ValueError("observable must be finite and >= 0")
    zero = np.argwhere(obs[:-1] == 0)
    if zero.size:
        level, group = zero[0]
        raise ValueError(f"group {group} has M = 0 at level index {level} (layer collapse): its ratio is "
                         "undefined; use a level range before the collapse")
    check_real(sem_limit, "sem_limit", 0, low_open=True)
    c_arr = np.asarray(c, dtype=float)
    transitions = obs.shape[0] - 1
    if c_arr.ndim not in (0, 1) or (c_arr.ndim == 1 and c_arr.shape[0] != transitions) \
            or not np.all(np.isfinite(c_arr)) or np.any(c_arr <= 1):
        raise ValueError(f"c must be one number > 1 or {transitions} numbers > 1 (one per transition); got {c!r}")
    ratios = obs[1:] / obs[:-1]                          # (L-1, G)
    k = ratios.shape[0]
    lam = ratios.mean(axis=0)
    lam_sem = ratios.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else np.full_like(lam, np.nan)
    if c_arr.ndim == 0:
        log_c = math.log(float(c_arr))
        with np.errstate(divide="ignore"):
            sigma = np.log(lam) / log_c
        sigma_sem = lam_sem / (lam * log_c)               # the delta method
    else:
        with np.errstate(divide="ignore"):
            per_round = np.log(ratios) / np.log(c_arr)[:, None]
        sigma = per_round.mean(axis=0)
        sigma_sem = per_round.std(axis=0, ddof=1) / math.sqrt(k) if k > 1 else np.full_like(sigma, np.nan)
    return {"lam": lam, "lam_sem": lam_sem, "sigma": sigma, "sigma_sem": sigma_sem,
            "eigen": lam_sem < sem_limit * lam, "ratios": ratios}


OBSERVABLES = ("M", "P")


def flow_exponents(source, groups, imp_config, *, levels: Sequence[int] | None = None, observable: str = "M",
                   untrained: bool = False, sem_limit: float = EIGEN_SEM) -> dict:
    """The exponents of one IMP run's groups in one call: :func:`flow`, c from the run's pruning schedule
    (:func:`c_of_run`) and :func:`exponents`, for any network, e.g. a torchvision ResNet's stages::

        flow_exponents(TicketStore("runs/resnet18"), ["layer1", "layer2", "layer3", "layer4"], imp_config)

    ``source``: a :class:`rglt.prune.TicketStore` (or its directory) or a sequence of Tickets.
    ``groups``: prefixes of the model's own parameter names, as :func:`flow` takes them (a sequence, each
    prefix its own group, or a mapping group -> prefixes). ``imp_config``: the run's
    :class:`rglt.prune.IMPConfig` (its fraction and schedule give c). ``observable``: ``"M"`` (Eq. 13)
    or ``"P"`` (share of the remaining weights). ``untrained=True`` adds ``"untrained_sigma"``, the sigma
    of the null flow (:func:`untrained_tickets` from the store's rewind point, no training), which says
    how much of sigma is learnt; it needs a TicketStore.

    Returns the dict of :func:`exponents` (``lam``, ``lam_sem``, ``sigma``, ``sigma_sem``, ``eigen``,
    ``ratios``, one column per group) with ``groups``, ``levels``, ``c`` (one per transition) and ``flow``
    (the :class:`Flow`). With the constant-rate ``"survivors"`` schedule sigma is the paper's
    ``log_c lambda``; with ``"original"`` it is the mean of the per-round ``log_{c(n)}`` ratios.
    """
    if not isinstance(imp_config, IMPConfig):
        raise TypeError(f"imp_config must be the run's rglt.prune.IMPConfig; got {type(imp_config).__name__}")
    check_choice(observable, "observable", OBSERVABLES)
    check_bool(untrained, "untrained")
    if isinstance(source, (str, os.PathLike)):
        source = TicketStore(source)
    if untrained and not isinstance(source, TicketStore):
        raise ValueError("untrained=True needs source to be a TicketStore (the null flow starts from its rewind "
                         f"point); got {type(source).__name__}")
    fl = flow(source, groups, levels)
    c = c_of_run(imp_config, fl.levels)
    # A constant rate gives the paper's sigma = log_c lambda (as chapter 2 reports it); only the
    # 'original' schedule needs a c per round.
    c_used = float(c[0]) if imp_config.schedule == "survivors" else c
    out = {"groups": fl.groups, "levels": fl.levels, "c": c, "flow": fl,
           **exponents(getattr(fl, observable), c_used, sem_limit=sem_limit)}
    if untrained:
        rewind = source.rewind()
        weights = {name: rewind[name] for name in source.load(int(fl.levels[0])).masks}
        null = flow(untrained_tickets(weights, int(fl.levels[-1]), imp_config.fraction, imp_config.schedule),
                    groups, fl.levels)
        out["untrained_sigma"] = exponents(getattr(null, observable), c_used, sem_limit=sem_limit)["sigma"]
    return out


# --- Eq. 15: the pruning scaling law of Rosenfeld et al. (2020) -----------------------------------------

PARAMS = ("eps_np", "eps_up", "gamma", "p")
GAMMA_BOUND = 20.0  # |gamma| is fitted within (1e-3, GAMMA_BOUND): a fit at the bound is unconstrained


def scaling_law(d, eps_np, eps_up, gamma, p):
    """Eq. 15 in closed form: eps_np ((d^2 + p^2 (eps_up/eps_np)^(2/gamma)) / (d^2 + p^2))^(gamma/2)."""
    d = np.asarray(d, dtype=float)
    a2 = p**2 * (eps_up / eps_np) ** (2.0 / gamma)
    return eps_np * ((d**2 + a2) / (d**2 + p**2)) ** (gamma / 2.0)


def _check_curve(density, error) -> tuple[np.ndarray, np.ndarray]:
    d, e = np.asarray(density, dtype=float), np.asarray(error, dtype=float)
    if d.ndim != 1 or d.shape[0] < len(PARAMS) + 1 or e.shape[-1:] != d.shape:
        raise ValueError(f"density must be 1-D with at least {len(PARAMS) + 1} points and error must end in "
                         f"the same length; got {d.shape} and {e.shape}")
    if not np.all(np.isfinite(d)) or np.any(d <= 0) or np.any(d > 100):
        raise ValueError("density must be finite percentages in (0, 100]")
    if not np.all(np.isfinite(e)):
        raise ValueError("error must be finite (a NaN error rate: a level whose evaluation failed?)")
    if np.any(e <= 0) or np.any(e >= 100):
        raise ValueError("error must be percentages in (0, 100) (100 minus top-1 accuracy)")
    return d, e


def fit_scaling_law(density, error, *, eps_np_tol: float = 0.05, gamma_sign: int = -1,
                    eps_np_bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """Fit Eq. 15 to one error curve (in percent) against density (in percent); returns the four
    parameters, their standard errors (from the fit's covariance scaled by the residuals) and the rms
    residual in log error.

    eps_np is free within ``eps_np_bounds`` (default: the error at the highest density, +- ``eps_np_tol``
    of it, the paper's tight bound); a bound that excludes that error is a ValueError. ``gamma_sign``
    picks the branch (-1: gamma < 0 as the paper's Table 8; +1: Rosenfeld et al.'s gamma > 0). The fit
    runs in log error (relative residuals) from a small grid of starts, keeping the best.
    """
    d, e = _check_curve(density, error)
    if e.ndim != 1:
        raise ValueError(f"error must be 1-D here (average the seeds first); got shape {e.shape}")
    require(gamma_sign in (-1, 1), "gamma_sign", "-1 or +1", gamma_sign)
    check_real(eps_np_tol, "eps_np_tol", 0, 1, low_open=True, high_open=True)
    dense = float(e[np.argmax(d)])
    lo, hi = eps_np_bounds if eps_np_bounds is not None else (dense * (1 - eps_np_tol), dense * (1 + eps_np_tol))
    if not (0 < lo < hi < 100) or not lo <= dense <= hi:
        raise ValueError(f"eps_np_bounds must satisfy 0 < low < high < 100 and contain the error at the "
                         f"highest density ({dense:.4g}); got ({lo}, {hi})")
    g_lo, g_hi = (-GAMMA_BOUND, -1e-3) if gamma_sign < 0 else (1e-3, GAMMA_BOUND)
    bounds = ([lo, 1e-6, g_lo, 1e-4], [hi, 100.0, g_hi, 1e3])
    log_model = lambda x, *params: np.log(scaling_law(x, *params))
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (OptimizeWarning, RuntimeWarning))
        for p0 in (1.0, 10.0, 50.0):
            for g0 in (0.3, 1.0, 3.0):
                start = [dense, float(np.clip(e.max() * 1.2, 1e-3, 99.0)), gamma_sign * g0, p0]
                try:
                    params, cov = curve_fit(log_model, d, np.log(e), p0=start, bounds=bounds, maxfev=20000)
                except (RuntimeError, ValueError):
                    continue
                rms = float(np.sqrt(np.mean((np.log(e) - log_model(d, *params)) ** 2)))
                if best is None or rms < best[2]:
                    best = (params, cov, rms)
    if best is None:
        raise RuntimeError("fit_scaling_law: Eq. 15 did not converge from any start")
    params, cov, rms = best
    err = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(4, np.nan)
    out = {k: float(v) for k, v in zip(PARAMS, params)}
    out.update({f"{k}_err": float(v) for k, v in zip(PARAMS, err)})
    out["rms_log"] = rms
    return out


def bootstrap_gamma(density, errors, *, resamples: int = 1000, seed: int = 0, level: float = 0.68,
                    **fit_options) -> dict[str, float]:
    """gamma fitted to the mean over seeds of ``errors`` (seeds x densities), with an interval from
    resampling the seeds with replacement (``level``: its coverage, 0.68 ~ one standard deviation).

    With S seeds there are only C(2S-1, S) distinct resamples (10 for 3 seeds): the interval is coarse,
    and says so by being wide, as App. F warns.
    """
    d, e = _check_curve(density, errors)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError(f"errors must be (seeds, densities) with at least 2 seeds; got shape {e.shape}")
    check_int(resamples, "resamples", 10)
    check_real(level, "level", 0, 1, low_open=True, high_open=True)
    fit = fit_scaling_law(d, e.mean(axis=0), **fit_options)
    rng = np.random.default_rng(seed)
    fitted: dict[tuple[int, ...], float] = {}  # a resample's mean depends only on which seeds it holds
    gammas = []
    for _ in range(resamples):
        pick = tuple(sorted(rng.integers(0, e.shape[0], e.shape[0])))
        if pick not in fitted:
            try:
                fitted[pick] = fit_scaling_law(d, e[list(pick)].mean(axis=0), **fit_options)["gamma"]
            except (RuntimeError, ValueError):
                fitted[pick] = float("nan")
        gammas.append(fitted[pick])
    gammas = np.asarray(gammas)
    gammas = gammas[np.isfinite(gammas)]
    tail = (1 - level) / 2
    low, high = np.quantile(gammas, [tail, 1 - tail]) if gammas.size else (np.nan, np.nan)
    return {**fit, "gamma_low": float(low), "gamma_high": float(high),
            "gamma_boot_std": float(gammas.std(ddof=1)) if gammas.size > 1 else float("nan"),
            "resamples_used": int(gammas.size)}
