"""Which experiments make which chapter's claims, for the intro's verdict counts and the chapters' own tables."""
from __future__ import annotations

from collections import Counter

from rglt.claims import VERDICTS, Claim
from rglt.experiments._registry import get
from rglt.experiments._running import load

CHAPTERS: dict[int, tuple[str, ...]] = {
    1: ("ising_rg",),
    2: ("imp_flow_tasks", "imp_flow_depth", "imp_flow_transformer", "imp_projection", "imp_null_paper"),
    3: ("rg_flow", "rg_flow_budget"),
    4: ("lottery_pools", "lottery_pools_analysis", "imp_resume"),
    5: ("tickets_lottery", "tickets_compression", "tickets_structured", "tickets_ensembles", "tickets_geometry",
        "tickets_low_data", "tickets_mixing", "tickets_attention", "tickets_recurrent", "tickets_transfer",
        "tickets_distillation", "tickets_fairness"),
}
KERNELS = 6   # chapter 6's claims come from benchmark records, not experiments (rglt.experiments._kernels)
# Each chapter's page (book/<page>.ipynb) and its short title, for the intro's counts and the Claims page.
PAGES = {1: "01_rg_primer", 2: "02_imp_is_rg", 3: "03_rg_flow", 4: "04_lottery_pools", 5: "05_tickets_in_the_wild",
         6: "06_kernels"}
TITLES = {1: "the renormalization group", 2: "IMP as an RG flow", 3: "RG-Flow", 4: "Lottery Pools",
          5: "tickets in the wild", 6: "kernels and speed"}


def chapter_claims(chapter: int, profile: str | None = None) -> list[Claim]:
    """Every claim row of ``chapter`` (1-6) at ``profile``, in the chapter's order."""
    if chapter == KERNELS:
        from rglt.experiments import _kernels
        return _kernels.claims()
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {', '.join(map(str, [*CHAPTERS, KERNELS]))}; got {chapter!r}")
    out = []
    for name in CHAPTERS[chapter]:
        module, result = get(name), load(name, profile)
        out += module.checks(result, result.config)
    return out


def verdict_counts(claims: list[Claim]) -> dict[str, int]:
    """How many of ``claims`` have each verdict, in :data:`rglt.claims.VERDICTS`' order."""
    counts = Counter(c.verdict for c in claims)
    return {v: counts.get(v, 0) for v in VERDICTS}
