#!/usr/bin/env bash
# Build the book's HTML at the default profile (cpu, from the committed results cache) into _build/html.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# --all rereads every page, so -W cannot pass on a stale build; notebook errors are fatal (_config.yml).
jupyter-book build --all -W --keep-going .
echo "[book] open _build/html/index.html"
