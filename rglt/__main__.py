"""Command line: ``python -m rglt list`` and ``python -m rglt run <experiment> --profile P``."""
from __future__ import annotations

import argparse
import sys

import rglt
from rglt import experiments, store


def _state(name: str, profile: str, module) -> str:
    """none, fresh, stale, or damaged with the reason (a damaged result never stops the listing)."""
    try:
        stored = store.load(name, profile)
    except store.CorruptResultError as err:
        return f"DAMAGED ({err})"
    if stored is None:
        return "none"
    return "fresh" if store.is_fresh(stored, module, module.CONFIGS[profile]) else "stale"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rglt", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments and the state of their stored results")
    run = sub.add_parser("run", help="run one experiment and store its result")
    run.add_argument("experiment", help="experiment name (see `list`)")
    run.add_argument("--profile", default=None, help=f"one of {', '.join(rglt.PROFILES)} (default: RGLT_PROFILE or cpu)")
    run.add_argument("--if-stale", action="store_true", help="reuse a fresh stored result instead of rerunning")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            for name in experiments.names():
                module = experiments.get(name)
                states = []
                for profile in rglt.PROFILES:
                    states.append(f"{profile}: {_state(name, profile, module)}")
                print(f"{name:20s} v{module.VERSION}  " + ", ".join(states))
            return 0
        profile = rglt.check_profile(args.profile) if args.profile else rglt.profile()
        experiments.get(args.experiment)
        result = store.load_or_run(args.experiment, profile, rerun=not args.if_stale)
    except ValueError as err:
        parser.error(str(err))
    print(f"{args.experiment} ({profile}): {store.paths(args.experiment, profile)[0]}, "
          f"wall time {result.provenance['wall_time_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
