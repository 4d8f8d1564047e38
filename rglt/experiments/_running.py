"""Running an experiment and keeping its result: freshness, rehashing, and ``load``."""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import rglt
from rglt import claims, identity, store
from rglt.experiments._registry import get
from rglt.provenance import environment
from rglt.paths import cache_root
from rglt.storage import check_writable, locked, stamp


def provenance(module: Any, profile: str, config: Any, wall_time_s: float) -> dict[str, Any]:
    """Everything needed to tell where a result came from and whether it is stale."""
    env = environment()
    rules = claims.rules_record(module.rules(config))
    return {
        "experiment": module.NAME,
        "experiment_version": module.VERSION,
        "profile": profile,
        "config": dataclasses.asdict(config),
        "config_hash": identity.key(config),
        **env,
        # The commit names its dirtiness too: a result from uncommitted code must not imply the commit.
        "git_commit": env["git_commit"] + ("+dirty" if env["git_dirty"] else ""),
        "wall_time_s": round(wall_time_s, 2),
        # The rules the result will be judged by, registered before the run (rglt.claims).
        "rules": rules,
        "rules_hash": claims.rules_hash(rules),
    }


def is_fresh(result: store.Result, module: Any, config: Any) -> bool:
    """True when a stored result was made by this experiment version with this config."""
    prov = result.provenance
    return prov.get("config_hash") == identity.key(config) and prov.get("experiment_version") == module.VERSION


def rehash(result: store.Result, module: Any, config: Any) -> store.Result:
    """``result`` with the config hash of ``config``, when only the hashing changed: the stored config's
    science (its fields that ``config`` hashes today) must equal ``config``'s, and the version must match.
    For fields moved to :func:`rglt.identity.unhashed` after a result was made; the provenance records
    the old hash (``rehashed_from``) and keeps its commit, date and wall time. A ValueError when the
    science differs."""
    prov = dict(result.provenance)
    if prov.get("experiment_version") != module.VERSION:
        raise ValueError(f"result is version {prov.get('experiment_version')}, the code is {module.VERSION}: rerun it")
    ours = json.dumps(identity.hashed_fields(config), sort_keys=True, default=repr)
    theirs = json.dumps(identity.stored_science(prov.get("config"), config), sort_keys=True, default=repr)
    if ours != theirs:
        raise ValueError(f"result was made with other science than config: rerun it (stored {theirs}, now {ours})")
    if prov["config_hash"] != identity.key(config):
        prov.update(rehashed_from=prov["config_hash"], config_hash=identity.key(config),
                    config=dataclasses.asdict(config))
    return dataclasses.replace(result, provenance=prov)


def register(result: store.Result, module: Any, config: Any, when: str) -> store.Result:
    """``result`` with its rules registered, for a result made before rules were data: each rule as
    first registered (:meth:`rglt.claims.Rule.first`), and ``rules_registered`` saying ``when`` and
    that it was after the result. A result that already has its rules is returned as it is."""
    prov = dict(result.provenance)
    if "rules" in prov:
        return result
    rules = claims.rules_record(module.rules(config), first=True)
    prov.update(rules=rules, rules_hash=claims.rules_hash(rules),
                rules_registered=f"{when}, after the result: the rules were first written as data then")
    return dataclasses.replace(result, provenance=prov)


def rerun_requested() -> bool:
    return os.environ.get("RGLT_RERUN", "").strip().lower() in {"1", "true", "yes"}


def _rescue(result: store.Result) -> Path:
    """Pickle a result the store refused, so that the run behind it is not lost."""
    base = store.paths(result.experiment, result.profile)[1]
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{result.profile}.unsaved-{stamp()}.pkl"
    with open(path, "wb") as handle:
        pickle.dump(result, handle)
    return path


def load(experiment: str, profile: str | None = None, *, rerun: bool | None = None) -> store.Result:
    """The experiment's result at ``profile`` (default: :func:`rglt.profile`), with its ``config``.

    A fresh stored result is returned as it is; otherwise the experiment runs with the profile's
    config and its result is stored (under the results root for cpu and gpu, a temporary directory for
    smoke). ``rerun=True`` or ``RGLT_RERUN=1`` forces a run. A damaged stored result is reported,
    set aside (see :func:`rglt.store.set_aside`) and treated as missing.
    """
    module = get(experiment)
    profile = rglt.check_profile(profile) if profile is not None else rglt.profile()
    config = module.CONFIGS[profile]
    rerun = rerun_requested() if rerun is None else rerun
    found = None if rerun else _fresh_stored(experiment, profile, module, config)
    if found is not None:
        return found
    # Before the run, not after it: a directory that cannot take the result would lose the run.
    variable = "RGLT_SMOKE_CACHE" if profile == "smoke" else "RGLT_RESULTS"
    check_writable(store.paths(experiment, profile)[1].parent, variable)
    # One run at a time per experiment and profile: a second process (a chapter and the intro under
    # xdist) waits for the first and reads its result instead of running it again.
    with locked(cache_root() / "running" / experiment / profile,
                waiting=f"{experiment} at profile {profile} is being run by another process: waiting for its result"):
        found = None if rerun else _fresh_stored(experiment, profile, module, config)
        if found is not None:
            return found
        return _run(experiment, profile, module, config)


def _fresh_stored(experiment: str, profile: str, module: Any, config: Any) -> store.Result | None:
    """The stored result when it is fresh (with its config), else None; a damaged one is set aside."""
    try:
        stored = store.load(experiment, profile)
    except store.CorruptResultError as err:
        print(f"[rglt] {err}; set aside as {store.set_aside(experiment, profile)}, rerunning", file=sys.stderr)
        return None
    if stored is not None and is_fresh(stored, module, config):
        return dataclasses.replace(stored, config=config)
    return None


def _run(experiment: str, profile: str, module: Any, config: Any) -> store.Result:
    start = time.perf_counter()
    data = module.run(config)
    result = store.Result(experiment, profile, data, provenance(module, profile, config, time.perf_counter() - start))
    try:
        store.save(result)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err}; the run's output was pickled to {_rescue(result)}") from err
    print(f"[rglt] ran {experiment} at profile {profile} in {result.provenance['wall_time_s']:.1f} s; "
          f"stored in {store.paths(experiment, profile)[0]}", file=sys.stderr)
    return dataclasses.replace(store.load(experiment, profile), config=config)
