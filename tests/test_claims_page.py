"""The Claims page (book/claims.ipynb): every claim of every chapter, led by its verdict, linked to its row,
filterable; its counts are the intro's."""
import json
import re
from pathlib import Path

import pytest

from rglt import report
from rglt.claims import VERDICTS, Claim

BOOK = Path(__file__).resolve().parents[1] / "book"


def _claim(verdict, rule, source="003 Table 6"):
    return Claim(claim=f"claim {rule}", source=source, source_value="1.0", ours="0.9", tolerance="t",
                 verdict=verdict, reason="" if verdict == "reproduced" else "why", rule=rule)


def test_the_index_links_each_claim_to_its_row_and_filters_offline():
    chapters = {1: [_claim("not", "a_1", "000 Eq. 2")], 6: [_claim("reproduced", "b", "book: chapter 6")]}
    index = report.claims_index(chapters, {1: "01_rg_primer", 6: "06_kernels"})
    assert [r[0] for r in index.rows] == ["not", "reproduced"] and index.headers[0] == "verdict"
    html = index._repr_html_()
    assert '<a href="01_rg_primer.html#claim-a-1">claim a_1</a>' in html
    assert '<tr data-verdict="not" data-source="000" data-chapter="1">' in html
    assert 'data-source="book"' in html and '<option value="book">' in html and '<option value="001">' not in html
    assert "<script>" in html and "src=" not in html and "http" not in html
    with pytest.raises(KeyError, match="no page"):
        report.claims_index(chapters, {1: "01_rg_primer"})


def _glued(nb) -> dict:
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                out[name] = o["data"]["application/papermill.record/text/plain"]
    return out


def _html(nb) -> str:
    return "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_the_committed_claims_page_counts_are_the_intros():
    intro, claims = (json.loads((BOOK / f"{n}.ipynb").read_text()) for n in ("intro", "claims"))
    counts, html = _glued(intro), _html(claims)
    rows = re.findall(r'<tr data-verdict="(\w+)"', html)
    assert len(rows) == int(counts["claim_rows"]) == int(_glued(claims)["index_rows"])
    for verdict in VERDICTS:
        assert rows.count(verdict) == int(counts[f"rows_{verdict}"]) == int(_glued(claims)[f"index_{verdict}"])


def test_every_link_of_the_claims_page_has_its_row_in_its_chapter():
    html = _html(json.loads((BOOK / "claims.ipynb").read_text()))
    links = re.findall(r'<a href="([\w]+)\.html#(claim-[\w-]+)">', html)
    assert links
    pages = {}
    for page, anchor in links:
        if page not in pages:
            pages[page] = _html(json.loads((BOOK / f"{page}.ipynb").read_text()))
        assert f'<tr id="{anchor}">' in pages[page], f"{page} has no row {anchor}"
