"""Chapter 6's claims (issue 28): the book's own goals as rules, judged from the benchmark records, which
carry their rules like any committed result; the checks the issue names can fail (the bf16 row by
equivalence, a speed row on one run per variant)."""
import copy
import dataclasses

import numpy as np
import pytest

from rglt import benchmark, claims
from rglt.experiments import _kernels, chapter_claims
from rglt.flow import speed


@pytest.fixture(scope="module")
def records():
    return {name: copy.deepcopy({"results": rec["results"], **rec.data}) for name, rec in _kernels.records().items()}


def test_one_row_per_rule_in_the_chapters_order():
    rows = _kernels.claims()
    assert [c.rule for c in rows] == [r.id for r in claims.check_rules(_kernels.rules())]
    assert all(c.verdict in claims.VERDICTS and c.source.startswith(claims.BOOK_SOURCE) for c in rows)
    assert [c.rule for c in chapter_claims(6)] == [c.rule for c in rows]
    assert sorted(r.id for rules in _kernels.RECORD_RULES.values() for r in rules) == sorted(r.id for r in _kernels.rules())


def test_the_stored_verdicts():
    got = {c.rule: c.verdict for c in _kernels.claims()}
    assert got == {"topk-speed": "reproduced", "topk-memory": "reproduced", "cpu-speedup": "not",
                   "msds-fp32-share": "not", "msds-bf16-faster": "reproduced", "bpd-fast": "inconclusive",
                   "bpd-fast-bf16": "inconclusive",
                   **{f"imp-{row}-{m}": "inconclusive" for m in ("resnet20", "vgg16")
                      for row in ("runner", "fast", "fast-bf16")},
                   **{f"imp-faithful-{row}-{m}": "reproduced" for m in ("resnet20", "vgg16")
                      for row in ("accuracy", "masks")},
                   "imp-faithful-accuracy-bf16-resnet20": "reproduced", "imp-faithful-masks-bf16-resnet20": "reproduced",
                   "imp-faithful-accuracy-bf16-vgg16": "inconclusive", "imp-faithful-masks-bf16-vgg16": "inconclusive"}


# ---- pre-registration: the records carry the rules they are judged by -----------------------------

@pytest.mark.parametrize("name", list(_kernels.RECORD_RULES))
def test_a_record_carries_its_rules_and_the_code_says_what_changed(name):
    prov = benchmark.load_record(name).provenance
    assert "rules" in prov and "rules_hash" in prov, f"{name}: no registered rules (_kernels.register_records)"
    assert claims.rules_hash(prov["rules"]) == prov["rules_hash"], "the stored rules do not match their hash"
    # registered by register_records after an old record, or written by the script that made the record
    assert "after the record" in prov.get("rules_registered", "after the record")
    problems = claims.registration_problems(_kernels.RECORD_RULES[name], prov["rules"])
    assert not problems, "\n".join(problems)


def test_a_rule_changed_without_its_registered_version_is_caught():
    stored = benchmark.load_record("imp-cpu").provenance["rules"]
    lowered = lambda r: dataclasses.replace(r, low=1.5) if r.id.startswith("imp-runner") else r  # noqa: E731
    moved = [lowered(r) for r in _kernels.RECORD_RULES["imp-cpu"]]
    assert any("differs from the registered one (low)" in p for p in claims.registration_problems(moved, stored))
    kept = [dataclasses.replace(lowered(r), registered=r, change="the goal lowered to 1.5x") if r.id.startswith(
        "imp-runner") else r for r in _kernels.RECORD_RULES["imp-cpu"]]
    assert claims.registration_problems(kept, stored) == []


def test_the_shift_rules_keep_the_rule_registered_before_their_record():
    """The bpd rows changed rules in the commit that brought their record (Welch's t for 2 standard
    errors), and again here (equivalence): the stored rule is the one registered before the record."""
    stored = {r["id"]: r for r in benchmark.load_record("flow_training-cpu").provenance["rules"]}
    for rule in _kernels.RECORD_RULES["flow_training-cpu"]:
        assert rule.registered is not None and "239519a" in rule.change and "7552781" in rule.change
        assert stored[rule.id] == rule.registered.record() != rule.record()


def test_registering_a_record_twice_changes_nothing(tmp_path):
    path = tmp_path / "masked_topk-cpu.json"
    original = benchmark.load_record("masked_topk-cpu")
    benchmark.write_record(path, original.data, {k: v for k, v in original.provenance.items() if not k.startswith("rules")})
    assert benchmark.register_rules(path, _kernels.RECORD_RULES["masked_topk-cpu"], "2026-12-06")
    first = path.read_text()
    assert not benchmark.register_rules(path, _kernels.RECORD_RULES["masked_topk-cpu"], "2026-12-07")
    assert path.read_text() == first
    again = benchmark.load_record(path)
    assert again.data == original.data and again.provenance == original.provenance


# ---- the checks can fail ---------------------------------------------------------------------------

def _bpd(training, name):
    return next(c for c in speed.bpd_claims(training) if c.rule == f"bpd-{name}")


def _set_runs(training, backend, values):
    runs = [r for r in training["results"] if r["backend"] == backend]
    for run, v in zip(runs, values, strict=True):
        run["held_out_bpd"] = v


def test_the_bf16_row_needs_its_interval_inside_the_tolerance(records):
    """The stored bf16 row: its shift (+0.013) lies within 0.02, which the rule as registered read as
    reproduced, but its 90% interval reaches -0.031 and +0.058: equivalence is not shown."""
    stored = _bpd(records["flow_training-cpu"], "fast-bf16")
    assert stored.verdict == "inconclusive" and "): reproduced. Changed:" in stored.registered
    training = copy.deepcopy(records["flow_training-cpu"])
    ref = np.array([r["held_out_bpd"] for r in training["results"] if r["backend"] == "reference"])
    _set_runs(training, "fast-bf16", ref + 0.015)           # the same spread as eager, shifted by 0.015
    row = _bpd(training, "fast-bf16")
    assert row.verdict == "inconclusive" and row.p > 0.05 and "): reproduced. Changed:" in row.registered
    _set_runs(training, "reference", [4.660, 4.661, 4.662])  # runs that agree to 0.001: equivalence shown
    _set_runs(training, "fast-bf16", [4.670, 4.671, 4.672])
    row = _bpd(training, "fast-bf16")
    assert row.verdict == "reproduced" and row.p < 0.05
    _set_runs(training, "fast-bf16", [4.690, 4.691, 4.692])  # 0.03 off, tightly: not
    assert _bpd(training, "fast-bf16").verdict == "not"


def _imp_with(records, model, ratio, variant="runner"):
    imp = copy.deepcopy(records["imp-cpu"])
    plain = next(r for r in imp["summary"] if r["model"] == model and r["variant"] == "plain")
    next(r for r in imp["summary"] if r["model"] == model and r["variant"] == variant)["levels_per_hour"] = \
        ratio * plain["levels_per_hour"]
    rule = "imp-runner" if variant == "runner" else "imp-fast"
    return next(c for c in _kernels.imp_claims(imp) if c.rule == f"{rule}-{model}")


@pytest.mark.parametrize("ratio, verdict", [(1.9, "inconclusive"), (2.2, "inconclusive"), (2.4, "reproduced"),
                                            (1.4, "not")])
def test_a_speed_row_on_one_run_per_variant_must_clear_the_drift_between_runs(records, ratio, verdict):
    """One wall-clock run per variant, no spread: 1.9x against a 1.8x goal is not reproduced, since a
    run may move by 1.25x either way; only 1.8 x 1.25 = 2.25x and beyond is."""
    row = _imp_with(records, "resnet20", ratio)
    assert row.verdict == verdict
    if verdict == "inconclusive":
        assert "straddles the boundary 1.8" in row.reason and "n = 1" in row.reason


def test_the_fast_path_must_clear_three_times_the_plain_loop_by_the_drift(records):
    assert _imp_with(records, "vgg16", 2.3, "runner-fast").verdict == "not"   # below 3 / 1.25
    assert _imp_with(records, "vgg16", 3.5, "runner-fast").verdict == "inconclusive"
    assert _imp_with(records, "vgg16", 3.8, "runner-fast").verdict == "reproduced"


def _faithful(records, model, shift=0.0, overlap_shift=0.0, gap=None):
    imp = copy.deepcopy(records["imp-cpu"])
    row = next(r for r in imp["faithfulness"] if r["model"] == model and r["variant"] == "runner-fast")
    row["accuracy_fast"] = [a + shift for a in row["accuracy_eager"]]
    row["accuracy_fast"][0] += 0.05   # a little spread
    overlap = row["kept_overlap"]
    overlap["fast_eager"] = [j + overlap_shift for j in overlap["reorder_eager"]]
    overlap["fast_eager"][0] += 0.002
    if gap is not None:
        row["layer_density"]["largest_gap_in_spreads"] = gap
    return {c.rule.rsplit("-", 1)[0]: c for c in _kernels.imp_claims(imp)
            if c.rule in (f"imp-faithful-accuracy-{model}", f"imp-faithful-masks-{model}")}


def test_the_faithfulness_rows_fail_when_the_fast_path_moves_the_tickets(records):
    rows = _faithful(records, "resnet20", shift=0.0, overlap_shift=0.05, gap=0.5)
    assert rows["imp-faithful-accuracy"].verdict == "reproduced" and rows["imp-faithful-masks"].verdict == "reproduced"
    assert "under the rule as registered" in rows["imp-faithful-masks"].registered   # both rules shown
    assert "): reproduced" in rows["imp-faithful-masks"].registered
    # a point lower; the tickets further from eager than SGD's own noise moves them; densities two spreads off
    rows = _faithful(records, "resnet20", shift=-1.0, overlap_shift=-0.05, gap=2.0)
    assert rows["imp-faithful-accuracy"].verdict == "not" and rows["imp-faithful-masks"].verdict == "not"
    assert "): not" in rows["imp-faithful-masks"].registered


def test_the_memory_row_on_one_measurement_must_clear_the_drift_too(records):
    masked = copy.deepcopy(records["masked_topk-cpu"])
    r40 = next(r for r in masked["results"] if r["n"] == 2e7 and r["tensors"] == 40 and r["method"] == "masked_topk/reference")
    r400 = next(r for r in masked["results"] if r["n"] == 2e7 and r["tensors"] == 400 and r["method"] == "masked_topk/reference")
    r400["peak_extra_mb"] = 1.05 * r40["peak_extra_mb"]       # under 1.1x, but not by one run's drift
    assert _kernels.topk_claims(masked)[1].verdict == "inconclusive"
    r400["peak_extra_mb"] = 1.5 * r40["peak_extra_mb"]
    assert _kernels.topk_claims(masked)[1].verdict == "not"


def test_the_topk_speed_row_uses_the_repeated_timings(records):
    masked = copy.deepcopy(records["masked_topk-cpu"])
    ref = next(r for r in masked["results"] if r["n"] == 2e7 and r["tensors"] == 40 and r["method"] == "masked_topk/reference")
    row = _kernels.topk_claims(masked)[0]
    assert row.verdict == "reproduced" and "over 3 repeats inside one run" in row.ours
    ref["times_s"] = [0.11, 0.25, 0.30]                        # 8.9x to 20x over the repeats: not shown
    assert _kernels.topk_claims(masked)[0].verdict == "inconclusive"
