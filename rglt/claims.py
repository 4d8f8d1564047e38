"""Claims and their rules: a verdict is derived from a measured interval and a rule written before the run.

A **rule** (:class:`Rule`) is a claim of a source turned into a test, as data: its id, the statement,
the source's number, the effect measured and how its interval is made (``test``), the region of the
effect where the claim holds (``low``, ``high``), and the regime it lives in (``precondition``). An
experiment lists its rules in ``rules(config)``; their hash (:func:`rules_hash`) goes into a result's
provenance when the experiment runs, so a rule changed after its result exists shows.

A **claim** (:class:`Claim`) is one row of a chapter's claims table: a rule judged on a result by
:meth:`Rule.judge` (or :meth:`Rule.judge_parts` for a claim of several parts). Its verdict is derived,
never typed:

- **reproduced**: the interval lies inside the rule's region;
- **not**: it lies outside (tested, and it failed; the reason gives the interval);
- **inconclusive**: it straddles a boundary (the reason says how many seeds would decide it), or the
  regime precondition fails (the reason names the measured number that fails it);
- **partly**: only for a claim of several parts, some of which hold (the reason names them).

A rule changed after its result exists keeps the registered version (``registered``) and says what
changed (``change``); the row then shows the verdict under both. A rule written after the result, with
no registered version, says so in ``change``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rglt.stats import Interval, seeds_to_decide

VERDICTS = ("reproduced", "partly", "not", "inconclusive")
_TEXT_FIELDS = ("claim", "source", "source_value", "ours", "tolerance")
BOOK_SOURCE = "book:"   # a rule's source prefix for a goal the book set itself (no seed file behind it)


# ---- verdicts from intervals ---------------------------------------------------------------------

def region_text(low: float, high: float) -> str:
    """``(low, high)`` in words: ``> 0``, ``< 0.05`` or ``in (-0.01, 0.01)``."""
    if math.isinf(low) and math.isinf(high):
        return "any value"
    return (f"> {low:g}" if math.isinf(high) else f"< {high:g}" if math.isinf(low)
            else f"in ({low:g}, {high:g})")


def measured_text(interval: Interval, what: str = "the effect") -> str:
    """``what 0.123 [0.1, 0.14] (95% t interval ..., n = 3)``: an interval as a reason quotes it."""
    if interval.low == interval.high:
        return f"{what} {interval.mean:.4g} (exact, n = {interval.n})"
    return (f"{what} {interval.mean:.4g} [{interval.low:.4g}, {interval.high:.4g}] "
            f"({interval.method}, n = {interval.n})")


def derived(interval: Interval, low: float = -math.inf, high: float = math.inf, *, what: str = "the effect",
            precondition: tuple[bool, str] | None = None) -> dict[str, str]:
    """``verdict`` and ``reason`` derived from ``interval`` and the claim's region ``(low, high)``:

    - **inconclusive** when the regime ``precondition`` ``(holds, "the measured number that decides
      it")`` fails: the setting cannot test the claim, so it is neither reproduced nor not;
    - **reproduced** when the interval lies inside the region (an exact value counts as an interval of
      zero width);
    - **not** when it lies outside (tested, and it failed: the reason gives the interval);
    - **inconclusive** when it straddles a boundary, with how many seeds of the same spread would decide.
    """
    if not isinstance(interval, Interval):
        raise TypeError(f"interval must be an rglt.stats.Interval; got {type(interval).__name__}")
    if not low < high:
        raise ValueError(f"the region must have low < high; got ({low}, {high})")
    region = region_text(low, high)
    if precondition is not None and not precondition[0]:
        return {"verdict": "inconclusive", "reason": f"outside the claim's regime: {precondition[1]}"}
    measured = measured_text(interval, what)
    if any(math.isnan(v) for v in (interval.mean, interval.low, interval.high)):
        return {"verdict": "inconclusive", "reason": f"{measured}: not measured"}
    if low < interval.low and interval.high < high or (interval.low == interval.high and low < interval.mean < high):
        return {"verdict": "reproduced", "reason": ""}
    if interval.high <= low or interval.low >= high:
        return {"verdict": "not", "reason": f"{measured}, outside the claimed region {region}"}
    boundary = low if interval.low <= low < interval.high else high
    n = seeds_to_decide(interval, boundary)
    more = (f"about {n} seeds of this spread would decide it" if n
            else "no number of seeds of this spread would decide it")
    return {"verdict": "inconclusive",
            "reason": f"{measured} straddles the boundary {boundary:g} of the region {region}; {more}"}


def combined(parts: Mapping[str, str]) -> str:
    """The verdict of a claim of several parts from theirs (``{part name: verdict}``): reproduced when
    all hold, not when none holds and all were tested, partly when some hold, else inconclusive."""
    verdicts = list(parts.values())
    if not verdicts or any(v not in VERDICTS for v in verdicts):
        raise ValueError(f"parts must map names to verdicts in {VERDICTS}; got {dict(parts)!r}")
    if all(v == "reproduced" for v in verdicts):
        return "reproduced"
    if any(v in ("reproduced", "partly") for v in verdicts):
        return "partly"
    if all(v == "not" for v in verdicts):
        return "not"
    return "inconclusive"


# ---- rules ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Rule:
    """A claim turned into a test, written before its run (see the module docstring).

    ``id``: short and stable within its experiment. ``claim``: the statement. ``source``: the seed
    file and where in it (``"000 Table 2"``), or, for a goal the book set itself with no seed file
    behind it, ``"book:"`` and where it was set (``"book: issue 14"``; :data:`BOOK_SOURCE`).
    ``source_value``: the source's number as it gives it, or a sentence saying it gives none.
    ``what``: the effect measured, with its unit. ``test``: how its interval is made. ``low``,
    ``high``: the region of the effect where the claim holds.
    ``precondition``: the regime the claim lives in, in words ("" when it has none); the measured
    number that decides it is given when judging. ``parts``: for a claim of several parts, their names
    (each judged on its own region, described in ``test``; the rule's own region is then unused; a
    part's name when judged may add to its declared name, e.g. the cell that decides it).
    ``registered`` and ``change``: the rule as first
    registered, and what changed since (see :func:`check_registration`).
    """

    id: str
    claim: str
    source: str
    source_value: str
    what: str
    test: str
    low: float = -math.inf
    high: float = math.inf
    precondition: str = ""
    parts: tuple[str, ...] = ()
    registered: Rule | None = None
    change: str = ""

    def __post_init__(self):
        if not isinstance(self.parts, tuple) or not all(isinstance(p, str) and p.strip() for p in self.parts) \
                or len(set(self.parts)) != len(self.parts) or len(self.parts) == 1:
            raise ValueError(f"Rule {self.id!r}: parts must be a tuple of two or more distinct names; got {self.parts!r}")
        for name in ("id", "claim", "source", "source_value", "what", "test", "precondition", "change"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Rule.{name} must be a str; got {getattr(self, name)!r}")
        for name in ("id", "claim", "source", "source_value", "what", "test"):
            if not getattr(self, name).strip():
                raise ValueError(f"Rule.{name} must not be empty (rule {self.id!r})")
        if not (self.source[:3].isdigit() or self.source.startswith(BOOK_SOURCE)):
            raise ValueError(f"Rule.source must start with its seed file's number (000-003), or with {BOOK_SOURCE!r} "
                             f"for the book's own goal; got {self.source!r}")
        for name in ("low", "high"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), (int, float)):
                raise TypeError(f"Rule.{name} must be a number; got {getattr(self, name)!r}")
        if not self.low < self.high:
            raise ValueError(f"Rule {self.id!r}: the region must have low < high; got ({self.low}, {self.high})")
        if self.registered is not None:
            if not isinstance(self.registered, Rule) or self.registered.id != self.id:
                raise ValueError(f"Rule {self.id!r}: registered must be the same rule (same id) as first registered")
            if not self.change.strip():
                raise ValueError(f"Rule {self.id!r}: say what changed since the registered rule (change)")

    @property
    def region(self) -> str:
        return "every part holds" if self.parts else region_text(self.low, self.high)

    def record(self) -> dict[str, Any]:
        """The rule as JSON-able data (infinite bounds as None), without its history."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("registered", "change")}
        out["parts"] = list(self.parts)
        for name in ("low", "high"):
            out[name] = None if math.isinf(out[name]) else float(out[name])
        return out

    def first(self) -> Rule:
        """The rule as first registered (itself when it never changed)."""
        return self if self.registered is None else self.registered.first()

    def _verdict(self, interval: Interval | None, precondition, parts) -> dict[str, str]:
        if interval is None and parts is None:
            return {"verdict": "inconclusive", "reason": f"outside the claim's regime: {precondition[1]}"}
        if parts is not None:
            if precondition is not None and not precondition[0]:
                return {"verdict": "inconclusive", "reason": f"outside the claim's regime: {precondition[1]}"}
            matched = [max((d for d in self.parts if name.startswith(d)), key=len, default=None) for name in parts]
            used = [m for m in matched if m is not None]
            if len(used) != len(parts) or len(set(used)) != len(used):
                raise ValueError(f"rule {self.id!r} is judged by the parts it declares ({', '.join(self.parts) or 'none'}), "
                                 f"each at most once (a part's name may add to a declared one); got {', '.join(parts)}")
            return _parts_verdict(parts)
        return derived(interval, self.low, self.high, what=self.what, precondition=precondition)

    def judge(self, interval: Interval | None = None, *, ours: str, p: float | None = None,
              precondition: tuple[bool, str] | None = None, parts: Mapping[str, Claim] | None = None,
              registered: Interval | None = None, registered_parts: Mapping[str, Claim] | None = None,
              registered_precondition: tuple[bool, str] | None = None) -> Claim:
        """This rule's row for a result: the verdict derived from ``interval`` (or from ``parts``, a
        claim of several parts: ``{name: Claim}``), with ``ours`` (our numbers in words), the test's
        ``p``-value where there is one, and ``precondition = (holds, "the measured number")`` where the
        rule has one. Where the rule changed since its registration, ``registered`` (or
        ``registered_parts``) is what the registered rule measures (default: the same) and the row
        gives the verdict under it as well, under ``registered_precondition`` where the registered rule
        measured its regime another way (default: ``precondition``)."""
        unmeasured = interval is None and parts is None and precondition is not None and not precondition[0]
        if (interval is None) == (parts is None) and not unmeasured:
            raise ValueError(f"rule {self.id!r}: give an interval or parts, not both or neither (neither only "
                             "where the regime fails and nothing could be measured)")
        if bool(self.parts) != (parts is not None) and not unmeasured:
            raise ValueError(f"rule {self.id!r}: " + ("judge it by its parts" if self.parts else
                                                      "it declares no parts: judge it by an interval"))
        if self.precondition and precondition is None:
            raise ValueError(f"rule {self.id!r} lives in a regime ({self.precondition}): "
                             "pass precondition=(holds, 'the measured number')")
        if precondition is not None and not self.precondition:
            raise ValueError(f"rule {self.id!r} states no precondition; write it in the rule first")
        verdict = self._verdict(interval, precondition, parts)
        earlier, then = "", {"verdict": ""}
        if self.registered is not None:
            old = self.registered
            old_pre = (registered_precondition or precondition) if old.precondition else None
            if old.precondition and not self.precondition:
                raise ValueError(f"rule {self.id!r}: its registered version has a precondition this one lacks")
            old_parts = registered_parts if registered_parts is not None else parts if old.parts else None
            then = old._verdict(registered if registered is not None else interval, old_pre, old_parts)
            earlier = (f"under the rule as registered ({old.what} {old.region}; {old.test}): {then['verdict']}"
                       + (f" ({then['reason']})" if then["reason"] else "") + f". Changed: {self.change}")
        elif self.change:
            earlier = (f"rule {self.change}" if self.change.startswith("written after")
                       else f"rule written after the result existed: {self.change}")
        if interval is not None:
            shown = measured_text(interval, self.what)
        elif parts is None:
            shown = "not measured"
        else:
            shown = "; ".join(f"{name}: {c.verdict}" for name, c in parts.items())
        return Claim(claim=self.claim, source=self.source, source_value=self.source_value,
                     ours=f"{ours} [{shown}]" if ours else shown,
                     tolerance=f"{self.what} {self.region}; {self.test}", rule=self.id, interval=interval,
                     test=self.test, p=p, precondition=(f"{self.precondition}: {'holds' if precondition[0] else 'fails'}, "
                                                        f"{precondition[1]}" if precondition is not None else ""),
                     registered=earlier, registered_verdict=then["verdict"], **verdict)


def _parts_verdict(parts: Mapping[str, Claim]) -> dict[str, str]:
    if not parts or not all(isinstance(c, Claim) for c in parts.values()):
        raise TypeError("parts must map part names to the Claims judging them")
    verdict = combined({name: c.verdict for name, c in parts.items()})
    if verdict == "reproduced":
        return {"verdict": verdict, "reason": ""}
    return {"verdict": verdict, "reason": "; ".join(f"{name}: {c.verdict}" + (f" ({c.reason})" if c.reason else "")
                                                   for name, c in parts.items())}


def part(name: str, interval: Interval, low: float = -math.inf, high: float = math.inf, *,
         what: str = "the effect", precondition: tuple[bool, str] | None = None) -> tuple[str, Claim]:
    """One part of a claim of several parts, for :meth:`Rule.judge` ``parts``: ``(name, Claim)``."""
    verdict = derived(interval, low, high, what=what, precondition=precondition)
    return name, Claim(claim=name, source="part", source_value="part", ours=measured_text(interval, what),
                       tolerance=f"{what} {region_text(low, high)}", interval=interval, **verdict)


def deciding(intervals: Sequence[Interval], low: float = -math.inf, high: float = math.inf, *,
             every: bool = True) -> int:
    """The index of the cell whose interval decides a claim judged over many cells (levels, tasks).

    ``every`` (the claim holds at every cell; intersection-union, no correction): a cell whose interval
    lies outside the region ``(low, high)`` if there is one (the farthest out), else a straddling one
    (the farthest out), else the cell nearest the boundary. Otherwise (the claim holds at some cell;
    give intervals already corrected for the number of cells, e.g. by Holm): a cell inside if there
    is one (the farthest in), else a straddling one, else the nearest to the region.
    """
    if not intervals:
        raise ValueError("intervals must hold at least one cell")
    rank = {"not": 0, "inconclusive": 1, "reproduced": 2}
    keys = [(rank[derived(iv, low, high)["verdict"]], min(iv.low - low, high - iv.high)) for iv in intervals]
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return order[0] if every else order[-1]


def conjunction(name: str, parts: Sequence[Claim]) -> Claim:
    """A part that holds when all of ``parts`` hold (reproduced), fails when one fails (not), else
    inconclusive: for a part that is itself "this and that"."""
    verdicts = [c.verdict for c in parts]
    verdict = ("reproduced" if all(v == "reproduced" for v in verdicts)
               else "not" if "not" in verdicts else "inconclusive")
    return Claim(claim=name, source="part", source_value="part", ours="; ".join(c.ours for c in parts),
                 tolerance=" and ".join(c.tolerance for c in parts), verdict=verdict,
                 reason="" if verdict == "reproduced" else "; ".join(f"{c.claim}: {c.verdict}" for c in parts))


# ---- claims --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a source document, measured here: one row of a chapter's claims table.

    Made by :meth:`Rule.judge`, which derives ``verdict`` and ``reason`` from the measured ``interval``
    (``rule``: the rule's id; ``test`` and ``p``: the test and its p-value where there is one;
    ``precondition``: the regime and whether it holds; ``registered``: the verdict under the rule as
    first registered, where it changed). ``tolerance`` holds the rule's region and test in words.
    """

    claim: str
    source: str
    source_value: str
    ours: str
    tolerance: str
    verdict: str
    reason: str = ""
    rule: str = ""
    interval: Interval | None = None
    test: str = ""
    p: float | None = None
    precondition: str = ""
    registered: str = ""
    registered_verdict: str = ""     # the verdict under the rule as registered, where the rule changed since

    def __post_init__(self):
        for name in (*_TEXT_FIELDS, "verdict", "reason", "rule", "test", "precondition", "registered"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Claim.{name} must be a str; got {type(value).__name__} ({value!r})")
        for name in _TEXT_FIELDS:
            if not getattr(self, name).strip():
                raise ValueError(f"Claim.{name} must not be empty (claim: {self.claim!r})")
        if self.registered_verdict not in ("", *VERDICTS):
            raise ValueError(f"Claim.registered_verdict must be empty or one of {', '.join(VERDICTS)}; got "
                             f"{self.registered_verdict!r} (claim: {self.claim!r})")
        if self.verdict not in VERDICTS:
            raise ValueError(f"Claim.verdict must be one of {', '.join(VERDICTS)}; got {self.verdict!r} "
                             f"(claim: {self.claim!r})")
        if self.verdict != "reproduced" and not self.reason.strip():
            raise ValueError(f"Claim.reason is required when the verdict is {self.verdict!r}: say what was "
                             f"measured and why it falls short (claim: {self.claim!r})")

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"


# ---- registration --------------------------------------------------------------------------------

def _canonical(records: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(sorted(records, key=lambda r: r["id"]), sort_keys=True)


def check_rules(rules: Sequence[Rule], where: str = "rules") -> tuple[Rule, ...]:
    """``rules`` as a tuple, after checking they are Rules with distinct ids."""
    rules = tuple(rules)
    bad = [type(r).__name__ for r in rules if not isinstance(r, Rule)]
    if bad or not rules:
        raise TypeError(f"{where} must be a non-empty sequence of rglt.claims.Rule; got {bad or 'none'}")
    ids = [r.id for r in rules]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"{where}: rule ids must be distinct; repeated: {', '.join(twice)}")
    return rules


def rules_record(rules: Sequence[Rule], *, first: bool = False) -> list[dict[str, Any]]:
    """The rules as data for a result's provenance (each as first registered when ``first``)."""
    rules = check_rules(rules)
    return [(r.first() if first else r).record() for r in rules]


def rules_hash(records: Sequence[Mapping[str, Any]] | Sequence[Rule]) -> str:
    """A short hash of rules (or of their records): equal exactly when the rules are."""
    if records and isinstance(records[0], Rule):
        records = rules_record(records)
    return hashlib.sha256(_canonical(records).encode()).hexdigest()[:16]


def registration_problems(rules: Sequence[Rule], stored: Sequence[Mapping[str, Any]]) -> list[str]:
    """What is wrong between the code's ``rules`` and the rules ``stored`` in a result's provenance:
    a rule that differs from its stored version without keeping it as ``registered`` (with the change
    said), a rule added without saying so, or a stored rule the code dropped. Empty when all is said."""
    stored_by_id = {r["id"]: dict(r) for r in stored}
    problems = []
    for rule in check_rules(rules):
        theirs = stored_by_id.pop(rule.id, None)
        if theirs is None:
            if not rule.change.strip():
                problems.append(f"rule {rule.id!r} is not in the result's registered rules: say in its change "
                                "that it was written after the result")
            continue
        if _canonical([rule.record()]) == _canonical([theirs]):
            continue
        versions = []
        r = rule.registered
        while r is not None:
            versions.append(r)
            r = r.registered
        if not any(_canonical([v.record()]) == _canonical([theirs]) for v in versions):
            changed = sorted(k for k in theirs if theirs.get(k) != rule.record().get(k))
            problems.append(f"rule {rule.id!r} differs from the registered one ({', '.join(changed)}) and does not "
                            "keep it as registered= with the change said")
    problems += [f"registered rule {i!r} was dropped from the code" for i in stored_by_id]
    return problems
