"""Chapter 3: why our bits/dim miss the report's, model size against training budget.

The cpu profile's flows (rg_flow) are both smaller than the report's (1.9 M against 80.5 M parameters)
and trained far shorter (under an epoch against 60). This experiment separates the two on MSDS1 with
the Laplace prior: flows of several sizes, each trained in its own one-thread worker for its own number
of steps with held-out bits/dim every ``eval_every`` steps, recorded against images seen and wall time.
Each curve is fitted with b(n) = b_inf + A n^-alpha, b_inf >= 0 (``rglt.flow.budget``), and
extrapolated to the report's 60 epochs of 90,000 images; the size effect is read at a matched number
of images. The stored result holds the curves only: every fit is made when the claims are judged.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time

import numpy as np
from scipy import stats as _st

from rglt.data import msds
from rglt.flow import RGFlow, parameter_count
from rglt.flow.budget import extrapolate
from rglt.flow.model import BACKENDS
from rglt.flow.training import FlowTrainConfig, train_flow
from rglt.identity import unhashed
from rglt.prune.runner import map_jobs
from rglt.claims import Claim, Rule
from rglt.stats import LEVEL, Interval
from rglt.validate import check_choice
from rglt.sources import hu2022

NAME = "rg_flow_budget"
VERSION = 1
REPORT_IMAGES = hu2022.EPOCHS.value["msds1"] * hu2022.SYNTHETIC_IMAGES.value   # 001 Sec. 2.5: 60 epochs of 90,000 images
REPORT_BPD = hu2022.TABLE_1.value["msds1"]["laplace"][0]                      # 001 Table 1: MSDS1, Laplacian prior
ORIGINAL = (4, 4, 512)                # the original MSDS model: subnet layers per level, residual blocks, hidden
BOOK_CPU = (2, 2, 128)                # rg_flow's cpu profile, whose gap to Table 1 is the question


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: str = "msds1"
    prior: str = "laplace"
    # (subnet layers per RG layer, residual blocks, hidden units) and the steps each size trains
    sizes: tuple = ((1, 1, 64), (2, 2, 128), (4, 2, 256))
    steps: tuple = (4000, 3000, 1200)
    train_size: int = 90000
    curve_size: int = 1000             # held-out test images evaluated during training
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 5e-5
    clip_norm: float = 1.0
    eval_every: int = 100
    seed: int = 0
    workers: int = unhashed(2)
    threads_per_worker: int = unhashed(1)
    backend: str = unhashed("auto")
    fit_from: float = unhashed(0.1)          # the fit ignores the first 10% of each curve's images
    extrapolation_tol: float = unhashed(0.05)   # bpd: the extrapolation against Table 1


CONFIGS = {
    # Eager at the smoke profile: compiling for a few dozen steps of a tiny flow costs minutes (measured in
    # CI: about 2 s a step on the compiled path), and rg_flow's smoke run already exercises the fast path.
    "smoke": Config(sizes=((1, 1, 16), (1, 1, 32)), steps=(48, 32), train_size=512, curve_size=64, eval_every=8,
                    workers=1, threads_per_worker=2, backend="reference"),
    "cpu": Config(),
    "gpu": Config(sizes=((1, 1, 64), (2, 2, 128), (4, 2, 256), (4, 4, 512)), steps=(20000, 20000, 20000, 20000),
                  batch_size=64, eval_every=500, workers=1, threads_per_worker=8),
}


def _job(config: Config, k: int) -> dict:
    import torch


    torch.set_num_threads(config.threads_per_worker)
    start = time.perf_counter()
    train, _ = msds(config.dataset, config.train_size, seed=config.seed)
    test, _ = msds(config.dataset, config.curve_size, seed=config.seed + 1)
    layers, blocks, hidden = config.sizes[k]
    torch.manual_seed(config.seed)
    model = RGFlow(3, 32, 4, layers, blocks, hidden, config.prior)
    if torch.cuda.is_available():
        model = model.cuda()
    history = train_flow(model, train, FlowTrainConfig(
        steps=config.steps[k], batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
        clip_norm=config.clip_norm, eval_every=config.eval_every, seed=config.seed),
        held_out=test, desc=f"size {config.sizes[k]}", backend=config.backend)
    out = {key: np.asarray(v, dtype=np.float64) for key, v in history.items()}
    out["parameters"] = sum(p.numel() for p in model.parameters())
    out["job_seconds"] = time.perf_counter() - start
    return out


def run(config: Config) -> dict:
    check_choice(config.backend, "backend", BACKENDS)
    if len(config.sizes) != len(config.steps) or len(config.sizes) < 2:
        raise ValueError(f"sizes and steps must be sequences of the same length >= 2; got {len(config.sizes)} "
                         f"sizes and {len(config.steps)} step counts")
    # The longest job first, so that two workers finish together.
    order = sorted(range(len(config.sizes)), key=lambda k: -config.steps[k] * config.sizes[k][0]
                   * config.sizes[k][1] * config.sizes[k][2] ** 1.5)
    trained = map_jobs(functools.partial(_job, config), order, workers=config.workers,
                       threads_per_worker=config.threads_per_worker, desc="RG-Flow sizes")
    out = {}
    for k, values in zip(order, trained):
        out.update({f"size{k}_{key}": v for key, v in values.items()})
    out["cpu_count"] = os.cpu_count()
    return out


def curves(result, config: Config) -> list[dict]:
    """Per size: its shape, parameters, images seen at each evaluation, held-out bpd, wall seconds and
    the extrapolation to the report's 60 epochs (``rglt.flow.budget.extrapolate``: b_inf >= 0, the
    farthest refit), with ``registered``: the extrapolation as the budget rules were first registered
    (a free asymptote, half the refits' range). Fitted here, from the stored curves."""

    out = []
    for k, size in enumerate(config.sizes):
        steps = np.asarray(result[f"size{k}_step"], dtype=float)
        images = (steps + 1) * config.batch_size
        bpd = np.asarray(result[f"size{k}_held_out_bpd"], dtype=float)
        keep = images >= config.fit_from * images[-1]
        row = dict(size=tuple(size), parameters=int(result[f"size{k}_parameters"]), images=images, bpd=bpd,
                   seconds=np.asarray(result[f"size{k}_train_seconds"], dtype=float))
        for key, kw in (("extrapolation", {}), ("registered", dict(spread="half-range", asymptote_min=None))):
            try:
                row[key] = extrapolate(images[keep], bpd[keep], REPORT_IMAGES, **kw)
            except (RuntimeError, ValueError) as e:     # too few points (smoke), or a curve the law cannot fit
                row[key] = {"error": str(e)}
        out.append(row)
    return out


def bpd_at(row: dict, images: float) -> float:
    """The held-out bpd of a curve at ``images`` (linear in log images between evaluations)."""
    return float(np.interp(np.log(images), np.log(row["images"]), row["bpd"]))


def size_effect(rows: list[dict]) -> dict:
    """The size effect at matched images (the most that every size has seen): the least-squares slope
    of bpd against log10(parameters) over the sizes, with its standard error and the 95% t half-width
    (len(rows) - 2 degrees of freedom; infinite with two sizes); NaN when a curve is not finite there."""
    matched = min(r["images"][-1] for r in rows)
    x = np.log10(np.array([r["parameters"] for r in rows], dtype=float))
    at = np.array([bpd_at(r, matched) for r in rows])
    df = len(rows) - 2
    if not (np.isfinite(at).all() and np.isfinite(x).all()):     # a diverged curve: no size effect measured
        return {"matched": float(matched), "at": at, "slope": math.nan, "se": math.nan, "df": df, "half": math.nan}
    slope, intercept = np.polyfit(x, at, 1)
    if df > 0:
        resid = at - (slope * x + intercept)
        se = float(np.sqrt(resid @ resid / df / ((x - x.mean()) @ (x - x.mean()))))
        half = float(_st.t.ppf(0.5 + LEVEL / 2, df)) * se
    else:
        se, half = math.inf, math.inf
    return {"matched": float(matched), "at": at, "slope": float(slope), "se": se, "df": df, "half": half}


def book_size(config: Config) -> int:
    """The index of the size closest in parameters to the book's cpu model (rg_flow's cpu profile)."""
    book = parameter_count(3, 32, 4, *BOOK_CPU)["total"]
    counts = [parameter_count(3, 32, 4, *size)["total"] for size in config.sizes]
    return min(range(len(counts)), key=lambda k: abs(math.log(counts[k] / book)))


LAW = ("the fitted law is within its meaning: the full fit's asymptote b_inf (fitted with b_inf >= 0, since "
       "bits/dim cannot be negative) stays off its bound 0")
_EXTRAPOLATION_CHANGE = (
    "the commit that brought the cpu result (565cb1e) changed the extrapolation's spread from half the refits' "
    "range to the farthest refit from the full fit (the full fit sits at one end of its refits here, and half the "
    "range left the last-quarter refit outside the interval); issue 28 bounds the asymptote at 0 (the free fit's "
    "is -2.4 bpd), takes the fit's own error at 95% (1.96 SE, not 1 SE) and makes the law's meaning the regime")


def rules(config: Config) -> tuple[Rule, ...]:
    """The budget experiment's two claims (regions fixed before the data: Table 1 and the tolerance)."""
    tol = config.extrapolation_tol
    params = parameter_count(3, 32, 4, *config.sizes[book_size(config)])["total"]
    claim = (f"MSDS1 laplace: extrapolated to the report's 60 epochs, the {params:,}-parameter flow reaches "
             "Table 1's bits/dim")
    what = f"held-out bpd extrapolated to 60 epochs ({REPORT_IMAGES:,} images)"
    fit = (f"the power law b_inf + A n^-alpha fitted to the curve (its first {config.fit_from:.0%} of images left "
           "out), at 60 epochs")
    common = dict(id="extrapolation", claim=claim, source="001 Table 1; Sec. 2.5 (60 epochs)",
                  source_value=f"{REPORT_BPD:.4f} bpd", what=what, low=REPORT_BPD - tol, high=REPORT_BPD + tol)
    extrapolation = Rule(
        **common, test=f"{fit}, b_inf >= 0, +- the larger of its 95% normal interval and the farthest refit on the "
                       "curve's later half and quarter (one run)", precondition=LAW,
        registered=Rule(**common, test=f"{fit}, asymptote free, +- the larger of its delta-method standard error "
                                       "and half the range of the refits on the curve's later half and quarter (one run)"),
        change=_EXTRAPOLATION_CHANGE)
    common = dict(id="budget_vs_size", claim="MSDS1 laplace: the training budget, not the model size, dominates the gap "
                                             "to Table 1",
                  source="001 Sec. 5 (\"only partial convergence of the model\")",
                  source_value="no number: the report blames its own gap on training",
                  what=("budget gain minus size gain (bpd): what 60 epochs would gain at the cpu size, minus what the "
                        "original's parameters would gain at matched images"), low=0.0)
    dominates = Rule(
        **common, test=("the budget gain's interval (the extrapolation's, as above) and the size gain's (95% t interval "
                        "of the slope of bpd against log10 parameters over the sizes, carried over the decades to the "
                        "original) combined by adding their half-widths (one run per size)"), precondition=LAW,
        registered=Rule(**common, test=("the budget gain +- the extrapolation's uncertainty as registered (asymptote "
                                        "free, half the refits' range) minus the size gain's point estimate")),
        change=_EXTRAPOLATION_CHANGE + "; the size gain gets its slope's interval")
    return extrapolation, dominates


def _fit_interval(ex: dict, what: str) -> Interval:
    """An extrapolation as an interval: its value +- its uncertainty (one run: no spread over seeds)."""
    if "error" in ex:
        return Interval(math.nan, math.nan, math.nan, 1, math.nan, f"no fit ({ex['error']})")
    return Interval(ex["value"], ex["value"] - ex["uncertainty"], ex["value"] + ex["uncertainty"], 1, math.inf,
                    f"{what}; one run: a longer run, not more seeds, would narrow it")


def checks(result, config: Config) -> list[Claim]:
    """The budget experiment's claims, each judged by its rule from the curves (fitted here)."""
    extrapolation, dominates = rules(config)
    rows = curves(result, config)
    size = size_effect(rows)
    cpu = rows[book_size(config)]
    ex, reg = cpu["extrapolation"], cpu["registered"]
    decades = float(np.log10(parameter_count(3, 32, 4, *ORIGINAL)["total"] / cpu["parameters"]))
    end = float(cpu["bpd"][-1])
    if "error" in ex:
        law = (False, f"no fit: {ex['error']}")
    else:
        free = "" if "error" in reg else f" (free, it lands at {reg['fit']['b_inf']:.2f} bpd)"
        law = (not ex["at_bound"],
               f"the full fit's asymptote sits on its bound 0{free}: the curve does not determine it inside the "
               "law's meaning" if ex["at_bound"] else f"the full fit's asymptote b_inf = {ex['fit']['b_inf']:.2f} bpd")
    value = _fit_interval(ex, "the fit +- max(1.96 SE, farthest refit)")
    value_reg = _fit_interval(reg, "the free fit +- max(SE, half the refits' range)")

    def described(e: dict) -> str:
        if "error" in e:
            return "no fit"
        return (f"{e['value']:.3f} +- {e['uncertainty']:.3f} bpd (alpha {e['fit']['alpha']:.2f}, asymptote "
                f"{e['fit']['b_inf']:.2f}; refits " + ", ".join(f"{p:.2f}" for w, p in e["window_predictions"].items()
                                                               if w != 1.0) + ")")
    out = [extrapolation.judge(
        value, precondition=law, registered=value_reg,
        ours=(f"measured {end:.3f} bpd at {cpu['images'][-1]:,.0f} images; at 60 epochs {described(ex)}; as registered "
              f"{described(reg)}"))]

    size_gain = -size["slope"] * decades
    size_half = size["half"] * decades

    def gain(e: dict) -> Interval:
        if "error" in e:
            return Interval(math.nan, math.nan, math.nan, 1, math.nan, "no fit")
        g = end - e["value"] - size_gain
        return Interval(g, g - e["uncertainty"], g + e["uncertainty"], 1, math.inf, "")

    new, old = gain(ex), gain(reg)
    new = dataclasses.replace(new, low=new.low - size_half, high=new.high + size_half,
                              method="budget gain's interval and size gain's, half-widths added; one run per size")
    old = dataclasses.replace(old, method="budget gain +- its registered uncertainty, minus the size gain")
    budget_gain = "no fit" if "error" in ex else f"{end - ex['value']:.3f} +- {ex['uncertainty']:.3f}"
    budget_reg = "no fit" if "error" in reg else f"{end - reg['value']:.3f} +- {reg['uncertainty']:.3f}"
    out.append(dominates.judge(
        new, precondition=law, registered=old,
        ours=(f"60 epochs would gain {budget_gain} bpd at {cpu['parameters']:,} parameters (as registered: "
              f"{budget_reg}); the original's {10 ** decades:.0f}x more parameters would gain {size_gain:+.3f} +- "
              f"{size_half:.3f} bpd at {size['matched']:,.0f} images ({-size['slope']:+.3f} bpd per decade, "
              f"{len(rows)} sizes)")))
    return out
