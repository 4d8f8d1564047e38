"""What every chapter shows alike: the provenance cell, the claims table, image grids, seed-spread error bars.

A chapter's verdict is the table of its claims (:class:`Claim`, one row each, with its own verdict),
never one word for the whole chapter. Experiments build their claims in ``checks(result, config)``
(see :mod:`rglt.experiments`); a notebook shows them with :func:`claims_table`::

    print(report.provenance_table(result))          # the provenance cell
    report.claims_table(ising_rg.checks(result, config))   # last line of the chapter's last cell

Figure style (fonts, colours, spin images) stays in :mod:`rglt.plot`; the pieces here are the ones
several chapters draw: grids of images and means over seeds with their spread.
"""
from __future__ import annotations

import dataclasses
import html
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from rglt.plot import text_table
from rglt.stats import CONVENTION, seeds_to_decide

VERDICTS = ("reproduced", "partly", "not", "inconclusive")
PROVENANCE_KEYS = ("experiment_version", "config_hash", "git_commit", "device", "torch", "wall_time_s", "date")
_TEXT_FIELDS = ("claim", "source", "source_value", "ours", "tolerance")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a source document, measured here, with its own verdict.

    ``claim``: what is claimed, in words. ``source``: the seed file and where in it (``"000 Eq. 2"``,
    ``"001 (report) Table 1"``). ``source_value``: the source's number, quoted as the source gives it
    (or, where it gives none, a sentence saying so). ``ours``: our number, with its error or seed spread
    where there is one. ``tolerance``: how close counts as reproduced. ``verdict``: ``"reproduced"``,
    ``"partly"`` or ``"not"``; ``reason``: required for the last two, the measured reason.
    """

    claim: str
    source: str
    source_value: str
    ours: str
    tolerance: str
    verdict: str
    reason: str = ""

    def __post_init__(self):
        for name in (*_TEXT_FIELDS, "verdict", "reason"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Claim.{name} must be a str; got {type(value).__name__} ({value!r})")
        for name in _TEXT_FIELDS:
            if not getattr(self, name).strip():
                raise ValueError(f"Claim.{name} must not be empty (claim: {self.claim!r})")
        if self.verdict not in VERDICTS:
            raise ValueError(f"Claim.verdict must be one of {', '.join(VERDICTS)}; got {self.verdict!r} "
                             f"(claim: {self.claim!r})")
        if self.verdict != "reproduced" and not self.reason.strip():
            raise ValueError(f"Claim.reason is required when the verdict is {self.verdict!r}: say what was "
                             f"measured and why it falls short (claim: {self.claim!r})")

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"


def judged(held: bool, reason: str, *, partly: bool = False) -> dict[str, str]:
    """``verdict`` and ``reason`` for a Claim from one test: reproduced when ``held``, else ``partly``
    (when ``partly`` is true) or ``not``, with ``reason`` (the measured reason) kept only then."""
    if held:
        return {"verdict": "reproduced", "reason": ""}
    return {"verdict": "partly" if partly else "not", "reason": reason}


def derived(interval, low: float = -math.inf, high: float = math.inf, *, what: str = "the effect",
            precondition: tuple[bool, str] | None = None) -> dict[str, str]:
    """``verdict`` and ``reason`` for a Claim, derived from an interval (:class:`rglt.stats.Interval`)
    and the claim's region ``(low, high)`` for ``what``, never typed:

    - **inconclusive** when the regime ``precondition`` ``(holds, "the measured number that decides
      it")`` fails: the setting cannot test the claim, so it is neither reproduced nor not;
    - **reproduced** when the interval lies inside the region;
    - **not** when it lies outside (tested, and it failed: the reason gives the interval);
    - **inconclusive** when it straddles a boundary, with how many seeds of the same spread would decide.
    """
    region = (f"> {low:g}" if math.isinf(high) else f"< {high:g}" if math.isinf(low)
              else f"in ({low:g}, {high:g})")
    if precondition is not None and not precondition[0]:
        return {"verdict": "inconclusive", "reason": f"outside the claim's regime: {precondition[1]}"}
    measured = f"{what} {interval.mean:.3g}, {CONVENTION} [{interval.low:.3g}, {interval.high:.3g}] (n = {interval.n})"
    if low < interval.low and interval.high < high:
        return {"verdict": "reproduced", "reason": ""}
    if interval.high <= low or interval.low >= high:
        return {"verdict": "not", "reason": f"{measured}, outside the claimed region {region}"}
    boundary = low if interval.low <= low < interval.high else high
    n = seeds_to_decide(interval, boundary)
    more = f"about {n} seeds of this spread would decide it" if n else "no number of seeds of this spread would decide it"
    return {"verdict": "inconclusive", "reason": f"{measured} straddles the boundary {boundary:g} of {region}; {more}"}


# ---- the claims table ----------------------------------------------------------------------------

_HEADERS = ("verdict", "claim", "source", "source's number", "ours", "tolerance", "reason")
_VERDICT_STYLE = {"reproduced": "background:#dcfce7", "partly": "background:#fef3c7", "not": "background:#fee2e2",
                  "inconclusive": "background:#e5e7eb"}


def _row(claim: Claim) -> list[str]:
    return [claim.verdict, claim.claim, claim.source, claim.source_value, claim.ours, claim.tolerance,
            claim.reason or "-"]


class ClaimsTable:
    """A chapter's claims, one row each with its verdict: HTML in a notebook, fixed-width text elsewhere
    (``str``, ``print``). Made by :func:`claims_table`."""

    def __init__(self, claims: Sequence[Claim], title: str | None = None):
        self.claims = tuple(claims)
        self.title = title

    def text(self) -> str:
        table = text_table([_row(c) for c in self.claims], list(_HEADERS))
        return f"{self.title}\n\n{table}" if self.title else table

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f'<th style="text-align:left">{esc(h)}</th>' for h in _HEADERS)
        body = []
        for claim in self.claims:
            cells = [f'<td style="{_VERDICT_STYLE[claim.verdict]}"><b>{esc(claim.verdict)}</b></td>']
            cells += [f'<td style="text-align:left">{esc(v)}</td>' for v in _row(claim)[1:]]
            body.append(f"<tr>{''.join(cells)}</tr>")
        caption = f"<caption>{esc(self.title)}</caption>" if self.title else ""
        return (f'<table class="rglt-claims">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")


def claims_table(claims: Iterable[Claim], title: str | None = None) -> ClaimsTable:
    """The table of ``claims`` (one row per claim: verdict, claim, source, the source's number, ours,
    tolerance, reason). Make it the last expression of a cell to show it as HTML, or print it."""
    claims = list(claims)
    if not claims:
        raise ValueError("claims must hold at least one Claim")
    bad = [type(c).__name__ for c in claims if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"claims must all be rglt.report.Claim; got {', '.join(sorted(set(bad)))}")
    return ClaimsTable(claims, title)


# ---- provenance ----------------------------------------------------------------------------------

def provenance_table(result: Any, keys: Sequence[str] | None = None) -> str:
    """The provenance cell: a two-column text table of ``keys`` from a stored result's provenance
    (a :class:`rglt.store.Result`, an :class:`rglt.benchmark.Record` or the provenance dict itself).
    ``keys`` default to the result's own ``provenance_keys`` where it has them (a benchmark record has
    no config hash), else :data:`PROVENANCE_KEYS`."""
    prov = result if isinstance(result, Mapping) else getattr(result, "provenance", None)
    if not isinstance(prov, Mapping):
        raise TypeError("result must be an rglt.store.Result, an rglt.benchmark.Record or a provenance dict; "
                        f"got {type(result).__name__}")
    if keys is None:
        keys = getattr(result, "provenance_keys", PROVENANCE_KEYS)
    missing = [k for k in keys if k not in prov]
    if missing:
        raise KeyError(f"the provenance has no {', '.join(missing)} (it has {', '.join(prov)})")
    return text_table([[k, prov[k]] for k in keys], ["provenance", "value"])


# ---- records -------------------------------------------------------------------------------------

_NO_DEFAULT = object()


def pick(records: Iterable[Mapping], default: Any = _NO_DEFAULT, **fields) -> Any:
    """The first record (a dict, e.g. one benchmark result) whose ``fields`` all equal the given values;
    ``default`` when there is none, or a KeyError naming what was looked for."""
    for record in records:
        if all(k in record and record[k] == v for k, v in fields.items()):
            return record
    if default is not _NO_DEFAULT:
        return default
    raise KeyError(f"no record with {', '.join(f'{k}={v!r}' for k, v in fields.items())}")


# ---- figures -------------------------------------------------------------------------------------

def tile(images, ncol: int | None = None) -> np.ndarray:
    """One image made of many: ``[N, C, H, W]`` laid out ``ncol`` per row (the last incomplete row is
    dropped), or ``[rows, cols, C, H, W]`` as it is; returns ``[rows * H, cols * W, C]`` (C = 1 squeezed)."""
    images = np.asarray(images)
    if images.ndim == 4:
        if ncol is None or not isinstance(ncol, (int, np.integer)) or not 1 <= ncol <= len(images):
            raise ValueError(f"ncol must be an int in [1, {len(images)}] for {len(images)} images; got {ncol!r}")
        n = len(images) // ncol * ncol
        images = images[:n].reshape(n // ncol, ncol, *images.shape[1:])
    elif images.ndim != 5 or ncol is not None:
        raise ValueError("images must be [N, C, H, W] with ncol, or [rows, cols, C, H, W] without it; "
                         f"got shape {images.shape} and ncol={ncol!r}")
    rows, cols, c, h, w = images.shape
    grid = images.transpose(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c)
    return grid[..., 0] if c == 1 else grid


def image_grid(ax, images, ncol: int | None = None, title: str | None = None, **imshow) -> None:
    """Draw a grid of images (see :func:`tile`) on ``ax``, pixels unsmoothed and without ticks."""
    ax.imshow(tile(images, ncol), interpolation="nearest", **imshow)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title, fontsize=9)


def seed_spread(ax, x, values, *, axis: int = 0, error: str = "sem", band: bool = False, label=None, **style):
    """Plot the mean of ``values`` over seeds (``axis``) against ``x`` with the seeds' spread: error bars,
    or a shaded band when ``band``. ``error``: ``"sem"`` (standard error of the mean, the default) or
    ``"std"`` (standard deviation, ddof = 1). Returns (mean, spread); one seed has zero spread."""
    if error not in ("sem", "std"):
        raise ValueError(f"error must be 'sem' or 'std'; got {error!r}")
    values = np.asarray(values, dtype=float)
    if values.ndim == 0 or values.shape[axis] == 0:
        raise ValueError(f"values must have at least one seed along axis {axis}; got shape {values.shape}")
    seeds = values.shape[axis]
    mean = values.mean(axis=axis)
    spread = values.std(axis=axis, ddof=1) if seeds > 1 else np.zeros_like(mean)
    if error == "sem":
        spread = spread / np.sqrt(seeds)
    x = np.asarray(x)
    if x.shape != mean.shape:
        raise ValueError(f"x has shape {x.shape}, the mean over seeds has shape {mean.shape}")
    if band:
        (line,) = ax.plot(x, mean, label=label, **style)
        ax.fill_between(x, mean - spread, mean + spread, color=line.get_color(), alpha=0.25, lw=0)
    else:
        ax.errorbar(x, mean, spread, label=label, capsize=2, **style)
    return mean, spread
