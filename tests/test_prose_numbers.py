"""Prose from results: every number in a chapter's markdown is glued from its results, or quoted from a
source and marked so (``[003 Table 2: 72.3%]{.source}``), or part of a name or a reference.

``{glue:text}`key``` must name a value the notebook glues (``rglt.report.glue``) in its committed
outputs. What is exempt, and nothing else: code, math integers (formulas), names with digits in them
(ResNet-20, MNIST-1D, 1D, fp32), references (Eq. 15, Table 3, Figs. 1-2, Sec. 3.2, chapter 4,
claim 5, issue 14), years of citations, the seed files (000-003), and list numbering.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = sorted((ROOT / "book").glob("*.ipynb"))

_REFERENCE_WORDS = (r"Eqs?\.|Equations?|Tables?|Figs?\.|Figures?|Secs?\.|Sections?|Apps?\.|Appendix|Algorithms?|"
                    r"[Cc]hapters?|[Cc]laims?|[Ii]ssues?|[Ss]teps? \d+ of|[Pp]arts?|[Ll]ines?|[Pp]ages?|[Pp]p?\.")
_NUMBER = r"[-+−]?\d[\d,]*(?:\.\d+)?"
_STRIP = [
    (r"```.*?```", " "),                              # code blocks and directives
    (r"\{glue(?::\w+)?\}`[^`]*`", " GLUED "),          # glued from the results
    (r"\[[^\[\]]*\]\{\.source\}", " SOURCE "),          # quoted from a source, marked
    (r"\{\w+(?::\w+)?\}`[^`]*`", " "),                # other roles: cite, doc, ref
    (r"`[^`]*`", " "),                                # inline code
    (r"\]\([^)]*\)", "]"),                            # link targets
    (r"<[^>]+>", " "),                                # HTML tags
    (r"^\s*(?:\d+\.|[-*])\s", " "),                  # list markers
    (r"^#+\s*\d+\.\s", " "),                         # a chapter's number in its title
    (r"(?:" + _REFERENCE_WORDS + r")\s*[A-Z]?\d+(?:\.\d+)?[a-z]?(?:\s*(?:[-–,]|and|or|&)\s*[A-Z]?\d+(?:\.\d+)?[a-z]?)*", " REF "),
    (r"\b[A-Za-z][A-Za-z_]*[-_]?\d[\w.]*", " NAME "),  # ResNet-20, fp32, H100, MNIST-1D, x4
    (r"\b\d+D\b|\b\d+(?:st|nd|rd|th)\b", " NAME "),   # 1D, 2D; ordinals
    (r"\b(?:19[4-9]\d|20[0-2]\d)[a-z]?\b", " YEAR "),  # citation years
    (r"\b00[0-3]\b", " SEED "),                       # the seed files
]


def _math_decimals(text: str) -> tuple[str, list[str]]:
    """Text without its math, and the decimals found inside it (a formula's integers are exempt;
    a measured value written as math is not)."""
    found = []

    def take(m):
        found.extend(re.findall(r"\d+\.\d+", m.group(0)))
        return " MATH "
    return re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", take, text, flags=re.S), found


def unexplained_numbers(markdown: str) -> list[str]:
    """The numbers in ``markdown`` that are neither glued, nor a marked source quote, nor exempt."""
    text, found = _math_decimals(markdown)
    for pattern, repl in _STRIP:
        text = re.sub(pattern, repl, text, flags=re.S | re.M)
    return found + re.findall(r"(?<![\w.])" + _NUMBER, text)


def _cells(path: Path):
    return json.loads(path.read_text())["cells"]


def _glued(path: Path) -> dict[str, str]:
    out = {}
    for cell in _cells(path):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = output.get("data", {})
                out[name] = "".join(data.get("application/papermill.record/text/plain", data.get("text/plain", "")))
    return out


@pytest.mark.parametrize("path", BOOK, ids=[p.stem for p in BOOK])
def test_every_number_in_the_prose_is_glued_or_quoted(path):
    bad = []
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] == "markdown":
            numbers = unexplained_numbers("".join(cell["source"]))
            bad += [f"cell {i}: {n}" for n in numbers]
    assert not bad, f"{path.name}: numbers neither glued nor marked as a source quote:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", BOOK, ids=[p.stem for p in BOOK])
def test_every_glued_name_is_glued_by_the_notebook(path):
    glued = _glued(path)
    used = {m.split(":")[0] for cell in _cells(path) if cell["cell_type"] == "markdown"
            for m in re.findall(r"\{glue(?::\w+)?\}`([^`]*)`", "".join(cell["source"]))}
    missing = sorted(used - set(glued))
    assert not missing, f"{path.name}: the prose uses glue names the notebook's outputs lack: {missing}"
    numpy = sorted(k for k in used if glued[k].startswith("np."))
    assert not numpy, f"{path.name}: glued numpy scalars, which glue cannot read: {numpy} (use rglt.report.glue)"


@pytest.mark.parametrize("text,bad", [
    ("17 rounds reach 1.44% density", ["17", "1.44"]),
    ("the paper's [17 rounds reach 1.44%]{.source}; ours {glue:text}`density:.2f`", []),
    ("ResNet-20 on MNIST-1D in 1D, fp32 and bf16 (Table 3, Figs. 1-2, Sec. 3.2, Eq. 15)", []),
    ("Onsager (1944); Redman et al. 2022; seed 000", []),
    ("$\\beta = 1/8$ and $2^{1/8}$", []),
    ("$\\beta = 0.1254 \\pm 0.0010$", ["0.1254", "0.0010"]),
    ("1.88x faster with 3 seeds, `code 5`", ["1.88", "3"]),
    ("# 4. Lottery Pools\n\n1. first item", []),
])
def test_the_check_itself(text, bad):
    assert unexplained_numbers(text) == bad
