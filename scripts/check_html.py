"""Open every built chapter in headless Chromium with the network cut off, as a reader without internet.

For each page of ``_build/html`` listed in ``_toc.yml``: every request that leaves the file system is
refused (so a CDN dependency shows up as a failure, not a slow page), MathJax is awaited, then the page
fails if any TeX delimiter (``\\(``, ``\\)``, ``\\[``, ``\\]``, ``$$``) is left in its rendered text
(code blocks and cell outputs excluded) or any image did not load. A full-page screenshot of each
page goes to ``_build/screenshots/``.

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
  .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.getAttribute('src'))"""
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
        for path in pages(html):
            name = path.relative_to(html).as_posix()
            refused.clear()
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
                problems.append(f"{name}: {len(broken)} image(s) did not load: {broken[:5]}")
            print(f"{name}: {state}, {math} formulas typeset, {len(page.query_selector_all('img'))} images, "
                  f"{len(refused)} network requests refused{' ' + str(refused[:3]) if refused else ''}")
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
