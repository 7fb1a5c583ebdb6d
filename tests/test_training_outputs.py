"""A training folder that holds a user's files: the trainer replaces only what runs there wrote
(``polytag-run.json``), refuses a folder whose files it would replace, and ``polytag train -o`` refuses a
non-empty folder that is no polytag run unless ``--overwrite`` (issue 14, point 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytag.cli.main import main
from polytag.trainers import ModelTrainer
from polytag.training.outputs import MANIFEST, OutputFolderError, RunFolder
from tests.test_cli_support import one_torch_thread, write_corpora
from tests.test_cli_train import SINGLE
from tests.test_trainer_support import build

FAST = {
    "max_epochs": 1,
    "mini_batch_size": 8,
    "progress_bar": False,
    "plot_training_curves": False,
    "seed": 1,
}


def user_files(folder: Path) -> dict[str, bytes]:
    """A user's folder as in the report: a backup model, an older checkpoints.previous, notes."""
    files = {
        "best-model-backup-2024.pt": b"my backup",
        "checkpoints.previous/step-000000001/trainer-state.json": b"{}",
        "notes.txt": b"do not delete",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def assert_intact(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        assert (folder / name).read_bytes() == data, f"{name} was changed or removed"


def test_training_twice_in_a_folder_with_user_files_keeps_them(tmp_path):
    files = user_files(tmp_path)
    for _ in range(3):  # Flair users call train() again and again on the same folder
        model, corpus = build()
        ModelTrainer(model, corpus).fine_tune(tmp_path, save_checkpoint_every=1, **FAST)
    assert_intact(tmp_path, files)
    assert (tmp_path / "final-model.pt").is_file() and (tmp_path / "checkpoints").is_dir()
    # the first run's checkpoints were set aside, but the user's checkpoints.previous stayed as it was
    own = set(json.loads((tmp_path / MANIFEST).read_text())["files"])
    assert "checkpoints.previous-2" in own and "checkpoints.previous" not in own and "loss.tsv" in own
    assert (tmp_path / "checkpoints.previous-2").is_dir()
    assert not own & set(files) and "notes.txt" not in own


@pytest.mark.parametrize(
    "name", ["final-model.pt", "loss.tsv", "test.tsv", "model_epoch_3.pt", "checkpoints"]
)
def test_a_file_the_run_would_replace_is_refused_then_overwrite_allows_it(tmp_path, name):
    files = user_files(tmp_path)
    if name == "checkpoints":
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text("mine", encoding="utf-8")
    else:
        (tmp_path / name).write_text("mine", encoding="utf-8")
    model, corpus = build()
    with pytest.raises(OutputFolderError, match=rf"{name}.*overwrite=True"):
        ModelTrainer(model, corpus).fine_tune(tmp_path, **FAST)
    assert not (tmp_path / MANIFEST).exists() and not (tmp_path / "training.log").exists()

    ModelTrainer(model, corpus).fine_tune(tmp_path, overwrite=True, save_checkpoint_every=1, **FAST)
    assert_intact(tmp_path, files)
    if name == "checkpoints":  # a folder it did not create is moved aside, never removed
        assert (tmp_path / "checkpoints.previous-2" / "mine.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "final-model.pt").is_file()


def test_remove_own_never_touches_a_name_the_manifest_does_not_list(tmp_path):
    (tmp_path / "best-model.pt").write_text("user", encoding="utf-8")
    folder = RunFolder(tmp_path)
    assert folder.remove_own("best-model.pt") is False
    assert (tmp_path / "best-model.pt").read_text(encoding="utf-8") == "user"
    folder.claim("loss.tsv")
    (tmp_path / "loss.tsv").write_text("run", encoding="utf-8")
    assert RunFolder(tmp_path).remove_own("loss.tsv") is True and not (tmp_path / "loss.tsv").exists()


def test_a_broken_manifest_is_a_clear_error(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(OutputFolderError, match=MANIFEST):
        RunFolder(tmp_path)


def _train_cli(config: Path, output: Path, *extra: str) -> int:
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main(["train", str(config), "-o", str(output), "-q", *extra])
    return int(exit_info.value.code or 0)


def test_cli_refuses_a_non_empty_folder_unless_overwrite(tiny_encoder_dir, tmp_path, capsys):
    write_corpora(tmp_path / "data", sizes=(8, 4, 4))
    config = tmp_path / "single.yaml"
    config.write_text(SINGLE.format(encoder=tiny_encoder_dir), encoding="utf-8")
    output = tmp_path / "mine"
    output.mkdir()
    files = user_files(output)
    (output / "final-model.pt").write_bytes(b"an older model of mine")

    assert _train_cli(config, output) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(output) in err and "--overwrite" in err
    assert not (output / "config.yaml").exists() and not (output / MANIFEST).exists()

    assert _train_cli(config, output, "--overwrite") == 0
    assert_intact(output, files)
    assert (output / "final-model.pt").read_bytes() != b"an older model of mine"
    assert "best-model-backup-2024.pt" not in capsys.readouterr().out  # not listed as a model of the run
    assert _train_cli(config, output) == 0  # now a polytag run: training again needs no --overwrite
    assert_intact(output, files)
