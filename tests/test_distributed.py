"""Data-parallel training: 2 processes (torchrun, gloo, CPU) end with the weights of one process trained
with the same global batch, and only rank 0 writes files and logs.

Also the script the test launches: ``python tests/test_distributed.py ENCODER_DIR WORK_DIR`` (under
torchrun, one process per rank). It trains ``WORK_DIR/ddp`` (to compare with one process), then a model
with dropout in ``WORK_DIR/dropout``, resumed from its step-4 checkpoint into ``WORK_DIR/resumed``; each
rank dumps its final weights of each run to ``WORK_DIR/dumps/<run>-rank<r>.safetensors``.

Determinism: the comparison needs the two runs to compute the same function, so dropout is off (the
tiny encoder's config gets ``hidden_dropout_prob = attention_probs_dropout_prob = 0``; the head has no
dropout by default). What remains are float rounding differences (the 2-process gradient is the sum of
two partial sums), hence the tolerance. The optimizer is SGD: Adam divides each gradient by its own size,
so a parameter whose true gradient is zero (an attention key bias: softmax ignores it) moves by about the
learning rate in a direction set by rounding noise alone, in any two runs that add in another order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# 21 sentences in global batches of 4: the last batch holds 1 sentence, so rank 1's slice is empty there.
N_TRAIN = 21
SETTINGS = {
    "max_epochs": 2,
    "mini_batch_size": 4,
    "learning_rate": 0.01,
    "optimizer": torch.optim.SGD,
    "seed": 3,
    "save_checkpoint_every": "4 steps",
    "progress_bar": False,
    "plot_training_curves": False,
}


def _build(encoder_dir: str, dropout: float = 0.0):
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import TokenClassifier
    from tests.test_trainer_support import make_corpus

    corpus = make_corpus(N_TRAIN)
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(encoder_dir)
    model = TokenClassifier(embeddings, corpus.make_label_dictionary("pos"), "pos", dropout=dropout)
    return model, corpus


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def train(encoder_dir: str, base_path: str, dropout: float = 0.0) -> dict[str, torch.Tensor]:
    """One training run (the whole job, or this rank's part under torchrun); the final weights."""
    from polytag.trainers import ModelTrainer

    model, corpus = _build(encoder_dir, dropout)
    ModelTrainer(model, corpus).fine_tune(base_path, **SETTINGS, keep_checkpoints=5)
    return _weights(model)


def resume(encoder_dir: str, checkpoint: str, base_path: str) -> dict[str, torch.Tensor]:
    from polytag.trainers import ModelTrainer

    torch.manual_seed(99)  # other initial weights, other random state: both must come from the checkpoint
    model, corpus = _build(encoder_dir, dropout=0.3)
    ModelTrainer(model, corpus).resume(checkpoint, base_path=base_path)
    return _weights(model)


def _main() -> None:
    from safetensors.torch import save_file

    encoder_dir, work = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(1)
    rank = os.environ.get("RANK", "0")
    runs = {
        "ddp": lambda: train(encoder_dir, str(work / "ddp")),
        "dropout": lambda: train(encoder_dir, str(work / "dropout"), dropout=0.3),
        "resumed": lambda: resume(
            encoder_dir, str(work / "dropout" / "checkpoints" / "step-000000004"), str(work / "resumed")
        ),
    }
    for name, run in runs.items():
        save_file(run(), str(work / "dumps" / f"{name}-rank{rank}.safetensors"))


# -- the tests ---------------------------------------------------------------------------------------------
@pytest.fixture
def encoder_without_dropout(tiny_encoder_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, target)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (target / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return target


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_two_gloo_processes_match_one_process_and_only_rank_0_writes(encoder_without_dropout, tmp_path):
    from safetensors.torch import load_file

    from polytag.models import TokenClassifier

    expected = train(str(encoder_without_dropout), str(tmp_path / "single"))

    base, dumps, logs = tmp_path / "ddp", tmp_path / "dumps", tmp_path / "logs"
    dumps.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",  # the launcher binds a free port itself (no race with other programs)
        "--log-dir",
        str(logs),
        "--redirects",
        "3",
        str(Path(__file__)),
        str(encoder_without_dropout),
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    rank_errors = "".join(p.read_text(encoding="utf-8")[-3000:] for p in logs.rglob("stderr.log"))
    assert done.returncode == 0, done.stderr[-2000:] + rank_errors

    # the final weights: the same on both ranks, and those of the single-process run
    rank0, rank1 = (load_file(str(dumps / f"ddp-rank{r}.safetensors")) for r in (0, 1))
    saved = TokenClassifier.load(base / "final-model.pt").state_dict()
    assert expected.keys() == rank0.keys()
    initial = _build(str(encoder_without_dropout))[0].state_dict()
    for key, value in expected.items():
        assert torch.equal(rank0[key], rank1[key]), key
        difference = (rank0[key] - value).abs().max()
        assert torch.allclose(rank0[key], value, rtol=1e-4, atol=1e-6), (key, difference)
        assert torch.equal(saved[key].cpu(), rank0[key]), key
    # training moved the weights: the comparison is not between two untrained models
    assert sum(not torch.equal(initial[k], expected[k]) for k in expected) > len(expected) // 2

    # one writer: each line of the log once, one loss row per epoch, the same files as one process
    log_text = (base / "training.log").read_text(encoding="utf-8")
    assert log_text.count("EPOCH 1 done") == 1 and log_text.count("EPOCH 2 done") == 1
    assert "distributed: 2 processes (gloo)" in log_text
    assert len((base / "loss.tsv").read_text(encoding="utf-8").splitlines()) == 1 + SETTINGS["max_epochs"]
    files = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    single = sorted(
        p.relative_to(tmp_path / "single").as_posix() for p in (tmp_path / "single").rglob("*") if p.is_file()
    )
    assert files == single
    # per-rank output (torchrun --redirects): rank 0 logged the runs, rank 1 printed nothing
    outputs = {p.parent.name: p.read_text(encoding="utf-8") for p in logs.rglob("stdout.log")}
    assert "EPOCH 2 done" in outputs["0"] and outputs["1"].strip() == ""

    # resume on the same number of ranks, with dropout on: each rank continues its own random stream,
    # so the resumed run ends bit for bit where the uninterrupted one did
    checkpoint = tmp_path / "dropout" / "checkpoints" / "step-000000004"
    assert "rank.1.rng.torch" in load_file(str(checkpoint / "training-state.safetensors"))
    for rank in (0, 1):
        whole = load_file(str(dumps / f"dropout-rank{rank}.safetensors"))
        resumed = load_file(str(dumps / f"resumed-rank{rank}.safetensors"))
        assert all(torch.equal(whole[k], resumed[k]) for k in whole), rank
    assert "Resumed from" in (tmp_path / "resumed" / "training.log").read_text(encoding="utf-8")


# -- polytag train --nproc ---------------------------------------------------------------------------------
def test_nproc_builds_the_torchrun_command(monkeypatch):
    from polytag.cli.main import _parser
    from polytag.cli.train import launch_train, torchrun_command, wants_launch

    argv = ["train", "my.yaml", "--set", "trainer.max_epochs=2", "-o", "runs/x", "--nproc", "4", "-q"]
    args = _parser().parse_args(argv)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert wants_launch(args)
    started = []

    class FakeProcess:
        def __init__(self, command: list[str]) -> None:
            started.append(command)

        def wait(self) -> int:
            return 3

    monkeypatch.setattr("polytag.cli.train.subprocess.Popen", FakeProcess)
    assert launch_train(args) == 3  # torchrun's exit code is the command's
    assert started[0] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "4",
        "--standalone",
        "-m",
        "polytag",
        "train",
        "my.yaml",
        "--quiet",
        "--set",
        "trainer.max_epochs=2",
        "--output",
        "runs/x",
    ]
    # several machines: torchrun's rendezvous options instead of --standalone
    multi = _parser().parse_args(
        [
            "train",
            "my.yaml",
            "--nproc",
            "2",
            "--nnodes",
            "2",
            "--node-rank",
            "1",
            "--master-addr",
            "10.0.0.1",
            "--master-port",
            "29400",
            "--resume",
            "runs/x",
        ]
    )
    command = torchrun_command(
        multi.config,
        multi.nproc,
        resume=multi.resume,
        launch={
            "nnodes": multi.nnodes,
            "node_rank": multi.node_rank,
            "master_addr": multi.master_addr,
            "master_port": multi.master_port,
        },
    )
    assert command[3:13] == [
        "--nproc-per-node",
        "2",
        "--nnodes",
        "2",
        "--node-rank",
        "1",
        "--master-addr",
        "10.0.0.1",
        "--master-port",
        "29400",
    ]
    assert command[-2:] == ["--resume", "runs/x"] and "--standalone" not in command
    # no relaunch without --nproc, with --nproc 1, or inside a torchrun worker
    assert not wants_launch(_parser().parse_args(["train", "my.yaml"]))
    assert not wants_launch(_parser().parse_args(["train", "my.yaml", "--nproc", "1"]))
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert not wants_launch(args)
    with pytest.raises(ValueError):
        torchrun_command("my.yaml", 0)


CLI_CONFIG = """\
encoder: {{model: {encoder}}}
tasks:
  - {{id: pos, head: TokenClassifier, label_type: pos, corpus: {{type: column, folder: data/tagged,
      columns: {{0: text, 1: pos, 2: ner}}}}}}
trainer:
  learning_rate: 1.0e-3
  mini_batch_size: 4
  max_epochs: 1
  progress_bar: false
  plot_training_curves: false
  seed: 0
"""


@pytest.mark.slow
def test_polytag_train_nproc_2_end_to_end(tiny_encoder_dir, tmp_path):
    from polytag.io import read_model_header
    from tests.test_cli_support import write_corpora

    write_corpora(tmp_path / "data", sizes=(14, 4, 4))
    config = tmp_path / "pos.yaml"
    config.write_text(CLI_CONFIG.format(encoder=tiny_encoder_dir), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "polytag",
        "train",
        str(config),
        "-o",
        str(tmp_path / "out"),
        "--nproc",
        "2",  # no rendezvous options: torchrun --standalone
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])  # rank 0 alone prints the summary
    assert done.stdout.count('"output"') == 1 and 0.0 <= summary["test_score"] <= 1.0
    assert read_model_header(tmp_path / "out" / "final-model.pt")["config"]["training_config"]
    log_text = (tmp_path / "out" / "training.log").read_text(encoding="utf-8")
    assert log_text.count("EPOCH 1 done") == 1 and "distributed: 2 processes (gloo)" in log_text


if __name__ == "__main__":
    _main()
