"""One module per chapter experiment, found by discovery, all following one contract (:class:`Experiment`).

Each module in this package (every module whose name does not start with ``_``) defines:

- ``NAME`` (the module's own name) and ``VERSION`` (bump it when a change to ``run`` changes what the
  results mean);
- ``Config``, a frozen dataclass. Its ordinary fields are the **science**: everything that changes what
  ``run`` computes (sizes, steps, seeds, hyperparameters, and every ``TicketRun`` it uses), and
  :func:`rglt.identity.key` hashes them and nothing else. Fields that do not change the science
  (workers, threads, progress bars, and the claims' tolerances and margins) are declared with
  ``rglt.identity.unhashed(default)``: stored in the provenance, but changing them keeps a stored
  result fresh;
- ``CONFIGS``: one config per profile (``smoke``, ``cpu``, ``gpu``);
- ``run(config) -> dict``: arrays and JSON-able scalars, stored by :func:`load`;
- ``rules(config) -> tuple[rglt.claims.Rule, ...]``: the experiment's claims as rules, written before
  the run (statement, the source's number, the effect and its test, the region where the claim holds,
  the regime precondition). Their records and hash go into a result's provenance (``rules``,
  ``rules_hash``) when it runs; a rule changed after that keeps its registered version (see
  :mod:`rglt.claims`);
- ``checks(result, config) -> list[rglt.claims.Claim]``: one row per rule, each made by
  :meth:`rglt.claims.Rule.judge` from the measured interval, so every verdict is derived, never typed.
  ``result`` is a stored result or a dict of its data. A chapter shows them with
  :func:`rglt.report.claims_table`; never one word.

``tests/test_experiment_contract.py`` holds every experiment to this: each has a test in which a
result that makes a claim false turns that claim's verdict. The README's "Adding an experiment" says
how to add one.
"""
from __future__ import annotations

from rglt.experiments._chapters import CHAPTERS, PAGES, TITLES, chapter_claims, verdict_counts
from rglt.experiments._registry import Experiment, get, names
from rglt.experiments._running import is_fresh, load, provenance, register, rehash, rerun_requested

__all__ = ["CHAPTERS", "PAGES", "TITLES", "chapter_claims", "verdict_counts", "Experiment", "get", "is_fresh", "load", "names", "provenance", "register", "rehash", "rerun_requested"]
