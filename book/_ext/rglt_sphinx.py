"""The book's one Sphinx hook: every script tag once per page.

sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) at each ``env-before-read-docs``;
in this build the tag ends up twice on every page, and the second ``const`` throws in the browser
("Identifier 'THEBE_JS_URL' has already been declared", caught by ``scripts/check_html.py``). Repeated
script tags are dropped when a page is written.
"""
from __future__ import annotations


def _key(js) -> tuple:
    """A script's file and attributes (its body, for an inline one), not its priority: the same tag added
    twice at two priorities is one."""
    return str(getattr(js, "filename", js)), tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items()))


def scripts_once(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for js in context.get("script_files", []):
        if _key(js) not in seen:
            seen.add(_key(js))
            kept.append(js)
    context["script_files"][:] = kept     # in place: the builder's list, to which later handlers add (MathJax)


def setup(app):
    app.connect("html-page-context", scripts_once, priority=900)   # after the handlers that add a page's scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
