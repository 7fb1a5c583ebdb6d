#!/usr/bin/env bash
# Tests: set up with the test extras, lint, then run the default (fast) suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if [ -z "${POLYTAG_DATASETS:-}" ] && [ -d ../shared/datasets ]; then
  export POLYTAG_DATASETS="$(cd ../shared/datasets && pwd)"
fi
.venv/bin/ruff check polytag tests bench examples
.venv/bin/mypy polytag
exec .venv/bin/python -m pytest -q "$@"
