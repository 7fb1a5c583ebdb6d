"""The resolved settings of one training run, and how Flair's keyword arguments map onto them.

A :class:`TrainingConfig` is plain JSON data: a checkpoint stores it so that a resumed run trains on
with exactly the same settings. Flair arguments that polytag does not act on are accepted: those whose
absence changes nothing the user gets (a storage or loader hint) are named in the log, every other one
is a visible ``UserWarning`` that says what to use instead; an argument that is neither Flair's nor the
optimizer's is a ``TypeError``.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

log = logging.getLogger("polytag")


@dataclass
class TrainingConfig:
    """Every setting of a run (see :meth:`ModelTrainer.fine_tune` for what each one does)."""

    base_path: str
    mode: str = "custom"  # "fine_tune", "train" or "custom"
    learning_rate: float = 0.1
    decoder_learning_rate: float | None = None
    mini_batch_size: int = 32
    eval_batch_size: int = 64
    mini_batch_chunk_size: int | None = None
    max_tokens_per_batch: int | None = None
    max_subtokens_per_pass: int | str | None = "auto"
    max_epochs: int = 100
    start_epoch: int = 0
    optimizer: str = "torch.optim.SGD"
    optimizer_kwargs: dict[str, Any] = field(default_factory=dict)
    schedule: str = "none"  # "linear", "anneal" or "none"
    warmup_fraction: float = 0.1
    anneal_factor: float = 0.5
    patience: int = 3
    min_learning_rate: float | list[float] = 0.0001
    initial_extra_patience: int = 0
    anneal_with_restarts: bool = False
    anneal_against_dev_loss: bool = False
    max_grad_norm: float | None = 5.0
    shuffle: bool = True
    shuffle_first_epoch: bool = True
    seed: int | None = None
    train_with_dev: bool = False
    train_with_test: bool = False
    main_evaluation_metric: list[str] = field(default_factory=lambda: ["micro avg", "f1-score"])
    exclude_labels: list[str] = field(default_factory=list)
    monitor_test: bool = False
    monitor_train_sample: float = 0.0
    use_final_model_for_eval: bool = False
    save_best_model: bool | None = None
    save_final_model: bool = True
    save_model_each_k_epochs: int = 0
    param_selection_mode: bool = False
    eval_every_steps: int = 0
    evaluate_on_test: bool = True
    checkpoint_every: int = 0
    checkpoint_unit: str = "epoch"  # "epoch" or "step"
    keep_checkpoints: int = 1
    create_file_logs: bool = True
    create_loss_file: bool = True
    plot_training_curves: bool = True
    use_tensorboard: bool = False
    tensorboard_log_dir: str | None = None
    progress_bar: bool = True
    use_amp: bool | None = None
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def metric(self) -> tuple[str, str]:
        return (self.main_evaluation_metric[0], self.main_evaluation_metric[1])

    @property
    def saves_best_model(self) -> bool:
        if self.param_selection_mode:
            return False
        if self.save_best_model is not None:
            return self.save_best_model
        return not self.train_with_dev and not self.use_final_model_for_eval


# Flair arguments that are accepted for compatibility and do nothing here, with the reason logged.
IGNORED_FLAIR_ARGUMENTS: dict[str, str] = {
    "embeddings_storage_mode": "embeddings are recomputed in every step; nothing is stored",
    "embedding_storage_mode": "embeddings are recomputed in every step; nothing is stored",
    "multi_gpu": (
        "this run trains in one process; for data-parallel training launch the script with "
        "`torchrun --nproc-per-node N script.py` or use `polytag train CONFIG --nproc N` "
        "(docs/training.md, 'Distributed training')"
    ),
    "write_weights": "weight dumps are not written",
    "reduce_transformer_vocab": "the transformer vocabulary is not reduced",
    "save_optimizer_state": "checkpoints (save_checkpoint_every) hold the optimizer state",
    "sampler": "polytag uses its own seeded shuffling sampler",
    "num_workers": "batches are built in the training process",
    "monitor_train": "use monitor_train_sample",
    "eval_on_train_fraction": "use monitor_train_sample",
    "eval_on_train_shuffle": "use monitor_train_sample",
    "save_model_at_each_epoch": "use save_model_each_k_epochs",
    "batch_growth_annealing": "the batch size stays fixed",
    "amp_opt_level": "mixed precision is set by use_amp",
    "scheduler": "the schedule is linear warm-up (fine_tune) or anneal on plateau (train)",
    "cycle_momentum": "no one-cycle schedule",
    "metrics_for_tensorboard": "TensorBoard gets loss, learning rate and scores",
    "tensorboard_comment": "TensorBoard runs are named by their folder",
    "optimizer_state_dict": "use ModelTrainer.resume(checkpoint) to continue with an optimizer state",
    "scheduler_state_dict": "use ModelTrainer.resume(checkpoint) to continue with a scheduler state",
    "use_swa": "stochastic weight averaging is not supported",
    "warmup_fraction": "train() anneals on plateau; warm-up belongs to fine_tune()",
    "shuffle_data_this_epoch": "use shuffle / shuffle_first_epoch",
    "dev_score_plot": "training-curves.png is always drawn",
}


def optimizer_name(optimizer: Any) -> str:
    if isinstance(optimizer, str):
        return optimizer if "." in optimizer else f"torch.optim.{optimizer}"
    if inspect.isclass(optimizer) and issubclass(optimizer, torch.optim.Optimizer):
        return f"{optimizer.__module__}.{optimizer.__qualname__}"
    raise TypeError(f"optimizer must be a torch.optim.Optimizer class or its name, got {optimizer!r}")


def resolve_optimizer(name: str, given: Any = None) -> type[torch.optim.Optimizer]:
    """The optimizer class: the one passed, or one of ``torch.optim`` by name (no other imports)."""
    if inspect.isclass(given) and issubclass(given, torch.optim.Optimizer):
        return given
    short = name.rsplit(".", 1)[-1]
    candidate = getattr(torch.optim, short, None)
    if inspect.isclass(candidate) and issubclass(candidate, torch.optim.Optimizer):
        return candidate
    raise TypeError(
        f"optimizer '{name}' is not in torch.optim; pass the class again (optimizer=...) to resume with it"
    )


def split_extra_arguments(
    extra: dict[str, Any], optimizer_cls: type[torch.optim.Optimizer]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sort ``**kwargs`` into optimizer arguments and ignored Flair arguments; reject the rest."""
    accepted = set(inspect.signature(optimizer_cls.__init__).parameters) - {"self", "params", "lr"}
    optimizer_kwargs: dict[str, Any] = {}
    ignored: dict[str, Any] = {}
    for key, value in extra.items():
        if key in accepted:
            optimizer_kwargs[key] = value
        elif key in IGNORED_FLAIR_ARGUMENTS:
            ignored[key] = value
        else:
            raise TypeError(
                f"unexpected keyword argument '{key}': neither a trainer argument nor an argument of "
                f"{optimizer_cls.__name__} ({', '.join(sorted(accepted))})"
            )
    return optimizer_kwargs, ignored


# Ignored arguments whose effect polytag gives anyway or that only tune speed: logged, not warned about.
HARMLESS_FLAIR_ARGUMENTS = frozenset(
    {
        "embeddings_storage_mode",
        "embedding_storage_mode",
        "num_workers",
        "amp_opt_level",
        "tensorboard_comment",
        "dev_score_plot",
    }
)


def warn_ignored(ignored: dict[str, Any], stacklevel: int = 2) -> None:
    """Name each ignored Flair argument: a ``UserWarning`` (shown once per call site by Python's
    default filter, with or without logging set up) unless it is harmless or left at its off value."""
    for key, value in ignored.items():
        if value in (None, False, [], (), 0) and key not in ("embeddings_storage_mode",):
            continue
        if key in HARMLESS_FLAIR_ARGUMENTS:
            log.info("ignoring %s=%r: %s", key, value, IGNORED_FLAIR_ARGUMENTS[key])
        else:
            message = f"polytag ignores {key}={value!r}: {IGNORED_FLAIR_ARGUMENTS[key]}"
            warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)


_EVERY = re.compile(r"^\s*(\d+)\s*(epoch|epochs|step|steps)?\s*$")


def parse_every(value: int | str | None) -> tuple[int, str]:
    """``save_checkpoint_every``: an int (epochs) or a string like ``"2 epochs"`` / ``"500 steps"``."""
    if value is None or value is False:
        return 0, "epoch"
    if value is True:
        return 1, "epoch"
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"save_checkpoint_every must not be negative, got {value}")
        return value, "epoch"
    match = _EVERY.match(str(value))
    if not match:
        raise ValueError(f"save_checkpoint_every must be like 2, '2 epochs' or '500 steps', got {value!r}")
    unit = "step" if (match.group(2) or "epoch").startswith("step") else "epoch"
    return int(match.group(1)), unit


def json_float_list(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return float(value)


# Arguments a resumed run may change (everything else is fixed by the checkpoint).
RESUME_OVERRIDES = {
    "base_path",
    "max_epochs",
    "eval_batch_size",
    "eval_every_steps",
    "evaluate_on_test",
    "monitor_test",
    "checkpoint_every",
    "checkpoint_unit",
    "keep_checkpoints",
    "create_file_logs",
    "create_loss_file",
    "plot_training_curves",
    "use_tensorboard",
    "tensorboard_log_dir",
    "progress_bar",
    "save_final_model",
    "save_best_model",
    "use_final_model_for_eval",
    "save_model_each_k_epochs",
    "device",
    "use_amp",
}
