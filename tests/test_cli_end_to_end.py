"""The whole command line on the tiny encoder: train from a YAML config, evaluate, predict a 10,000-sentence
file in bounded memory, and serve the model to real HTTP requests (a subprocess on a free loopback port)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polytag.cli.main import main
from polytag.config import portable_config
from polytag.io import read_model_header
from tests.test_cli_support import free_port, http, one_torch_thread, write_corpora

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
output: run-from-file   # replaced by --output below
encoder:
  model: {encoder}
tasks:
  - id: ner
    head: token
    label_type: ner
    corpus: tagged
  - id: pos
    head: TokenClassifier
    label_type: pos
    corpus: tagged
  - id: topic
    head: text
    label_type: topic
    corpus:
      type: jsonl
      train: data/topics/train.jsonl
      dev: data/topics/dev.jsonl
      test: data/topics/test.jsonl
corpora:
  tagged:
    type: column
    folder: data/tagged
    columns: {{0: text, 1: pos, 2: ner}}
multitask:
  sampling: uniform
trainer:
  learning_rate: 1e-3
  mini_batch_size: 8
  max_epochs: 1
  seed: 3
  progress_bar: false
  plot_training_curves: false
"""

# What a subprocess runs: the CLI, then its own peak resident memory (KiB, Linux) as the last line.
MEASURED_RUN = (
    "import json, resource, sys\n"
    "from polytag.cli.main import run\n"
    "code = run(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'maxrss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TQDM_MININTERVAL="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def write_text_file(path: Path, n_sentences: int) -> None:
    """Two sentences a line, so the splitter is exercised; written line by line."""
    subjects = ["Mr. Smith", "Maria", "The man", "Dr. Jones", "The team"]
    objects = ["Paris", "Berlin", "the match", "a law", "New York"]
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n_sentences // 2):
            a, b = subjects[i % 5], objects[(i // 5) % 5]
            handle.write(f"{a} visited {b} on day {i}. The weather was fine and {b} was busy!\n")


def measured_predict(model: Path, source: Path, output: Path) -> tuple[int, str]:
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURED_RUN,
            "predict",
            str(model),
            str(source),
            "--output",
            str(output),
            "--chunk-size",
            "256",
            "--batch-size",
            "64",
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    figures = json.loads(process.stdout.strip().splitlines()[-1])
    assert figures["code"] == 0
    return figures["maxrss_kib"], process.stderr


@pytest.fixture(scope="module")
def trained(tiny_encoder_dir, tmp_path_factory):
    """Train once through ``polytag train`` (in-process) for all the tests of this module."""
    folder = tmp_path_factory.mktemp("cli")
    write_corpora(folder / "data", sizes=(40, 10, 10))
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(encoder=tiny_encoder_dir), encoding="utf-8")
    output = folder / "out"
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main(["train", str(config), "--output", str(output), "--set", "trainer.max_epochs=2", "-q"])
    assert exit_info.value.code == 0
    return folder, config, output


def test_train_saves_resolved_config_next_to_the_model_and_inside_it(trained):
    folder, _, output = trained
    model = output / "final-model.pt"
    assert model.is_file() and (output / "training.log").is_file()
    beside = yaml.safe_load((output / "config.yaml").read_text(encoding="utf-8"))
    assert beside["trainer"]["max_epochs"] == 2  # the --set override was applied
    assert beside["output"] == str(output.resolve())  # --output won over the file's 'output'
    assert beside["multitask"]["sampling"] == "uniform"
    assert beside["corpora"]["tagged"]["folder"] == str((folder / "data" / "tagged").resolve())
    inside = read_model_header(model)["config"]["training_config"]
    # the same config (JSON turns column numbers to text), its paths relative to the config's folder or
    # redacted: a shared model file does not leak the local disk layout
    assert inside == json.loads(json.dumps(portable_config(beside, folder)))
    assert inside["output"] == "out" and inside["corpora"]["tagged"]["folder"] == "data/tagged"
    assert str(folder) not in json.dumps(inside) and inside["encoder"]["model"].startswith("<local>/")
    log_text = (output / "training.log").read_text(encoding="utf-8")
    assert "EPOCH 2 done" in log_text and "EPOCH 3" not in log_text


def test_evaluate_prints_every_task_and_json(trained, capsys):
    folder, config, output = trained
    model = str(output / "final-model.pt")
    with one_torch_thread(), pytest.raises(SystemExit):
        main(["evaluate", model, str(config), "--json", "-q"])
    report = json.loads(capsys.readouterr().out)
    assert set(report["tasks"]) == {"ner", "pos", "topic"}
    assert (
        report["tasks"]["ner"]["label_type"] == "ner" and report["tasks"]["topic"]["head"] == "TextClassifier"
    )
    for task in report["tasks"].values():
        assert 0.0 <= task["main_score"] <= 1.0 and "micro avg" in task["classification_report"]
    assert report["sentences"] == 20  # test splits: 10 tagged + 10 topic sentences
    # a column file scores the tasks whose gold layers it has
    with one_torch_thread(), pytest.raises(SystemExit):
        main(
            [
                "evaluate",
                model,
                str(folder / "data" / "tagged" / "dev.txt"),
                "--columns",
                "0:text,1:pos,2:ner",
            ]
        )
    out = capsys.readouterr().out
    assert "=== ner - TokenClassifier (ner)" in out and "=== pos - TokenClassifier (pos)" in out
    assert "topic" not in out


def test_predict_streams_ten_thousand_sentences_in_bounded_memory(trained, tmp_path):
    _, _, output = trained
    model = output / "final-model.pt"
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    write_text_file(small, 1_000)
    write_text_file(large, 10_000)
    rss_small, _ = measured_predict(model, small, tmp_path / "small.jsonl")
    rss_large, stderr = measured_predict(model, large, tmp_path / "large.jsonl")
    assert "predicted 10000 sentences" in stderr and "tokens/s" in stderr  # throughput is reported
    with open(tmp_path / "large.jsonl", encoding="utf-8") as handle:
        count = 0
        for line in handle:
            count += 1
            if count in (1, 10_000):
                record = json.loads(line)
                assert record["labels"]["topic"][0]["value"] in ("sports", "politics")
                assert len(record["token_labels"]["pos"]) == len(record["tokens"])
    assert count == 10_000
    assert json.loads(line)["text"] == "The weather was fine and New York was busy!"
    # Ten times the input may not cost more than a little memory: holding 10,000 labelled sentences
    # (and their JSON) would add well over 40 MiB.
    growth_mib = (rss_large - rss_small) / 1024
    print(f"peak RSS: {rss_small / 1024:.1f} MiB (1,000 sentences), {rss_large / 1024:.1f} MiB (10,000)")
    assert growth_mib < 25, f"peak memory grew by {growth_mib:.1f} MiB from 1,000 to 10,000 sentences"


def test_serve_answers_real_http_requests(trained):
    _, _, output = trained
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "polytag", "serve", str(output / "final-model.pt"), "--port", str(port), "-q"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if http(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "the server did not start within 120 s"
            time.sleep(0.25)
        status, data = http(port, "POST", "/predict", {"texts": ["Maria visited Paris. The team won!", "Hi"]})
        assert status == 200
        first = data["results"][0]
        assert [s["text"] for s in first["sentences"]] == ["Maria visited Paris.", "The team won!"]
        sentence = first["sentences"][0]
        assert all("pos" in t["labels"] for t in sentence["tokens"])
        assert sentence["labels"]["topic"][0]["value"] in ("sports", "politics")
        for span in sentence["spans"]:
            assert span["layer"] == "ner" and span["value"] in ("PER", "LOC", "ORG")
        status, info = http(port, "GET", "/info")
        assert status == 200 and [t["task"] for t in info["tasks"]] == ["ner", "pos", "topic"]
        status, error = http(port, "POST", "/predict", b'{"text": ["not", "a", "string"]}')
        assert status == 422 and "'text' must be a string" in error["detail"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
