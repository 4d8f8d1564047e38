"""Where one IMP training step's time goes on the CPU, and what the layouts torch offers would save.

Groundwork for issue 27 (IMP training at the CPU's speed). For each model (1D ResNet-20 and VGG-16,
width 16, on MNIST-1D, batch 128, SGD with momentum and weight decay, one thread):

- ``step``: the training step (forward, loss, backward, SGD) timed by ``rglt.benchmark.time_calls``,
  beside the same model built with ``ModelSpec(layout="channels-last")`` (:mod:`rglt.models.layout`),
  its FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` (GFLOP/s against the measured rate
  of a plain fp32 GEMM of the step's largest convolution's shape, also timed here), and
  ``torch.profiler``'s self time per operator (the top operators, and their share of the step);
- ``layers``: for each distinct (channels, length) of the model's 3-tap convolutions and its
  BatchNorms, forward + backward in today's layout (``conv1d``, ``batch_norm`` on N, C, L) against the
  same arithmetic in channels-last (``conv2d`` with a 1 x 3 kernel, ``batch_norm`` on N, C, 1, L in
  ``torch.channels_last``), interleaved so that machine noise hits both alike.

- ``fast``: the fast path's step (and the same with its forward in bfloat16, ``TrainConfig(precision="bf16")``) (``benchmarks/imp.py``'s ``runner-fast``): ``--group`` replicates in
  channels-last as one :class:`rglt.models.grouped.GroupedModel`, timed per group and given per replicate,
  with its FLOPs, GEMM fraction and profile.

Usage: python benchmarks/imp_step.py [--models resnet20 vgg16] [--rounds 5] [--group 4] [--output PATH | --quick]
Writes benchmarks/results/imp_step-cpu.json (or PATH) with provenance.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from _common import save  # benchmarks/ is on sys.path when run as a script

from rglt import benchmark

BATCH, LR, MOMENTUM, WEIGHT_DECAY = 128, 0.1, 0.9, 5e-4
TOP_OPERATORS = 8


def _model_and_batch(name: str, width: int, layout: str = "default"):
    from rglt.data.tasks import Task, load_task
    from rglt.prune.runs import ModelSpec
    data = load_task(Task("mnist1d"))
    model = ModelSpec(name, width=width, layout=layout).build(data, seed=0)
    x, y = data.train[0][:BATCH], data.train[1][:BATCH]
    return model, x, y


def _step_fn(model: nn.Module, x, y, bf16: bool = False):
    """One SGD step; ``bf16``: the forward under bfloat16 autocast, as ``TrainConfig(precision="bf16")``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        F.cross_entropy(logits.float(), y, reduction="sum").backward()
        optimizer.step()
    return step


def _shapes(model: nn.Module, x) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]]]:
    """The distinct (in channels, out channels, input length) of the 3-tap stride-1 convolutions, and
    the distinct (channels, length) of the BatchNorm inputs, seen in one forward pass."""
    convs, norms, hooks = set(), set(), []
    for module in model.modules():
        if isinstance(module, nn.Conv1d) and module.kernel_size == (3,) and module.stride == (1,):
            hooks.append(module.register_forward_hook(
                lambda m, inp, out: convs.add((m.in_channels, m.out_channels, inp[0].shape[-1]))))
        elif isinstance(module, nn.BatchNorm1d):
            hooks.append(module.register_forward_hook(lambda m, inp, out: norms.add(tuple(inp[0].shape[1:]))))
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return sorted(convs), sorted(norms)


def _layer_calls(convs, norms) -> tuple[dict, list]:
    """fwd + bwd of each layer shape in today's layout and in channels-last: the calls, and the pairs
    (layer, today's call, channels-last call, FLOPs or None) to compare."""
    calls, pairs = {}, []
    cl = torch.channels_last
    for c_in, c_out, length in convs:
        w = torch.randn(c_out, c_in, 3, requires_grad=True)
        x = torch.randn(BATCH, c_in, length, requires_grad=True)
        g = torch.randn(BATCH, c_out, length)
        w4 = w.detach().unsqueeze(2).contiguous(memory_format=cl).requires_grad_()
        x4 = x.detach().unsqueeze(2).contiguous(memory_format=cl).requires_grad_()
        g4 = g.unsqueeze(2).contiguous(memory_format=cl)
        key = f"conv {c_in}->{c_out} x {length}"
        calls[f"{key} | conv1d"] = lambda x=x, w=w, g=g: F.conv1d(x, w, padding=1).backward(g)
        calls[f"{key} | channels-last conv2d"] = lambda x=x4, w=w4, g=g4: F.conv2d(x, w, padding=(0, 1)).backward(g)
        # forward, and backward for the input and the weight
        pairs.append((key, f"{key} | conv1d", f"{key} | channels-last conv2d", 3 * 2 * BATCH * length * c_in * c_out * 3))
    for channels, length in norms:
        weight, bias = torch.ones(channels, requires_grad=True), torch.zeros(channels, requires_grad=True)
        x = torch.randn(BATCH, channels, length, requires_grad=True)
        g = torch.randn(BATCH, channels, length)
        x4 = x.detach().unsqueeze(2).contiguous(memory_format=cl).requires_grad_()
        g4 = g.unsqueeze(2).contiguous(memory_format=cl)
        key = f"batchnorm {channels} x {length}"
        norm = lambda x, g, w=weight, b=bias: F.batch_norm(x, None, None, w, b, training=True).backward(g)  # noqa: E731
        calls[f"{key} | N, C, L"] = lambda x=x, g=g, norm=norm: norm(x, g)
        calls[f"{key} | channels-last"] = lambda x=x4, g=g4, norm=norm: norm(x, g)
        pairs.append((key, f"{key} | N, C, L", f"{key} | channels-last", None))
    return calls, pairs


def _profile(step, steps: int = 10) -> tuple[float, list[dict]]:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    top = [{"operator": e.key, "self_ms_per_step": e.self_cpu_time_total / 1e3 / steps,
            "share": e.self_cpu_time_total / total} for e in events[:TOP_OPERATORS]]
    return total / 1e6 / steps, top


def _flops(step) -> int:
    """The FLOPs of one call of ``step``, as torch's FlopCounterMode counts them."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _fast_step(name: str, width: int, group: int, x, y, bf16: bool = False):
    """The fast path's step: ``group`` replicates in channels-last as one GroupedModel, each its own batch."""
    from rglt.models.grouped import GroupedModel
    members = [_model_and_batch(name, width, "channels-last")[0] for _ in range(group)]
    return _step_fn(GroupedModel(members), x.repeat(group, 1, 1), y.repeat(group), bf16)


def measure(name: str, width: int, rounds: int, group: int) -> dict:
    model, x, y = _model_and_batch(name, width)
    step = _step_fn(model, x, y)
    step_cl = _step_fn(_model_and_batch(name, width, "channels-last")[0], x, y)
    step_fast = _fast_step(name, width, group, x, y)
    step_bf16 = _fast_step(name, width, group, x, y, bf16=True)
    for _ in range(3):
        step(), step_cl(), step_fast(), step_bf16()
    # A group does each member's arithmetic, so the lone model's count is the group's per replicate
    # (FlopCounterMode counts a grouped convolution's backward twice: checked against 3 x 2 N L C_out C_in k / groups).
    flops = _flops(step)
    convs, norms = _shapes(model, x)
    big = max(convs, key=lambda s: s[0] * s[1] * s[2])
    a, b = torch.randn(big[1], 3 * big[0]), torch.randn(3 * big[0], BATCH * big[2])
    layer_calls, pairs = _layer_calls(convs, norms)
    timings = benchmark.time_calls({"step": step, "step channels-last": step_cl, "step fast": step_fast,
                                    "step fast bf16": step_bf16, "gemm": lambda: a @ b, **layer_calls}, rounds=rounds)
    step_s = timings["step"].median_s
    gemm_rate = 2 * a.shape[0] * a.shape[1] * b.shape[1] / timings["gemm"].median_s / 1e9
    profiled_s, top = _profile(step)
    fast_profiled_s, fast_top = _profile(step_fast)
    fast_s = timings["step fast"].median_s / group   # per replicate
    layers = []
    for key, today, other, layer_flops in pairs:
        row = {"layer": key, "today": today.split(" | ")[1], "other": other.split(" | ")[1],
               "today_median_us": 1e6 * timings[today].median_s, "other_median_us": 1e6 * timings[other].median_s,
               "speedup": timings[today].median_s / timings[other].median_s}
        if layer_flops is not None:
            row["today_gflop_s"] = layer_flops / timings[today].median_s / 1e9
            row["other_gflop_s"] = layer_flops / timings[other].median_s / 1e9
        layers.append(row)
    return {"model": name, "width": width, "batch": BATCH, "threads": torch.get_num_threads(),
            "step_median_ms": 1e3 * step_s, "step_iqr_ms": 1e3 * timings["step"].iqr_s,
            "step_channels_last_median_ms": 1e3 * timings["step channels-last"].median_s,
            "step_channels_last_iqr_ms": 1e3 * timings["step channels-last"].iqr_s,
            "channels_last_speedup": step_s / timings["step channels-last"].median_s,
            "step_gflop": flops / 1e9, "step_gflop_s": flops / step_s / 1e9,
            "gemm_shape": [a.shape[0], a.shape[1], b.shape[1]], "gemm_gflop_s": gemm_rate,
            "fraction_of_gemm_rate": flops / step_s / 1e9 / gemm_rate,
            "profiled_ms_per_step": 1e3 * profiled_s, "top_operators": top, "layers": layers,
            "fast_group": group, "step_fast_median_ms": 1e3 * timings["step fast"].median_s,
            "step_fast_iqr_ms": 1e3 * timings["step fast"].iqr_s, "step_fast_per_replicate_ms": 1e3 * fast_s,
            "fast_speedup": step_s / fast_s, "fast_gflop_per_replicate": flops / 1e9,
            "fast_gflop_s": flops / fast_s / 1e9,
            "fast_fraction_of_gemm_rate": flops / fast_s / 1e9 / gemm_rate,
            "fast_profiled_ms_per_step": 1e3 * fast_profiled_s, "fast_top_operators": fast_top,
            "step_fast_bf16_per_replicate_ms": 1e3 * timings["step fast bf16"].median_s / group,
            "fast_bf16_speedup": step_s / (timings["step fast bf16"].median_s / group),
            "timing": timings["step"].method}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet20", "vgg16"], choices=["resnet20", "vgg16"])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--group", type=int, default=4, help="replicates per group in the fast path's step")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="write nothing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for name in args.models:
        r = measure(name, args.width, args.rounds, args.group)
        print(f"{name}: step {r['step_median_ms']:.1f} ms, {r['step_gflop']:.2f} GFLOP, {r['step_gflop_s']:.0f} GFLOP/s "
              f"({r['fraction_of_gemm_rate']:.0%} of the {r['gemm_gflop_s']:.0f} GFLOP/s GEMM); the model in "
              f"channels-last (rglt.models.layout) {r['step_channels_last_median_ms']:.1f} ms, "
              f"{r['channels_last_speedup']:.2f}x; the fast path (channels-last, groups of {r['fast_group']}) "
              f"{r['step_fast_per_replicate_ms']:.1f} ms a replicate, {r['fast_speedup']:.2f}x, "
              f"{r['fast_gflop_s']:.0f} GFLOP/s ({r['fast_fraction_of_gemm_rate']:.0%}); with a bfloat16 forward "
              f"{r['step_fast_bf16_per_replicate_ms']:.1f} ms, {r['fast_bf16_speedup']:.2f}x")
        for op in r["fast_top_operators"]:
            print(f"  fast {op['operator']:35s} {op['self_ms_per_step']:6.2f} ms  {op['share']:.0%}")
        for op in r["top_operators"]:
            print(f"  {op['operator']:40s} {op['self_ms_per_step']:6.2f} ms  {op['share']:.0%}")
        for layer in r["layers"]:
            print(f"  {layer['layer']:28s} {layer['today']:>10s} {layer['today_median_us']:7.0f} us  "
                  f"{layer['other']:>22s} {layer['other_median_us']:7.0f} us  {layer['speedup']:.2f}x")
        results.append(r)
    out = None if args.quick else (args.output or benchmark.record_path("imp_step-cpu"))
    provenance = benchmark.record_provenance("cpu", code=("rglt", "kernels", "benchmarks", ":!benchmarks/results"),
                                             script="benchmarks/imp_step.py", rounds=args.rounds)
    save(out, {"results": results}, provenance)


if __name__ == "__main__":
    main()
