"""Time masked magnitude top-k (rglt.kernels.masked_topk) against its torch peers.

Task: prune 20% of the weights with the smallest |w| over a list of fp32 tensors of assorted sizes
(global scope), as one IMP round does. Methods:

- ``masked_topk/reference``: the PyTorch radix select (no masks, and with 20% of entries already pruned);
- ``masked_topk/triton``: the Triton kernels (CUDA; on the CPU only under TRITON_INTERPRET=1, whose
  timings mean nothing);
- ``prune.global_unstructured``: torch.nn.utils.prune with L1Unstructured (builds the masks and the
  reparametrisation, as users call it);
- ``torch.topk`` / ``torch.kthvalue`` / ``torch.sort``: the threshold over ``torch.cat`` of |w| (the
  concatenation is timed too: these ops need one tensor), then the masks by one comparison per tensor.

Each case runs in a fresh subprocess (``rglt.benchmark.run_case``): one untimed warm-up that also
measures peak extra memory, then ``--repeats`` rounds of ``rglt.benchmark.time_call`` (CPU:
``torch.utils.benchmark.Timer``; CUDA: ``triton.testing.do_bench``); the median and IQR of the
seconds per call are reported. Peak extra memory is, on the CPU, the rise of the process's peak RSS (VmHWM, reset with /proc/self/clear_refs once the inputs are built; the masks the call
returns are included, 1 byte per weight);
on CUDA, ``torch.cuda.max_memory_allocated()`` minus the memory allocated before the call. GB/s is the
weights' bytes divided by the median time (one logical read of every weight). Records made before the
shared harness (``timing`` absent) timed ``--repeats`` single calls with ``time.perf_counter``.

The limit: no method can beat one streaming read of the weights. Each case also times that pass
(``w.sum()`` of every tensor, same harness, same process: ``stream_s``) and reports
``fraction_of_stream`` = stream_s / median_s; on CUDA also the nominal HBM bandwidth from the device's
memory clock and bus width (``hbm_gb_s``) and ``fraction_of_hbm`` = GB/s over it.

Memory: a case is skipped (and recorded so) when its estimated peak, the inputs plus
``PEAK_EXTRA_BYTES`` per weight of the method, times a 1.25 margin, exceeds the device's memory (the GPU's,
or the machine's RAM). ``--budget`` bounds the seconds spent on all cases (``--case-timeout`` each one):
a case past its time is recorded as an error and the cases left once the budget is spent as skipped.

Usage: python benchmarks/masked_topk.py [--sizes 1e6 1e7 2e7] [--tensors 40] [--extra 2e7:400]
       [--repeats 3] [--threads N] [--methods ...] [--budget S] [--case-timeout S] [--out PATH]
Writes JSON with provenance atomically to benchmarks/results/masked_topk-<device-kind>.json.
"""
from __future__ import annotations

import argparse
import os
import resource
from pathlib import Path

from rglt import benchmark
from _common import Budget, save  # benchmarks/ is on sys.path when run as a script

FRACTION = 0.2
METHODS = ("masked_topk/reference", "masked_topk/reference+masks", "masked_topk/triton", "masked_topk/triton+masks",
           "prune.global_unstructured", "torch.topk", "torch.kthvalue", "torch.sort")
# Peak extra bytes per fp32 weight of one call, beyond the inputs: measured on the CPU at 2e7 weights in
# 40 tensors (masked_topk-cpu.json: peak RSS rise / weights, rounded up); Triton's: its new masks (1 B)
# plus per-block tie counts (16 B per 4096 weights). At 1e9 weights (4 GB) with the 1.25 margin every
# method fits an 80 GB GPU: global_unstructured, the largest, needs (4 + 44) x 1.25 = 60 GB.
PEAK_EXTRA_BYTES = {"masked_topk/reference": 2.5, "masked_topk/triton": 1.1, "prune.global_unstructured": 44,
                    "torch.topk": 23, "torch.kthvalue": 17, "torch.sort": 25}
MARGIN = 1.25


def needed_bytes(n: int, method: str) -> float:
    """Estimated peak memory of a case: fp32 weights (4 B), input masks (1 B) and the method's extra."""
    base = method.removesuffix("+masks")
    return MARGIN * n * (4 + (1 if method.endswith("+masks") else 0) + PEAK_EXTRA_BYTES[base])


def device_memory(device: str) -> int:
    """Bytes of memory on ``device``: the GPU's, or the machine's RAM."""
    if device == "cuda":
        import torch
        return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def hbm_gb_s() -> float | None:
    """The GPU's nominal memory bandwidth: double data rate x bus width x memory clock (None if unknown)."""
    import torch
    props = torch.cuda.get_device_properties(0)
    clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    return 2 * bus_bits / 8 * clock_khz * 1e3 / 1e9 if clock_khz and bus_bits else None


def _sizes(total: int, tensors: int, seed: int = 0) -> list[int]:
    """Assorted tensor sizes (log-normal shares, at least 1 each) summing to ``total``."""
    import torch
    g = torch.Generator().manual_seed(seed)
    share = torch.exp(torch.randn(tensors, generator=g, dtype=torch.float64))
    sizes = (share / share.sum() * (total - tensors)).floor().long() + 1
    sizes[0] += total - int(sizes.sum())
    return sizes.tolist()


def _build(case):
    import torch
    device = case["device"]
    g = torch.Generator(device=device).manual_seed(1)
    weights = [torch.randn(n, generator=g, device=device) for n in _sizes(case["n"], case["tensors"])]
    masks = None
    if case["method"].endswith("+masks"):
        masks = [torch.rand(n, generator=g, device=device) >= 0.2 for n in (w.numel() for w in weights)]
    return weights, masks


def _runner(case, weights, masks):
    import torch
    from torch import nn
    from torch.nn.utils import prune

    from rglt.kernels.masked_topk import masked_topk

    method = case["method"].removesuffix("+masks")
    if method.startswith("masked_topk/"):
        backend = method.split("/")[1]
        return lambda: masked_topk(weights, masks, FRACTION, backend=backend)
    if method == "prune.global_unstructured":
        def run():
            holders = [nn.Module() for _ in weights]  # fresh modules: prune rewrites them
            for h, w in zip(holders, weights):
                h.weight = nn.Parameter(w, requires_grad=False)
            prune.global_unstructured([(h, "weight") for h in holders],
                                      pruning_method=prune.L1Unstructured, amount=FRACTION)
            return [h.weight_mask for h in holders]
        return run

    def peer():
        flat = torch.cat([w.abs().reshape(-1) for w in weights])
        k = round(FRACTION * flat.numel())
        if method == "torch.topk":
            threshold = torch.topk(flat, k, largest=False, sorted=False).values.max()
        elif method == "torch.kthvalue":
            threshold = torch.kthvalue(flat, k).values
        else:
            threshold = torch.sort(flat).values[k - 1]
        del flat
        return [w.abs() > threshold for w in weights]  # ties at the threshold all pruned
    return peer


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (VmHWM; ru_maxrss where /proc is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> bool:
    # Linux resets VmHWM to the current RSS on "5" > clear_refs, so import-time peaks do not mask ours.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _worker(case) -> dict:
    """Run one case in this process (run_case gave it its thread count) and return its measurements."""
    import torch
    cuda = case["device"] == "cuda"
    weights, masks = _build(case)
    run = _runner(case, weights, masks)

    # The warm-up call measures the memory: the peak of one call, from inputs already built.
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = run()
        torch.cuda.synchronize()
        extra = torch.cuda.max_memory_allocated() - before
    else:
        reset = _reset_peak_rss()
        before = _peak_rss()
        out = run()
        extra = _peak_rss() - before
        case = dict(case, peak_rss_reset=reset)
    del out
    # The method and the limit, one streaming read of every weight, interleaved by the harness.
    timings = benchmark.time_calls({"method": run, "stream": lambda: [w.sum() for w in weights]},
                                   device=case["device"], rounds=case["repeats"])
    timing, stream = timings["method"], timings["stream"].median_s
    nbytes = sum(w.numel() * w.element_size() for w in weights)
    gb_per_s = nbytes / timing.median_s / 1e9
    hbm = hbm_gb_s() if cuda else None
    return dict(case, times_s=list(timing.times_s), median_s=timing.median_s, iqr_s=timing.iqr_s,
                calls_per_block=timing.number, peak_extra_mb=extra / 2**20, gb_per_s=gb_per_s,
                stream_s=stream, stream_gb_s=nbytes / stream / 1e9, fraction_of_stream=stream / timing.median_s,
                hbm_gb_s=hbm, fraction_of_hbm=gb_per_s / hbm if hbm else None, threads=torch.get_num_threads())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=None,
                        help="total weights per case (default 1e6 1e7 2e7; plus 1e8 1e9 on CUDA)")
    parser.add_argument("--tensors", type=int, default=40, help="tensors the weights are spread over")
    parser.add_argument("--extra", nargs="*", default=["2e7:400"],
                        help="extra SIZE:TENSORS cases for masked_topk and global_unstructured")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timing rounds per case (rglt.benchmark.time_call; median and IQR reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=None, help="subset of methods to run")
    parser.add_argument("--budget", type=float, default=None, help="seconds for all cases (default: no limit)")
    parser.add_argument("--case-timeout", type=float, default=None, help="seconds for one case (default: no limit)")
    parser.add_argument("--out", type=Path, default=None, help="output JSON path")
    parser.add_argument(benchmark.CASE_FLAG, dest="case", help=argparse.SUPPRESS)  # worker mode: one case
    args = parser.parse_args(argv)
    if args.case:
        return benchmark.serve_case(_worker, args.case)
    if args.repeats < 1 or args.tensors < 1 or args.threads < 0:
        parser.error("--repeats and --tensors must be >= 1, --threads >= 0")

    import torch
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    sizes = args.sizes or ([1e6, 1e7, 2e7] + ([1e8, 1e9] if cuda else []))
    # Triton on the CPU only interpreted: a dry run, not a timing
    triton = cuda or os.environ.get("TRITON_INTERPRET") == "1"
    methods = [m for m in METHODS if triton or not m.startswith("masked_topk/triton")]
    if args.methods:
        methods = [m for m in methods if m in args.methods]
    cases = [(int(n), args.tensors, m) for n in sizes for m in methods]
    for spec in args.extra:
        n, t = spec.split(":")
        cases += [(int(float(n)), int(t), m) for m in methods
                  if m.startswith("masked_topk/") or m == "prune.global_unstructured"]
    results = []
    budget, memory = Budget(args.budget, args.case_timeout), device_memory(device)
    print(f"{'weights':>12} {'tensors':>7} {'method':32} {'median s':>9} {'peak MB':>9} {'GB/s':>7} {'of stream':>9}")
    for n, t, method in cases:
        case = dict(n=n, tensors=t, method=method, repeats=args.repeats, threads=args.threads, device=device)
        need = needed_bytes(n, method)
        skip = budget.spent() or (f"needs ~{need / 1e9:.1f} GB (estimated), the {device} has "
                                  f"{memory / 1e9:.1f} GB" if need > memory else None)
        if skip:
            print(f"{n:>12} {t:>7} {method:32} skipped: {skip}")
            results.append(dict(case, skipped=skip))
            continue
        try:
            r = benchmark.run_case(__file__, case, threads=args.threads or None, timeout=budget.timeout())
        except benchmark.CaseError as e:
            print(f"{n:>12} {t:>7} {method:32} failed: {(e.stderr.strip().splitlines() or str(e).splitlines())[-1]}")
            results.append(dict(case, error=f"{str(e).splitlines()[0]}\n{e.stderr[-2000:]}"))
            continue
        results.append(r)
        print(f"{n:>12} {t:>7} {method:32} {r['median_s']:9.4f} {r['peak_extra_mb']:9.1f} "
              f"{r['gb_per_s']:7.2f} {r['fraction_of_stream']:9.1%}", flush=True)
    data = dict(
        benchmark="masked_topk", fraction=FRACTION, dtype="float32", scope="global",
        memory=("peak RSS rise (VmHWM reset after building the inputs) in a fresh subprocess per case, "
                "returned masks included" if not cuda
                else "torch.cuda.max_memory_allocated() minus allocated before the call"),
        timing=f"{args.repeats} rounds of rglt.benchmark.time_calls: {benchmark.timing_method(device)}",
        limit=("stream_s: one read of every weight (w.sum() per tensor), timed with the method; fraction_of_stream "
               "= stream_s / median_s; fraction_of_hbm = GB/s over the nominal HBM bandwidth (CUDA only)"),
        device_memory_gb=memory / 1e9, budget_s=args.budget, case_timeout_s=args.case_timeout,
        results=results,
    )
    provenance = benchmark.record_provenance(device, code=("kernels", "benchmarks", ":!benchmarks/results"),
                                             threads=args.threads or torch.get_num_threads())
    kind = provenance["device_kind"]
    save(args.out or benchmark.record_path(f"masked_topk-{kind}"), data, provenance)


if __name__ == "__main__":
    main()
