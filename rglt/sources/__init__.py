"""The sources' numbers: one module per seed document (``shared/seeds/``), each number as the source prints
it with the table or figure that prints it.

=================  ======  =====================================================================
module             seed    what it is
=================  ======  =====================================================================
``redman2022``     000     Redman et al. 2022, IMP as a renormalization-group flow (ICML)
``hu2022``         001     a reproduction report of Hu et al. 2022, RG-Flow (its own Table 1)
``lth_essay``      002     an essay on the applications of the lottery ticket hypothesis
``yin2023``        003     Yin, Liu et al. 2023, Lottery Pools (AAAI)
=================  ======  =====================================================================

The experiments' rules quote these numbers (their ``source_value``) and the chapters' figures draw them
beside ours, both from here, so a number is typed once. A :class:`Number` keeps the value as printed
(a float, a row, a table as a dict) and says where it is printed (:attr:`Number.cite`).
"""
from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Number:
    """A number (or a row, or a table) as a source prints it. ``seed``: the seed file's number ("000");
    ``where``: the table, figure, equation or section that prints it; ``value``: as printed; ``note``:
    what it measures, in words, where the name does not say."""

    seed: str
    where: str
    value: Any
    note: str = ""

    def __post_init__(self):
        if not (len(self.seed) == 3 and self.seed.isdigit()):
            raise ValueError(f"seed must be a seed file's number (000-003); got {self.seed!r}")
        if not isinstance(self.where, str) or not self.where.strip():
            raise ValueError("where must name the table, figure or section that prints the number")

    @property
    def cite(self) -> str:
        """``"003 Tables 6-7"``: the seed file and where in it."""
        return f"{self.seed} {self.where}"


def numbers(module) -> dict[str, Number]:
    """Every :class:`Number` a source module holds, by name, in the module's order."""
    return {k: v for k, v in vars(module).items() if isinstance(v, Number)}


# The seed files by number, as a reader knows them (the Claims page's source filter, the chapters' captions).
SEEDS = {"000": "Redman et al. 2022 (IMP as an RG flow)", "001": "Hu et al. 2022 (RG-Flow), through a reproduction report",
         "002": "the lottery-ticket applications essay", "003": "Yin, Liu et al. 2023 (Lottery Pools)"}
BOOK = "the book's own goals"


def seed_of(source: str) -> str:
    """The seed file's number a claim's ``source`` starts with ("003 Table 2" -> "003"), or ``"book"`` for a goal
    the book set itself (``"book: ..."``)."""
    head = source.strip()[:3]
    if head.isdigit():
        return head
    if source.startswith("book:"):
        return "book"
    raise ValueError(f"source must start with a seed file's number (000-003) or 'book:'; got {source!r}")
