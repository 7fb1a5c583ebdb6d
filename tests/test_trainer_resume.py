"""Kill-and-resume: a run killed with SIGKILL after a checkpoint and resumed ends with the same weights
as an uninterrupted run with the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from polytag.trainers import ModelTrainer
from polytag.training import find_checkpoint
from tests.test_trainer_support import RESUME_SETTINGS, TinyTagger, build

SCRIPT = Path(__file__).with_name("test_trainer_support.py")
TOTAL_STEPS = 3 * 12  # RESUME_SETTINGS: 3 epochs of 48 sentences in batches of 4


def _wait_for_checkpoint(base: Path, process: subprocess.Popen, timeout: float = 120.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return find_checkpoint(base)
        except FileNotFoundError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"training ended before a checkpoint appeared: {process.stderr.read()}")
        time.sleep(0.01)
    raise AssertionError("no checkpoint appeared in time")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sigkill_then_resume_gives_the_same_weights(tmp_path):
    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(tmp_path / "whole", **RESUME_SETTINGS)
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    base = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(base), "--delay", "0.05"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_checkpoint(base, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (base / "final-model.pt").exists()  # it really was cut short
    folder = find_checkpoint(base)
    step = json.loads((folder / "trainer-state.json").read_text())["run"]["global_step"]
    assert 0 < step < TOTAL_STEPS

    # resume in a fresh subprocess would do the same; in-process keeps the test fast
    model, corpus = build(model_seed=123)
    result = ModelTrainer(model, corpus).resume(base)
    assert len(result["train_loss_history"]) == 3
    for key, value in expected.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    final = TinyTagger.load(base / "final-model.pt")
    for key, value in expected.items():
        torch.testing.assert_close(final.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert not any(p.name.startswith(".tmp") for p in (base / "checkpoints").iterdir())


@pytest.mark.slow
def test_sigkill_then_resume_in_a_second_subprocess(tmp_path):
    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(tmp_path / "whole", **RESUME_SETTINGS)
    expected = TinyTagger.load(tmp_path / "whole" / "final-model.pt").state_dict()
    base = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(base), "--delay", "0.05"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_checkpoint(base, process)
    time.sleep(0.3)  # kill later, maybe in the middle of writing the next checkpoint
    process.kill()
    process.wait(timeout=30)
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.test_trainer_support import build; from polytag.trainers import ModelTrainer;"
        f"m, c = build(5); ModelTrainer(m, c).resume({str(base)!r}, progress_bar=False)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SCRIPT.parents[1], capture_output=True)
    final = TinyTagger.load(base / "final-model.pt").state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(final[key], value, rtol=1e-5, atol=1e-6)
