"""Interrupted training: SIGKILL at random moments always leaves a loadable checkpoint and a run that resumes
to the weights of an uninterrupted one; a full disk or a permission error while saving a checkpoint leaves
the previous checkpoint intact, removes the half-written one and says what happened.

(tests/test_trainer_resume.py kills right after the first checkpoint; here the moment is random and a
checkpoint is written every step, so kills land in the middle of writing one too.)
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from polytag.trainers import ModelTrainer
from polytag.training import checkpoint as checkpoint_module
from polytag.training import find_checkpoint, load_checkpoint
from polytag.training.checkpoint import CheckpointData, CheckpointWriteError, save_checkpoint
from tests.test_trainer_support import RESUME_SETTINGS, build

ROOT = Path(__file__).resolve().parents[1]
EVERY_STEP = {**RESUME_SETTINGS, "save_checkpoint_every": "1 steps"}
TOTAL_STEPS = 3 * 12  # 3 epochs of 48 sentences in batches of 4

TRAIN_SCRIPT = """
import json, sys, time
sys.path.insert(0, {root!r})
from tests.test_trainer_support import build
from polytag.trainers import ModelTrainer
model, corpus = build()
original = model.forward_loss
def slow(sentences):
    time.sleep({delay})
    return original(sentences)
model.forward_loss = slow
ModelTrainer(model, corpus).fine_tune(sys.argv[1], **json.loads(sys.argv[2]))
"""


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    """The weights of an uninterrupted run (checkpoints do not change the result)."""
    import tempfile

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        model, corpus = build()
        ModelTrainer(model, corpus).fine_tune(folder, **EVERY_STEP)
        return {k: v.clone() for k, v in model.state_dict().items()}


def _assert_same_weights(model: torch.nn.Module, expected: dict[str, torch.Tensor]) -> None:
    for key, value in expected.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)


def kill_at_random(base: Path, rng: random.Random, delay: float = 0.02) -> int:
    """Train in a subprocess, SIGKILL it at a random moment after its first checkpoint; the step reached."""
    script = TRAIN_SCRIPT.format(root=str(ROOT), delay=delay)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(base), json.dumps(EVERY_STEP)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not (base / "checkpoints").is_dir() or not any((base / "checkpoints").glob("step-*")):
            assert process.poll() is None, f"training ended early: {process.stderr.read()}"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, TOTAL_STEPS * delay * 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    folder, data = load_checkpoint(base)  # the last checkpoint loads
    return int(data.state["run"]["global_step"])


@pytest.mark.parametrize("trial", [0, 1])
def test_sigkill_at_a_random_moment_then_resume(tmp_path: Path, expected: dict, trial: int) -> None:
    base = tmp_path / "run"
    step = kill_at_random(base, random.Random(trial))
    assert 0 < step < TOTAL_STEPS
    model, corpus = build(model_seed=99)
    result = ModelTrainer(model, corpus).resume(base)
    assert len(result["train_loss_history"]) == 3
    _assert_same_weights(model, expected)
    assert not any(p.name.startswith(".tmp") for p in (base / "checkpoints").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(2, 10))
def test_sigkill_at_a_random_moment_then_resume_more(tmp_path: Path, expected: dict, trial: int) -> None:
    test_sigkill_at_a_random_moment_then_resume(tmp_path, expected, trial)


# -- saving errors -------------------------------------------------------------------------------------
def _failing_save_file(fail_on_call: int, error: OSError):
    """A ``save_file`` that works ``fail_on_call - 1`` times, then writes half a file and fails."""
    real = checkpoint_module.save_file
    calls = {"n": 0}

    def save_file(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] >= fail_on_call:
            Path(filename).write_bytes(b"half a file")
            raise error
        return real(tensors, filename, metadata=metadata)

    return save_file


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), PermissionError(errno.EACCES, "Permission denied")],
    ids=["disk-full", "permission"],
)
def test_error_while_saving_keeps_the_previous_checkpoint(
    tmp_path: Path, expected: dict, monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    base = tmp_path / "run"
    # each checkpoint writes two safetensors files; the 8th call is the 2nd file of the 4th checkpoint
    monkeypatch.setattr(checkpoint_module, "save_file", _failing_save_file(8, error))
    model, corpus = build()
    with pytest.raises(CheckpointWriteError) as raised:
        ModelTrainer(model, corpus).fine_tune(base, **EVERY_STEP)
    message = str(raised.value)
    assert error.strerror in message and "step-000000004" in message
    assert "the previous checkpoint" in message and "step-000000003" in message and "intact" in message
    assert raised.value.errno == error.errno
    entries = sorted(p.name for p in (base / "checkpoints").iterdir())
    assert entries == ["step-000000003"]  # the half-written folder is gone
    monkeypatch.undo()
    folder, data = load_checkpoint(base)
    assert folder.name == "step-000000003" and data.state["run"]["global_step"] == 3
    model, corpus = build(model_seed=5)
    ModelTrainer(model, corpus).resume(base)
    _assert_same_weights(model, expected)


def _data(value: float) -> CheckpointData:
    return CheckpointData(model={"w": torch.full((3,), value)}, state={"run": {"global_step": int(value)}})


def test_failed_rename_of_the_same_step_puts_the_old_one_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_checkpoint(tmp_path, "step-000000007", _data(7.0))
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name.startswith(".tmp-step"):
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "rename", rename)
    with pytest.raises(OSError):
        save_checkpoint(tmp_path, "step-000000007", _data(8.0))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000007"]
    _, data = load_checkpoint(tmp_path)
    assert torch.equal(data.model["w"], torch.full((3,), 7.0))


def test_checkpoint_moved_aside_by_a_killed_save_is_found_again(tmp_path: Path) -> None:
    """A kill between "move the old step-N aside" and "rename the new one into place" loses nothing."""
    save_checkpoint(tmp_path, "step-000000007", _data(7.0))
    os.rename(tmp_path / "step-000000007", tmp_path / ".tmp-old-step-000000007-4242")
    assert find_checkpoint(tmp_path).name == "step-000000007"
    save_checkpoint(tmp_path, "step-000000009", _data(9.0), keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000007", "step-000000009"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, "step-000000001", _data(1.0))
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(CheckpointWriteError, match="intact"):
            save_checkpoint(tmp_path, "step-000000002", _data(2.0))
    finally:
        tmp_path.chmod(0o755)
    assert load_checkpoint(tmp_path)[0].name == "step-000000001"
