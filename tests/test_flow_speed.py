"""rglt.flow.speed judges issue 14's goals from benchmark records: each claim turns when its number
crosses the goal by more than one run can tell (hand-made records, the verdict worked out by hand)."""
import math

import pytest

from rglt.flow.speed import RUN_TO_RUN, one_run, roofline_figure, speed_claims, speed_rows, time_ratio
from rglt.stats import Interval


def step(variant, images_per_s, fp32_fraction, bf16_fraction, batch=64):
    median = batch / images_per_s
    return dict(config="c", scope="model", variant=variant, batch=batch, images_per_s=images_per_s, median_s=median,
                times_s=[median * (1 + d) for d in (-0.01, -0.005, 0.0, 0.005, 0.01)],
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


def verdicts(cpu_fast=100.0, cpu_bf16=140.0, msds_fraction=0.9, msds_bf16=8.0, fast_diff=0.004, bf16_diff=0.01):
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", cpu_fast, 0.5, 0.1), step("fast-bf16", cpu_bf16, 0.6, 0.2))
    msds = record(step("eager", 5.0, 0.6, 0.15, 16), step("fast", 6.0, msds_fraction, 0.2, 16),
                  step("fast-bf16", msds_bf16, 0.9, 0.4, 16))
    return [c.verdict for c in speed_claims(cpu, msds, training(fast_diff, bf16_diff))]


def test_every_goal_met():
    assert verdicts() == ["reproduced"] * 5


@pytest.mark.parametrize("change, index", [
    (dict(cpu_fast=60.0, cpu_bf16=70.0), 0),     # best 70 / 40 = 1.75x: 2.2x at most with one run's drift
    (dict(msds_fraction=0.5), 1),
    (dict(msds_bf16=4.0), 2),                    # bf16 at 0.67x the fp32 fast path (6.0)
    (dict(fast_diff=-0.03), 3),                  # 90% interval -0.030 +- 0.005, beyond -0.01
    (dict(bf16_diff=0.03), 4),
])
def test_each_goal_turns(change, index):
    got = verdicts(**change)
    assert got[index] == "not" and got.count("reproduced") == 4


@pytest.mark.parametrize("change, index", [
    (dict(cpu_fast=90.0, cpu_bf16=105.0), 0),    # 2.6x: past 2.5x, but one run may drift by 1.25x
    (dict(msds_fraction=0.75), 1),
    (dict(msds_bf16=6.6), 2),                    # 1.1x
    (dict(fast_diff=0.007), 3),                  # 90% interval 0.007 +- 0.005 reaches past 0.01
    (dict(bf16_diff=0.017), 4),
])
def test_a_goal_met_by_less_than_one_run_can_tell_is_inconclusive(change, index):
    got = verdicts(**change)
    assert got[index] == "inconclusive" and got.count("reproduced") == 4


def test_the_cpu_claim_takes_the_faster_variant_and_states_the_ceiling():
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1), step("fast-bf16", 80.0, 0.6, 0.2))
    msds = record(*(step(v, 6.0, 0.8, 0.3, 16) for v in ("eager", "fast", "fast-bf16")))
    claim = speed_claims(cpu, msds, training(0.0, 0.0))[0]
    assert claim.ours.startswith("2.50x with fast ")
    assert claim.verdict == "inconclusive"          # exactly at the goal: one run cannot tell
    # fast: 50% of its step outside the GEMMs; GEMMs alone: eager 1.6 s / (0.64 s * 0.5) = 5x
    assert "50% of its step is outside the GEMMs" in claim.ours and "5.00x eager" in claim.ours


def test_missing_results_are_named():
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1))
    with pytest.raises(ValueError, match="'fast-bf16'"):
        speed_claims(cpu, cpu, training(0.0, 0.0))
    full = record(*(step(v, 50.0, 0.5, 0.1) for v in ("eager", "fast", "fast-bf16")))
    msds = record(*(step(v, 50.0, 0.5, 0.1, 16) for v in ("eager", "fast", "fast-bf16")))
    with pytest.raises(ValueError, match="set at batch 16; the record's is 64"):
        speed_claims(full, full, training(0.0, 0.0))
    runs = training(0.0, 0.0)
    fast = [r for r in runs["results"] if r["backend"] == "fast"]
    runs["results"] = [r for r in runs["results"] if r["backend"] != "fast"] + fast[:1]   # one fast run left
    with pytest.raises(ValueError, match="1 'fast' run\\(s\\); a spread needs >= 2"):
        speed_claims(full, msds, runs)


def test_one_run_combines_the_repeats_with_the_drift_between_runs():
    single = one_run(2.0)
    assert (single.low, single.high, single.n) == pytest.approx((2.0 / RUN_TO_RUN, 2.0 * RUN_TO_RUN, 1))
    repeats = one_run(Interval(2.0, 1.8, 2.2, 5, 0.1, "t"))
    down, up = math.log(2.0 / 1.8), math.log(2.2 / 2.0)
    assert repeats.low == pytest.approx(2.0 * math.exp(-math.hypot(down, math.log(RUN_TO_RUN))))
    assert repeats.high == pytest.approx(2.0 * math.exp(math.hypot(up, math.log(RUN_TO_RUN))))
    with pytest.raises(ValueError, match="positive"):
        one_run(Interval(0.1, -0.1, 0.3, 3, 0.1, "t"))


def test_time_ratio_is_the_ratio_of_geometric_means():
    ratio = time_ratio([2.0, 2.0, 2.0 * 1.01], [1.0, 1.01, 1.0])
    assert ratio.mean == pytest.approx(2.0)
    assert ratio.low < 2.0 < ratio.high


def _welch_p_three_a_side(t):
    """Two-sided p of Student's t with 4 degrees of freedom, in closed form: Welch's test of two groups of 3
    runs with equal spread has df = 4, and F(t) = 1/2 + 3/4 u (1 - u^2 / 3), u = t / sqrt(t^2 + 4)."""
    u = abs(t) / math.sqrt(t * t + 4)
    return 2 * (0.5 - 0.75 * u * (1 - u * u / 3))


def test_the_shift_rows_show_the_rule_as_registered_and_the_welch_reading_of_the_records_commit():
    """Equivalence now (the 90% Welch interval inside the tolerance); the rule as registered (the point
    estimate, partly within 2 standard errors of zero) beside it; Welch's p of the record's commit in ours."""
    cpu = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1), step("fast-bf16", 140.0, 0.6, 0.2))
    msds = record(*(step(v, 6.0, 0.8, 0.3, 16) for v in ("eager", "fast", "fast-bf16")))
    # sd 0.04 over 3 runs per path: the standard error of a shift is 0.04 * sqrt(2 / 3) = 0.0327
    se = 0.04 * math.sqrt(2 / 3)
    # 1.5 standard errors: the 90% interval (+- 2.13 se) straddles 0.01; 2.5: it lies beyond it
    for shift, now, registered in ((0.05, "inconclusive", "partly"), (2.5 * se, "not", "not")):
        row = speed_claims(cpu, msds, training(shift, 0.0, scatter=0.04))[3]
        assert row.verdict == now
        assert "under the rule as registered" in row.registered and f"): {registered} (" in row.registered
        p = _welch_p_three_a_side(shift / se)     # 2.5 standard errors is still p > 0.05 with 3 runs a side
        assert p > 0.05 and f"Welch's t p = {p:.2g} (the rule of the record's commit: partly)" in row.ours
        assert "the eager runs' own sd 0.0400" in row.ours
    assert "shift +0.0500 +- 0.0327" in speed_claims(cpu, msds, training(0.05, 0.0, scatter=0.04))[3].ours
    row = speed_claims(cpu, msds, training(0.07, 0.0, scatter=0.01))[3]   # t = 8.6
    p = _welch_p_three_a_side(0.07 / (0.01 * math.sqrt(2 / 3)))
    assert row.verdict == "not" and "): not (" in row.registered
    assert f"p = {p:.2g} (the rule of the record's commit: not)" in row.ours
    inside = speed_claims(cpu, msds, training(0.0, 0.008, scatter=0.01))[4]   # bf16: 0.008 +- 0.017 (90%)
    assert inside.verdict == "inconclusive" and "): reproduced. Changed:" in inside.registered


def test_rows_and_figure():
    rec = record(step("eager", 40.0, 0.2, 0.05), step("fast", 100.0, 0.5, 0.1))
    rows = speed_rows(rec)
    assert [r[4] for r in rows] == ["1.00x", "2.50x"]
    # compile: 30 s first step less a 0.64 s warm step, repaid at 1.6 - 0.64 s per step: 30.6 -> 31 steps
    assert [r[-1] for r in rows] == ["-", "31"]
    fig = roofline_figure({"c": rec})
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2
