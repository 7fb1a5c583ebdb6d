"""Data-parallel training over ``torch.distributed``: one process per device, launched by ``torchrun``.

What a distributed run means here (docs/training.md, "Distributed training"):

- ``mini_batch_size`` (or the token budget) is the *global* batch: every rank builds the same batch
  plan from the same sampler seed, and takes a contiguous slice of each batch (:meth:`Distributed.shard`),
  so a run on N processes takes the same optimizer steps as one process with the same settings;
- the loss is a sum over the batch (see ``step.py``) and the ranks' gradients are *summed* (a DDP comm
  hook), not averaged: the update equals the single-process update, and learning rates keep their meaning;
- every rank joins every collective in the same order: a rank whose slice is empty (the last, short
  batch) backpropagates a zero loss that touches the parameters, so the all-reduce never waits on it;
- rank 0 alone evaluates, logs, plots and writes ``loss.tsv``, checkpoints and model files; what the
  other ranks need from an evaluation (scores, losses) is broadcast, so learning-rate annealing and
  early stopping are decided identically everywhere.

A process that was not started by ``torchrun`` (no ``WORLD_SIZE`` > 1 and no process group) gets a
:class:`Distributed` with ``enabled`` False, whose methods do nothing, so the trainer has one code path.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import inspect
import json
import logging
import os
import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

log = logging.getLogger("polytag")

TIMEOUT_ENV = "POLYTAG_DISTRIBUTED_TIMEOUT"  # seconds a rank waits in a collective (rank 0 evaluating)
DEFAULT_TIMEOUT_S = 3600


def launched_by_torchrun() -> bool:
    """True in a worker process that ``torchrun`` started with more than one process in all."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def process_rank() -> int:
    """This process's global rank (0 outside a distributed launch); valid before and after training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process writes files and prints results (rank 0, or no distributed launch)."""
    return process_rank() == 0


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _sum_allreduce_hook(state, bucket):  # noqa: ANN001, ANN202 - DDP checks real (not string) annotations
    """DDP comm hook: all-reduce the bucket as a SUM (DDP's own hook divides by the world size)."""
    work = dist.all_reduce(bucket.buffer(), group=state, async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


class LossModule(torch.nn.Module):
    """The module DDP wraps: its ``forward`` is the model's ``forward_loss``, so DDP's hooks see it.

    It always returns a loss connected to the parameters, even for an empty slice or a chunk without
    trainable items (a zero-valued term over every trainable parameter), so that every rank runs the
    synchronising backward of every step.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model: Any = model  # a polytag model: forward_loss is not known to torch's typing

    def _zero(self) -> torch.Tensor:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return torch.stack([p.reshape(-1)[0].float() for p in params]).sum() * 0.0

    def forward(self, sentences: list[Any]) -> tuple[torch.Tensor, int]:
        if not sentences:
            return self._zero(), 0
        loss, count = self.model.forward_loss(sentences)
        if count == 0 or not loss.requires_grad:
            return loss.detach().float() + self._zero(), count
        return loss, count


@dataclass
class Distributed:
    """This process's place in a data-parallel run (or a single process: ``enabled`` False)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False  # this run started the process group (it stays up for later runs)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- setup and teardown ------------------------------------------------------------------------------
    @classmethod
    def from_environment(cls, model: torch.nn.Module, requested: str | None) -> Distributed:
        """Join the run ``torchrun`` started (``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in the environment),
        or an already initialised process group; otherwise a single process.

        The device: the one requested (``"cuda"`` becomes this rank's ``cuda:LOCAL_RANK``), else the
        model's, else ``cuda:LOCAL_RANK`` when CUDA is available. The backend: NCCL on CUDA, gloo on CPU.
        """
        initialised = dist.is_available() and dist.is_initialized()
        if not initialised and not launched_by_torchrun():
            return cls(device=_single_device(model, requested))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = _rank_device(model, requested, local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        owns = False
        if not initialised:
            backend = "nccl" if device.type == "cuda" else "gloo"
            timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
            dist.init_process_group(backend=backend, timeout=timeout)
            # kept for later runs in this process (a group cannot be re-created under one torchrun
            # launch: its store keeps the old keys) and ended when the process exits
            atexit.register(_destroy_group)
            owns = True
        context = cls(
            rank=dist.get_rank(),
            world_size=dist.get_world_size(),
            local_rank=local_rank,
            backend=str(dist.get_backend()),
            owns_group=owns,
            device=device,
        )
        if device.type == "cuda" and context.backend != "nccl":
            log.warning("distributed: CUDA device with the %s backend; NCCL is faster", context.backend)
        return context

    def close(self, barrier: bool = True) -> None:
        """The end of a run: a last barrier when it ended normally, so no rank leaves early (a failed
        rank skips it: the others may be waiting in another collective)."""
        if self.enabled and barrier and dist.is_initialized():
            dist.barrier()

    def describe(self) -> str:
        if not self.enabled:
            return "single process"
        return f"{self.world_size} processes ({self.backend}), this is rank {self.rank}"

    # -- training step -----------------------------------------------------------------------------------
    def wrap(self, model: torch.nn.Module) -> torch.nn.parallel.DistributedDataParallel:
        """``model.forward_loss`` behind DDP, gradients summed over the ranks.

        ``find_unused_parameters`` is on: a multitask model's head gets no gradient in a batch without
        its task, and the set differs between ranks. ``broadcast_buffers`` is off: buffers are synced once
        when DDP is built, and per-forward broadcasts would deadlock when ranks run different numbers of
        chunks (``mini_batch_chunk_size``).
        """
        ddp_class = torch.nn.parallel.DistributedDataParallel
        # newer PyTorch names the per-forward buffer sync ``forward_sync_buffers``
        buffers = "forward_sync_buffers"
        if buffers not in _parameters(ddp_class):
            buffers = "broadcast_buffers"
        options: dict[str, Any] = {buffers: False}
        ddp = ddp_class(LossModule(model), device_ids=None, find_unused_parameters=True, **options)
        ddp.register_comm_hook(dist.group.WORLD, _sum_allreduce_hook)
        return ddp

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's contiguous slice of a global batch (sizes differ by at most one; may be empty)."""
        if not self.enabled:
            return batch
        return np.array_split(batch, self.world_size)[self.rank]

    def reduce_step(self, loss: torch.Tensor | None, count: int, flag: bool) -> tuple[float, int, bool]:
        """Sum the ranks' loss and item counts, and OR a flag (Ctrl-C seen); the step's one host sync."""
        values = torch.zeros(3, dtype=torch.float64, device=self.device)
        if loss is not None:
            values[0] = loss.to(self.device, torch.float64)
        values[1] = count
        values[2] = 1.0 if flag else 0.0
        if self.enabled:
            dist.all_reduce(values)
        total, items, flags = values.tolist()
        return total, int(items), flags > 0

    # -- agreeing with rank 0 ----------------------------------------------------------------------------
    # Values travel as JSON in byte tensors (not torch's pickled object collectives: no pickle anywhere).
    def _encode(self, value: Any) -> torch.Tensor:
        data = json.dumps(value).encode("utf-8")
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(self.device)

    @staticmethod
    def _decode(data: torch.Tensor) -> Any:
        return json.loads(bytes(data.cpu().tolist()).decode("utf-8"))

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` (JSON data) on every rank."""
        if not self.enabled:
            return value
        data = self._encode(value) if self.is_main else torch.empty(0, dtype=torch.uint8, device=self.device)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self.device)
        dist.broadcast(size, src=0)
        if not self.is_main:
            data = torch.empty(int(size.item()), dtype=torch.uint8, device=self.device)
        dist.broadcast(data, src=0)
        return self._decode(data)

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into every rank's ``module`` (after rank 0 reloaded it)."""
        if not self.enabled:
            return
        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def share_results(self, results: dict[str, Any]) -> dict[str, Any]:
        """Rank 0's evaluation results; other ranks get light copies (scores and losses only)."""
        if not self.enabled:
            return results
        summary = None
        if self.is_main:
            summary = {split: _result_summary(result) for split, result in results.items()}
        summary = self.broadcast_object(summary)
        if self.is_main:
            return results
        return {split: _light_result(values) for split, values in summary.items()}

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (JSON data), in rank order, on every rank."""
        if not self.enabled:
            return [value]
        data = self._encode(value)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size)
        longest = max(int(s.item()) for s in sizes)
        padded = torch.zeros(longest, dtype=torch.uint8, device=self.device)
        padded[: data.numel()] = data
        buffers = [torch.zeros_like(padded) for _ in range(self.world_size)]
        dist.all_gather(buffers, padded)
        return [self._decode(b[: int(s.item())]) for b, s in zip(buffers, sizes)]


def _destroy_group() -> None:
    if dist.is_initialized():
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _parameters(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters)  # type: ignore[misc]  # the class's own


def _result_summary(result: Any) -> dict[str, Any]:
    tasks = getattr(result, "task_results", None) or {}
    return {
        "main_score": float(result.main_score),
        "loss": None if result.loss is None else float(result.loss),
        "tasks": {
            task_id: [head, float(task.main_score), None if task.loss is None else float(task.loss)]
            for task_id, (head, task) in tasks.items()
        },
    }


def _light_result(values: dict[str, Any]) -> SimpleNamespace:
    tasks = {
        task_id: (head, SimpleNamespace(main_score=score, loss=loss, task_results=None))
        for task_id, (head, score, loss) in values["tasks"].items()
    }
    return SimpleNamespace(main_score=values["main_score"], loss=values["loss"], task_results=tasks or None)


def _single_device(model: torch.nn.Module, requested: str | None) -> torch.device:
    if requested:
        return torch.device(requested)
    current = next((p.device for p in model.parameters()), torch.device("cpu"))
    if current.type == "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return current


def _rank_device(model: torch.nn.Module, requested: str | None, local_rank: int) -> torch.device:
    device = _single_device(model, requested)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank)
    return device


# -- per-rank random states in checkpoints -----------------------------------------------------------------
def gather_rank_rng(
    context: Distributed, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Every rank's random states (from ``capture_rng``), gathered for rank 0's checkpoint: checkpoint
    tensors ``rank.<r>.rng.*`` for ranks 1..N-1 and the JSON metas of all ranks (collective)."""
    mine = {"tensors": {name: t.cpu().tolist() for name, t in tensors.items()}, "meta": meta}
    out: dict[str, torch.Tensor] = {}
    metas: list[dict[str, Any]] = []
    for rank, entry in enumerate(context.gather_objects(mine)):
        metas.append(entry["meta"])
        if rank == 0:
            continue
        for name, values in entry["tensors"].items():
            out[f"rank.{rank}.{name}"] = torch.tensor(values, dtype=torch.uint8)
    return out, metas


def rank_rng(
    tensors: dict[str, torch.Tensor], state: dict[str, Any], rank: int, world_size: int
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The random states a resuming rank restores: its own when the checkpoint has them (same number of
    ranks), else rank 0's with a warning (the run continues correctly but not bit for bit)."""
    saved_world = int(state.get("world_size", 1))
    if rank == 0 or saved_world != world_size:
        if saved_world != world_size and rank == 0:
            log.warning(
                "resuming a %d-process checkpoint on %d processes: the batches are the same, the random "
                "streams (dropout) are not those of an uninterrupted run",
                saved_world,
                world_size,
            )
        return tensors, state["rng"]
    prefix = f"rank.{rank}."
    own = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
    return own, state["rng_ranks"][rank]
