"""scripts/gpu_check.py, the GPU check, known to work before a GPU is seen: its dry run (every part at tiny
sizes on the CPU, Triton interpreted) writes every record with its provenance and the keys the summary
and chapter 6 read; the checks it applies can fail."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rglt import benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import flow_training  # noqa: E402
import gpu_check  # noqa: E402

PROVENANCE = ("git_commit", "git_dirty", "torch", "triton", "device", "device_kind", "threads", "date")


@pytest.mark.slow
def test_the_dry_run_writes_every_record_with_provenance(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--dry-run", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "== summary" in proc.stdout
    records = {p.stem: benchmark.load_record(p) for p in tmp_path.glob("*.json")}
    assert sorted(records) == sorted(f"{name}-cpu" for name in [*gpu_check.BUDGET_S, "gpu_check"])
    for name, record in records.items():
        assert all(record.provenance.get(key) is not None for key in PROVENANCE), name
        assert record.provenance["device_kind"] == "cpu" and record.provenance["git_commit"] != "unknown"

    summary = records["gpu_check-cpu"]
    assert summary["dry_run"] and summary["ok"]
    assert [p["part"] for p in summary["results"]] == list(gpu_check.BUDGET_S)
    assert all(p["ok"] and p["status"] == 0 and p["record"] and p["summary"] for p in summary["results"])

    tests = records["kernel_tests-cpu"]
    assert (tests["passed"], tests["failed"], tests["error"]) == (4, 0, 0)   # DRY_TESTS: one a file + gradcheck
    assert any("gradcheck" in case["test"] for case in tests["results"])

    topk = records["masked_topk-cpu"]["results"]
    assert [r["method"] for r in topk] == gpu_check.DRY_METHODS
    for r in topk:
        assert r["median_s"] > 0 and r["gb_per_s"] > 0 and r["stream_s"] > 0 and 0 < r["fraction_of_stream"]
        assert r["peak_extra_mb"] >= 0 and r["hbm_gb_s"] is None   # no nominal bandwidth on the CPU

    coupling = {r["variant"]: r for r in records["rg_coupling-cpu"]["results"]}
    assert set(coupling) == {"eager", "triton", "compile"}
    for variant in ("eager", "triton"):
        r = coupling[variant]
        assert r["images_per_s"] > 0 and r["gflop_s"] > 0 and r["fraction_of_fp32_peak"] > 0 and r["batch"] == 4
    assert coupling["compile"]["error"].startswith("CompileTimeout")   # the dry run's 1 s limit stopped it

    flow = records["flow_training-cpu"]
    (run,) = flow["results"]
    assert run["backend"] == "triton" and run["device"] == "cpu" and len(run["history"]["train_bpd"]) == 4
    check = flow["first_steps"]
    assert check["ok"] and check["reference"]["backend"] == "reference" and check["reference"]["steps"] == 2
    assert len(check["runs"]) == 1 and len(check["runs"][0]["train_bpd_diffs"]) == 2

    imp = records["imp-cpu"]
    assert [(r["device"], r["backend"]) for r in imp["results"]] == [("cpu", "triton"), ("cpu", "reference")]
    (c,) = imp["check"]
    assert c["ok"] and c["kept_per_level"][1][0] == c["kept_per_level"][1][1] < c["kept_per_level"][0][0]


def test_a_dry_run_never_writes_into_benchmarks_results(monkeypatch):
    for name, value in (("RGLT_PROGRESS", "0"), ("OMP_NUM_THREADS", "1"), ("TRITON_INTERPRET", "1")):
        monkeypatch.setenv(name, value)   # what main sets, restored afterwards
    with pytest.raises(SystemExit):
        gpu_check.main(["--dry-run", "--out", str(ROOT / "benchmarks" / "results")])


def test_the_checks_fail_on_a_failed_kernel_or_a_drift():
    ok = dict(method="masked_topk/triton", median_s=0.1)
    assert gpu_check._checks("masked_topk", dict(results=[ok, dict(method="torch.kthvalue", error="out of time")]))
    assert not gpu_check._checks("masked_topk", dict(results=[ok, dict(method="masked_topk/triton+masks", error="x")]))
    assert not gpu_check._checks("rg_coupling", dict(results=[dict(variant="compile", median_s=0.1)]))

    def run(train_bpd, **fields):   # a flow_training row recorded every step; step 0 has no training bpd
        return dict(history=dict(held_out_bpd=[9.0], train_bpd=[float("nan"), *train_bpd]), **fields)

    reference = run([9.0, 8.9])
    device = dict(name="triton", backend="triton", device="cuda", replicate=0)
    assert flow_training.first_steps([run([9.0, 8.9], **device)], reference, 2)["ok"]
    drifted = run([9.0, 8.9 + 2 * flow_training.STEPS_TOLERANCE], **device)
    assert not flow_training.first_steps([drifted], reference, 2)["ok"]
    assert not flow_training.first_steps([], reference, 2)["ok"]   # nothing compared is not a pass
