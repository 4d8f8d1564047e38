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
- ``checks(result, config) -> list[rglt.report.Claim]``: the experiment's claims, one per row, each
  naming the source's number (quoted, with the seed file and its table, figure or section), ours, the
  tolerance (from the config's unhashed fields) and its own verdict. ``result`` is a stored result or a
  dict of its data. A chapter shows them with :func:`rglt.report.claims_table`; never one word.

``tests/test_experiment_contract.py`` holds every experiment to this: each has a test in which a
result that makes a claim false turns that claim's verdict. The README's "Adding an experiment" says
how to add one.
"""
from __future__ import annotations

from rglt.experiments._registry import Experiment, get, names
from rglt.experiments._running import is_fresh, load, provenance, rehash, rerun_requested

__all__ = ["Experiment", "get", "is_fresh", "load", "names", "provenance", "rehash", "rerun_requested"]
