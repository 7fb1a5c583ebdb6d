"""Robustness rows for training (issue 14, points 6, 10 and 11): a run never deletes a user's files, a
stopped run is not a success, and a corpus it cannot train on is a one-line error naming the file.

    python bench/robustness_training.py [--json OUT]

``run(workdir)`` returns one row per check: ``{"point", "check", "expected", "observed", "ok"}``; the
standalone command prints them and exits 1 when a row is not ok. Tiny models only (the trainer tests'
TinyTagger and the tiny BERT of tests/conftest.py): well under a minute on two CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cli(argv: list[str]) -> tuple[int, str]:
    """Run ``polytag`` in this process; its exit code and what it wrote to stderr."""
    from polytag.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
    return code, err.getvalue().strip()


def _row(point: int, check: str, expected: str, observed: str, ok: bool) -> dict[str, Any]:
    return {"point": point, "check": check, "expected": expected, "observed": observed, "ok": bool(ok)}


def _intact(folder: Path, files: dict[str, bytes]) -> list[str]:
    """The user's files that were changed or removed."""
    return [n for n, data in files.items() if not (folder / n).is_file() or (folder / n).read_bytes() != data]


def user_folder_rows(workdir: Path, config: Path) -> list[dict[str, Any]]:
    """Point 6: the report's folder (backup model, older checkpoints.previous, loss.tsv, final-model.pt)."""
    from polytag.trainers import ModelTrainer
    from tests.test_trainer_support import build
    from tests.test_training_outputs import user_files

    rows = []
    folder = workdir / "users-folder"
    folder.mkdir()
    files = user_files(folder)
    (folder / "loss.tsv").write_text("my numbers\n", encoding="utf-8")
    code, err = _cli(["train", str(config), "-o", str(folder), "-q"])
    untouched = not _intact(folder, files) and not (folder / "config.yaml").exists()
    rows.append(
        _row(
            6,
            "polytag train -o FOLDER holding a user's files, no --overwrite",
            "exit 2, one line naming the folder and --overwrite, nothing written",
            f"exit {code}: {err[:140]}",
            code == 2 and err.count("\n") == 0 and str(folder) in err and "--overwrite" in err and untouched,
        )
    )
    code, err = _cli(["train", str(config), "-o", str(folder), "-q", "--overwrite"])
    lost = _intact(folder, files)
    rows.append(
        _row(
            6,
            "the same with --overwrite",
            "exit 0; the backup model, checkpoints.previous and notes survive byte for byte",
            f"exit {code}; changed or removed: {lost or 'none'}",
            code == 0 and not lost and (folder / "final-model.pt").is_file(),
        )
    )
    library = workdir / "library-folder"
    library.mkdir()
    files = user_files(library)
    settings = {"max_epochs": 1, "mini_batch_size": 8, "progress_bar": False, "save_checkpoint_every": 1}
    for _ in range(3):
        model, corpus = build()
        ModelTrainer(model, corpus).fine_tune(library, plot_training_curves=False, **settings)
    lost = _intact(library, files)
    rows.append(
        _row(
            6,
            "ModelTrainer.fine_tune(base_path) three times on a folder with a user's files",
            "every call runs; the user's files survive byte for byte",
            f"changed or removed: {lost or 'none'}",
            not lost and (library / "final-model.pt").is_file(),
        )
    )
    return rows


def signal_rows(workdir: Path, config: Path) -> list[dict[str, Any]]:
    """Point 10: a real SIGINT / SIGTERM to ``polytag train`` after its first epoch."""
    from tests.test_training_signals import signal_after_first_epoch

    rows = []
    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        name = signal.Signals(signum).name
        output = workdir / f"stopped-{name}"
        command = [sys.executable, "-m", "polytag", "train", str(config), "-o", str(output)]
        command += ["--set", "trainer.max_epochs=10000", "-q"]
        ended = signal_after_first_epoch(command, output, signum)
        interrupted = (output / "interrupted-model.pt").is_file()
        final = (output / "final-model.pt").exists()
        rows.append(
            _row(
                10,
                f"{name} to polytag train after its first epoch",
                f"exit {code}; interrupted-model.pt and a checkpoint; no final-model.pt",
                f"exit {ended.returncode}; interrupted-model.pt: {interrupted}; final-model.pt: {final}",
                ended.returncode == code and interrupted and not final,
            )
        )
    return rows


def corpus_rows(workdir: Path, encoder: Path) -> list[dict[str, Any]]:
    """Point 11: an empty train split and a fastText file without labels, through ``polytag train``."""
    from tests.test_corpus_errors import CONFIG, UNLABELLED, fasttext_folder

    rows = []
    for what, text, expected in (
        ("an empty train file", "", "the train split has no sentences"),
        ("a fastText train file without labels", UNLABELLED, "no label of type 'class'"),
    ):
        folder = fasttext_folder(workdir / f"corpus-{len(rows)}", text)
        config = folder / "config.yaml"
        config.write_text(CONFIG.format(encoder=encoder, train=folder / "train.txt"), encoding="utf-8")
        code, err = _cli(["train", str(config), "-o", str(folder / "out"), "-q"])
        named = err.startswith(f"polytag: error: {folder / 'train.txt'}: {expected}")
        rows.append(
            _row(
                11,
                f"polytag train on {what}",
                "exit 2 and one line naming the train file and what was expected (no traceback)",
                f"exit {code}: {err[:140]}",
                code == 2 and named and err.count("\n") == 0,
            )
        )
    return rows


def run(workdir: Path) -> list[dict[str, Any]]:
    """All rows, built in ``workdir`` (an empty folder)."""
    import torch

    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import write_corpora
    from tests.test_cli_train import SINGLE

    torch.set_num_threads(1)
    encoder = build_tiny_encoder(workdir / "tiny-bert")
    write_corpora(workdir / "data", sizes=(16, 4, 4))
    config = workdir / "single.yaml"
    config.write_text(SINGLE.format(encoder=encoder), encoding="utf-8")
    return user_folder_rows(workdir, config) + signal_rows(workdir, config) + corpus_rows(workdir, encoder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = run(Path(folder))
    for row in rows:
        mark = "ok  " if row["ok"] else "FAIL"
        print(f"{mark} point {row['point']:>2}: {row['check']}\n       expected: {row['expected']}")
        print(f"       observed: {row['observed']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
