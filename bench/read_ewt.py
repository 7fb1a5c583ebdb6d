"""Time reading the UD English EWT train split (12,544 sentences) into polytag sentences.

Prints the first (cold) run and the best of three, and PASS/FAIL against the 3 s target.
The corpus is found in ``$POLYTAG_DATASETS/ud_english`` (else ``../shared/datasets`` next to the
repository). Usage: ``python bench/read_ewt.py [--target SECONDS] [--runs N]``; exit status 1 on FAIL.
The last line is one JSON object of the figures (for ``bench/report.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

from polytag.datasets.treebanks import UniversalDependenciesDataset

EXPECTED_SENTENCES = 12_544
TRAIN_FILE = "en_ewt-ud-train.conllu"


def find_train_file() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    root = os.environ.get("POLYTAG_DATASETS") or str(default)
    path = Path(root) / "ud_english" / TRAIN_FILE
    if not path.is_file():
        sys.exit(f"{path} not found: set POLYTAG_DATASETS to the folder that holds ud_english/")
    return path


def read_once(path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    dataset = UniversalDependenciesDataset(path)
    seconds = time.perf_counter() - start
    if len(dataset) != EXPECTED_SENTENCES:
        sys.exit(f"read {len(dataset)} sentences from {path}, expected {EXPECTED_SENTENCES}")
    del dataset
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=3.0, help="seconds allowed (best run)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after which the best counts")
    args = parser.parse_args()
    path = find_train_file()
    times = [read_once(path) for _ in range(max(1, args.runs))]
    best = min(times)
    verdict = "PASS" if best <= args.target else "FAIL"
    print(f"read {EXPECTED_SENTENCES} EWT train sentences from {path}")
    print(
        f"first run: {times[0]:.2f} s; best of {len(times)}: {best:.2f} s "
        f"(all: {', '.join(f'{t:.2f}' for t in times)})"
    )
    print(f"{verdict}: best {best:.2f} s vs target {args.target:.1f} s")
    print(json.dumps({"sentences": EXPECTED_SENTENCES, "first_s": times[0], "best_s": best, "runs": times,
                      "target_s": args.target, "load_after": os.getloadavg()}))  # fmt: skip
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
