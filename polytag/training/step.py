"""One optimizer step: forward and backward over the chunks of a batch, clipping, the update.

Models return a *summed* loss and the number of items it sums over. The step backpropagates the sum,
as Flair does: learning rates and the clipping norm of Flair scripts then mean what they meant there
(SGD at 0.1 over a summed loss; AdamW whose steps, clipped at 5.0, keep the same size all epoch).
Splitting a batch into chunks (``mini_batch_chunk_size``) adds the chunks' gradients, which is the same
as running the batch at once. One host sync per step (the loss value) serves both the progress
report and the NaN/inf guard, which fires before the update so the weights stay usable.

In a distributed run (``distributed.py``) the forward passes go through DDP, every chunk but the last
without gradient sync; the last one syncs (summing the ranks' gradients), and one small all-reduce sums
the loss and item counts, so clipping, the NaN guard and the report see the whole global batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Sequence
from typing import Any

import torch

from polytag.errors import PolytagError
from polytag.training.distributed import Distributed
from polytag.training.padding import chunk_batch

log = logging.getLogger("polytag")


class NonFiniteLossError(PolytagError, FloatingPointError):
    """The training loss became NaN or infinite; names where it happened and the saved checkpoint."""


class NonFiniteLoss(Exception):
    """Internal signal from :class:`StepRunner` to the loop (which saves a checkpoint, then raises)."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value
        # (epoch, batch index, batches in the epoch, global step, sentences): set by the loop
        self.where: tuple[Any, ...] = ()


class Precision:
    """Mixed precision on CUDA: bf16 autocast where the GPU supports it, else fp16 with a grad scaler.

    ``use_amp=None`` turns it on automatically on CUDA; on CPU it is always off (full float32).
    """

    def __init__(self, device: torch.device, use_amp: bool | None) -> None:
        self.device_type = device.type
        enabled = device.type == "cuda" and use_amp is not False
        if use_amp and device.type != "cuda":
            log.info("use_amp: mixed precision is only used on CUDA; training in float32 on %s", device)
        self.enabled = enabled
        self.dtype = None
        self.scaler: torch.amp.GradScaler | None = None
        if enabled:
            if torch.cuda.is_bf16_supported():
                self.dtype = torch.bfloat16
            else:
                self.dtype = torch.float16
                self.scaler = torch.amp.GradScaler("cuda")

    def describe(self) -> str:
        return f"mixed precision ({str(self.dtype).replace('torch.', '')})" if self.enabled else "float32"

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return dict(self.scaler.state_dict()) if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


class StepRunner:
    """Runs one training step of ``model`` on a batch of sentences."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        precision: Precision,
        chunk_size: int | None = None,
        max_grad_norm: float | None = 5.0,
        distributed: Distributed | None = None,
        max_padded: int | None = None,
        length_fn: Any = None,
    ) -> None:
        """``max_padded`` / ``length_fn``: passes of at most that many padded subtokens (``padding.py``)."""
        self.model: Any = model  # a polytag model: forward_loss is not known to torch's typing
        self.max_padded = max_padded
        self.length_fn = length_fn
        self.optimizer = optimizer
        self.precision = precision
        self.chunk_size = chunk_size
        self.max_grad_norm = max_grad_norm
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.distributed = distributed if distributed is not None and distributed.enabled else None
        self.ddp = self.distributed.wrap(model) if self.distributed is not None else None
        self.interrupt_agreed = False  # after run(): whether any rank asked to stop (Ctrl-C)

    def accumulate_gradients(self, sentences: Sequence[Any]) -> tuple[torch.Tensor | None, int]:
        """Forward and backward over the chunks; the gradients are those of the batch's summed loss.

        Returns the summed loss (a detached tensor, not synced) and the count; ``(None, 0)`` when the
        batch holds no trainable item.
        """
        if self.ddp is not None:
            return self._accumulate_ddp(sentences)
        chunks = chunk_batch(sentences, self.chunk_size, self.max_padded, self.length_fn)
        total: torch.Tensor | None = None
        count = 0
        for chunk in chunks:
            with self.precision.autocast():
                loss, n = self.model.forward_loss(list(chunk))
            if n == 0:
                continue
            if loss.requires_grad:
                self.precision.backward(loss)
            total = loss.detach().float() if total is None else total + loss.detach().float()
            count += n
        return total, count

    def _accumulate_ddp(self, sentences: Sequence[Any]) -> tuple[torch.Tensor | None, int]:
        """As :meth:`accumulate_gradients`, through DDP: exactly one synchronising backward per rank."""
        assert self.ddp is not None
        chunks = chunk_batch(list(sentences), self.chunk_size, self.max_padded, self.length_fn)
        total: torch.Tensor | None = None
        count = 0
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            with contextlib.nullcontext() if last else self.ddp.no_sync():
                with self.precision.autocast():
                    loss, n = self.ddp(list(chunk))
                if n or last:  # the last chunk always backpropagates: its backward syncs the ranks
                    self.precision.backward(loss)
            if n:
                total = loss.detach().float() if total is None else total + loss.detach().float()
                count += n
        return total, count

    def run(self, sentences: Sequence[Any], interrupt: bool = False) -> tuple[float, int]:
        """The whole step: (summed loss, item count). Raises :class:`NonFiniteLoss` before any update.

        ``interrupt`` (Ctrl-C seen by this process) is agreed between ranks in the step's reduction;
        the loop reads the outcome from :attr:`interrupt_agreed`.
        """
        self.optimizer.zero_grad(set_to_none=True)
        total, count = self.accumulate_gradients(sentences)
        if self.distributed is not None:
            value, count, self.interrupt_agreed = self.distributed.reduce_step(total, count, interrupt)
            if count == 0:
                return 0.0, 0
        else:
            self.interrupt_agreed = interrupt
            if total is None:
                return 0.0, 0
            value = float(total)  # the step's one host sync
        if not math.isfinite(value):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLoss(value)
        self.precision.unscale(self.optimizer)
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm)
        self.precision.step(self.optimizer)
        return value, count
