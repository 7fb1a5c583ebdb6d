"""What a training run tells the user: log lines (console and ``training.log``), ``loss.tsv``,
the progress bar and optional TensorBoard scalars.

Log lines keep Flair's shape so that people who read Flair logs read these::

    EPOCH 1 done: loss 1.3350 - lr: 0.000049
    Task_0 - TokenClassifier - loss: 0.2885 - f1-score (micro avg) 0.9292
    DEV : loss 3.7549 - f1-score (micro avg) 0.9184
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

log = logging.getLogger("polytag")

LINE = "-" * 100
LOG_FORMAT = "%(asctime)-15s %(message)s"
BASE_COLUMNS = ["EPOCH", "TIMESTAMP", "LEARNING_RATE", "TRAIN_LOSS", "DEV_LOSS", "DEV_SCORE"]


# -- log lines -----------------------------------------------------------------------------------------
def format_lr(lrs: list[float]) -> str:
    return " - lr: " + ",".join(f"{lr:.6f}" for lr in lrs)


def _loss_text(loss: float | None) -> str:
    return "-" if loss is None else f"{loss:.4f}"


def metric_label(metric: tuple[str, str]) -> str:
    """``("micro avg", "f1-score")`` -> ``"f1-score (micro avg)"`` as Flair prints it."""
    return f"{metric[1]} ({metric[0]})"


def epoch_line(epoch: int, loss: float, lrs: list[float]) -> str:
    return f"EPOCH {epoch} done: loss {loss:.4f}{format_lr(lrs)}"


def split_line(split: str, result: Any, metric: tuple[str, str]) -> str:
    score = f"{metric_label(metric)} {result.main_score:.4f}"
    return f"{split.upper()} : loss {_loss_text(result.loss)} - {score}"


def task_lines(result: Any, metric: tuple[str, str]) -> list[str]:
    """One line per task of a multitask result (nothing for a single-task result)."""
    tasks = getattr(result, "task_results", None) or {}
    return [
        f"{task_id} - {head} - loss: {_loss_text(task.loss)} - {metric_label(metric)} {task.main_score:.4f}"
        for task_id, (head, task) in tasks.items()
    ]


# -- handlers ------------------------------------------------------------------------------------------
class LogSetup:
    """Attach ``training.log`` (and a console handler when nothing prints polytag's log) for one run.

    ``main=False`` (ranks other than 0 of a distributed run): no file, and only warnings and errors.
    """

    def __init__(self, base_path: Path, to_file: bool = True, main: bool = True) -> None:
        self.base_path = base_path
        self.to_file = to_file
        self.main = main
        self._handlers: list[logging.Handler] = []
        self._old_level: int | None = None

    def __enter__(self) -> LogSetup:
        if not self.main:
            self._old_level = log.level
            log.setLevel(logging.WARNING)
            return self
        formatter = logging.Formatter(LOG_FORMAT)
        if not log.hasHandlers():
            console = logging.StreamHandler(sys.stdout)
            console.setFormatter(formatter)
            self._handlers.append(console)
        if self.to_file:
            file_handler = logging.FileHandler(self.base_path / "training.log", mode="a", encoding="utf-8")
            file_handler.setFormatter(formatter)
            self._handlers.append(file_handler)
        for handler in self._handlers:
            handler.setLevel(logging.INFO)
            log.addHandler(handler)
        if log.getEffectiveLevel() > logging.INFO:
            self._old_level = log.level
            log.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        for handler in self._handlers:
            log.removeHandler(handler)
            handler.close()
        self._handlers.clear()
        if self._old_level is not None:
            log.setLevel(self._old_level)
            self._old_level = None


# -- loss.tsv ------------------------------------------------------------------------------------------
class LossFile:
    """``loss.tsv``: one row per epoch. The header is written with the first row, when the splits and
    tasks that are evaluated are known (per-task ``DEV_SCORE_<task>`` columns for multitask models)."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self.columns: list[str] | None = None
        if enabled and path.is_file():
            with open(path, encoding="utf-8") as handle:
                header = handle.readline().rstrip("\n")
            self.columns = header.split("\t") if header else None

    def keep_epochs_up_to(self, last_epoch: int) -> None:
        """Drop rows written after a checkpoint (a resumed run writes them again)."""
        if not self.enabled or not self.path.is_file():
            return
        with open(self.path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        if not rows:
            return
        kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= last_epoch]
        tmp = self.path.with_suffix(".tsv.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(kept)
        os.replace(tmp, self.path)

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.columns is None:
            self.columns = BASE_COLUMNS + [k for k in row if k not in BASE_COLUMNS]
            with open(self.path, "w", encoding="utf-8") as handle:
                handle.write("\t".join(self.columns) + "\n")
        values = [_cell(row.get(column), column) for column in self.columns]
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("\t".join(values) + "\n")


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if column == "LEARNING_RATE":
            return f"{value:.6f}"
        return f"{value:.4f}" if value == 0.0 or abs(value) >= 0.01 else f"{value:.6g}"
    return str(value)


def epoch_row(epoch: int, lr: float, train_loss: float, evaluations: dict[str, Any]) -> dict[str, Any]:
    """The ``loss.tsv`` row of one epoch from the results of the splits evaluated at its end."""
    row: dict[str, Any] = {
        "EPOCH": epoch,
        "TIMESTAMP": time.strftime("%H:%M:%S"),
        "LEARNING_RATE": lr,
        "TRAIN_LOSS": train_loss,
    }
    for split, result in evaluations.items():
        name = split.upper()
        row[f"{name}_LOSS"] = result.loss
        row[f"{name}_SCORE"] = result.main_score
        for task_id, (_, task) in (getattr(result, "task_results", None) or {}).items():
            row[f"{name}_SCORE_{task_id}"] = task.main_score
    return row


# -- progress and TensorBoard --------------------------------------------------------------------------
def quiet_requested() -> bool:
    """True when ``TQDM_DISABLE`` is set (``polytag ... -q`` sets it): tqdm itself reads it only at
    import, and an explicit ``disable=`` overrides it, so the bar asks again when it is drawn."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no")


class Progress:
    """The epoch's progress bar (loss and sentences per second), updated cheaply."""

    def __init__(self, epoch: int, total: int, start: int, enabled: bool = True) -> None:
        self.bar = tqdm(
            total=total,
            initial=start,
            desc=f"epoch {epoch}",
            unit="batch",
            disable=not enabled or quiet_requested(),
            mininterval=0.5,
            leave=False,
            dynamic_ncols=True,
        )
        self.every = max(1, total // 200)
        self.start_time = time.perf_counter()
        self.sentences = 0

    def update(self, batches_done: int, sentences: int, mean_loss: float) -> None:
        self.sentences += sentences
        self.bar.update(1)
        if batches_done % self.every == 0:
            rate = self.sentences / max(time.perf_counter() - self.start_time, 1e-9)
            self.bar.set_postfix(loss=f"{mean_loss:.4f}", sent_s=f"{rate:.1f}", refresh=False)

    def close(self) -> None:
        self.bar.close()


class TensorBoard:
    """Scalars for TensorBoard, when asked for and ``tensorboard`` is installed (else a log line)."""

    def __init__(self, enabled: bool, log_dir: Path) -> None:
        self.writer = None
        if not enabled:
            return
        if importlib.util.find_spec("tensorboard") is None:
            log.warning("use_tensorboard: the 'tensorboard' package is not installed; no TensorBoard logs")
            return
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def scalar(self, tag: str, value: float | None, step: int) -> None:
        if self.writer is not None and value is not None:
            self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class EpochClock:
    """Time and sentence counts of the running epoch, for the periodic log line (10 per epoch)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.every = max(1, total // 10)
        self.start = time.perf_counter()
        self.sentences = 0

    def count(self, sentences: int) -> None:
        self.sentences += sentences

    def should_log(self, done: int) -> bool:
        return done % self.every == 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def rate(self) -> float:
        return self.sentences / max(self.elapsed(), 1e-9)
