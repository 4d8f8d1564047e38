"""The book's one Sphinx hook: every inline script tag once per page.

sphinx-thebe's inline configuration (``const THEBE_JS_URL = ...``) and sphinx-togglebutton's selector end
up twice in every page's head in this build (not through ``script_files``, which holds each once), and the
second ``const`` throws in the browser ("Identifier 'THEBE_JS_URL' has already been declared", caught by
``scripts/check_html.py``). When the build finishes, a repeated identical inline ``<script>`` line in a
page's head is dropped.
"""
from __future__ import annotations

import re
from pathlib import Path

_INLINE = re.compile(r"^\s*<script>[^<]*</script>\s*$")


def inline_scripts_once(text: str) -> str:
    """``text`` (a page) with each identical inline ``<script>`` line of its head kept once."""
    head, sep, body = text.partition("</head>")
    seen, out = set(), []
    for line in head.splitlines(keepends=True):
        if _INLINE.match(line):
            if line.strip() in seen:
                continue
            seen.add(line.strip())
        out.append(line)
    return "".join(out) + sep + body


def _pages_once(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = inline_scripts_once(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("build-finished", _pages_once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
