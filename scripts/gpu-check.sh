#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py): the kernel tests on CUDA and every kernel timed against its peers,
# records into benchmarks/results/*-cuda-*.json, in under 8 minutes on one H100. Run it from a clean
# checkout after `bash scripts/setup.sh`; `--dry-run` tries it on the CPU at tiny sizes (records in /tmp).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/gpu_check.py "$@"
