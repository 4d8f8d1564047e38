"""Does the RG-Flow fast path train the same flow? A fixed number of training steps per backend.

The same initial weights, batches and dequantisation noise (``train_flow``'s seed) for each backend of
``rglt.flow.train_flow``: ``reference`` (the eager code), ``fast`` (rglt.flow.fast, fp32) and
``fast-bf16`` (its MLP GEMMs in bfloat16). Model: the rg_flow experiment's cpu profile (2 subnet layers
per level, 2 residual blocks, 128 hidden, Laplace prior), MSDS1 images; held-out bits/dim on test
images that were never trained on, measured by the training backend during the run and, at the end,
by the eager fp32 reference (for fast-bf16: the exact fp32 density of the weights it trained).

Issue 14's tolerances against the reference: 0.01 bpd (fp32), 0.02 bpd (bf16). Runs that are not
bit-identical drift apart, so one run per path cannot separate a systematic shift from that drift: each
path trains ``--replicates`` times, replicate 0 from the initial weights as drawn and replicate k from
the same weights with every one moved by one float32 ulp (``torch.nextafter``) in a direction drawn
with seed k. The replicates of the reference measure how far rounding alone carries an eager run
(the floor under any comparison of two implementations that are not bit-identical); the replicates of
each fast path give its mean and spread, so that its shift from the reference has a standard error.
Each run trains in its own one-thread process (``rglt.benchmark.run_case``, a cold inductor cache each),
two at a time, so ``train_seconds`` compare across runs; they are ``train_flow``'s own clock (the
training loop is the thing timed, so no timer of the harness wraps it).

Usage: python benchmarks/flow_training.py [--steps 400] [--train 20000] [--held-out 500] [--replicates 3]
       [--quick] [--output PATH]
Writes JSON with provenance atomically to benchmarks/results/flow_training-<device-kind>.json;
``--quick`` (a tiny flow, a few steps) writes nothing unless ``--output`` is given.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rglt import benchmark
from _common import save  # benchmarks/ is on sys.path when run as a script

PATHS = ("reference", "fast", "fast-bf16")      # train_flow backends; the first is the one compared with
MODEL = dict(layers_per_level=2, residual_blocks=2, hidden=128)   # rg_flow's cpu profile
QUICK = dict(layers_per_level=1, residual_blocks=1, hidden=16)


def _job(job: dict) -> dict:
    import torch

    from rglt.data import msds
    from rglt.flow import RGFlow, evaluate_bpd
    from rglt.flow.training import FlowTrainConfig, train_flow

    train, _ = msds("msds1", job["train"], seed=0)
    test, _ = msds("msds1", job["held_out"], seed=1)
    torch.manual_seed(0)
    model = RGFlow(3, 32, 4, **job["model"], prior="laplace")
    if job["replicate"]:        # every weight one ulp up or down, the directions drawn with this seed
        gen = torch.Generator().manual_seed(job["replicate"])
        with torch.no_grad():
            for p in model.parameters():
                up = torch.rand(p.shape, generator=gen) < 0.5
                p.copy_(torch.nextafter(p, torch.where(up, float("inf"), float("-inf"))))
    config = FlowTrainConfig(steps=job["steps"], batch_size=64, eval_every=job["eval_every"], seed=0)
    history = train_flow(model, train, config, held_out=test, backend=job["backend"], desc=job["name"])
    return dict(job, history=history, held_out_bpd=history["held_out_bpd"][-1],
                reference_held_out_bpd=evaluate_bpd(model, test, seed=0),
                train_seconds=history["train_seconds"][-1],
                images_per_s=job["steps"] * 64 / history["train_seconds"][-1])


def _run(job: dict) -> dict:
    return benchmark.run_case(__file__, job, threads=1, env={"RGLT_PROGRESS": "0"})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 400; 6 with --quick)")
    parser.add_argument("--train", type=int, default=None, help="training images (default 20000)")
    parser.add_argument("--held-out", type=int, default=None, help="held-out test images (default 500)")
    parser.add_argument("--replicates", type=int, default=3,
                        help="runs per path: the initial weights as drawn, then moved one ulp (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"smoke check: the flow shrunk to {QUICK}")
    parser.add_argument("--output", type=Path, default=None, help="output JSON path")
    parser.add_argument(benchmark.CASE_FLAG, dest="case", help=argparse.SUPPRESS)  # worker mode: one run
    args = parser.parse_args(argv)
    if args.case:
        return benchmark.serve_case(_job, args.case)
    steps = args.steps or (6 if args.quick else 400)
    train = args.train or (256 if args.quick else 20000)
    held_out = args.held_out or (64 if args.quick else 500)
    if min(steps, train, held_out) < 1 or train < 64:
        parser.error("--steps and --held-out must be >= 1, --train >= 64 (one batch)")
    if args.replicates < 2:
        parser.error(f"--replicates must be >= 2 (a spread needs two runs per path); got {args.replicates}")
    jobs = [dict(name=path + (f"+ulp{k}" if k else ""), backend=path, replicate=k, steps=steps, train=train,
                 held_out=held_out, eval_every=max(1, steps // 4), model=QUICK if args.quick else MODEL)
            for k in range(args.replicates) for path in PATHS]
    results = []
    with ThreadPoolExecutor(2) as pool:   # two one-thread processes at a time on two cores
        futures = [pool.submit(_run, job) for job in jobs]
        for job, future in zip(jobs, futures):
            try:
                results.append(future.result())
            except benchmark.CaseError as e:
                for f in futures:   # start no more runs; the one still running finishes
                    f.cancel()
                raise SystemExit(f"{job['name']} failed:\n{e.stderr[-3000:]}") from None
            print(f"{job['name']}: held-out bpd {results[-1]['held_out_bpd']:.4f}", flush=True)
    ref = float(np.mean([r["held_out_bpd"] for r in results if r["backend"] == PATHS[0]]))
    print(f"{'run':18} {'held-out bpd':>12} {'fp32 eval':>10} {'- ref mean':>10} {'img/s':>7}")
    for r in results:
        print(f"{r['name']:18} {r['held_out_bpd']:12.4f} {r['reference_held_out_bpd']:10.4f} "
              f"{r['held_out_bpd'] - ref:+10.4f} {r['images_per_s']:7.1f}")
    import torch
    data = dict(benchmark="flow_training", quick=args.quick, data="MSDS1", batch_size=64, prior="laplace",
                threads_per_process=1, replicates=args.replicates, results=results)
    provenance = benchmark.record_provenance("cpu", code=("rglt", "benchmarks", ":!benchmarks/results"),
                                             torch_threads=torch.get_num_threads())
    save(args.output or (None if args.quick else benchmark.record_path(f"flow_training-{provenance['device_kind']}")),
         data, provenance)


if __name__ == "__main__":
    main()
