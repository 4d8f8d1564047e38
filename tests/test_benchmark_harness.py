"""rglt.benchmark, the harness of benchmarks/: cases in fresh processes, timing, records.

Oracles: time.sleep of known length and counted calls for the timer, numpy's quantiles worked by hand
for its statistics, a worker script whose answer and failure are known for the case runner, and the
committed records for reading them back."""
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from rglt import benchmark, report
from rglt.storage import torch_threads

ROOT = Path(__file__).resolve().parents[1]


# ---- timing ---------------------------------------------------------------------------------------

def test_timing_statistics_are_the_median_and_interquartile_range():
    t = benchmark.Timing(times_s=(4.0, 1.0, 100.0, 2.0, 3.0), number=1, method="by hand")
    assert t.median_s == 3.0
    assert t.iqr_s == 2.0   # sorted 1 2 3 4 100: 25th percentile 2, 75th 4


@pytest.mark.parametrize("seconds", [0.004, 0.02])
def test_the_cpu_timer_measures_a_sleep_of_known_length(seconds):
    t = benchmark.time_call(lambda: time.sleep(seconds), rounds=3, min_run_time=0.0)
    assert t.number == 1 and len(t.times_s) == 3   # min_run_time 0: one call per block, one block per round
    assert seconds <= t.median_s < seconds + 0.03, t.times_s   # sleep never returns early; slack for a busy machine
    assert "torch.utils.benchmark.Timer" in t.method


def test_the_first_round_lasts_min_run_time_in_blocks_of_several_fast_calls():
    calls = []
    t = benchmark.time_call(lambda: calls.append(None), rounds=1, min_run_time=0.05)
    assert t.number > 1                                      # a list append is far below the timer's overhead
    assert len(calls) >= t.number * len(t.times_s)           # every timed call ran (calibration ran more)
    assert sum(t.times_s) * t.number >= 0.05 - 1e-9          # blocks until min_run_time is spent


def test_calls_are_interleaved_round_by_round():
    order = []
    timings = benchmark.time_calls({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                   rounds=3, min_run_time=0.0)
    runs = [name for i, name in enumerate(order) if i == 0 or order[i - 1] != name]   # a a b b a b a b -> a b a b a b
    assert runs == ["a", "b"] * 3
    assert all(len(t.times_s) == 3 for t in timings.values())


def test_the_timer_keeps_the_process_thread_count():
    seen = []
    with torch_threads(2):   # torch's Timer would run the statement on one thread unless told otherwise
        benchmark.time_call(lambda: seen.append(torch.get_num_threads()), rounds=1, min_run_time=0.0)
    assert set(seen) == {2}


@pytest.mark.parametrize("kwargs, error", [(dict(device="tpu"), ValueError), (dict(rounds=0), ValueError),
                                           (dict(min_run_time=-1.0), ValueError)])
def test_bad_timing_arguments_are_refused(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        benchmark.time_call(lambda: None, **kwargs)


def test_on_cuda_each_round_is_one_do_bench_in_milliseconds(monkeypatch):
    """do_bench itself needs a GPU; here a stand-in answering known times checks what time_calls makes
    of them (rounds, the order of the calls, milliseconds to seconds, min_run_time as do_bench's rep)."""
    import triton.testing
    asked = []

    def do_bench(fn, warmup, rep, return_mode):
        asked.append((fn(), rep, return_mode))
        return [10.0, 30.0]
    monkeypatch.setattr(triton.testing, "do_bench", do_bench)
    timings = benchmark.time_calls({"a": lambda: "a", "b": lambda: "b"}, device="cuda", rounds=2, min_run_time=0.25)
    assert asked == [("a", 250.0, "all"), ("b", 250.0, "all")] * 2
    assert timings["a"].times_s == (0.01, 0.03, 0.01, 0.03) and timings["a"].median_s == 0.02
    assert "do_bench" in timings["b"].method


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_cuda_timer_measures_a_sleep_of_known_length():
    t = benchmark.time_call(lambda: time.sleep(0.01), device="cuda", rounds=2, min_run_time=0.0)
    assert len(t.times_s) == 2 and 0.009 <= t.median_s < 0.03 and "do_bench" in t.method


# ---- cases in fresh processes ---------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import os, sys
    from rglt.benchmark import serve_case

    def work(case):
        print("a line before the answer")
        if case["fail"]:
            raise RuntimeError("this case was told to fail: " + case["word"])
        import torch
        return {"twice": 2 * case["x"], "threads": torch.get_num_threads(), "env": os.environ.get("RGLT_BENCH_TEST"),
                "inductor_cache": os.listdir(os.environ["TORCHINDUCTOR_CACHE_DIR"])}

    if __name__ == "__main__":
        assert sys.argv[1] == "--case"
        serve_case(work, sys.argv[2])
""")


@pytest.fixture
def worker(tmp_path):
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def test_a_case_returns_its_value_with_its_environment(worker):
    out = benchmark.run_case(worker, {"x": 21, "fail": False}, env={"RGLT_BENCH_TEST": "given"}, threads=1)
    # threads=1 on a machine of several cores; a fresh, empty inductor cache of its own
    assert out == {"twice": 42, "threads": 1, "env": "given", "inductor_cache": []}


def test_a_failing_case_raises_with_its_stderr(worker):
    with pytest.raises(benchmark.CaseError, match="told to fail: zebra") as info:
        benchmark.run_case(worker, {"x": 1, "fail": True, "word": "zebra"})
    assert "exit status 1" in str(info.value) and "Traceback" in info.value.stderr


def test_a_case_without_a_json_answer_or_past_its_time_is_an_error(tmp_path):
    quiet = tmp_path / "quiet.py"
    quiet.write_text("print('no json here')\n")
    with pytest.raises(benchmark.CaseError, match="printed no JSON result"):
        benchmark.run_case(quiet, {})
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(60)\n")
    start = time.perf_counter()
    with pytest.raises(benchmark.CaseError, match="ran past its 1 s"):
        benchmark.run_case(slow, {}, timeout=1)
    assert time.perf_counter() - start < 30


# ---- records --------------------------------------------------------------------------------------

PROVENANCE = {"git_commit": "0" * 40, "git_dirty": False, "device": "x86_64", "torch": "2.x", "threads": 2,
              "date": "2026-01-01T00:00:00+00:00", "device_kind": "cpu"}


def test_a_record_round_trips(tmp_path):
    data = {"benchmark": "demo", "results": [{"method": "m", "median_s": 0.5}]}
    path = benchmark.write_record(tmp_path / "demo-cpu.json", data, PROVENANCE)
    on_disk = json.loads(path.read_text())
    assert on_disk == {"provenance": PROVENANCE, **data}   # the file's schema: data keys beside provenance
    record = benchmark.load_record(path)
    assert (record.name, record.data, record.provenance) == ("demo-cpu", data, PROVENANCE)
    assert record["results"] == data["results"] and record["provenance"] == PROVENANCE
    assert "results" in record and "provenance" in record and "nothing" not in record
    assert report.pick(record["results"], method="m")["median_s"] == 0.5
    table = report.provenance_table(record)   # like any result's provenance cell
    assert all(k in table for k in benchmark.Record.provenance_keys) and "0" * 40 in table
    with pytest.raises(ValueError, match="provenance"):
        benchmark.write_record(tmp_path / "bad.json", {"provenance": {}}, PROVENANCE)


@pytest.mark.parametrize("text, reason", [("{\"provenance\": {", "not valid JSON"),
                                          ("[1, 2]", "with a 'provenance'"),
                                          ("{\"results\": []}", "with a 'provenance'")])
def test_a_damaged_record_names_its_file(tmp_path, text, reason):
    path = tmp_path / "broken-cpu.json"
    path.write_text(text)
    with pytest.raises(benchmark.DamagedRecordError, match=reason) as info:
        benchmark.load_record(path)
    assert str(path) in str(info.value)


def test_a_missing_record_names_its_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent-cpu.json")):
        benchmark.load_record(tmp_path / "absent-cpu.json")
    with pytest.raises(FileNotFoundError, match="no benchmark record .*benchmarks/results/no_such_benchmark-cpu.json"):
        benchmark.load_record("no_such_benchmark-cpu")


def test_outside_a_checkout_a_name_says_there_are_no_records(monkeypatch):
    monkeypatch.setattr(benchmark, "benchmark_records_root", lambda: None)
    with pytest.raises(FileNotFoundError, match="not running from one"):
        benchmark.load_record("masked_topk-cpu")


def test_every_committed_record_loads_by_name():
    names = benchmark.record_names()
    committed = [p.stem for p in sorted((ROOT / "benchmarks" / "results").glob("*.json"))]
    assert names == committed and "masked_topk-cpu" in names
    for name in names:
        record = benchmark.load_record(name)
        assert record.path == ROOT / "benchmarks" / "results" / f"{name}.json"
        assert record["results"] and record.provenance["git_commit"]
    # in file-name order, as chapter 6 lists them
    assert benchmark.record_names("rg_coupling-cpu*") == ["rg_coupling-cpu-original", "rg_coupling-cpu"]


# ---- a script on the harness ----------------------------------------------------------------------

def test_masked_topk_script_writes_a_record_through_the_harness(tmp_path):
    out = tmp_path / "masked_topk-tiny.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "masked_topk.py"), "--sizes", "1e4", "--tensors", "4",
                           "--extra", "--repeats", "2", "--threads", "1", "--methods", "torch.topk", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = benchmark.load_record(out)
    (row,) = record["results"]
    assert row["method"] == "torch.topk" and row["threads"] == 1 and len(row["times_s"]) >= 2
    assert row["median_s"] > 0 and row["iqr_s"] >= 0 and "Timer" in record["timing"]
    assert record.provenance["device_kind"] == "cpu"
