"""What every chapter shows alike: the provenance cell, the claims table, image grids.

A chapter's verdict is the table of its claims (:class:`rglt.claims.Claim`, one row each, with its verdict
derived from a rule and a measured interval),
never one word for the whole chapter. Experiments build their claims in ``checks(result, config)``
(see :mod:`rglt.experiments`); a notebook shows them with :func:`claims_table`::

    report.provenance_table(result)                         # the provenance cell (a report.Table)
    report.claims_table(ising_rg.checks(result, config))   # last line of the chapter's last cell

Every table is a :class:`Table` (:func:`table`): HTML that fits the page's column in a notebook, text
when printed. Figure style (fonts, colours, spin images) stays in :mod:`rglt.plot`; the pieces here are the ones
several chapters draw: grids of images.
"""
from __future__ import annotations

import html
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from rglt.claims import VERDICTS, Claim
from rglt.plot import text_table
from rglt.stats import CONVENTION, mean_interval

PROVENANCE_KEYS = ("experiment_version", "config_hash", "git_commit", "device", "torch", "wall_time_s", "date")


# ---- tables --------------------------------------------------------------------------------------

class Link:
    """A table cell that links somewhere: ``text`` in the text rendering, ``<a href>`` in the HTML."""

    def __init__(self, text: str, href: str):
        self.text, self.href = str(text), str(href)

    def __str__(self) -> str:
        return self.text

    def html(self) -> str:
        return f'<a href="{html.escape(self.href)}">{html.escape(self.text)}</a>'


def _cell_html(value: Any) -> str:
    return value.html() if isinstance(value, Link) else html.escape(str(value))


def _attrs(attrs: Mapping[str, str] | None) -> str:
    return "".join(f' {k}="{html.escape(str(v))}"' for k, v in (attrs or {}).items())


class Table:
    """Rows under headers, the one table every chapter shows (results, provenance, claims): in a notebook
    HTML, a ``table.rglt-table`` inside a ``div.rglt-table-box`` the width of the page's column that
    scrolls on its own when the table is wider (``_static/rglt.css``; its first column stays in view),
    elsewhere fixed-width text (``str``, ``print``). Put the column a reader comes for (a verdict, a
    status) first. Made by :func:`table`."""

    def __init__(self, rows, headers, *, title=None, note=None, kind="results", classes=None, row_attrs=None):
        self.rows = [list(r) for r in rows]
        self.headers = [str(h) for h in headers]
        bad = [i for i, r in enumerate(self.rows) if len(r) != len(self.headers)]
        if bad:
            raise ValueError(f"every row must have {len(self.headers)} cells (one per header); rows {bad[:5]} do not")
        if not isinstance(kind, str) or not kind.replace("-", "").isalnum():
            raise ValueError(f"kind must be a CSS class suffix (letters, digits, '-'); got {kind!r}")
        for name, per_row in (("classes", classes), ("row_attrs", row_attrs)):
            if per_row is not None and len(per_row) != len(self.rows):
                raise ValueError(f"{name} must have one entry per row ({len(self.rows)}); got {len(per_row)}")
        self.title, self.note, self.kind = title, note, kind
        self.classes = classes          # per row: a list of CSS classes, one per cell ("" for none)
        self.row_attrs = row_attrs      # per row: the <tr>'s attributes (an id, data-* for a filter)

    def text(self) -> str:
        out = text_table(self.rows, self.headers)
        if self.title:
            out = f"{self.title}\n\n{out}"
        return f"{out}\n\n{self.note}" if self.note else out

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def __contains__(self, text: str) -> bool:
        return text in self.text()

    def _repr_html_(self) -> str:
        lead = lambda j, *more: _attrs({"class": " ".join(c for c in ("rglt-lead" if j == 0 else "", *more) if c)}
                                       if j == 0 or any(more) else None)
        head = "".join(f"<th{lead(j)}>{html.escape(h)}</th>" for j, h in enumerate(self.headers))
        body = []
        for i, row in enumerate(self.rows):
            extra = self.classes[i] if self.classes is not None else [""] * len(row)
            cells = "".join(f"<td{lead(j, extra[j])}>{_cell_html(v)}</td>" for j, v in enumerate(row))
            body.append(f"<tr{_attrs(self.row_attrs[i] if self.row_attrs is not None else None)}>{cells}</tr>")
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        note = f'<p class="rglt-table-note">{html.escape(self.note)}</p>' if self.note else ""
        return (f'<div class="rglt-table-box"><table class="rglt-table rglt-{self.kind}">{caption}'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}")


def table(rows, headers, *, title: str | None = None, note: str | None = None, kind: str = "results",
          classes=None, row_attrs=None) -> Table:
    """A :class:`Table` of ``rows`` (lists of cells: numbers, text or a :class:`Link`) under ``headers``.
    Make it a cell's last expression, or :func:`show` it, to see it as HTML; ``print`` it for text.
    ``kind`` names its CSS class (``rglt-results``, ``rglt-provenance``, ``rglt-claims``)."""
    return Table(rows, headers, title=title, note=note, kind=kind, classes=classes, row_attrs=row_attrs)


def show(*objects) -> None:
    """Display ``objects`` (tables, figures) in the notebook, in order, from anywhere in a cell."""
    from IPython.display import display   # the book's dependency, not the library's
    display(*objects)


# ---- the claims table ----------------------------------------------------------------------------

NOTE = (f"Intervals: the {CONVENTION} unless a row names another. A verdict is derived from its rule: "
        "reproduced, the interval inside the claimed region; not, outside it; inconclusive, across its boundary "
        "or outside the claim's regime; partly, some of a claim's parts hold.")
_HEADERS = ("verdict", "claim", "source", "source's number", "ours", "rule: region, test, regime", "reason")


def claim_anchor(claim: Claim) -> str:
    """The HTML id of ``claim``'s row in its chapter's claims table (``claim-`` and its rule's id), which
    the Claims page links to."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in (claim.rule or claim.claim[:40]).lower()).strip("-")
    return f"claim-{slug}"


def verdict_class(verdict: str) -> str:
    """The CSS class that colours a verdict cell."""
    return f"rglt-verdict rglt-{verdict}"


def _row(claim: Claim) -> list[str]:
    rule = claim.tolerance + (f"; p = {claim.p:.2g}" if claim.p is not None else "")
    rule += f"; regime: {claim.precondition}" if claim.precondition else ""
    reason = claim.reason or "-"
    reason += f" | {claim.registered}" if claim.registered else ""
    return [claim.verdict, claim.claim, claim.source, claim.source_value, claim.ours, rule, reason]


class ClaimsTable(Table):
    """A chapter's claims, one row each, led by its verdict: a :class:`Table` whose rows carry their
    :func:`claim_anchor` ids. Made by :func:`claims_table`."""

    def __init__(self, claims: Sequence[Claim], title: str | None = None):
        self.claims = tuple(claims)
        super().__init__([_row(c) for c in self.claims], _HEADERS, title=title, note=NOTE, kind="claims",
                         classes=[[verdict_class(c.verdict)] + [""] * (len(_HEADERS) - 1) for c in self.claims],
                         row_attrs=[{"id": claim_anchor(c)} for c in self.claims])


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


# ---- the claims index ----------------------------------------------------------------------------

_FILTER_JS = """<script>(function () {
  const box = document.currentScript.parentElement;
  const selects = Array.from(box.querySelectorAll('select[data-filter]'));
  const rows = Array.from(box.querySelectorAll('tbody tr'));
  const shown = box.querySelector('.rglt-filter-count');
  function apply() {
    let n = 0;
    rows.forEach(function (tr) {
      const ok = selects.every(function (s) { return !s.value || tr.dataset[s.dataset.filter] === s.value; });
      tr.style.display = ok ? '' : 'none';
      n += ok ? 1 : 0;
    });
    shown.textContent = n + ' of ' + rows.length + ' claims shown';
  }
  selects.forEach(function (s) { s.addEventListener('change', apply); });
  apply();
})();</script>"""


class ClaimsIndex(Table):
    """Every claim of the book, one row each led by its verdict, with its chapter and a link to its row in
    the chapter's claims table (:func:`claim_anchor`); in HTML, select boxes filter the rows by verdict,
    source and chapter (a few lines of inline JavaScript, nothing loaded). Made by :func:`claims_index`."""

    def __init__(self, chapters: Mapping[int, Sequence[Claim]], pages: Mapping[int, str],
                 seeds: Mapping[str, str], title: str | None = None):
        from rglt.sources import seed_of
        self.chapters = {n: tuple(c) for n, c in chapters.items()}
        rows, attrs, classes = [], [], []
        for n, claims in self.chapters.items():
            for c in claims:
                rows.append([c.verdict, n, Link(c.claim, f"{pages[n]}.html#{claim_anchor(c)}"), c.source,
                             c.source_value, c.reason or "-"])
                attrs.append({"data-verdict": c.verdict, "data-source": seed_of(c.source), "data-chapter": str(n)})
                classes.append([verdict_class(c.verdict)] + [""] * 5)
        super().__init__(rows, ["verdict", "chapter", "claim (link to its row)", "source", "source's number", "reason"],
                         title=title, note=NOTE, kind="claims-index", classes=classes, row_attrs=attrs)
        self.seeds = dict(seeds)

    def _repr_html_(self) -> str:
        def select(key, label, options):
            opts = "".join(f'<option value="{html.escape(v)}">{html.escape(t)}</option>' for v, t in options)
            return (f'<label>{html.escape(label)} <select data-filter="{key}"><option value="">all</option>'
                    f"{opts}</select></label>")
        present = {a["data-source"] for a in self.row_attrs}
        filters = (select("verdict", "verdict", [(v, v) for v in VERDICTS])
                   + select("source", "source", [(k, f"{k}: {t}") for k, t in self.seeds.items() if k in present])
                   + select("chapter", "chapter", [(str(n), f"chapter {n}") for n in self.chapters])
                   + '<span class="rglt-filter-count"></span>')
        return (f'<div class="rglt-claims-index"><div class="rglt-filter">{filters}</div>'
                f"{super()._repr_html_()}{_FILTER_JS}</div>")


def claims_index(chapters: Mapping[int, Iterable[Claim]], pages: Mapping[int, str], title: str | None = None) -> ClaimsIndex:
    """The Claims page's table: ``chapters`` maps each chapter's number to its claims (as
    :func:`rglt.experiments.chapter_claims` gives them), ``pages`` to its page's name (``"01_rg_primer"``)."""
    from rglt.sources import BOOK, SEEDS
    chapters = {n: list(c) for n, c in chapters.items()}
    missing = [n for n in chapters if n not in pages]
    if missing:
        raise KeyError(f"pages has no page for chapter(s) {missing}")
    for claims in chapters.values():
        claims_table(claims)          # the same checks: at least one row, every row a Claim
    return ClaimsIndex(chapters, pages, {**SEEDS, "book": BOOK}, title)


# ---- provenance ----------------------------------------------------------------------------------

def _provenance(result: Any) -> Mapping:
    prov = result if isinstance(result, Mapping) else getattr(result, "provenance", None)
    if not isinstance(prov, Mapping):
        raise TypeError("result must be an rglt.store.Result, an rglt.benchmark.Record or a provenance dict; "
                        f"got {type(result).__name__}")
    return prov


def provenance_table(result: Any, keys: Sequence[str] | None = None) -> Table:
    """The provenance cell: a :class:`Table` of ``keys`` from a stored result's provenance (a
    :class:`rglt.store.Result`, an :class:`rglt.benchmark.Record` or the provenance dict itself), or,
    given ``{name: result}``, one column per result. ``keys`` default to the result's own
    ``provenance_keys`` where it has them (a benchmark record has no config hash), else
    :data:`PROVENANCE_KEYS`."""
    named = isinstance(result, Mapping) and bool(result) and all(hasattr(v, "provenance") for v in result.values())
    results = dict(result) if named else {"value": result}
    provs = {name: _provenance(r) for name, r in results.items()}
    if keys is None:
        keys = getattr(next(iter(results.values())), "provenance_keys", PROVENANCE_KEYS)
    for name, prov in provs.items():
        missing = [k for k in keys if k not in prov]
        if missing:
            raise KeyError(f"the provenance{'' if name == 'value' else ' of ' + name} has no {', '.join(missing)} "
                           f"(it has {', '.join(prov)})")
    return table([[k, *(prov[k] for prov in provs.values())] for k in keys], ["provenance", *provs],
                 kind="provenance")


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


# ---- prose from results --------------------------------------------------------------------------

def glue(name: str, value: Any, fmt: str | None = None) -> str:
    """Glue one of our numbers for the chapter's prose (``{glue:text}`name``` in its markdown), hidden
    from the cell's output: ``value`` formatted with ``fmt`` (``"{:.2f}"``, ``"{:.1%}"``) when given, else
    as it is (a str, or an int or float; numpy scalars are turned into Python's, whose repr glue can
    read). Returns the text glued. Numbers quoted from the sources stay typed in the markdown, marked
    ``[...]{.source}``; ``tests/test_prose_numbers.py`` fails on any other number there."""
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must be letters, digits, '_' and '-'; got {name!r}")
    if isinstance(value, np.generic):
        value = value.item()
    if fmt is not None:
        value = fmt.format(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"value must be a str, int or float (or a numpy scalar); got {type(value).__name__}")
    from myst_nb import glue as _glue   # the book's dependency, not the library's
    _glue(name, value, display=False)
    return str(value)


NOT_AT_PROFILE = "n/a at this profile"   # what the prose reads where a profile's result lacks a number it quotes


def glue_missing(*names: str, text: str = NOT_AT_PROFILE) -> None:
    """Glue ``text`` for each of ``names``: numbers the prose quotes that this profile's result does not hold."""
    for name in names:
        glue(name, text)


def percent_text(fraction: float, digits: int = 1) -> str:
    """A fraction as a percentage without the sign, as the prose quotes it: 0.8234 -> "82.3"."""
    return f"{100 * float(fraction):.{digits}f}"


def interval_text(interval, digits: int = 1, scale: float = 1.0, sign: bool = False) -> str:
    """``[low, high]`` of an :class:`rglt.stats.Interval` (times ``scale``), as the prose quotes it."""
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    return "[" + f.format(scale * interval.low) + ", " + f.format(scale * interval.high) + "]"


def mean_interval_text(values, digits: int = 1) -> str:
    """``mean [low, high]``: the mean of ``values`` over seeds with its 95% t interval."""
    iv = mean_interval(values)
    return f"{iv.mean:.{digits}f} " + interval_text(iv, digits)


def power_of_ten_text(n: float) -> str:
    """``2e7`` as ``2×10⁷`` (``1e5`` as ``10⁵``)."""
    exp = int(np.floor(np.log10(n)))
    mant = n / 10 ** exp
    return ("" if mant == 1 else f"{mant:g}×") + "10" + str(exp).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
