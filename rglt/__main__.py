"""Command line.

- ``python -m rglt list``: the experiments and the state of their stored results;
- ``python -m rglt where``: where results and the ticket cache are kept (and why there);
- ``python -m rglt run <experiment> --profile P``: (re)run one experiment and store its result;
- ``python -m rglt tickets RUNS [--index I] [--workers N] [--repair]``: train IMP runs into the ticket
  cache (``RGLT_CACHE``). ``RUNS`` is a file (or ``-``, stdin) holding one ``TicketRun`` as JSON, a JSON
  list of them, or JSON Lines; ``--index I`` trains only the I-th (0-based), so that a SLURM array or
  submitit can train one run per task against a shared cache.
"""
from __future__ import annotations

import argparse
import os
import sys

from rglt import experiments, paths, store
from rglt.prune import read_runs, run_all, train_tickets
import rglt


def _state(name: str, profile: str, module) -> str:
    """none, fresh, stale, or damaged with the reason (a damaged result never stops the listing)."""
    try:
        stored = store.load(name, profile)
    except store.CorruptResultError as err:
        return f"DAMAGED ({err})"
    except OSError as err:   # e.g. a result another user's permissions hide: say so and go on
        return f"UNREADABLE ({err})"
    if stored is None:
        return "none"
    return "fresh" if experiments.is_fresh(stored, module, module.CONFIGS[profile]) else "stale"


def _where() -> list[str]:
    """Where results and tickets are kept, and which setting put them there."""
    checkout = paths.checkout_root()
    results_from = ("RGLT_RESULTS" if os.environ.get("RGLT_RESULTS", "").strip() else
                    "the checkout" if checkout else "the default for an installed rglt; set RGLT_RESULTS to move it")
    cache_from = "RGLT_CACHE" if os.environ.get("RGLT_CACHE", "").strip() else "the default; set RGLT_CACHE to move it"
    return [f"results (cpu, gpu): {paths.results_root()} ({results_from})",
            f"results (smoke):    {store.cache_dir('smoke')} (temporary; RGLT_SMOKE_CACHE)",
            f"ticket cache:       {paths.cache_root()} ({cache_from})"]


def _tickets(parser: argparse.ArgumentParser, args) -> int:
    try:
        text = sys.stdin.read() if args.runs == "-" else open(args.runs).read()
    except OSError as err:
        parser.error(f"runs: cannot read {args.runs!r}: {err.strerror}")
    try:
        runs = read_runs(text)
        if args.index is not None:
            if not 0 <= args.index < len(runs):
                raise ValueError(f"--index must be in [0, {len(runs) - 1}] for {len(runs)} run(s); got {args.index}")
            runs = [runs[args.index]]
        if args.workers < 1:
            raise ValueError(f"--workers must be an integer >= 1; got {args.workers}")
        stores = [train_tickets(run, repair=True) for run in runs] if args.repair else run_all(runs, workers=args.workers)
    except (ValueError, TypeError) as err:
        parser.error(str(err))
    for run, ticket_store in zip(runs, stores):
        levels = ticket_store.levels()
        print(f"{run.label}: levels {levels[0]}..{levels[-1]} in {ticket_store.root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rglt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments and the state of their stored results")
    sub.add_parser("where", help="say where results and the ticket cache are kept")
    run = sub.add_parser("run", help="run one experiment and store its result")
    run.add_argument("experiment", help="experiment name (see `list`)")
    run.add_argument("--profile", default=None, help=f"one of {', '.join(rglt.PROFILES)} (default: RGLT_PROFILE or cpu)")
    run.add_argument("--if-stale", action="store_true", help="reuse a fresh stored result instead of rerunning")
    tickets = sub.add_parser("tickets", help="train IMP runs (TicketRun JSON) into the ticket cache")
    tickets.add_argument("runs", help="a file of TicketRun JSON (one object, a list, or JSON Lines); - for stdin")
    tickets.add_argument("--index", type=int, default=None,
                         help="train only the run at this 0-based position (e.g. $SLURM_ARRAY_TASK_ID)")
    tickets.add_argument("--workers", type=int, default=1, help="one-thread worker processes (default 1)")
    tickets.add_argument("--repair", action="store_true",
                         help="check every stored level first; set damaged ones aside and retrain them")
    args = parser.parse_args(argv)
    if args.command == "tickets":
        return _tickets(parser, args)

    try:
        if args.command == "where":
            print("\n".join(_where()))
            return 0
        if args.command == "list":
            print(_where()[0])
            for name in experiments.names():
                module = experiments.get(name)
                states = []
                for profile in rglt.PROFILES:
                    states.append(f"{profile}: {_state(name, profile, module)}")
                print(f"{name:20s} v{module.VERSION}  " + ", ".join(states))
            return 0
        profile = rglt.check_profile(args.profile) if args.profile else rglt.profile()
        experiments.get(args.experiment)
        result = experiments.load(args.experiment, profile, rerun=not args.if_stale)
    except ValueError as err:
        parser.error(str(err))
    print(f"{args.experiment} ({profile}): {store.paths(args.experiment, profile)[0]}, "
          f"wall time {result.provenance['wall_time_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
