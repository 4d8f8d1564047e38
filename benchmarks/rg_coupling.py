"""Time RG-Flow training steps: the eager model, torch.compile of it, the CPU fast path, the Triton couplings.

Step: forward of a log_prob loss, loss = -mean(prior_log_prob(z) + log|det|) (``RGFlow.log_prob``'s formula,
Laplace prior at temperature 1), and its backward. No optimizer: the parameters' gradients are set to
None before every step, so only forward + backward is timed (an optimizer step costs the same for every
variant). Input: a fixed batch of standard-normal 3 x 32 x 32 "logit-space images".

Scopes: ``layer``, the first RG layer alone (level 0, offset 0: the busiest, 64 patches per image) with the
same loss on its output; ``model``, the whole RGFlow. Configurations (3 x 32 x 32, kernel 4):
``cpu-profile`` (2 subnet layers per level, 2 residual blocks, 128 hidden), ``msds-original`` (4, 4, 512)
and ``celeba-original`` ((8, 6, 4, 2), 4, 512). The zero-initialised output scales are set to small
random values so that the couplings are not the identity. Variants:

- ``eager``: ``RGFlow(backend="reference")``, the eager PyTorch code;
- ``compile``: ``torch.compile`` of the eager loss function (default mode); on the CPU inductor needs a
  C++ compiler, and a compile failure is recorded as the case's error;
- ``fast``: ``RGFlow(backend="fast")``, :mod:`rglt.flow.fast` (one torch.compile'd function applies
  every subnet layer), fp32;
- ``fast-bf16``: ``RGFlow(backend="fast-bf16")``, the same with the MLP GEMMs in bfloat16 (autocast);
- ``triton``: ``RGFlow(backend="triton")``, gather / coupling epilogues / epilogue + scatter in the
  kernels of ``rglt.kernels.rg_coupling``, the MLP GEMMs in torch (CUDA only; on the CPU only under
  TRITON_INTERPRET=1, whose timings mean nothing).

Roofline (issue 14): each case also reports the step's GEMM FLOPs counted from the configuration
(``gemm_shapes``: forward and the backward's two GEMMs of every Linear), the achieved GFLOP/s, and
the fraction of the step that the same GEMMs take as plain ``torch.mm`` calls of the same shapes, in
fp32 and bf16, timed in the same process after the steps (``gemm_seconds``): what is left is the
overhead around the GEMMs.

Each (config, scope) runs in a fresh subprocess (``rglt.benchmark.run_case``), all its variants on the
same weights: each variant's ``--warmup`` untimed steps (the first, which includes any compilation, cold:
each process gets an empty inductor cache, is reported as ``first_step_s``), then ``--repeats`` rounds of
``rglt.benchmark.time_calls`` over the variants, interleaved so that machine noise hits every variant
alike (CPU: ``torch.utils.benchmark.Timer``, one step per block, the first round's calibration one more
untimed step; CUDA: ``triton.testing.do_bench``); the median and IQR of the seconds per step and batch /
median images per second are reported. Peak memory on CUDA: ``torch.cuda.max_memory_allocated()`` over
one more untimed step per variant (model, batch and gradients included). Records made before the shared
harness timed single steps with ``time.perf_counter`` and took the memory over the timed steps.

Time limits, so that a short GPU session cannot be spent by one case: ``--compile-timeout S`` stops a
``compile`` variant whose first step (the cold compile) runs past S seconds and records that as its
error (the case's other variants still run); ``--budget S`` bounds all cases (``--case-timeout`` each
one): a case past its time is recorded as an error, and those left once the budget is spent as skipped.

Usage: python benchmarks/rg_coupling.py [--device cpu|cuda] [--batch N] [--threads N] [--repeats 5]
       [--warmup 2] [--configs ...] [--variants ...] [--scopes layer model] [--quick]
       [--compile-timeout S] [--budget S] [--case-timeout S] [--output PATH]
Writes JSON with provenance atomically to benchmarks/results/rg_coupling-<device-kind>.json; ``--quick``
(tiny networks and batch, a smoke check) writes nothing unless ``--output`` is given.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import time
from pathlib import Path

from rglt import benchmark
from _common import Budget, save  # benchmarks/ is on sys.path when run as a script

SIZE, KERNEL, CHANNELS = 32, 4, 3
CONFIGS = {
    "cpu-profile": dict(layers_per_level=2, residual_blocks=2, hidden=128),
    "msds-original": dict(layers_per_level=4, residual_blocks=4, hidden=512),
    "celeba-original": dict(layers_per_level=(8, 6, 4, 2), residual_blocks=4, hidden=512),
}
QUICK = dict(layers_per_level=1, residual_blocks=1, hidden=16)  # --quick: every config shrunk to this
VARIANTS = ("eager", "compile", "fast", "fast-bf16", "triton")
BACKEND = {"eager": "reference", "compile": "reference", "fast": "fast", "fast-bf16": "fast-bf16", "triton": "triton"}
SCOPES = ("layer", "model")


def _build(case):
    """The flow, the module timed (a layer or the flow), and a loss function of a batch per variant."""
    import torch

    from rglt.flow import RGFlow, ResidualMLP, prior_log_prob

    torch.manual_seed(0)
    config = QUICK if case["quick"] else CONFIGS[case["config"]]
    flow = RGFlow(CHANNELS, SIZE, KERNEL, **config)
    with torch.no_grad():  # zero scales make every coupling the identity: not a representative step
        for m in flow.modules():
            if isinstance(m, ResidualMLP):
                m.scale.normal_(0.0, 0.1)
    flow.to(case["device"]).train()
    module = flow.layers[0] if case["scope"] == "layer" else flow  # layers[0]: level 0, offset 0

    def loss(x):
        z, ldj = module(x)
        return -(prior_log_prob(z, flow.prior, 1.0, flow.parametrisation) + ldj).mean()

    compiled = torch.compile(loss)

    def loss_fn(variant):
        flow.backend = BACKEND[variant]
        return compiled if variant == "compile" else loss

    return module, loss_fn


def gemm_shapes(module, batch: int) -> dict[tuple[int, int, int], int]:
    """Every matrix multiply of one training step of ``module`` (an RGFlow or one RGLayer) on ``batch``
    images, as {(m, k, n): count}: per RG layer, subnet layer, coupling (2), MLP (S and T), residual
    block and Linear, the forward (rows, in) x (in, out) and the backward's two, grad input
    (rows, out) x (out, in) and grad weight (out, rows) x (rows, in); rows = batch x the layer's patches."""
    from rglt.flow.model import RGLayer

    layers = [module] if isinstance(module, RGLayer) else list(module.layers)
    shapes: dict[tuple[int, int, int], int] = {}
    for layer in layers:
        rows = batch * layer.index.shape[0]
        for subnet in layer.subnets:
            for net in (subnet.s_net, subnet.t_net):
                for block in net.blocks:
                    for linear in block[1::2]:
                        out, inp = linear.v.shape
                        for shape in ((rows, inp, out), (rows, out, inp), (out, rows, inp)):
                            shapes[shape] = shapes.get(shape, 0) + 2    # two couplings per subnet layer
    return shapes


def gemm_seconds(shapes: dict, dtype, device: str, repeats: int = 3) -> float:
    """Seconds the step's matrix multiplies take as plain ``torch.mm`` calls of the same shapes and
    dtype (each distinct shape timed by ``rglt.benchmark.time_call``, median of ``repeats`` rounds of at
    least 20 ms, times its count): the step's GEMM-only time."""
    import torch

    total = 0.0
    for (m, k, n), count in shapes.items():
        a = torch.randn(m, k, device=device).to(dtype)
        b = torch.randn(k, n, device=device).to(dtype)
        total += benchmark.time_call(lambda: torch.mm(a, b), device=device, rounds=repeats,
                                     min_run_time=0.02).median_s * count
    return total


class CompileTimeout(BaseException):
    """Raised by SIGALRM inside a cold compile past --compile-timeout: a BaseException, so that no
    ``except Exception`` (or ``except OSError``, as TimeoutError would be) inside torch swallows it."""


def _worker(case) -> list[dict]:
    """Run one (config, scope) in this process (run_case gave it its thread count), its variants' timed
    steps interleaved so that machine noise hits them alike; returns one row per variant."""
    import torch
    cuda = case["device"] == "cuda"
    module, loss_fn = _build(case)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(case["batch"], CHANNELS, SIZE, SIZE, generator=g).to(case["device"])

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step(variant):
        fn = loss_fn(variant)
        module.zero_grad(set_to_none=True)
        loss = fn(x)
        loss.backward()
        return loss

    def too_long(signum, frame):
        raise CompileTimeout(f"the first step (a cold torch.compile) ran past --compile-timeout "
                             f"{case['compile_timeout']} s")

    rows, live = {}, []
    for variant in case["variants"]:
        row = dict(case, variant=variant)
        del row["variants"]
        sync()
        start = time.perf_counter()
        limit = case.get("compile_timeout") if variant == "compile" else None
        if limit:   # SIGALRM raises in this thread, inside the compile; the variant is then dropped
            signal.signal(signal.SIGALRM, too_long)
            signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            loss = step(variant)
            sync()
        except (Exception, CompileTimeout) as e:  # noqa: BLE001 - a compile failure is a result to record
            if variant not in ("compile", "fast", "fast-bf16"):
                raise
            rows[variant] = dict(row, error=f"{type(e).__name__}: {e}"[:2000])
            continue
        finally:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, 0)
        rows[variant] = dict(row, first_step_s=time.perf_counter() - start, loss=float(loss))
        for _ in range(case["warmup"] - 1):
            step(variant)
        live.append(variant)
    peak_mb = dict.fromkeys(live, None)
    if cuda:   # a step's peak, measured on an untimed step: the timer's own steps are not ours to wrap
        for variant in live:
            sync()
            torch.cuda.reset_peak_memory_stats()
            step(variant)
            sync()
            peak_mb[variant] = torch.cuda.max_memory_allocated() / 2**20
    # min_run_time 0: one step per block, ``repeats`` steps per variant (a step is slow enough to time alone).
    timings = benchmark.time_calls({v: (lambda v=v: step(v)) for v in live}, device=case["device"],
                                   rounds=case["repeats"], min_run_time=0.0) if live else {}
    # The GEMM-only time of the step, in the same process.
    shapes = gemm_shapes(module, case["batch"])
    flop = sum(2 * m * k * n * count for (m, k, n), count in shapes.items())
    gemm = {name: gemm_seconds(shapes, dtype, case["device"])
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    for variant in live:
        r, timing = rows[variant], timings[variant]
        median = timing.median_s
        r.update(times_s=list(timing.times_s), iqr_s=timing.iqr_s,
                 gflop_per_step=flop / 1e9, gflop_s=flop / median / 1e9,
                 **{f"gemm_peak_gflop_s_{n}": flop / t / 1e9 for n, t in gemm.items()},
                 **{f"fraction_of_{n}_peak": t / median for n, t in gemm.items()},
                 median_s=median, images_per_s=case["batch"] / median,
                 parameters=sum(p.numel() for p in module.parameters()),
                 peak_memory_mb=peak_mb[variant], threads=torch.get_num_threads())
    return [rows[v] for v in case["variants"]]


def _skip_reason(variant: str, device: str) -> str | None:
    if variant == "triton" and device != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return "needs CUDA (or TRITON_INTERPRET=1 on the CPU, timings meaningless)"
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="default: cuda if available, else cpu")
    parser.add_argument("--batch", type=int, default=None,
                        help="images per step (default 64 on the CPU, 512 on CUDA; 4 with --quick)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per case (default 5; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first, >= 1 (default 2; 1 with --quick)")
    parser.add_argument("--configs", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=None,
                        help="default: eager compile, plus triton on CUDA")
    parser.add_argument("--scopes", nargs="+", choices=SCOPES, default=list(SCOPES))
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke check: every config shrunk to {QUICK}, small batch, few steps")
    parser.add_argument("--compile-timeout", type=float, default=None,
                        help="seconds for the compile variant's first step (default: no limit)")
    parser.add_argument("--budget", type=float, default=None, help="seconds for all cases (default: no limit)")
    parser.add_argument("--case-timeout", type=float, default=None, help="seconds for one case (default: no limit)")
    parser.add_argument("--output", type=Path, default=None, help="output JSON path")
    parser.add_argument(benchmark.CASE_FLAG, dest="case", help=argparse.SUPPRESS)  # worker mode: one case
    args = parser.parse_args(argv)
    if args.case:
        return benchmark.serve_case(_worker, args.case)

    import torch
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    batch = args.batch or (4 if args.quick else 512 if device == "cuda" else 64)
    repeats = args.repeats or (2 if args.quick else 5)
    warmup = args.warmup or (1 if args.quick else 2)
    if batch < 1 or repeats < 1 or warmup < 1 or args.threads < 0:
        parser.error("--batch, --repeats and --warmup must be >= 1, --threads >= 0")
    variants = args.variants or (["eager", "compile", "triton"] if device == "cuda"
                                  else ["eager", "compile", "fast", "fast-bf16"])
    results, budget = [], Budget(args.budget, args.case_timeout)
    print(f"{'config':16} {'scope':6} {'variant':9} {'median s':>9} {'images/s':>10} {'peak MB':>8} "
          f"{'first s':>8} {'GFLOP/s':>8} {'of fp32 GEMM':>12} {'of bf16 GEMM':>12}")
    for config in args.configs:
        for scope in args.scopes:
            case = dict(config=config, scope=scope, device=device, batch=batch, repeats=repeats, warmup=warmup,
                        threads=args.threads, quick=args.quick, compile_timeout=args.compile_timeout)
            run = []
            for variant in variants:
                reason = budget.spent() or _skip_reason(variant, device)
                if reason:
                    print(f"{config:16} {scope:6} {variant:9} skipped: {reason}")
                    results.append(dict(case, variant=variant, skipped=reason))
                else:
                    run.append(variant)
            if not run:
                continue
            # One process per (config, scope): its variants share the weights and interleave their steps.
            # run_case gives it a fresh inductor cache: first_step_s is a cold compile, not an earlier run's.
            try:
                rows = benchmark.run_case(__file__, dict(case, variants=run), threads=args.threads or None,
                                          timeout=budget.timeout())
            except benchmark.CaseError as e:
                last = (e.stderr.strip().splitlines() or str(e).splitlines())[-1]
                print(f"{config:16} {scope:6} failed: {last}", flush=True)
                results += [dict(case, variant=v, error=f"{str(e).splitlines()[0]}\n{e.stderr[-2000:]}") for v in run]
                continue
            for r in rows:
                results.append(r)
                row = f"{config:16} {scope:6} {r['variant']:9}"
                if "error" in r:
                    print(f"{row} error: {r['error'].splitlines()[0][:100]}", flush=True)
                    continue
                peak = f"{r['peak_memory_mb']:8.0f}" if r["peak_memory_mb"] is not None else f"{'-':>8}"
                print(f"{row} {r['median_s']:9.4f} {r['images_per_s']:10.1f} {peak} {r['first_step_s']:8.2f} "
                      f"{r['gflop_s']:8.1f} {r['fraction_of_fp32_peak']:12.0%} {r['fraction_of_bf16_peak']:12.0%}",
                      flush=True)

    data = dict(
        benchmark="rg_coupling", quick=args.quick, image=[CHANNELS, SIZE, SIZE], kernel=KERNEL, dtype="float32",
        configs={name: (QUICK if args.quick else CONFIGS[name]) for name in args.configs},
        step=("forward + backward of -mean(prior_log_prob(z) + logdet), Laplace prior, temperature 1; "
              "no optimizer (gradients set to None before each step)"),
        timing=(f"median of {repeats} timed steps after {warmup} untimed, the variants of a (config, scope) in one "
                f"process with their steps interleaved by rglt.benchmark.time_calls ({benchmark.timing_method(device)}); "
                "images/s = batch / median"),
        flops=("gflop_s: the step's GEMM FLOPs (gflop_per_step) per second; fraction_of_*_peak: the plain "
               "torch.mm time of the same GEMMs over the step time"),
        memory=("torch.cuda.max_memory_allocated() over one untimed step after the warm-up" if device == "cuda"
                else "not recorded on the CPU"),
        budget_s=args.budget, case_timeout_s=args.case_timeout, compile_timeout_s=args.compile_timeout,
        results=results,
    )
    provenance = benchmark.record_provenance(
        device, code=("kernels", "benchmarks", "rglt/flow", ":!benchmarks/results"),
        threads=args.threads or torch.get_num_threads(),
        cxx=os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++"),
        triton_interpret=os.environ.get("TRITON_INTERPRET") == "1")
    save(args.output or (None if args.quick else benchmark.record_path(f"rg_coupling-{provenance['device_kind']}")),
         data, provenance)


if __name__ == "__main__":
    main()
