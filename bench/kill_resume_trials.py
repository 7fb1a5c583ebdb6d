"""Kill-and-resume trials: train a tiny-encoder tagger in a subprocess, SIGKILL it at a random moment, check
that the last checkpoint loads, resume it, and compare the final weights with an uninterrupted run.

    python bench/kill_resume_trials.py [--trials 20] [--seed 0] [--workdir DIR]

A checkpoint is written every step, so many kills land in the middle of writing one. A trial passes when
the newest complete checkpoint loads, ``ModelTrainer.resume`` finishes, and every final weight equals the
uninterrupted run's (same seed) within float tolerance. Exit code 1 unless every trial passes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SETTINGS: dict[str, Any] = {
    "max_epochs": 2,
    "mini_batch_size": 4,
    "learning_rate": 5e-4,
    "seed": 11,
    "save_checkpoint_every": "1 steps",
    "progress_bar": False,
    "plot_training_curves": False,
}
STEP_DELAY = 0.1  # seconds added to every training step of the killed runs
WORDS = "the cat dog sat ran on a mat big small red house tree under over near".split()
TAGS = {"the": "DT", "a": "DT", "cat": "NN", "dog": "NN", "mat": "NN", "house": "NN", "tree": "NN"}


def _corpus() -> Any:
    from polytag.data import Corpus, Sentence

    rng = random.Random(3)

    def sentences(n: int) -> list:
        out = []
        for _ in range(n):
            sentence = Sentence([rng.choice(WORDS) for _ in range(rng.randint(3, 8))])
            for token in sentence:
                token.add_label("pos", TAGS.get(token.text, "X"))
            out.append(sentence)
        return out

    return Corpus(sentences(32), sentences(8), sentences(8), sample_missing_splits=False)


def build(encoder_dir: Path, seed: int = 0) -> tuple[Any, Any]:
    """A TokenClassifier on the tiny encoder, and its corpus."""
    import torch

    from polytag.data import Dictionary
    from polytag.embeddings import TransformerEmbeddings
    from polytag.models import TokenClassifier

    torch.manual_seed(seed)
    tags = Dictionary(add_unk=False)
    for tag in ("DT", "NN", "X"):
        tags.add_item(tag)
    model = TokenClassifier(TransformerEmbeddings(str(encoder_dir)), tags, "pos")
    return model, _corpus()


def _child(base: str, encoder_dir: str) -> None:
    """The training process that gets killed."""
    import torch

    from polytag.trainers import ModelTrainer

    torch.set_num_threads(1)
    model, corpus = build(Path(encoder_dir))
    original = model.forward_loss

    def slowed(*args: Any, **kwargs: Any) -> Any:  # spread the steps so kills land all over the run
        time.sleep(STEP_DELAY)
        return original(*args, **kwargs)

    model.forward_loss = slowed
    ModelTrainer(model, corpus).fine_tune(base, **SETTINGS)


def _train_in_subprocess(base: Path, encoder_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, __file__, "--child", str(base), "--encoder", str(encoder_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _first_checkpoint(base: Path, process: subprocess.Popen, timeout: float = 300.0) -> float:
    """Wait until the first checkpoint exists; the time it took."""
    started = time.monotonic()
    while not any((base / "checkpoints").glob("step-*")) if (base / "checkpoints").is_dir() else True:
        if process.poll() is not None:
            raise RuntimeError(f"training ended before its first checkpoint: {process.stderr.read()[-2000:]}")
        if time.monotonic() - started > timeout:
            raise RuntimeError("no checkpoint appeared")
        time.sleep(0.005)
    return time.monotonic() - started


def _weights(path: Path) -> dict:
    from polytag.models import TokenClassifier

    return TokenClassifier.load(path).state_dict()


def run_trials(trials: int = 20, seed: int = 0, workdir: Path | None = None, log: Any = print) -> dict:
    """Run the trials; ``{"trials", "passed", "failures": [...], "kill_steps": [...], "seconds"}``."""
    import logging

    import torch

    from polytag.trainers import ModelTrainer
    from polytag.training import load_checkpoint
    from tests.conftest import build_tiny_encoder

    torch.set_num_threads(1)
    logging.getLogger("polytag").addHandler(logging.NullHandler())  # keep the resumed runs' logs quiet
    started = time.monotonic()
    own = tempfile.TemporaryDirectory() if workdir is None else None
    folder = Path(own.name if own else workdir)  # type: ignore[union-attr]
    encoder_dir = build_tiny_encoder(folder / "tiny-encoder")
    # the reference: an uninterrupted run, in a subprocess like the killed ones; its duration sets kill times
    reference = folder / "reference"
    process = _train_in_subprocess(reference, encoder_dir)
    _first_checkpoint(reference, process)
    first_seen = last_seen = time.monotonic()
    newest = ""
    while process.poll() is None:  # the span from the first to the last checkpoint: the kill window
        names = sorted(p.name for p in (reference / "checkpoints").glob("step-*"))
        if names and names[-1] != newest:
            newest, last_seen = names[-1], time.monotonic()
        time.sleep(0.005)
    if process.returncode != 0:
        raise RuntimeError(f"the reference run failed: {process.stderr.read()[-2000:]}")
    training_time = last_seen - first_seen
    expected = _weights(reference / "final-model.pt")
    rng = random.Random(seed)
    failures: list[str] = []
    kill_steps: list[int] = []
    for trial in range(trials):
        base = folder / f"trial-{trial:02d}"
        process = _train_in_subprocess(base, encoder_dir)
        try:
            _first_checkpoint(base, process)
            time.sleep(rng.uniform(0.0, training_time))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode != -signal.SIGKILL:
            failures.append(f"trial {trial}: the run ended (code {process.returncode}) before the kill")
            continue
        try:
            checkpoint, data = load_checkpoint(base)
            step = int(data.state["run"]["global_step"])
            kill_steps.append(step)
            model, corpus = build(encoder_dir, seed=1000 + trial)  # other initial weights: all must come back
            ModelTrainer(model, corpus).resume(base)
            final = _weights(base / "final-model.pt")
            for key, value in expected.items():
                torch.testing.assert_close(final[key], value, rtol=1e-4, atol=1e-5)
            leftovers = [p.name for p in (base / "checkpoints").iterdir() if p.name.startswith(".tmp")]
            if leftovers:
                raise AssertionError(f"temporary folders left behind: {leftovers}")
        except Exception as error:  # noqa: BLE001 - a failed trial is a result, reported below
            failures.append(f"trial {trial}: {type(error).__name__}: {str(error)[:300]}")
            log(f"  trial {trial + 1}/{trials}: FAILED {failures[-1]}")
            continue
        log(
            f"  trial {trial + 1}/{trials}: killed at step {step} ({checkpoint.name}), resumed, weights equal"
        )
    if own is not None:
        own.cleanup()
    return {
        "trials": trials,
        "passed": trials - len(failures),
        "failures": failures,
        "kill_steps": kill_steps,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--encoder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.encoder)
        return 0
    result = run_trials(args.trials, args.seed, args.workdir)
    print(f"kill-and-resume trials passed: {result['passed']}/{result['trials']} ({result['seconds']} s)")
    for failure in result["failures"]:
        print("  " + failure)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["passed"] == result["trials"] else 1


if __name__ == "__main__":
    sys.exit(main())
