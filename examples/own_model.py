"""rglt on your own network: a torchvision ResNet-18 through IMP with rewinding, the IMP-flow exponents
of its stages and a Lottery Pools search, one call each.

    python examples/own_model.py --out runs/own_model            # a few minutes on one CPU thread
    python examples/own_model.py --out /tmp/own_model --tiny     # the size CI runs, well under a minute

The data are scikit-learn's 8x8 digits (no download). Running again on the same --out resumes the IMP
run where it stopped; other sizes need another directory (the ticket store refuses to mix runs).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torchvision
from torch import nn

from rglt import pools
from rglt.data import digits_splits
from rglt.prune import IMPConfig, TicketStore, imp
from rglt.rg import imp_flow
from rglt.train import TrainConfig, evaluate

STAGES = ("layer1", "layer2", "layer3", "layer4")   # torchvision's names for ResNet-18's four stages


def make_model(seed: int = 0) -> nn.Module:
    """ResNet-18 with random weights, the same ones at every call (IMP builds the model once per level)."""
    with torch.random.fork_rng(devices=[]):   # seeded without touching the caller's random state
        torch.manual_seed(seed)
        model = torchvision.models.resnet18(weights=None, num_classes=10)
        # Digits are 1 x 8 x 8: a one-channel 3x3 stem at stride 1 and no max-pool (as ResNets for
        # CIFAR do), so that layer4 still sees a 1 x 1 map instead of none.
        model.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def prunable(model: nn.Module) -> list[str]:
    """Every conv weight of the four stages, the downsample 1x1 convs included; the stem and the classifier
    stay dense (as CV_LTH prunes), so the stages hold all the prunable weights."""
    return [f"{name}.weight" for name, module in model.named_modules()
            if isinstance(module, nn.Conv2d) and name.split(".")[0] in STAGES]


def cycled(pair: tuple[torch.Tensor, torch.Tensor], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n examples of the data repeated end to end: one epoch of n examples is exactly
    n / batch steps (train() shuffles them)."""
    index = torch.arange(n) % len(pair[1])
    return pair[0][index], pair[1][index]


SIZES = {  # steps per level, IMP rounds, batch size, Lottery Pools' coefficient grid and candidate count
    "default": dict(steps=150, rounds=4, batch=64, coefficients=pools.COEFFICIENTS, candidates=None),
    "tiny": dict(steps=8, rounds=2, batch=32, coefficients=pools.COEFFICIENT_GRIDS[3], candidates=None),
}


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory for the ticket store (created)")
    parser.add_argument("--tiny", action="store_true", help="the CI size: 8 steps, 2 rounds, 3 coefficients")
    parser.add_argument("--steps", type=int, help="training steps per IMP level (default 150; --tiny 8)")
    parser.add_argument("--rounds", type=int, help="IMP rounds of 20%% (default 4; --tiny 2)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batch order")
    args = parser.parse_args(argv)
    size = dict(SIZES["tiny" if args.tiny else "default"])
    for name in ("steps", "rounds"):
        if getattr(args, name) is not None:
            if getattr(args, name) < 1:
                parser.error(f"--{name} must be >= 1")
            size[name] = getattr(args, name)
    args.size = size
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    size, start = args.size, time.perf_counter()
    splits = digits_splits(seed=args.seed)                          # 1,257 train / 180 val / 360 test
    train, val, test = (s.tensors for s in (splits.train, splits.val, splits.test))
    data = cycled(train, size["steps"] * size["batch"])
    model = make_model(args.seed)
    names = prunable(model)
    params = dict(model.named_parameters())
    print(f"torchvision ResNet-18, random init: {sum(p.numel() for p in params.values()):,} parameters, "
          f"{sum(params[n].numel() for n in names):,} prunable (the {len(names)} conv weights of {', '.join(STAGES)})")
    print(f"digits 8x8: {len(train[1])} train, {len(val[1])} validation, {len(test[1])} test")

    # (a) IMP with rewinding into a ticket store: 20% of the surviving weights per round, every round
    # restarting from the weights after 5% of training.
    train_config = TrainConfig(epochs=1, batch_size=size["batch"], lr=0.1, weight_decay=5e-4, seed=args.seed)
    imp_config = IMPConfig(rounds=size["rounds"], fraction=0.2, rewind_step=max(1, size["steps"] // 20))
    print(f"(a) IMP: {imp_config.rounds} rounds of 20%, {size['steps']} steps of {size['batch']} per level, "
          f"rewind to step {imp_config.rewind_step}, into {args.out}")
    phase = time.perf_counter()
    store = imp(lambda: make_model(args.seed), prunable, data, train_config, imp_config, TicketStore(args.out),
                evaluate_on=test)
    print(f"    {time.perf_counter() - phase:.0f} s (a level already in the store is not trained again)")
    for level in store.levels():
        ticket = store.load(level)
        print(f"    level {level}: density {100 * ticket.density:6.2f}%, test accuracy "
              f"{100 * ticket.metrics['accuracy']:5.1f}%")

    # (b) the IMP-flow exponents of the four stages: sigma_i = log_c lambda_i of M_i (the stage's share
    # of the remaining |weight| mass), c = 1/(1 - 0.2), beside the sigma of the same rewind point pruned
    # with no training in between (the null flow).
    phase = time.perf_counter()
    flow = imp_flow.flow_exponents(store, STAGES, imp_config, untrained=True)
    print(f"(b) IMP flow over levels {flow['levels'][0]}..{flow['levels'][-1]}, c = {flow['c'][0]:.2f} "
          f"({time.perf_counter() - phase:.0f} s):")
    for i, group in enumerate(flow["groups"]):
        print(f"    {group}: M {flow['flow'].M[0, i]:.3f} -> {flow['flow'].M[-1, i]:.3f}, lambda "
              f"{flow['lam'][i]:.3f} ± {flow['lam_sem'][i]:.3f}, sigma {flow['sigma'][i]:+.3f} "
              f"(untrained {flow['untrained_sigma'][i]:+.3f})")

    # (c) Lottery Pools for the sparsest ticket: merge it greedily with the other tickets, nearest first,
    # keeping a merge only if validation accuracy does not drop.
    pool_config = pools.PoolConfig(coefficients=size["coefficients"], bn_batches=2, bn_batch_size=size["batch"],
                                   candidates=size["candidates"])
    phase = time.perf_counter()
    pool = pools.lottery_pool(make_model(args.seed), store, data, val, pool_config)
    pool_seconds = time.perf_counter() - phase
    kept = [s.level for s in pool.steps if s.accepted]
    ticket_model = make_model(args.seed)
    ticket_model.load_state_dict(store.load(pool.target).weights)
    pooled_model = make_model(args.seed)
    pooled_model.load_state_dict(pool.state)
    test_before, test_after = (100 * evaluate(m, test)["accuracy"] for m in (ticket_model, pooled_model))
    print(f"(c) Lottery Pools for level {pool.target} (density {100 * pool.density:.2f}%): "
          f"{len(pool.steps)} candidates x {len(pool_config.coefficients)} coefficients, merged with "
          f"{kept or 'none'} ({pool_seconds:.0f} s)")
    print(f"    validation {100 * pool.ticket_score:.1f}% -> {100 * pool.score:.1f}%, "
          f"test {test_before:.1f}% -> {test_after:.1f}%")
    seconds = time.perf_counter() - start
    print(f"done in {seconds:.0f} s")
    return {"store": store, "flow": flow, "pool": pool, "train_config": train_config, "imp_config": imp_config,
            "data": data, "val": val, "seconds": seconds}


if __name__ == "__main__":
    main()
