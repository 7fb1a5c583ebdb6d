"""A stopped training is not a success (issue 14, point 10): a real SIGINT or SIGTERM to ``polytag train``
makes it exit 130 or 143, with the model saved as ``interrupted-model.pt`` (never ``final-model.pt``) next
to a checkpoint it can resume from; the library API returns after Ctrl-C (as Flair's) and ends the process
with 143 after SIGTERM, once everything is saved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polytag.training import find_checkpoint
from polytag.training.interrupt import InterruptGuard
from polytag.training.outputs import MANIFEST
from tests.test_cli_support import write_corpora
from tests.test_cli_train import SINGLE

ROOT = Path(__file__).resolve().parents[1]

LIBRARY_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from tests.test_trainer_support import build
from polytag.trainers import ModelTrainer
model, corpus = build()
original = model.forward_loss
def slow(sentences):
    time.sleep(0.01)
    return original(sentences)
model.forward_loss = slow
result = ModelTrainer(model, corpus).fine_tune(sys.argv[1], max_epochs=10000, mini_batch_size=8,
                                               progress_bar=False, plot_training_curves=False)
print("RETURNED", result["interrupted"], result["signal"])
"""


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def signal_after_first_epoch(command: list[str], folder: Path, signum: int) -> subprocess.CompletedProcess:
    """Start ``command``, send ``signum`` once its first epoch is in ``loss.tsv``, return how it ended
    (also used by bench/robustness_training.py)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment()
    )
    try:
        deadline = time.monotonic() + 180
        while not (folder / "loss.tsv").is_file():
            if process.poll() is not None:
                out, err = process.communicate()
                raise RuntimeError(
                    f"training ended before the signal (rc {process.returncode}): {err[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("training did not finish an epoch within 180 s")
            time.sleep(0.05)
        process.send_signal(signum)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _assert_interrupted_outputs(folder: Path) -> None:
    assert (folder / "interrupted-model.pt").is_file()
    assert not (folder / "final-model.pt").exists(), "an interrupted run must not look finished"
    assert find_checkpoint(folder).is_dir()
    assert "interrupted-model.pt" in json.loads((folder / MANIFEST).read_text())["files"]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_polytag_train_stopped_by_a_signal_exits_non_zero(tiny_encoder_dir, tmp_path, signum, code):
    write_corpora(tmp_path / "data", sizes=(16, 4, 4))
    config = tmp_path / "single.yaml"
    config.write_text(SINGLE.format(encoder=tiny_encoder_dir), encoding="utf-8")
    output = tmp_path / "out"
    command = [sys.executable, "-m", "polytag", "train", str(config), "-o", str(output)]
    command += ["--set", "trainer.max_epochs=10000", "-q"]
    ended = signal_after_first_epoch(command, output, signum)
    assert ended.returncode == code, ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr
    assert f"training was interrupted ({signal.Signals(signum).name})" in ended.stderr
    _assert_interrupted_outputs(output)
    assert "interrupted-model.pt" in ended.stdout  # listed among the run's models (config embedded)


def test_library_returns_after_ctrl_c_and_ends_the_process_after_sigterm(tmp_path):
    script = LIBRARY_SCRIPT.format(root=str(ROOT))
    ended = signal_after_first_epoch(
        [sys.executable, "-c", script, str(tmp_path / "a")], tmp_path / "a", signal.SIGINT
    )
    assert ended.returncode == 0 and "RETURNED True SIGINT" in ended.stdout  # as Flair: it returns
    _assert_interrupted_outputs(tmp_path / "a")

    command = [sys.executable, "-c", script, str(tmp_path / "b")]
    ended = signal_after_first_epoch(command, tmp_path / "b", signal.SIGTERM)
    assert ended.returncode == 143 and "RETURNED" not in ended.stdout  # SystemExit(143) after saving
    assert "Traceback" not in ended.stderr
    _assert_interrupted_outputs(tmp_path / "b")


def test_guard_records_the_first_signal_and_lets_a_second_ctrl_c_abort():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with InterruptGuard() as guard:
        signal.raise_signal(signal.SIGTERM)
        assert guard.requested and guard.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # the second signal: Ctrl-C's usual effect, at once
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    with InterruptGuard(sigterm=False):  # distributed runs: SIGTERM stays torchrun's
        assert signal.getsignal(signal.SIGTERM) == before[0]
