"""RG-Flow training speed on the CPU, judged: the rows, claims and roofline figure of chapter 6.

Reads the records of ``benchmarks/rg_coupling.py`` (one training step per variant, interleaved, with
the same-shape plain-GEMM time measured in the same process) and ``benchmarks/flow_training.py`` (a
fixed number of training steps per backend). The goals are the book's own (issue 14), no paper's.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import ttest_ind

from rglt.report import Claim, judged, pick

GOAL = "no number in a source: the book's own goal (issue 14, RG-Flow training at the CPU's GEMM speed)"
CPU_SPEEDUP = 2.5          # cpu profile, batch 64: images/s against eager, compile time excluded
MSDS_FP32_FRACTION = 0.70  # MSDS configuration: the step's GEMMs at plain-mm speed over the step time
BPD_TOLERANCE = {"fast": 0.01, "fast-bf16": 0.02}   # held-out bpd after a fixed run, against eager


def speed_rows(record: dict) -> list[list]:
    """Table rows for the model-scope results of one rg_coupling record: config, variant, batch,
    images/s, x eager, GFLOP/s, fraction of the fp32 and bf16 same-shape GEMM rate, first step s, and
    the steps after which the one-time compile (first step less a warm step) is paid back by the faster steps."""
    ok = [r for r in record["results"] if "median_s" in r and r["scope"] == "model"]
    rows = []
    for r in ok:
        eager = pick(ok, None, config=r["config"], variant="eager")
        ratio = f"{r['images_per_s'] / eager['images_per_s']:.2f}x" if eager else "-"
        saving = eager["median_s"] - r["median_s"] if eager else 0.0
        payback = ("-" if r is eager or not eager else "never" if saving <= 0
                   else f"{math.ceil((r['first_step_s'] - r['median_s']) / saving)}")
        rows.append([r["config"], r["variant"], r["batch"], f"{r['images_per_s']:.1f}", ratio, f"{r['gflop_s']:.0f}",
                     f"{r['fraction_of_fp32_peak']:.0%}", f"{r['fraction_of_bf16_peak']:.0%}", f"{r['first_step_s']:.0f}", payback])
    return rows


SPEED_HEADERS = ["config", "variant", "batch", "images/s", "x eager", "GFLOP/s", "GEMMs at fp32 mm speed",
                 "at bf16 mm speed", "first step s", "compile paid back after (steps)"]


def _model(record: dict, variant: str) -> dict:
    row = pick(record["results"], None, scope="model", variant=variant)
    if row is None or "median_s" not in row:
        raise ValueError(f"the record has no timed model-scope {variant!r} result "
                         f"(benchmarks/rg_coupling.py --variants eager fast fast-bf16 --scopes model)")
    return row


def _outside_gemms(row: dict) -> str:
    return f"{1 - row['fraction_of_fp32_peak']:.0%} of its step is outside the GEMMs (at fp32 mm speed)"


def speed_claims(cpu: dict, msds: dict, training: dict) -> list[Claim]:
    """The goals, judged: ``cpu`` and ``msds`` are rg_coupling records of the cpu-profile and the
    MSDS configuration (model scope, variants eager / fast / fast-bf16), ``training`` a flow_training record."""
    claims = []
    eager, fast, bf16 = (_model(cpu, v) for v in ("eager", "fast", "fast-bf16"))
    best = max((fast, bf16), key=lambda r: r["images_per_s"])
    gain = best["images_per_s"] / eager["images_per_s"]
    # With every non-GEMM operation free, a step would take its GEMM time alone.
    ceiling = eager["median_s"] / (best["median_s"] * best[f"fraction_of_{'bf16' if best is bf16 else 'fp32'}_peak"])
    claims.append(Claim(
        claim=f"cpu profile, batch {eager['batch']}: the fast path trains >= {CPU_SPEEDUP}x the eager images per second",
        source=GOAL, source_value=f"{CPU_SPEEDUP}x eager, compile time excluded", tolerance=f">= {CPU_SPEEDUP}x",
        ours=(f"{gain:.2f}x with {best['variant']} (fast {fast['images_per_s'] / eager['images_per_s']:.2f}x, "
              f"fast-bf16 {bf16['images_per_s'] / eager['images_per_s']:.2f}x; first step "
              f"{best['first_step_s']:.0f} s)"),
        **judged(gain >= CPU_SPEEDUP,
                 f"{best['variant']}: {1 - best['fraction_of_bf16_peak' if best is bf16 else 'fraction_of_fp32_peak']:.0%} "
                 f"of the step is outside the GEMMs (Swish, weight norm, residual and coupling arithmetic, forward "
                 f"and backward); with all of it free the step would be {ceiling:.2f}x eager")))
    m_eager, m_fast, m_bf16 = (_model(msds, v) for v in ("eager", "fast", "fast-bf16"))
    share = m_fast["fraction_of_fp32_peak"]
    claims.append(Claim(
        claim=f"MSDS configuration, batch {m_fast['batch']}: the fp32 fast path reaches >= {MSDS_FP32_FRACTION:.0%} of "
              f"the same-shape fp32 GEMM rate",
        source=GOAL, source_value=f"{MSDS_FP32_FRACTION:.0%} of the measured fp32 GEMM peak",
        tolerance=f">= {MSDS_FP32_FRACTION:.0%}",
        ours=(f"{share:.0%} ({m_fast['gflop_s']:.0f} of {m_fast['gemm_peak_gflop_s_fp32']:.0f} GFLOP/s; eager "
              f"{m_eager['fraction_of_fp32_peak']:.0%}; {m_fast['images_per_s'] / m_eager['images_per_s']:.2f}x eager)"),
        **judged(share >= MSDS_FP32_FRACTION, _outside_gemms(m_fast))))
    bf16_gain = m_bf16["images_per_s"] / m_fast["images_per_s"]
    claims.append(Claim(
        claim="MSDS configuration: bf16 GEMMs train faster than the fp32 fast path",
        source=GOAL, source_value="more than the fp32 path, where bf16's accuracy holds", tolerance="> 1x",
        ours=(f"{bf16_gain:.2f}x the fp32 fast path ({m_bf16['images_per_s']:.1f} vs {m_fast['images_per_s']:.1f} "
              f"images/s; {m_bf16['fraction_of_bf16_peak']:.0%} of the bf16 GEMM rate)"),
        **judged(bf16_gain > 1, f"bf16 is {bf16_gain:.2f}x: " + _outside_gemms(m_bf16))))
    paths = training_paths(training)
    ref = paths["reference"]
    floor = ref.std(ddof=1)   # eager runs whose initial weights differ by one ulp: rounding alone
    for name, tol in BPD_TOLERANCE.items():
        bpd = paths[name]
        shift = bpd.mean() - ref.mean()
        se = math.sqrt(bpd.var(ddof=1) / bpd.size + ref.var(ddof=1) / ref.size)
        # Welch's t-test: with 3 runs a side, 2 standard errors is far from a 5% test.
        if se > 0:
            p = float(ttest_ind(bpd, ref, equal_var=False).pvalue)
        else:
            p = 1.0 if shift == 0 else 0.0
        steps = training["results"][0]["steps"]
        claims.append(Claim(
            claim=f"{steps} training steps on the {name} path reach the eager path's held-out bits/dim",
            source=GOAL, source_value=f"within {tol} bpd", tolerance=f"|mean shift| <= {tol}; beyond it but not "
                                                                      f"resolved from 0 (Welch's t, p >= 0.05) is partly",
            ours=(f"{bpd.mean():.4f} vs {ref.mean():.4f}: shift {shift:+.4f} +- {se:.4f} (means of {bpd.size} and "
                  f"{ref.size} runs one ulp apart; the eager runs' own sd {floor:.4f})"),
            **judged(abs(shift) <= tol,
                     f"shift {shift:+.4f} +- {se:.4f} bpd (Welch's t, p = {p:.2g}): "
                     + (f"not resolved from zero, while eager runs one ulp apart scatter by sd {floor:.4f}: rounding "
                        f"differently at every step carries a run further than the tolerance"
                        if p >= 0.05 else "a systematic shift"),
                     partly=p >= 0.05)))
    return claims


def training_paths(training: dict) -> dict[str, np.ndarray]:
    """Held-out bpd at the end of each run of a flow_training record, grouped by path (``backend``);
    each of ``reference`` and the paths in BPD_TOLERANCE needs >= 2 runs (replicates one ulp apart)."""
    paths = {}
    for r in training["results"]:
        paths.setdefault(r["backend"], []).append(r["held_out_bpd"])
    for name in ("reference", *BPD_TOLERANCE):
        if len(paths.get(name, ())) < 2:
            raise ValueError(f"the flow_training record has {len(paths.get(name, ()))} {name!r} run(s); a spread needs "
                             f">= 2 (benchmarks/flow_training.py --replicates 3)")
    return {name: np.asarray(v, dtype=float) for name, v in paths.items()}


def roofline_figure(records: dict):
    """Achieved GFLOP/s of each variant's training step beside the same-shape plain-GEMM rates (fp32 and
    bf16), one panel per configuration: ``records`` maps a panel title to an rg_coupling record."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(records), figsize=(5.4 * len(records), 3.9), squeeze=False)
    for ax, (title, record) in zip(axes[0], records.items()):
        rows = [r for r in record["results"] if "median_s" in r and r["scope"] == "model"]
        x = np.arange(len(rows))
        ax.bar(x, [r["gflop_s"] for r in rows], 0.6, color=["#9a9a9a" if r["variant"] == "eager" else "#3a76b0"
                                                           for r in rows])
        for i, r in enumerate(rows):
            ax.text(i, r["gflop_s"], f"{r['images_per_s']:.1f} img/s", ha="center", va="bottom", fontsize=8)
        for key, label, style in (("gemm_peak_gflop_s_fp32", "same GEMMs, plain fp32 mm", "--"),
                                  ("gemm_peak_gflop_s_bf16", "same GEMMs, plain bf16 mm", ":")):
            ax.axhline(np.median([r[key] for r in rows]), color="#b03a3a", ls=style, lw=1.4, label=label)
        ax.set_xticks(x, [r["variant"] for r in rows])
        ax.set(ylabel="GEMM GFLOP/s achieved in a training step",
               title=f"{title}, batch {rows[0]['batch']}, {record['provenance']['threads']} threads")
        ax.set_ylim(0, 1.3 * max(max(r["gemm_peak_gflop_s_bf16"] for r in rows), max(r["gflop_s"] for r in rows)))
        ax.legend(fontsize=8, loc="upper left", ncol=2)
    return fig   # laid out by the book style's constrained layout
