"""Does the RG-Flow fast path train the same flow? A fixed number of training steps per backend.

The same initial weights, batches and dequantisation noise (``train_flow``'s seed) for each backend of
``rglt.flow.train_flow``: ``reference`` (the eager code), ``fast`` (rglt.flow.fast, fp32) and
``fast-bf16`` (its MLP GEMMs in bfloat16). Model: the rg_flow experiment's cpu profile (2 subnet layers
per level, 2 residual blocks, 128 hidden, Laplace prior), MSDS1 images; held-out bits/dim on test
images that were never trained on, measured by the training backend during the run and, at the end,
by the eager fp32 reference (for fast-bf16: the exact fp32 density of the weights it trained).

Issue 14's tolerances against the reference: 0.01 bpd (fp32), 0.02 bpd (bf16). A fourth run,
``reference+1ulp``, is the eager path again with every initial weight moved by one float32 ulp
(``torch.nextafter``): how far rounding-level differences alone carry a training run in this many
steps, the floor under any comparison of two implementations that are not bit-identical. Each run
trains in its own one-thread process, two at a time, so ``train_seconds`` compare across runs.

Usage: python benchmarks/flow_training.py [--steps 400] [--train 20000] [--held-out 500] [--quick]
       [--output PATH]
Writes JSON with provenance atomically to benchmarks/results/flow_training-<device-kind>.json;
``--quick`` (a tiny flow, a few steps) writes nothing unless ``--output`` is given.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rglt.store import environment  # the provenance every result records
from _common import ROOT, device_kind, save  # benchmarks/ is on sys.path when run as a script

RUNS = {"reference": "reference", "fast": "fast", "fast-bf16": "fast-bf16", "reference+1ulp": "reference"}
TOLERANCE = {"fast": 0.01, "fast-bf16": 0.02}   # issue 14: held-out bpd against the reference
MODEL = dict(layers_per_level=2, residual_blocks=2, hidden=128)   # rg_flow's cpu profile
QUICK = dict(layers_per_level=1, residual_blocks=1, hidden=16)


def _job(job: dict) -> dict:
    import torch

    from rglt.data import msds
    from rglt.flow import RGFlow, evaluate_bpd
    from rglt.flow.training import FlowTrainConfig, train_flow

    torch.set_num_threads(1)
    train, _ = msds("msds1", job["train"], seed=0)
    test, _ = msds("msds1", job["held_out"], seed=1)
    torch.manual_seed(0)
    model = RGFlow(3, 32, 4, **job["model"], prior="laplace")
    if job["name"].endswith("+1ulp"):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.nextafter(p, torch.full_like(p, float("inf"))))
    config = FlowTrainConfig(steps=job["steps"], batch_size=64, eval_every=job["eval_every"], seed=0)
    history = train_flow(model, train, config, held_out=test, backend=job["backend"], desc=job["name"])
    return dict(job, history=history, held_out_bpd=history["held_out_bpd"][-1],
                reference_held_out_bpd=evaluate_bpd(model, test, seed=0),
                train_seconds=history["train_seconds"][-1],
                images_per_s=job["steps"] * 64 / history["train_seconds"][-1])


def _launch(job: dict, cache: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               RGLT_PROGRESS="0", TORCHINDUCTOR_CACHE_DIR=cache)
    return subprocess.Popen([sys.executable, __file__, "--job", json.dumps(job)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 400; 6 with --quick)")
    parser.add_argument("--train", type=int, default=None, help="training images (default 20000)")
    parser.add_argument("--held-out", type=int, default=None, help="held-out test images (default 500)")
    parser.add_argument("--quick", action="store_true", help=f"smoke check: the flow shrunk to {QUICK}")
    parser.add_argument("--output", type=Path, default=None, help="output JSON path")
    parser.add_argument("--job", help=argparse.SUPPRESS)   # worker mode: one backend's run as JSON
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(_job(json.loads(args.job))))
        return
    steps = args.steps or (6 if args.quick else 400)
    train = args.train or (256 if args.quick else 20000)
    held_out = args.held_out or (64 if args.quick else 500)
    if min(steps, train, held_out) < 1 or train < 64:
        parser.error("--steps and --held-out must be >= 1, --train >= 64 (one batch)")
    jobs = [dict(name=name, backend=b, steps=steps, train=train, held_out=held_out, eval_every=max(1, steps // 4),
                 model=QUICK if args.quick else MODEL) for name, b in RUNS.items()]
    results = []
    with tempfile.TemporaryDirectory() as cache:   # cold compiles, one cache per process
        for wave in (jobs[:2], jobs[2:]):          # two one-thread processes at a time on two cores
            procs = [(job, _launch(job, os.path.join(cache, job["name"]))) for job in wave]
            for job, proc in procs:
                out, err = proc.communicate()
                if proc.returncode != 0:
                    raise SystemExit(f"{job['name']} failed:\n{err[-3000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
    ref = results[0]["held_out_bpd"]
    print(f"{'run':15} {'held-out bpd':>12} {'fp32 eval':>10} {'diff':>8} {'tol':>6} {'img/s':>7}")
    for r in results:
        r["difference"] = r["held_out_bpd"] - ref
        r["tolerance"] = TOLERANCE.get(r["name"])
        r["within_tolerance"] = None if r["tolerance"] is None else abs(r["difference"]) <= r["tolerance"]
        print(f"{r['name']:15} {r['held_out_bpd']:12.4f} {r['reference_held_out_bpd']:10.4f} "
              f"{r['difference']:+8.4f} {r['tolerance'] or '-':>6} {r['images_per_s']:7.1f}")
    import torch
    kind, device_name = device_kind("cpu")
    data = dict(benchmark="flow_training", quick=args.quick, data="MSDS1", batch_size=64, prior="laplace",
                threads_per_process=1,
                provenance=dict(environment(code=("rglt", "benchmarks", ":!benchmarks/results")),
                                device=device_name, device_kind=kind, torch_threads=torch.get_num_threads()),
                results=results)
    out = args.output or (None if args.quick else ROOT / "benchmarks" / "results" / f"flow_training-{kind}.json")
    save(out, data)


if __name__ == "__main__":
    main()
