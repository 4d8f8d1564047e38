"""Chapter 1: the renormalization group on the 2D Ising model.

Three measurements (seed 000 Sec. 3, Fig. 1 left column, Eq. 2; seed 001 Sec. 1.1, Fig. 1):

1. |m|(T) by Monte Carlo across the transition, against Onsager's exact curve;
2. the exponent beta of m ~ (T_c - T)^beta (Eq. 2), fitted on larger lattices just below T_c;
3. the RG flow: block magnetisation and nearest-neighbour correlation after each majority-rule
   blocking (b = 2), below, at and above T_c, plus the configurations themselves for the figure.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.progress import progress
from rglt.report import Claim, judged
from rglt.rg import (T_CRITICAL, block_spin, fit_power_law, magnetization, nn_correlation,
                     onsager_magnetization, trajectory)
from rglt.store import unhashed

NAME = "ising_rg"
VERSION = 2


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    algorithm: str = "swendsen-wang"
    chains: int = 8                      # independent chains per temperature (error bars)
    burn_in: int = 200                   # sweeps discarded per chain
    sweeps: int = 1000                   # measured sweeps per chain
    # |m|(T) across the transition
    curve_size: int = 128
    curve_temperatures: tuple[float, ...] = tuple(np.round(np.linspace(1.6, 3.4, 19), 3).tolist())
    # beta: reduced temperatures t = (T_c - T) / T_c where the power law is fitted
    fit_size: int = 256
    fit_reduced_t: tuple[float, ...] = tuple(np.round(np.geomspace(0.015, 0.12, 8), 5).tolist())
    # RG flow under repeated blocking
    flow_size: int = 256
    flow_temperatures: tuple[float, ...] = (2.0, round(T_CRITICAL, 6), 2.6)
    flow_snapshots: int = 20             # configurations kept per chain, every flow_every sweeps
    flow_every: int = 10
    block: int = 2
    # tolerances of the claims (unhashed: they judge the result, they do not change it)
    onsager_margin: float = unhashed(0.25)       # |T - T_c| beyond which |m| is compared with Onsager
    onsager_tol_below: float = unhashed(0.005)
    onsager_tol_above: float = unhashed(0.05)    # finite-size |m| above T_c is ~ sqrt(chi T / L^2)
    beta_tol: float = unhashed(0.03)             # plain power law (Eq. 2)
    beta_corrected_tol: float = unhashed(0.005)  # with the leading correction to scaling
    ordered_min: float = unhashed(0.95)          # below T_c: final m and corr above this
    disordered_max: float = unhashed(0.1)        # above T_c: final |corr| below this + 3 std. errors
    critical_drift: float = unhashed(0.15)       # at T_c: corr within this of step 1's
    ties_tol: float = unhashed(0.01)             # blocked independent spins: m within this of 6/16 and 0

CONFIGS = {
    "smoke": Config(chains=4, burn_in=50, sweeps=400, curve_size=32,
                    curve_temperatures=(1.6, 2.0, 2.2, 2.3, 2.5, 3.0, 3.4), fit_size=64,
                    fit_reduced_t=(0.02, 0.03, 0.045, 0.065, 0.09, 0.12), flow_size=64, flow_snapshots=10,
                    onsager_tol_below=0.02, onsager_tol_above=0.2, beta_tol=0.05,
                    beta_corrected_tol=0.05),
    "cpu": Config(),
    "gpu": Config(chains=16, sweeps=4000, curve_size=256, fit_size=512,
                  fit_reduced_t=tuple(np.round(np.geomspace(0.008, 0.1, 10), 5).tolist()),
                  flow_size=512),
}


def _seed(config: Config, *key: int) -> int:
    return int(np.random.SeedSequence([config.seed, *key]).generate_state(1)[0])


def _abs_magnetization(config: Config, size: int, temperature: float, seed: int) -> tuple[float, float]:
    """Mean |m| over the measured sweeps of each chain; mean and standard error across chains."""
    per_chain = np.zeros(config.chains)
    sweeps = trajectory(size, temperature, sweeps=config.burn_in + config.sweeps, seed=seed,
                        chains=config.chains, algorithm=config.algorithm)
    for i, spins in enumerate(sweeps):
        if i >= config.burn_in:
            per_chain += np.abs(magnetization(spins))
    per_chain /= config.sweeps
    return per_chain.mean(), per_chain.std(ddof=1) / np.sqrt(config.chains)


def _flow_samples(config: Config, temperature: float, seed: int) -> np.ndarray:
    """(chains * flow_snapshots, L, L) equilibrium configurations at one temperature."""
    kept = []
    sweeps = trajectory(config.flow_size, temperature, seed=seed, chains=config.chains,
                        sweeps=config.burn_in + config.flow_snapshots * config.flow_every,
                        algorithm=config.algorithm)
    for i, spins in enumerate(sweeps, start=1):
        if i > config.burn_in and (i - config.burn_in) % config.flow_every == 0:
            kept.append(spins.copy())
    return np.concatenate(kept)


def _blocked(spins: np.ndarray, config: Config, steps: int, seed: int) -> list[np.ndarray]:
    """spins followed by its repeated block-spin transforms (ties broken at random, see chapter)."""
    out = [spins]
    for k in range(steps):
        out.append(block_spin(out[-1], config.block, ties="random", seed=seed + k))
    return out


def run(config: Config) -> dict:
    tc = T_CRITICAL
    temps = np.array(config.curve_temperatures)
    fit_temps = tc * (1.0 - np.array(config.fit_reduced_t))
    jobs = [("curve", i, config.curve_size, t) for i, t in enumerate(temps)]
    jobs += [("fit", i, config.fit_size, t) for i, t in enumerate(fit_temps)]
    m = {"curve": np.zeros((2, temps.size)), "fit": np.zeros((2, fit_temps.size))}
    for kind, i, size, t in progress(jobs, desc="Ising |m|(T)", unit="T"):
        m[kind][:, i] = _abs_magnetization(config, size, float(t), _seed(config, kind == "fit", i))

    t = np.array(config.fit_reduced_t)
    beta = fit_power_law(t, m["fit"][0], m["fit"][1])
    corrected = fit_power_law(t, m["fit"][0], m["fit"][1], correction=True)
    beta_exact = fit_power_law(t, onsager_magnetization(fit_temps))

    steps = int(round(np.log(config.flow_size / 4) / np.log(config.block)))  # stop at 4 x 4 blocks
    flow = {k: np.zeros((len(config.flow_temperatures), steps + 1)) for k in ("m", "m_err", "c", "c_err")}
    examples = []
    for j, t in enumerate(progress(config.flow_temperatures, desc="RG flow", unit="T")):
        samples = _flow_samples(config, t, _seed(config, 2, j))
        examples.append(samples[0])
        for k, level in enumerate(_blocked(samples, config, steps, _seed(config, 3, j))):
            abs_m, corr = np.abs(magnetization(level)), nn_correlation(level)
            flow["m"][j, k], flow["m_err"][j, k] = abs_m.mean(), abs_m.std(ddof=1) / np.sqrt(abs_m.size)
            flow["c"][j, k], flow["c_err"][j, k] = corr.mean(), corr.std(ddof=1) / np.sqrt(corr.size)

    # The tie rule matters: infinite-temperature (independent) spins under one blocking step.
    rng = np.random.default_rng(_seed(config, 4))
    noise = np.where(rng.random((16, 256, 256)) < 0.5, 1, -1).astype(np.int8)  # 262,144 blocks
    ties_up = float(magnetization(block_spin(noise, 2, "up")).mean())
    ties_random = float(magnetization(block_spin(noise, 2, "random", seed=_seed(config, 5))).mean())

    return {
        "curve_T": temps, "curve_m": m["curve"][0], "curve_m_err": m["curve"][1],
        "fit_T": fit_temps, "fit_t": np.array(config.fit_reduced_t),
        "fit_m": m["fit"][0], "fit_m_err": m["fit"][1],
        "beta": beta["exponent"], "beta_err": beta["exponent_err"], "beta_amplitude": beta["amplitude"],
        "beta_reduced_chi2": beta["reduced_chi2"], "beta_onsager_window": beta_exact["exponent"],
        "beta_corrected": corrected["exponent"], "beta_corrected_err": corrected["exponent_err"],
        "beta_corrected_amplitude": corrected["amplitude"], "beta_corrected_a": corrected["correction"],
        "beta_corrected_reduced_chi2": corrected["reduced_chi2"],
        "flow_T": np.array(config.flow_temperatures), "flow_sizes": config.flow_size // config.block ** np.arange(steps + 1),
        "flow_m": flow["m"], "flow_m_err": flow["m_err"], "flow_corr": flow["c"], "flow_corr_err": flow["c_err"],
        "examples": np.stack(examples), "ties_up_m": ties_up, "ties_random_m": ties_random,
    }


EQ2 = "000 Sec. 1, Eq. 2 (and App. A)"
EQ2_QUOTE = 'Eq. 2, "m ∼ (tC − t)−β", gives no value of beta; the 2D Ising value is 1/8 = 0.125 (exact)'
FIXED_POINTS = "000 Sec. 3, Fig. 1 (RG flow to fixed points)"


def checks(result, config: Config) -> list[Claim]:
    """The chapter's claims, each against the source's number with its own verdict at the profile's
    tolerance. ``result``: the stored result (or a dict of its data)."""
    tc = T_CRITICAL
    T, mc = np.asarray(result["curve_T"]), np.asarray(result["curve_m"])
    exact = onsager_magnetization(T)
    below, above = T < tc - config.onsager_margin, T > tc + config.onsager_margin
    dev_below = float(np.max(np.abs(mc[below] - exact[below])))
    dev_above = float(np.max(mc[above]))
    m, c, c_err = (np.asarray(result[k]) for k in ("flow_m", "flow_corr", "flow_corr_err"))
    lo, crit, hi = 0, 1, 2
    window = f"(Onsager's own curve fitted on the same window gives {result['beta_onsager_window']:.4f})"
    out = []

    t_show = T[below][-1]
    out.append(Claim(
        claim=f"Monte Carlo |m| matches the exact m(T) for T < T_c - {config.onsager_margin}",
        source=f"{EQ2}; exact m(T): Onsager (1944)",
        source_value=f"000 gives no values; Onsager's exact m(T) at the same T ({onsager_magnetization(t_show):.4f} "
                     f"at T = {t_show:.2f})",
        ours=f"max |MC - exact| = {dev_below:.4f} over {int(below.sum())} temperatures, L = {config.curve_size}",
        tolerance=f"<= {config.onsager_tol_below}",
        **judged(dev_below <= config.onsager_tol_below, f"max |MC - exact| = {dev_below:.4f} > {config.onsager_tol_below}")))
    out.append(Claim(
        claim=f"Monte Carlo |m| vanishes for T > T_c + {config.onsager_margin}",
        source="000 App. A (non-magnetic above the transition); exact: Onsager (1944)",
        source_value="m = 0 above T_c (exact, infinite lattice)",
        ours=f"max |m| = {dev_above:.4f} over {int(above.sum())} temperatures, L = {config.curve_size}",
        tolerance=f"<= {config.onsager_tol_above} (finite-size |m| ~ sqrt(chi T) / L)",
        **judged(dev_above <= config.onsager_tol_above, f"max |m| = {dev_above:.4f} > {config.onsager_tol_above}")))
    for name, key, tol in (("plain power law", "beta", config.beta_tol),
                           ("with the leading correction (1 + a t)", "beta_corrected", config.beta_corrected_tol)):
        dev = abs(float(result[key]) - 0.125)
        out.append(Claim(
            claim=f"the exponent beta of m ~ (T_c - T)^beta is 1/8 ({name})",
            source=EQ2, source_value=EQ2_QUOTE,
            ours=f"beta = {result[key]:.4f} +- {result[key + '_err']:.4f} (L = {config.fit_size}, "
                 f"{len(np.asarray(result['fit_t']))} temperatures)",
            tolerance=f"|beta - 0.125| <= {tol}",
            **judged(dev <= tol, f"|beta - 0.125| = {dev:.4f} > {tol} {window}")))

    ordered = bool(m[lo, -1] > m[lo, 0] and c[lo, -1] > c[lo, 0] and min(m[lo, -1], c[lo, -1]) > config.ordered_min)
    out.append(Claim(
        claim="below T_c blocking flows to the ordered fixed point (m, corr -> 1)",
        source=FIXED_POINTS, source_value="no number (schematic); the ordered fixed point has m = corr = 1",
        ours=f"m {m[lo, 0]:.3f} -> {m[lo, -1]:.3f}, corr {c[lo, 0]:.3f} -> {c[lo, -1]:.3f} (T = {result['flow_T'][lo]:.3f})",
        tolerance=f"both grow and end > {config.ordered_min}",
        **judged(ordered, f"m ends at {m[lo, -1]:.3f}, corr at {c[lo, -1]:.3f}: not both growing to > {config.ordered_min}")))
    bound = config.disordered_max + 3 * c_err[hi, -1]
    disordered = bool(c[hi, -1] < c[hi, 0] and abs(c[hi, -1]) < bound)
    out.append(Claim(
        claim="above T_c blocking flows to the disordered fixed point (corr -> 0)",
        source=FIXED_POINTS, source_value="no number (schematic); the disordered fixed point has corr = 0",
        ours=f"corr {c[hi, 0]:.3f} -> {c[hi, -1]:.3f} +- {c_err[hi, -1]:.3f} (T = {result['flow_T'][hi]:.3f})",
        tolerance=f"corr falls and ends < {config.disordered_max} + 3 std. errors",
        **judged(disordered, f"corr ends at {c[hi, -1]:.3f} (from {c[hi, 0]:.3f}), bound {bound:.3f}")))
    drift = float(np.max(np.abs(c[crit, 1:] - c[crit, 1])))
    critical = bool(drift <= config.critical_drift and c[crit].min() > 0.1 and c[crit].max() < 0.95)
    out.append(Claim(
        claim="at T_c blocking stays between the two fixed points",
        source="000 Sec. 3, Fig. 1 (left column)",
        source_value="no number; exact corr at T_c is sqrt(2)/2 = 0.7071 (infinite lattice)",
        ours=f"corr in [{c[crit, 1:].min():.3f}, {c[crit, 1:].max():.3f}] after step 1",
        tolerance=f"every step's corr within {config.critical_drift} of step 1's, and in (0.1, 0.95)",
        **judged(critical, f"corr drifts by {drift:.3f} from step 1's, range [{c[crit].min():.3f}, {c[crit].max():.3f}]")))
    up, rnd = float(result["ties_up_m"]), float(result["ties_random_m"])
    ties = abs(up - 0.375) <= config.ties_tol and abs(rnd) <= config.ties_tol
    out.append(Claim(
        claim="majority rule with ties -> +1 biases independent spins to m = 6/16; random ties do not",
        source="001 Sec. 1.1, Fig. 1 (caption)",
        source_value='"In the case of a tie, ↑ wins." (no bias given; 6/16 = 0.375 follows exactly)',
        ours=f"m = {up:.4f} (ties up), {rnd:+.4f} (random ties)",
        tolerance=f"within {config.ties_tol} of 0.375 and of 0",
        **judged(ties, f"|m_up - 0.375| = {abs(up - 0.375):.4f}, |m_random| = {abs(rnd):.4f}, tolerance {config.ties_tol}")))
    return out
