"""The GPU check: every kernel on CUDA, checked and timed against its peers, in under 8 minutes on one H100.

A GPU is lent for minutes, so everything is prepared here and runs in one go (``bash scripts/gpu-check.sh``
from a clean checkout), one part after the other, each a subprocess under a hard time limit (its budget),
each writing one record with provenance through rglt.benchmark to ``benchmarks/results/<name>-<kind>.json``
(kind: ``cuda-<device name>``, e.g. ``masked_topk-cuda-nvidia-h100-80gb-hbm3.json``), then a summary
(printed, and ``gpu_check-<kind>.json``). The parts reuse the benchmark scripts.

The budgets, enforced (each part is killed at its budget; masked_topk.py and rg_coupling.py stop starting
cases SCRIPT_SLACK_S before it, and record what they skipped), estimated for one H100, since no GPU was at
hand when this was written:

 part          budget  what                                           how the budget was estimated
 kernel_tests    80 s  the kernel tests on CUDA (pytest: masked top-k  55 tests; a cold Triton JIT compile per kernel
                       exact in every dtype with ties; the couplings   specialisation (~1 s, a few dozen), one CPU
                       against the reference; fp64 gradcheck)          torch.compile test (12 s on one core here)
 masked_topk    130 s  benchmarks/masked_topk.py: Triton (with and     20 fresh processes, ~3-4 s each to start torch
                       without masks) against global_unstructured,    and CUDA and run 3 do_bench rounds (>= 100 ms
                       torch.topk and torch.kthvalue at 1e6, 1e7, 1e8  or >= 8 calls each) below 1e9; at 1e9 Triton
                       and 1e9 weights in 40 tensors, with the share   makes ~4 passes over 4 GB (~6 ms a call at
                       of one streaming pass (and of nominal HBM)      3 TB/s), the peers 0.1-1 s a call (5-25 s a
                                                                       case); kthvalue, one thread block per slice in
                                                                       torch's CUDA kernel, comes last; <= 30 s a case
 rg_coupling    160 s  benchmarks/rg_coupling.py at batch 512: eager,  4 processes, MSDS first; its flow's step is
                       Triton and torch.compile, one RG layer and the  10.4 TFLOP (fp32 GEMMs at ~50 TFLOP/s plus the
                       whole flow, MSDS original and the cpu profile:  elementwise work: ~0.4 s), ~26 steps a variant
                       images/s and the GEMM rate                      (warm-up, memory step, 3 do_bench rounds of
                                                                       >= 8 calls): ~10 s a variant; the cpu profile's
                                                                       step 0.24 TFLOP; a cold compile (36 s for one
                                                                       tiny layer on a CPU core here, unknown on a
                                                                       GPU) stopped at 30 s and recorded as such
 flow_training   45 s  benchmarks/flow_training.py: 50 RG-Flow steps   ~10 ms a step on the GPU + a held-out
                       (cpu profile, Triton couplings) on CUDA, the    evaluation of 128 images after each; the
                       first 10 checked against the CPU eager run      reference ~1 s a step on one CPU thread; both
                                                                       processes side by side: ~25 s
 imp             45 s  benchmarks/imp.py: a 2-level IMP run (1D        32 steps a level at batch 128 (~1.2 s an
                       ResNet-20, width 16, MNIST-1D, Triton masks)    epoch on one CPU thread here, less on the
                       on CUDA, then on the CPU; the rewind weights    GPU) + MNIST-1D generation (3 s) + start,
                       (first 7 steps) and kept counts compared        twice: ~25 s
 total          460 s  + this script's start and summary (~10 s): under 8 minutes even if every part runs out

Memory on one H100 (85.0e9 bytes = 79.2 GiB reported, about 78 GiB usable):
- masked top-k at 1e9 fp32 weights: 4.0 GB of weights (+1.0 GB of masks for ``+masks``) and the peak extra
  bytes per weight measured on the CPU at 2e7 (``PEAK_EXTRA_BYTES`` in benchmarks/masked_topk.py):
  Triton 1.1 (its new masks), torch.kthvalue 17, torch.topk 23, global_unstructured 44 (the
  concatenations, a float mask per tensor, |w|, topk's values and int64 indices). With the script's 1.25
  margin: Triton 6.4 GB, kthvalue 26, topk 34 and global_unstructured (4 + 44) x 1.25 = 60 GB: every peer
  fits. The script skips, and records, a case that would not (on a 40 GB GPU, global_unstructured at
  1e9). torch.sort (25 B a weight) would fit but is left out for time.
- the couplings at batch 512: the tensors saved for backward, counted with saved_tensors_hooks at
  batch 2 and 4 on the CPU (linear in the batch): cpu profile 1.9 GiB (one layer) and 5.0 GiB (the
  flow); MSDS original 25.4 GiB (one layer) and 68.2 GiB (the flow: 134.5 MiB an image + 0.9 GiB of
  normalised weights), plus 0.3 GiB of parameters and 0.3 of gradients: ~70 of 78 GiB, so its processes
  run with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True against fragmentation.
- training: the cpu-profile flow at batch 64 and a 94k-parameter ResNet: well under 1 GiB.

``--dry-run``: the same parts at tiny sizes on the CPU under TRITON_INTERPRET=1 (set here, before anything
imports Triton), the records in a temporary directory (or ``--out``), never in benchmarks/results/; it
proves the plumbing, not the numbers (tests/test_gpu_check.py runs it). Its compile variant is given a
1 s limit, so that the limit's path runs (a CPU compile takes minutes) and is recorded as its error.
Exit status 0 when every part wrote its record and every check passed.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
TEST_FILES = ["tests/test_masked_topk.py", "tests/test_rg_coupling.py", "tests/test_flow_backend.py"]
# The dry run's: one case of each file's Triton-against-reference test, and the fp64 gradcheck.
DRY_TESTS = "(equals_reference and (global-dtype0 or 8-0-False or k2-size4)) or gradcheck_triton"
TOPK_METHODS = ["masked_topk/triton", "masked_topk/triton+masks", "prune.global_unstructured", "torch.topk",
                "torch.kthvalue"]   # kthvalue last: the slowest at 1e9 spends what is left
DRY_METHODS = TOPK_METHODS[1:3] + TOPK_METHODS[4:]   # each code path once (topk and kthvalue share one)
BUDGET_S = {"kernel_tests": 80, "masked_topk": 130, "rg_coupling": 160, "flow_training": 45, "imp": 45}
SCRIPT_SLACK_S = 10   # of a part's budget, for its script's own start and record (the rest: --budget)
# The code a record depends on, for its provenance's git_dirty (the records written meanwhile excepted).
CODE = ("rglt", "kernels", "benchmarks", "scripts", "tests", ":!benchmarks/results")


def commands(out: Path, kind: str, dry: bool) -> dict[str, list[str]]:
    """Each benchmark part's command line (its record: ``out/<part>-<kind>.json``), at GPU or dry-run sizes."""
    path = lambda part: str(out / f"{part}-{kind}.json")  # noqa: E731
    budget = lambda part: str(BUDGET_S[part] - SCRIPT_SLACK_S)  # noqa: E731
    py = [sys.executable]
    gpu = not dry
    return {
        "masked_topk": py + [str(BENCH / "masked_topk.py"), "--tensors", "40" if gpu else "8", "--extra",
                             "--sizes", *(["1e6", "1e7", "1e8", "1e9"] if gpu else ["1e4"]),
                             "--repeats", "3" if gpu else "1", "--methods", *(TOPK_METHODS if gpu else DRY_METHODS),
                             "--budget", budget("masked_topk"), "--case-timeout", "30", "--out", path("masked_topk")]
                            + ([] if gpu else ["--threads", "1"]),
        "rg_coupling": py + [str(BENCH / "rg_coupling.py"), "--device", "cuda" if gpu else "cpu",
                             "--configs", *(["msds-original", "cpu-profile"] if gpu else ["cpu-profile"]),
                             "--scopes", *(["layer", "model"] if gpu else ["layer"]),
                             "--variants", "eager", "triton", "compile", "--compile-timeout", "30" if gpu else "1",
                             "--budget", budget("rg_coupling"), "--output", path("rg_coupling")]
                            + (["--batch", "512", "--repeats", "3", "--warmup", "2"] if gpu
                               else ["--quick", "--threads", "1"]),
        "flow_training": py + [str(BENCH / "flow_training.py"), "--device", "cuda" if gpu else "cpu",
                               "--paths", "triton", "--replicates", "1", "--output", path("flow_training")]
                              + (["--steps", "50", "--check-steps", "10", "--train", "3200", "--held-out", "128"] if gpu
                                 else ["--steps", "3", "--check-steps", "2", "--batch", "8", "--train", "16",
                                       "--held-out", "8", "--quick"]),
        "imp": py + [str(BENCH / "imp.py"), "--models", "resnet20", "--width", "16" if gpu else "4",
                     "--replicates", "1", "--levels", "2", "--epochs", "1", "--rounds", "1", "--variants", "imp",
                     "--device", "cuda" if gpu else "cpu", "--check", "--out", path("imp")],
    }


def _stamp(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def run(cmd: list[str], timeout: float, env: dict | None = None) -> tuple[int | str, float]:
    """Run ``cmd`` (its output to ours) in its own process group, killed whole past ``timeout``:
    (exit status or "timed out", seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, **(env or {})), start_new_session=True)
    try:
        status = proc.wait(timeout=timeout)
    except BaseException as e:   # past its time, or interrupted: the script and its case processes go too
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if not isinstance(e, subprocess.TimeoutExpired):
            raise
        status = f"timed out after {timeout:g} s"
    return status, time.monotonic() - start


def kernel_tests(record: Path, device: str, dry: bool, timeout: float) -> int | str:
    """The kernel tests under pytest, their outcomes from its JUnit XML into a record."""
    from rglt import benchmark

    with tempfile.TemporaryDirectory(prefix="rglt-gpu-check-") as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TEST_FILES, f"--junitxml={xml}"]
        cmd += ["-k", DRY_TESTS] if dry else []
        status, seconds = run(cmd, timeout)
        if not xml.exists():
            return status
        cases = []
        for case in ET.parse(xml).getroot().iter("testcase"):
            outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
            cases.append(dict(test=f"{case.get('classname')}::{case.get('name')}", seconds=float(case.get("time", 0)),
                              outcome="passed" if outcome is None else {"failure": "failed"}.get(outcome.tag, outcome.tag),
                              message=None if outcome is None else (outcome.get("message") or "")[:500]))
    counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error", "skipped")}
    data = dict(benchmark="kernel_tests", command=" ".join(cmd[1:]), exit_status=status, seconds=round(seconds, 1),
                **counts, results=cases)
    benchmark.write_record(record, data, benchmark.record_provenance(device, code=CODE))
    return status


# ---- the summary: one line or a few per record ------------------------------------------------------

def _checks(part: str, record) -> bool:
    """Whether the record's own checks passed: no test failed; the Triton rows (and in rg_coupling the
    eager ones) were measured, none failed (a peer may fail: out of memory or time is a result); the
    training runs agree with the CPU reference."""
    if part == "kernel_tests":
        return record["exit_status"] == 0 and record["failed"] == record["error"] == 0 and record["passed"] > 0
    if part == "flow_training":
        return bool(record["first_steps"] and record["first_steps"]["ok"])
    if part == "imp":
        return bool(record["check"]) and all(c["ok"] for c in record["check"])
    key, ours = ("method", ("masked_topk/",)) if part == "masked_topk" else ("variant", ("triton", "eager"))
    rows = [r for r in record["results"] if r[key].startswith(ours)]
    return any("median_s" in r for r in rows) and not any("error" in r for r in rows)


def headline(part: str, record) -> list[str]:
    rows = record["results"]
    if part == "kernel_tests":
        lines = [f"{record['passed']} passed, {record['failed']} failed, {record['error']} errors, "
                 f"{record['skipped']} skipped in {record['seconds']} s"]
        return lines + [f"  {c['outcome']}: {c['test']}: {c['message']}" for c in rows if c["outcome"] != "passed"]
    if part == "masked_topk":
        return [f"{r['n']:>12.0e} {r['method']:28} " + (
                f"{r['median_s']:9.5f} s {r['gb_per_s']:8.1f} GB/s {r['fraction_of_stream']:6.1%} of a streaming pass"
                + (f", {r['fraction_of_hbm']:.1%} of HBM" if r.get("fraction_of_hbm") else "")
                if "median_s" in r else (r.get("skipped") or r.get("error", "").splitlines()[0])[:110]) for r in rows]
    if part == "rg_coupling":
        return [f"{r['config']:14} {r['scope']:6} {r['variant']:8} " + (
                f"{r['images_per_s']:10.1f} images/s {r['gflop_s']:9.1f} GFLOP/s (fp32 mm: "
                f"{r['gemm_peak_gflop_s_fp32']:.0f}) first step {r['first_step_s']:.1f} s"
                if "median_s" in r else (r.get("skipped") or r.get("error", "").splitlines()[0])[:110]) for r in rows]
    if part == "flow_training":
        check = record["first_steps"]
        return [f"{r['name']} on {r['device']}: {r['steps']} steps, held-out bpd {r['held_out_bpd']:.4f}, "
                f"{r['images_per_s']:.0f} images/s" for r in rows] + [
                f"{c['name']}: steps 0-{check['steps']} against the CPU eager reference: "
                f"{max([c['step0_held_out_bpd_diff'], *c['train_bpd_diffs']]):.1e} bpd at most: "
                f"{'ok' if c['ok'] else 'FAILED'}" for c in (check["runs"] if check else [])]
    return [f"{r['model']} on {r.get('device')} ({r.get('backend')} masks): {r['levels_per_hour']:.0f} levels/h, "
            f"accuracy {r['final_accuracy']}"
            for r in rows if "wall_s" in r] + [
            f"{c['model']}: " + (f"rewind weights within {c['rewind_max_relative_diff']:.1e}, kept {c['kept_per_level']}, "
                                 f"masks agree {c['last_level_mask_agreement']:.2%}" if "kept_per_level" in c
                                 else c.get("error", "")) + f": {'ok' if c['ok'] else 'FAILED'}"
            for c in record["check"] or []]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU under TRITON_INTERPRET=1")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the records (default: benchmarks/results/; a temporary one for --dry-run)")
    parser.add_argument("--parts", nargs="+", choices=tuple(BUDGET_S), default=list(BUDGET_S))
    args = parser.parse_args(argv)
    if args.dry_run:   # before anything imports Triton; the parts' processes inherit it
        os.environ["TRITON_INTERPRET"] = "1"
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RGLT_PROGRESS", "0")

    import torch

    from rglt import benchmark
    from rglt.provenance import git_state

    if not args.dry_run and not torch.cuda.is_available():
        parser.error("no CUDA device: this check needs a GPU (--dry-run runs it on the CPU at tiny sizes)")
    results_dir = benchmark.records_root()
    out = args.out or (Path(tempfile.mkdtemp(prefix="rglt-gpu-check-")) if args.dry_run else results_dir)
    if args.dry_run and out.resolve() == results_dir.resolve():
        parser.error("a dry run never writes into benchmarks/results/: its numbers are the CPU interpreter's")
    out.mkdir(parents=True, exist_ok=True)
    device = "cpu" if args.dry_run else "cuda"
    kind, name = benchmark.device_kind(device)
    commit, dirty = git_state(CODE)
    print(f"GPU check{' (dry run on the CPU, Triton interpreted)' if args.dry_run else ''}: {name}, commit "
          f"{commit[:10]}{' with uncommitted changes: records made now cannot be committed' if dirty else ''}; "
          f"records in {out}", flush=True)

    cmds, parts, start = commands(out, kind, args.dry_run), [], time.monotonic()
    for part in args.parts:
        # The dry run's budgets: generous, for a busy CI machine; on the GPU the stated ones.
        budget = 300 if args.dry_run else BUDGET_S[part]
        print(f"\n== {part} (budget {budget} s)", flush=True)
        record_path = out / f"{part}-{kind}.json"
        before = _stamp(record_path)   # a record left by an earlier run must not pass for this one's
        if part == "kernel_tests":
            begun = time.monotonic()
            status = kernel_tests(record_path, device, args.dry_run, budget)
            seconds = time.monotonic() - begun
        else:
            env = {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"} if part == "rg_coupling" else None
            status, seconds = run(cmds[part], budget, env)
        new = _stamp(record_path) not in (None, before)
        try:
            record = benchmark.load_record(record_path) if new else None
            ok = new and status == 0 and _checks(part, record)
            lines = headline(part, record) if new else [f"no new record {record_path.name} (exit {status})"]
        except (ValueError, KeyError) as e:
            ok, lines = False, [f"no usable record: {type(e).__name__}: {e}"]
        parts.append(dict(part=part, ok=ok, status=status, seconds=round(seconds, 1), budget_s=budget,
                          record=record_path.name if new else None, summary=lines))

    print(f"\n== summary ({time.monotonic() - start:.0f} s; records in {out})")
    for p in parts:
        print(f"{p['part']:14} {'ok' if p['ok'] else 'FAILED':6} {p['seconds']:6.1f} s of {p['budget_s']} s  "
              f"exit {p['status']}  {p['record']}")
        for line in p["summary"]:
            print(f"    {line}")
    data = dict(benchmark="gpu_check", dry_run=args.dry_run, seconds=round(time.monotonic() - start, 1),
                budgets_s=BUDGET_S, ok=all(p["ok"] for p in parts), results=parts)
    path = benchmark.write_record(out / f"gpu_check-{kind}.json", data, benchmark.record_provenance(device, code=CODE))
    print(f"wrote {path}")
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
