"""Time masked magnitude top-k (rglt.kernels.masked_topk) against its torch peers.

Task: prune 20% of the weights with the smallest |w| over a list of fp32 tensors of assorted sizes
(global scope), as one IMP round does. Methods:

- ``masked_topk/reference``: the PyTorch radix select (no masks, and with 20% of entries already pruned);
- ``masked_topk/triton``: the Triton kernels (CUDA only);
- ``prune.global_unstructured``: torch.nn.utils.prune with L1Unstructured (builds the masks and the
  reparametrisation, as users call it);
- ``torch.topk`` / ``torch.kthvalue`` / ``torch.sort``: the threshold over ``torch.cat`` of |w| (the
  concatenation is timed too: these ops need one tensor), then the masks by one comparison per tensor.

Each case runs in a fresh subprocess: one untimed warm-up that also measures peak extra memory, then
``--repeats`` timed runs (the median is reported). Peak extra memory is, on the CPU, the rise of the
process's peak RSS (VmHWM, reset with /proc/self/clear_refs once the inputs are built; the masks the call
returns are included, 1 byte per weight);
on CUDA, ``torch.cuda.max_memory_allocated()`` minus the memory allocated before the call. GB/s is the
weights' bytes divided by the median time (one logical read of every weight).

Usage: python benchmarks/masked_topk.py [--sizes 1e6 1e7 2e7] [--tensors 40] [--extra 2e7:400]
       [--repeats 3] [--threads N] [--out PATH]
Writes JSON with provenance atomically to benchmarks/results/masked_topk-<device-kind>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rglt.store import environment  # the provenance every result records
from _common import ROOT, device_kind, write_json  # benchmarks/ is on sys.path when run as a script

FRACTION = 0.2


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
    """Run one case in this process and return its measurements."""
    import torch
    if case.get("threads"):
        torch.set_num_threads(case["threads"])
    cuda = case["device"] == "cuda"
    weights, masks = _build(case)
    run = _runner(case, weights, masks)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = run()
        sync()
        extra = torch.cuda.max_memory_allocated() - before
    else:
        reset = _reset_peak_rss()
        before = _peak_rss()
        out = run()
        extra = _peak_rss() - before
        case = dict(case, peak_rss_reset=reset)
    del out
    times = []
    for _ in range(case["repeats"]):
        sync()
        start = time.perf_counter()
        out = run()
        sync()
        times.append(time.perf_counter() - start)
        del out
    median = statistics.median(times)
    nbytes = sum(w.numel() * w.element_size() for w in weights)
    return dict(case, times_s=times, median_s=median, peak_extra_mb=extra / 2**20,
                gb_per_s=nbytes / median / 1e9, threads=torch.get_num_threads())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=None,
                        help="total weights per case (default 1e6 1e7 2e7; plus 1e8 1e9 on CUDA)")
    parser.add_argument("--tensors", type=int, default=40, help="tensors the weights are spread over")
    parser.add_argument("--extra", nargs="*", default=["2e7:400"],
                        help="extra SIZE:TENSORS cases for masked_topk and global_unstructured")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--methods", nargs="+", default=None, help="subset of methods to run")
    parser.add_argument("--out", type=Path, default=None, help="output JSON path")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # worker mode: one case as JSON
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(_worker(json.loads(args.case))))
        return
    if args.repeats < 1 or args.tensors < 1 or args.threads < 0:
        parser.error("--repeats and --tensors must be >= 1, --threads >= 0")

    import torch
    kind, device_name = device_kind("cuda" if torch.cuda.is_available() else "cpu")
    cuda = kind != "cpu"
    sizes = args.sizes or ([1e6, 1e7, 2e7] + ([1e8, 1e9] if cuda else []))
    methods = ["masked_topk/reference", "masked_topk/reference+masks"]
    methods += ["masked_topk/triton", "masked_topk/triton+masks"] if cuda else []
    methods += ["prune.global_unstructured", "torch.topk", "torch.kthvalue", "torch.sort"]
    if args.methods:
        methods = [m for m in methods if m in args.methods]
    cases = [(int(n), args.tensors, m) for n in sizes for m in methods]
    for spec in args.extra:
        n, t = spec.split(":")
        cases += [(int(float(n)), int(t), m) for m in methods
                  if m.startswith("masked_topk/") or m == "prune.global_unstructured"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    print(f"{'weights':>12} {'tensors':>7} {'method':32} {'median s':>9} {'peak MB':>9} {'GB/s':>7}")
    for n, t, method in cases:
        case = dict(n=n, tensors=t, method=method, repeats=args.repeats, threads=args.threads,
                    device="cuda" if cuda else "cpu")
        proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{n:>12} {t:>7} {method:32} failed: {proc.stderr.strip().splitlines()[-1:]}")
            results.append(dict(case, error=proc.stderr[-2000:]))
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{n:>12} {t:>7} {method:32} {r['median_s']:9.4f} {r['peak_extra_mb']:9.1f} "
              f"{r['gb_per_s']:7.2f}", flush=True)
    data = dict(
        benchmark="masked_topk", fraction=FRACTION, dtype="float32", scope="global",
        memory=("peak RSS rise (VmHWM reset after building the inputs) in a fresh subprocess per case, "
                "returned masks included" if not cuda
                else "torch.cuda.max_memory_allocated() minus allocated before the call"),
        provenance=dict(environment(code=("kernels", "benchmarks", ":!benchmarks/results")), device=device_name,
                        device_kind=kind, threads=args.threads or torch.get_num_threads()),
        results=results,
    )
    out = args.out or ROOT / "benchmarks" / "results" / f"masked_topk-{kind}.json"
    write_json(out, data)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
