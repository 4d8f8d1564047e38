"""rglt.flow.speed judges issue 14's goals from benchmark records: each claim turns when its number
crosses the goal (hand-made records, the verdict worked out by hand)."""
import math

import pytest

from rglt.flow.speed import roofline_figure, speed_claims, speed_rows


def step(variant, images_per_s, fp32_fraction, bf16_fraction, batch=64):
    median = batch / images_per_s
    return dict(config="c", scope="model", variant=variant, batch=batch, images_per_s=images_per_s, median_s=median,
                gflop_s=100.0, gemm_peak_gflop_s_fp32=200.0, gemm_peak_gflop_s_bf16=800.0,
                fraction_of_fp32_peak=fp32_fraction, fraction_of_bf16_peak=bf16_fraction, first_step_s=30.0)


def record(*rows):
    return dict(results=list(rows), provenance=dict(threads=2))


def training(fast_diff, bf16_diff, scatter=0.003):
    """Three runs per path at mean 4.0 + shift, spread -scatter, 0, +scatter (sd = scatter)."""
    runs = [(path, shift + e) for path, shift in (("reference", 0.0), ("fast", fast_diff), ("fast-bf16", bf16_diff))
            for e in (-scatter, 0.0, scatter)]
    return dict(results=[dict(name=f"{b}+ulp{k % 3}", backend=b, steps=400, held_out_bpd=4.0 + d,
                              reference_held_out_bpd=4.0 + d, history=dict(step=[0, 400], held_out_bpd=[9.5, 4.0 + d]))
                         for k, (b, d) in enumerate(runs)])


def verdicts(cpu_fast=100.0, cpu_bf16=120.0, msds_fraction=0.72, msds_bf16=8.0, fast_diff=0.004, bf16_diff=0.015):
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", cpu_fast, 0.5, 0.1), step("fast-bf16", cpu_bf16, 0.6, 0.2))
    msds = record(step("eager", 5.0, 0.6, 0.15, 16), step("fast", 6.0, msds_fraction, 0.2, 16),
                  step("fast-bf16", msds_bf16, 0.9, 0.4, 16))
    return [c.verdict for c in speed_claims(cpu, msds, training(fast_diff, bf16_diff))]


def test_every_goal_met():
    assert verdicts() == ["reproduced"] * 5


@pytest.mark.parametrize("change, index", [
    (dict(cpu_fast=90.0, cpu_bf16=99.0), 0),     # best 99 / 40 = 2.475x < 2.5x
    (dict(msds_fraction=0.69), 1),
    (dict(msds_bf16=5.9), 2),                    # bf16 slower than the fp32 fast path (6.0)
    (dict(fast_diff=-0.011), 3),
    (dict(bf16_diff=0.021), 4),
])
def test_each_goal_turns(change, index):
    got = verdicts(**change)
    assert got[index] == "not" and got.count("reproduced") == 4


def test_the_cpu_claim_takes_the_faster_variant_and_states_the_ceiling():
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1), step("fast-bf16", 80.0, 0.6, 0.2))
    msds = record(*(step(v, 6.0, 0.8, 0.3, 16) for v in ("eager", "fast", "fast-bf16")))
    claim = speed_claims(cpu, msds, training(0.0, 0.0))[0]
    assert claim.ours.startswith("2.50x with fast ")
    assert claim.verdict == "reproduced"
    cpu["results"][1]["images_per_s"] = 90.0
    cpu["results"][1]["median_s"] = 64 / 90.0
    claim = speed_claims(cpu, msds, training(0.0, 0.0))[0]
    # fast: 50% of its step outside the GEMMs; GEMMs alone: eager 1.6 s / (0.711 s * 0.5) = 4.5x
    assert claim.verdict == "not" and "50% of the step is outside the GEMMs" in claim.reason and "4.50x" in claim.reason


def test_missing_results_are_named():
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1))
    with pytest.raises(ValueError, match="'fast-bf16'"):
        speed_claims(cpu, cpu, training(0.0, 0.0))
    full = record(*(step(v, 50.0, 0.5, 0.1) for v in ("eager", "fast", "fast-bf16")))
    runs = training(0.0, 0.0)
    fast = [r for r in runs["results"] if r["backend"] == "fast"]
    runs["results"] = [r for r in runs["results"] if r["backend"] != "fast"] + fast[:1]   # one fast run left
    with pytest.raises(ValueError, match="1 'fast' run\\(s\\); a spread needs >= 2"):
        speed_claims(full, full, runs)


def _welch_p_three_a_side(t):
    """Two-sided p of Student's t with 4 degrees of freedom, in closed form: Welch's test of two groups of 3
    runs with equal spread has df = 4, and F(t) = 1/2 + 3/4 u (1 - u^2 / 3), u = t / sqrt(t^2 + 4)."""
    u = abs(t) / math.sqrt(t * t + 4)
    return 2 * (0.5 - 0.75 * u * (1 - u * u / 3))


def test_a_shift_not_resolved_by_welchs_test_is_partly_and_a_resolved_one_is_not():
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1), step("fast-bf16", 120.0, 0.6, 0.2))
    # sd 0.04 over 3 runs per path: the standard error of a shift is 0.04 * sqrt(2 / 3) = 0.0327
    se = 0.04 * math.sqrt(2 / 3)
    for shift in (0.05, 2.5 * se):              # 2.5 standard errors is still p > 0.05 with 3 runs a side
        claims = speed_claims(cpu, cpu, training(shift, 0.0, scatter=0.04))
        assert claims[3].verdict == "partly"
        p = _welch_p_three_a_side(shift / se)
        assert p > 0.05 and f"p = {p:.2g}" in claims[3].reason and "scatter by sd 0.0400" in claims[3].reason
    assert "shift +0.0500 +- 0.0327" in speed_claims(cpu, cpu, training(0.05, 0.0, scatter=0.04))[3].reason
    claims = speed_claims(cpu, cpu, training(0.07, 0.0, scatter=0.01))   # t = 8.6
    p = _welch_p_three_a_side(0.07 / (0.01 * math.sqrt(2 / 3)))
    assert claims[3].verdict == "not" and f"p = {p:.2g}): a systematic shift" in claims[3].reason


def test_rows_and_figure():
    rec = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1))
    rows = speed_rows(rec)
    assert [r[4] for r in rows] == ["1.00x", "2.50x"]
    # compile: 30 s first step less a 0.64 s warm step, repaid at 1.6 - 0.64 s per step: 30.6 -> 31 steps
    assert [r[-1] for r in rows] == ["-", "31"]
    fig = roofline_figure({"c": rec})
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2
