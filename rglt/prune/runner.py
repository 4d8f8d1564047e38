"""Many jobs on a pool of one-thread processes, or on any ``concurrent.futures``-style executor.

- :func:`map_jobs` runs picklable ``fn(job)`` calls in worker processes (spawned, each with its torch
  thread count set) and returns their results in order: the fan-out every experiment uses.
- :func:`run_all` trains many :class:`~rglt.prune.runs.TicketRun` s into the ticket cache, with one
  progress bar over all their levels (a group of replicates, ``TicketRun.group``, is one job). It is resumable (a killed runner restarted trains only what is
  missing) and deterministic (tickets are trained with one thread, so they do not depend on the worker
  that ran them or on the worker count).

On two CPU cores two one-thread processes train ~1.4-1.9x more small models per hour than one
two-thread process (benchmarks/imp.py). Beyond one machine, pass ``executor=``: a Dask
``distributed.Client(...).get_executor()`` (tested with a ``LocalCluster``), or train one run per
cluster task with ``python -m rglt tickets`` against a shared ``RGLT_CACHE`` (see the README).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rglt.progress import progress
from rglt.prune.cache import cache_root, is_complete, store_of, train_tickets
from rglt.prune.runs import TicketRun


def _init_worker(threads: int) -> None:
    import torch
    torch.set_num_threads(threads)
    os.environ["RGLT_PROGRESS"] = "0"   # one progress bar, the parent's


def _check_workers(workers, threads) -> None:
    for name, value in (("workers", workers), ("threads_per_worker", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def map_jobs(fn: Callable[[Any], Any], jobs: Sequence, *, workers: int = 2, threads_per_worker: int = 1,
             executor: cf.Executor | None = None, desc: str = "jobs") -> list:
    """``[fn(job) for job in jobs]``, computed in parallel; the first failure is raised after the rest end.

    Without ``executor`` (and with ``workers > 1``) the jobs run in ``workers`` spawned processes with
    ``threads_per_worker`` torch threads each; ``workers=1`` runs them here, in order. ``fn`` and the
    jobs must be picklable (a module-level function) when they leave the process.
    """
    _check_workers(workers, threads_per_worker)
    jobs = list(jobs)
    if executor is None and (workers == 1 or len(jobs) <= 1):
        return [fn(job) for job in progress(jobs, desc=desc, unit="job")]
    own = executor is None
    if own:
        executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_init_worker, initargs=(threads_per_worker,))
    try:
        futures = [executor.submit(fn, job) for job in jobs]
        bar = progress(total=len(futures), desc=desc, unit="job")
        for _ in cf.as_completed(futures):
            bar.update(1)
        bar.close()
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise RuntimeError(f"{len(errors)} of {len(jobs)} jobs failed; the first: {errors[0]!r}") from errors[0]
        return [f.result() for f in futures]
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)


def train_run(run: TicketRun | str, cache: str | None = None, threads: int = 1) -> str:
    """Train one run into the ticket cache (a worker's job; ``run`` may be its JSON); returns its key.

    ``cache`` sets ``RGLT_CACHE`` in the worker, so that cluster workers use the caller's cache.
    """
    if cache is not None:
        os.environ["RGLT_CACHE"] = cache
    _init_worker(threads)
    run = TicketRun.from_json(run) if isinstance(run, str) else run
    train_tickets(run)
    return run.key


def run_all(runs: Iterable[TicketRun], *, workers: int = 2, executor: cf.Executor | None = None,
            poll_s: float = 1.0) -> list:
    """Train every run that is not complete in the ticket cache; return their stores, in order.

    Runs that name the same tickets (equal keys) are trained once. One progress bar counts the levels
    of all runs, read from the cache (so it also counts work done by other processes or nodes).
    """
    runs = list(runs)
    for i, run in enumerate(runs):
        if not isinstance(run, TicketRun):
            raise TypeError(f"runs[{i}] must be an rglt.prune.TicketRun; got {type(run).__name__}")
    _check_workers(workers, 1)
    unique = list({run.key: run for run in runs}.values())
    # One job per group: training any member of a group trains (and stores) all of them.
    jobs = {}
    for run in unique:
        if not is_complete(run):
            jobs.setdefault(run.members()[0].key, run)
    pending = list(jobs.values())
    stores = [store_of(run) for run in runs]
    if not pending:
        return stores
    total = sum(run.imp.rounds + 1 for run in unique)
    levels_done = lambda: sum(len(store_of(run).levels()) for run in unique)  # noqa: E731
    bar = progress(total=total, initial=levels_done(), desc=f"IMP levels of {len(unique)} runs", unit="level")
    cache = str(cache_root())
    if executor is None and workers == 1:   # here, in order (train_tickets() trains with one thread itself)
        for run in pending:
            train_tickets(run)
            bar.update(levels_done() - bar.n)
        bar.close()
        return stores
    own = executor is None
    if own:
        executor = cf.ProcessPoolExecutor(min(workers, len(pending)), mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_init_worker, initargs=(1,))
    try:
        futures = {executor.submit(train_run, run.to_json(), cache, 1): run for run in pending}
        not_done = set(futures)
        while not_done:
            _, not_done = cf.wait(not_done, timeout=poll_s)
            bar.update(levels_done() - bar.n)
        bar.close()
        failed = [(futures[f], f.exception()) for f in futures if f.exception() is not None]
        if failed:
            run, err = failed[0]
            raise RuntimeError(f"{len(failed)} of {len(pending)} runs failed; the first, {run.label}: {err!r}") from err
    finally:
        if own:
            executor.shutdown(wait=True, cancel_futures=True)
    return stores
