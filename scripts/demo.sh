#!/usr/bin/env bash
# Main job: set up, then train and predict on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${POLYTAG_DATASETS:-}" ] && [ -d ../shared/datasets ]; then
  export POLYTAG_DATASETS="$(cd ../shared/datasets && pwd)"
fi
exec .venv/bin/python -m polytag.demo "$@"
