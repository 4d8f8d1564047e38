#!/usr/bin/env bash
# Create .venv (or $RGLT_VENV) and install rglt with the book and test extras; skipped when
# pyproject.toml and setup.py have not changed since the last install. Source it or run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${RGLT_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.rglt-install-stamp"
want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing rglt and its dependencies into $VENV (a few minutes the first time)"
  # (the sed drops pip's notes about this machine's empty local package folders)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[book,test]" 2>&1 \
    | sed '/is ignored: it is neither a file nor a directory/d'
  echo "$want" > "$stamp"
fi
# Headless Chromium for scripts/check_html.py (the built book opened offline), from the system's packages.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing chromium (apt)"
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
fi
export PATH="$PWD/$VENV/bin:$PATH"
