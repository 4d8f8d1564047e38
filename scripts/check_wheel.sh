#!/usr/bin/env bash
# The wheel as a user gets it: build it from this checkout, install it into a fresh virtual environment
# and, from outside the checkout, check that every module of the source tree is in it and imports from
# there, and that `python -m rglt list` runs. The editable install of setup.sh cannot show a module
# left out of the wheel. PYTHON: the interpreter whose pip builds and installs (default: python3).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

# Build from a copy of the files git would ship (less those deleted but not committed): an in-tree
# build reuses build/lib, whose stale modules would slip into the wheel. (The sed drops pip's notes
# about this machine's empty local package folders.)
mkdir "$tmp/src"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$repo/$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar -C "$repo" --null -T - -cf - | tar -C "$tmp/src" -xf -
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$tmp/dist" "$tmp/src" 2>&1 \
  | sed '/is ignored: it is neither a file nor a directory/d'
wheel=$(ls "$tmp"/dist/rglt-*.whl)
echo "[check_wheel] built $(basename "$wheel") in $((SECONDS - start)) s"

# The wheel alone (--no-deps), its dependencies through a .pth file naming the site-packages of $python.
# Why: a full install brings torch and the CUDA libraries, ~6 GB; measured on this machine (2 shared
# cores) it took 104-166 s to install and ~100 s more to delete, 5 min in all, against ~20 s this way.
# A path line in a .pth only appends that folder to sys.path, after the fresh environment's own
# site-packages, without running the .pth files in it, so an editable rglt there stays out (the
# rglt.__file__ assertion below checks it).
"$python" -m venv --without-pip "$tmp/venv"
venv_python="$tmp/venv/bin/python"
"$python" -m pip --python "$venv_python" install --quiet --disable-pip-version-check --no-deps "$wheel" 2>&1 \
  | sed '/is ignored: it is neither a file nor a directory/d'
echo "[check_wheel] installed into a fresh environment at $((SECONDS - start)) s"
site=$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$python" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))' \
  > "$site/rglt_deps.pth"

# Outside the checkout, in isolated mode (-I: no PYTHONPATH, no current folder on sys.path).
cd "$tmp"
export RGLT_RESULTS="$tmp/results" RGLT_CACHE="$tmp/cache"  # write nothing anywhere else
"$venv_python" -I - "$tmp/src" "$tmp/venv" <<'PY'
"""Every module of the source tree is in the installed wheel, nothing else is, and all of them import."""
import importlib
import pkgutil
import sys
from pathlib import Path

src, venv = Path(sys.argv[1]), Path(sys.argv[2]).resolve()
import rglt

where = Path(rglt.__file__).resolve()
assert venv in where.parents, f"rglt was imported from {where}, not from the fresh environment {venv}"


def modules(folder: Path, package: str) -> set[str]:
    """The dotted names of the .py files under folder (a package's __init__.py names the package)."""
    names = set()
    for path in folder.rglob("*.py"):
        parts = path.relative_to(folder).with_suffix("").parts
        names.add(".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts))))
    return names


def reraise(name):  # called inside walk_packages' except block, which would otherwise skip the package
    raise


expected = modules(src / "rglt", "rglt") | modules(src / "kernels", "rglt.kernels")
installed = {"rglt"} | {m.name for m in pkgutil.walk_packages(rglt.__path__, "rglt.", onerror=reraise)}
missing, extra = sorted(expected - installed), sorted(installed - expected)
assert not missing, f"in the source tree but not in the wheel: {missing}"
assert not extra, f"in the wheel but not in the source tree: {extra}"
for name in sorted(installed):
    importlib.import_module(name)
print(f"[check_wheel] {len(installed)} modules of rglt {rglt.__version__} import from {where.parent}")
PY
"$venv_python" -I -m rglt list
"$tmp/venv/bin/rglt" --help > /dev/null  # the console script of [project.scripts]
echo "[check_wheel] passed in $((SECONDS - start)) s"
