"""Learning-rate schedules: linear warm-up then linear decay (fine_tune), anneal on plateau (train).

Both keep JSON-able state so that a checkpoint can hold them. Learning rates are set on the optimizer's
parameter groups directly; each group keeps its own base rate (``initial_lr``), so a separate
``decoder_learning_rate`` for the heads is scaled by the same factor.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger("polytag")


def current_learning_rates(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


class ConstantSchedule:
    """No schedule (``attach_default_scheduler=False``): the optimizer's rates stay as they are."""

    def step_batch(self) -> None:
        pass

    def step_epoch(self, metric: float) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "constant"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class LinearWarmupSchedule:
    """Linear warm-up over ``warmup_steps`` optimizer steps, then linear decay to 0 at ``total_steps``.

    The rate used for optimizer step ``k`` (counting from 0) is ``base * factor(k)`` with
    ``factor(k) = k / warmup_steps`` during warm-up and ``(total - k) / (total - warmup)`` after it, as in
    Flair and transformers: the first step runs at 0, step ``warmup_steps`` at the full rate, and the
    last step (``total - 1``) at ``base / (total - warmup)``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float) -> None:
        if not 0.0 <= warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must be between 0 and 1, got {warmup_fraction}")
        self.optimizer = optimizer
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = int(warmup_fraction * self.total_steps)
        self.step_count = 0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self._apply()

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        remaining = self.total_steps - step
        return max(0.0, remaining / max(1, self.total_steps - self.warmup_steps))

    def _apply(self) -> None:
        factor = self.factor(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor

    def step_batch(self) -> None:
        self.step_count += 1
        self._apply()

    def step_epoch(self, metric: float) -> bool:
        return False

    def extend(self, total_steps: int) -> None:
        """Stretch the decay to a new end (resuming with more epochs); warm-up stays as it was."""
        self.total_steps = max(self.step_count + 1, int(total_steps), self.warmup_steps + 1)
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "linear",
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "step_count": self.step_count,
            "initial_lrs": [g["initial_lr"] for g in self.optimizer.param_groups],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total_steps = int(state["total_steps"])
        self.warmup_steps = int(state["warmup_steps"])
        self.step_count = int(state["step_count"])
        for group, lr in zip(self.optimizer.param_groups, state["initial_lrs"]):
            group["initial_lr"] = lr
        self._apply()


class AnnealOnPlateau:
    """Multiply the rates by ``factor`` when the monitored metric has not improved for ``patience`` epochs.

    ``mode`` is "max" for a dev score and "min" for a loss. The first anneal waits
    ``initial_extra_patience`` more epochs. :meth:`step_epoch` returns True when every rate has fallen
    below ``min_learning_rate``: training stops then, as in Flair.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        factor: float = 0.5,
        patience: int = 3,
        min_learning_rate: float | list[float] = 0.0001,
        initial_extra_patience: int = 0,
        mode: str = "max",
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"anneal_factor must be between 0 and 1, got {factor}")
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        self.patience = patience
        n_groups = len(optimizer.param_groups)
        if isinstance(min_learning_rate, (list, tuple)):
            if len(min_learning_rate) != n_groups:
                raise ValueError(f"{len(min_learning_rate)} min_learning_rate values for {n_groups} groups")
            self.min_lrs = [float(x) for x in min_learning_rate]
        else:
            self.min_lrs = [float(min_learning_rate)] * n_groups
        self.extra_patience = initial_extra_patience
        self.mode = mode
        self.best: float | None = None
        self.bad_epochs = 0
        self.anneal_count = 0
        self.annealed_last_epoch = False

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        return metric > self.best if self.mode == "max" else metric < self.best

    def step_batch(self) -> None:
        pass

    def step_epoch(self, metric: float) -> bool:
        """Record one epoch's metric; anneal when needed; True means "stop: rates below minimum"."""
        if self._improved(metric):
            self.best = float(metric)
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        log.info("BAD EPOCHS (no improvement): %d", self.bad_epochs)
        self.annealed_last_epoch = False
        if self.bad_epochs > self.patience + self.extra_patience:
            for group in self.optimizer.param_groups:
                group["lr"] = group["lr"] * self.factor
            self.bad_epochs = 0
            self.extra_patience = 0
            self.anneal_count += 1
            self.annealed_last_epoch = True
            log.info(
                "annealing learning rate to %s",
                ", ".join(f"{lr:.6f}" for lr in current_learning_rates(self.optimizer)),
            )
        return all(lr < m for lr, m in zip(current_learning_rates(self.optimizer), self.min_lrs))

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "anneal",
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "extra_patience": self.extra_patience,
            "anneal_count": self.anneal_count,
            "lrs": current_learning_rates(self.optimizer),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
        self.extra_patience = int(state["extra_patience"])
        self.anneal_count = int(state["anneal_count"])
        for group, lr in zip(self.optimizer.param_groups, state["lrs"]):
            group["lr"] = lr


Schedule = ConstantSchedule | LinearWarmupSchedule | AnnealOnPlateau
