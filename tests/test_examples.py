"""Every program under examples/ runs (on the tiny encoder and small shares of the shared corpora)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, tmp_path: Path, encoder: Path, datasets: Path, **env: str) -> str:
    environment = {
        **os.environ,
        "POLYTAG_DATASETS": str(datasets),
        "POLYTAG_EXAMPLE_ENCODER": str(encoder),
        "POLYTAG_EXAMPLE_OUTPUT": str(tmp_path / "model"),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, env=environment, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_multitask_pos_chunk_example(tmp_path, tiny_encoder_dir, shared_datasets) -> None:
    out = run_example(
        "multitask_pos_chunk.py", tmp_path, tiny_encoder_dir, shared_datasets, POLYTAG_EXAMPLE_FRACTION="0.01"
    )
    assert 'Sentence[5]: "Mr Smith loves New York" → [' in out
    pos_lines = out.split("Part of speech tags are:")[1].split("Chunks are:")[0].strip().splitlines()
    assert [line.split()[0] for line in pos_lines] == ['"Mr"', '"Smith"', '"loves"', '"New"', '"York"']
    log = (tmp_path / "model" / "training.log").read_text()
    assert "Task_0 - TokenClassifier - loss:" in log and "Task_1 - TokenClassifier - loss:" in log
    assert "DEV : loss" in log


def test_multitask_topic_ner_example(tmp_path, tiny_encoder_dir, shared_datasets) -> None:
    out = run_example(
        "multitask_topic_ner.py",
        tmp_path,
        tiny_encoder_dir,
        shared_datasets,
        POLYTAG_EXAMPLE_FRACTION="0.02",
        POLYTAG_EXAMPLE_TOPIC_FRACTION="0.01",
    )
    line = next(x for x in out.splitlines() if x.startswith("Sentence[7]"))
    assert line.startswith('Sentence[7]: "IBM made a lot of profit." → ')
    assert "(" in line.split("→")[1]  # the topic label with its score
    log = (tmp_path / "model" / "training.log").read_text()
    assert "Task_0 - TextClassifier" in log and "Task_1 - TokenClassifier" in log


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_is_covered(name: str) -> None:
    covered = {"multitask_pos_chunk.py", "multitask_topic_ner.py"}
    tests_text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    assert name in covered or name in tests_text, f"examples/{name} is not run by any test"
