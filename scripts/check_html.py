"""Open every built chapter in headless Chromium with the network cut off, as a reader without internet.

For each page of ``_build/html`` listed in ``_toc.yml``: every request that leaves the file system is
refused (so a CDN dependency shows up as a failure, not a slow page), MathJax is awaited, then the page
fails on

- raw TeX: a delimiter (``\\(``, ``\\)``, ``\\[``, ``\\]``, ``$$``) left in its rendered text (code blocks and
  cell outputs excluded);
- an image not shown: not loaded, or drawn with no size;
- a console error or an uncaught exception of the page's scripts;
- an element wider than the content column that is not inside a box that scrolls on its own (a code
  block may scroll; the page itself must not);
- a table whose verdict or status column is out of view until scrolled sideways (a table's lead column,
  and any column headed "verdict" or "status", must be in view).

- a figure drawn more than 1.25 times wider than the column, so shrunk that its text is too small.

It prints, per page, the tables that scroll sideways at all (their lead column in view) and every figure
shrunk to fit the column (its text a little smaller than it was set). A full-page
screenshot of each page goes to ``_build/screenshots/``.

Usage: python scripts/check_html.py [--html _build/html] [--chromium /usr/bin/chromium]
Exit status 1 with the list of problems when a page fails.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DELIMITERS = ("\\(", "\\)", "\\[", "\\]", "$$")

# The page's prose: the article without code, cell outputs, scripts and typeset math.
PROSE_JS = """() => {
  const root = (document.querySelector('article') || document.body).cloneNode(true);
  root.querySelectorAll('pre, code, script, style, mjx-container, .cell_output, .output').forEach(e => e.remove());
  return root.textContent;
}"""
BROKEN_IMAGES_JS = """() => Array.from(document.images)
  .filter(img => !img.complete || img.naturalWidth === 0 || img.getBoundingClientRect().width === 0)
  .map(img => img.getAttribute('src'))"""
# Elements wider than the content column (the article) that no box of their own scrolls: the outermost only.
OVERFLOW_JS = """() => {
  const article = document.querySelector('article') || document.body;
  const col = article.getBoundingClientRect();
  const scrolls = el => { const o = getComputedStyle(el).overflowX; return (o === 'auto' || o === 'scroll' || o === 'hidden'); };
  const out = [];
  for (const el of article.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || (r.right <= col.right + 1 && r.left >= col.left - 1)) continue;
    let boxed = false;
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
      if (scrolls(a) && a.getBoundingClientRect().right <= col.right + 1) { boxed = true; break; }
    }
    if (boxed || out.some(o => o.contains(el))) continue;
    out.push(el);
  }
  return out.map(el => `<${el.tagName.toLowerCase()} class="${el.className}"> ${Math.round(el.getBoundingClientRect().width)} px `
                        + `in a ${Math.round(col.width)} px column: ${(el.textContent || el.getAttribute('src') || '').trim().slice(0, 60)}`);
}"""
# Tables: whether each scrolls sideways inside its box, and whether its lead / verdict / status column shows.
TABLES_JS = """() => Array.from(document.querySelectorAll('article table')).map(t => {
  let box = t.parentElement;
  while (box && box.tagName !== 'ARTICLE' && !['auto', 'scroll', 'hidden'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
  const view = (box && box.tagName !== 'ARTICLE' ? box : t).getBoundingClientRect();
  const scrolls = box && box.tagName !== 'ARTICLE' && box.scrollWidth > box.clientWidth + 1;
  const heads = Array.from(t.querySelectorAll('thead th, tr:first-child th'));
  const key = heads.filter((h, i) => i === 0 || /verdict|status/i.test(h.textContent));
  const hidden = key.filter(h => { const r = h.getBoundingClientRect(); return r.right > view.right + 1 || r.left < view.left - 1; })
                    .map(h => h.textContent.trim());
  const name = ((t.querySelector('caption') || {}).textContent || heads.map(h => h.textContent.trim()).slice(0, 3).join(' | ')).trim().slice(0, 70);
  return {name: name, scrolls: scrolls, hidden: hidden, width: Math.round(t.getBoundingClientRect().width), box: Math.round(view.width)};
})"""
# Figures drawn wider than they are shown: their natural width over the width shown.
SHRUNK_JS = """() => Array.from(document.querySelectorAll('article img')).filter(i => i.naturalWidth > 0 && i.width > 0)
  .map(i => ({src: i.getAttribute('src'), shrink: i.naturalWidth / i.width})).filter(i => i.shrink > 1.05)"""
SHRUNK_TOO_FAR = 1.25   # a figure drawn this much wider than the column has its text shrunk below legible
MATHJAX_READY_JS = """() => window.MathJax && MathJax.startup && MathJax.startup.promise
  ? MathJax.startup.promise.then(() => 'typeset') : 'no MathJax'"""


def pages(html: Path) -> list[Path]:
    """The built page of every file in _toc.yml, in order (a missing page is an error)."""
    import yaml
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"]] + [c["file"] for part in toc.get("parts", [toc]) for c in part.get("chapters", [])]
    out = []
    for name in names:
        page = html / (str(Path(name).with_suffix("")) + ".html")
        if not page.is_file():
            raise SystemExit(f"{page} is missing: build the book first (jupyter-book build .)")
        out.append(page)
    return out


def check(html: Path, chromium: str, shots: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    problems = []
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        refused = []

        def route(r):   # no network: only files of the built site
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                refused.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        errors = []
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        for path in pages(html):
            name = path.relative_to(html).as_posix()
            refused.clear()
            errors.clear()
            page.goto(path.as_uri(), wait_until="load")
            state = page.evaluate(MATHJAX_READY_JS)
            prose = page.evaluate(PROSE_JS)
            left = [d for d in DELIMITERS if d in prose]
            broken = page.evaluate(BROKEN_IMAGES_JS)
            math = page.evaluate("() => document.querySelectorAll('mjx-container').length")
            page.screenshot(path=str(shots / (path.stem + ".png")), full_page=True)
            if left:
                at = prose.find(left[0])
                problems.append(f"{name}: raw TeX {left} in the rendered text, e.g. ...{prose[max(0, at - 60):at + 60]!r}...")
            if broken:
                problems.append(f"{name}: {len(broken)} image(s) not shown: {broken[:5]}")
            problems += [f"{name}: {e}" for e in errors]
            problems += [f"{name}: wider than the content column: {w}" for w in page.evaluate(OVERFLOW_JS)]
            tables = page.evaluate(TABLES_JS)
            problems += [f"{name}: table '{t['name']}' ({t['width']} px in {t['box']} px): {', '.join(t['hidden'])} "
                         "out of view until scrolled sideways" for t in tables if t["hidden"]]
            scrolling = [t for t in tables if t["scrolls"]]
            shrunk = page.evaluate(SHRUNK_JS)
            print(f"{name}: {state}, {math} formulas typeset, {len(page.query_selector_all('img'))} images, "
                  f"{len(tables)} tables, {len(refused)} network requests refused{' ' + str(refused[:3]) if refused else ''}")
            for t in scrolling:
                print(f"  scrolls sideways, its lead column in view: '{t['name']}' ({t['width']} px in {t['box']} px)")
            for i in shrunk:
                print(f"  figure shrunk {i['shrink']:.2f}x to fit the column: {i['src']}")
            problems += [f"{name}: figure drawn {i['shrink']:.2f}x wider than the column (draw it with rglt.plot.subplots): "
                         f"{i['src']}" for i in shrunk if i["shrink"] > SHRUNK_TOO_FAR]
        browser.close()
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args(argv)
    if not Path(args.chromium).is_file():
        parser.error(f"--chromium {args.chromium}: not found (apt-get install chromium)")
    problems = check(args.html, args.chromium, args.screenshots)
    for p in problems:
        print("FAIL", p, file=sys.stderr)
    print(f"{'all pages render offline' if not problems else f'{len(problems)} problem(s)'}; "
          f"screenshots in {args.screenshots}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
