"""The parts of one training run wired together: data, sampler, optimizer, schedule, step, state.

A :class:`TrainingRun` is built fresh from a :class:`TrainingConfig`, or from a checkpoint, in which case
every part takes back its saved state (RNG states last, after anything that could draw from them).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from polytag.data import ConcatDataset, SubsetDataset
from polytag.data.corpus import CorpusError, split_source
from polytag.training.batching import BatchPlan, ShuffleSampler
from polytag.training.checkpoint import (
    CheckpointData,
    capture_rng,
    checkpoint_name,
    optimizer_from_parts,
    optimizer_to_parts,
    restore_rng,
    save_checkpoint,
)
from polytag.training.distributed import Distributed, gather_rank_rng, rank_rng, seed_everything
from polytag.training.memory import release_free_memory
from polytag.training.options import TrainingConfig, resolve_optimizer
from polytag.training.outputs import (
    BEST_MODEL,
    CHECKPOINTS,
    CURVES,
    FINAL_MODEL,
    INTERRUPTED_MODEL,
    LOSS_FILE,
    TEST_FILE,
    RunFolder,
)
from polytag.training.reporting import LossFile, TensorBoard
from polytag.training.schedule import AnnealOnPlateau, ConstantSchedule, LinearWarmupSchedule, Schedule
from polytag.training.step import Precision, StepRunner

log = logging.getLogger("polytag")

STEP_RECORDS_PER_EPOCH = 100  # points of the batch-loss / learning-rate curves kept per epoch


def subtoken_counter(model: Any) -> Any:
    """What a token budget counts: the (first) encoder's subtokens, or words for a model without one."""
    encoders = model.embedding_modules() if hasattr(model, "embedding_modules") else []
    return getattr(encoders[0], "subtoken_lengths", None) if encoders else None


AUTO_SUBTOKENS_PER_PASS_CPU = 512


def passes_limit(setting: int | str | None, device: torch.device) -> int | None:
    """Padded subtokens per encoder pass: ``"auto"`` caps CPU passes (memory follows padding) and leaves
    GPU batches whole (a GPU is faster on one wide pass); an int caps, None never splits."""
    if setting == "auto":
        return AUTO_SUBTOKENS_PER_PASS_CPU if device.type == "cpu" else None
    if setting is None:
        return None
    if not isinstance(setting, int) or isinstance(setting, bool) or setting < 1:
        raise ValueError(f"max_subtokens_per_pass must be 'auto', None or a positive int, got {setting!r}")
    return setting


_FUSED_CAPABLE = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


def fast_optimizer_kwargs(optimizer_cls: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Ask for PyTorch's fused kernel when the user chose no implementation.

    On CPU the default (per-parameter loop) AdamW step over a 22M-parameter encoder costs as much as a
    quarter of the forward and backward pass; the fused kernel is about five times faster and gives the
    same update (the optimizer's own implementation switch, not ours).
    """
    if any(key in kwargs for key in ("fused", "foreach")) or not (
        isinstance(optimizer_cls, type) and issubclass(optimizer_cls, _FUSED_CAPABLE)
    ):
        return dict(kwargs)
    return {**kwargs, "fused": True}


@dataclass
class RunState:
    """Counters and histories of a run (JSON in checkpoints)."""

    global_step: int = 0
    epoch_loss: float = 0.0
    epoch_items: int = 0
    window_loss: float = 0.0
    window_items: int = 0
    best_score: float | None = None
    stop: bool = False
    history: dict[str, Any] = field(
        default_factory=lambda: {"steps": {"step": [], "loss": [], "lr": []}, "epochs": [], "evaluations": []}
    )


@dataclass
class Extras:
    """Arguments that are objects rather than data (not stored in checkpoints)."""

    optimizer_cls: Any = None
    gold_label_dictionary: Any = None
    resumed_from: str | None = None
    overwrite: bool = False  # may replace files in base_path that no run there wrote


def parameter_groups(model: Any, learning_rate: float, decoder_learning_rate: float | None) -> list[dict]:
    """One group, or encoder + head groups when the heads get their own ``decoder_learning_rate``."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if decoder_learning_rate is None:
        return [{"params": [p for _, p in trainable], "lr": learning_rate, "name": "all"}]
    if hasattr(model, "embedding_modules"):
        encoder_ids = {id(p) for module in model.embedding_modules() for p in module.parameters()}
        is_encoder = [id(p) in encoder_ids for _, p in trainable]
    else:
        is_encoder = ["embeddings" in n for n, _ in trainable]
    encoder = [p for (_, p), e in zip(trainable, is_encoder) if e]
    head = [p for (_, p), e in zip(trainable, is_encoder) if not e]
    groups = [
        {"params": encoder, "lr": learning_rate, "name": "encoder"},
        {"params": head, "lr": decoder_learning_rate, "name": "head"},
    ]
    return [g for g in groups if g["params"]]


class TrainingRun:
    def __init__(
        self,
        model: Any,
        corpus: Any,
        config: TrainingConfig,
        extras: Extras,
        checkpoint: CheckpointData | None = None,
        distributed: Distributed | None = None,
        outputs: RunFolder | None = None,
    ) -> None:
        self.distributed = distributed or Distributed.from_environment(model, config.device)
        main = self.distributed.is_main
        # the folder's manifest: what this run may replace (checked by the trainer before it started)
        self.outputs = outputs or RunFolder(config.base_path, write=main)
        self.model = model
        self.corpus = corpus
        self.config = config
        self.extras = extras
        self.base_path = Path(config.base_path)
        self.base_path.mkdir(parents=True, exist_ok=True)
        self.checkpoint_root = self.base_path / CHECKPOINTS
        self.resumed = checkpoint is not None
        self.interrupted = False
        self.stop_signal: str | None = None  # "SIGINT" or "SIGTERM" once a signal stopped the run
        self.started = time.time()

        self.device = self.distributed.device
        model.to(self.device)
        sampler_seed = self._seed(fresh=checkpoint is None)
        self.data = self._train_data()
        weights = model.sample_weights(self.data) if hasattr(model, "sample_weights") else None
        self.sampler = ShuffleSampler(
            len(self.data), sampler_seed, config.shuffle, config.shuffle_first_epoch, weights
        )
        self.sampler.epoch = config.start_epoch + 1
        self.plan = BatchPlan(
            self.data,
            self.sampler,
            config.mini_batch_size,
            config.max_tokens_per_batch,
            subtoken_counter(model),
        )
        self.eval_splits = self._evaluation_splits(sampler_seed)

        optimizer_cls: Any = resolve_optimizer(config.optimizer, extras.optimizer_cls)
        groups = parameter_groups(model, config.learning_rate, config.decoder_learning_rate)
        self.optimizer = optimizer_cls(
            groups, lr=config.learning_rate, **fast_optimizer_kwargs(optimizer_cls, config.optimizer_kwargs)
        )
        self.schedule: Schedule = self._schedule()
        self.precision = Precision(self.device, config.use_amp)
        self.state = RunState()
        self.loss_file = LossFile(self.base_path / LOSS_FILE, config.create_loss_file and main)
        if main:
            self._clear_stale_outputs(fresh=checkpoint is None and config.start_epoch == 0)
        if config.create_loss_file and main:
            self.outputs.claim(LOSS_FILE)  # after the clearing, which unlists what it removes
        if checkpoint is not None:
            self._restore(checkpoint)
        # after the restore: DDP (distributed runs) starts from the weights every rank now holds
        self.stepper = StepRunner(
            model,
            self.optimizer,
            self.precision,
            config.mini_batch_chunk_size,
            config.max_grad_norm,
            self.distributed,
            max_padded=passes_limit(config.max_subtokens_per_pass, self.device),
            length_fn=subtoken_counter(model),
        )
        self.stop_agreed = False  # distributed runs: every rank saw Ctrl-C somewhere (stop after this step)
        self.tensorboard = TensorBoard(
            config.use_tensorboard and main,
            Path(config.tensorboard_log_dir or self.base_path / "tensorboard"),
        )
        self.record_every = max(1, self.plan.num_batches(self.sampler.epoch) // STEP_RECORDS_PER_EPOCH)

    # -- setup -----------------------------------------------------------------------------------------
    def _seed(self, fresh: bool) -> int:
        """Seed the random streams of a fresh run; returns the sampler's seed (the same on every rank)."""
        config, rank = self.config, self.distributed.rank
        if config.seed is not None and fresh:
            seed_everything(config.seed + rank)  # rank 0 as a single process; other ranks other dropout
        sampler_seed = config.seed if config.seed is not None else int(torch.randint(0, 2**31 - 1, ()).item())
        sampler_seed = int(self.distributed.broadcast_object(sampler_seed))  # every rank: the same batches
        if config.seed is None and fresh and self.distributed.enabled:
            seed_everything(sampler_seed + rank)
        return sampler_seed

    def _train_data(self) -> Any:
        """The sentences trained on (train, plus dev/test when asked); refuses an empty train split."""
        parts = [self.corpus.train]
        if self.config.train_with_dev and self.corpus.dev:
            parts.append(self.corpus.dev)
        if self.config.train_with_test and self.corpus.test:
            parts.append(self.corpus.test)
        data = parts[0] if len(parts) == 1 else ConcatDataset(parts)
        if data is None or len(data) == 0:
            where = split_source(self.corpus.train) or f"corpus '{getattr(self.corpus, 'name', 'corpus')}'"
            raise CorpusError(f"{where}: the train split has no sentences; expected at least one")
        return data

    def _evaluation_splits(self, seed: int) -> dict[str, Any]:
        splits: dict[str, Any] = {}
        if not self.config.train_with_dev and self.corpus.dev:
            splits["dev"] = self.corpus.dev
        if self.config.monitor_test and self.corpus.test:
            splits["test"] = self.corpus.test
        sample = self.config.monitor_train_sample
        if sample and sample > 0:
            n = len(self.corpus.train)
            k = int(sample * n) if sample < 1 else min(int(sample), n)
            picked = sorted(random.Random(seed).sample(range(n), k))
            splits["train_sample"] = SubsetDataset(self.corpus.train, picked)
        return splits

    def _schedule(self) -> Schedule:
        config = self.config
        if config.schedule == "linear":
            total = self.plan.total_steps(self.sampler.epoch, config.max_epochs)
            return LinearWarmupSchedule(self.optimizer, total, config.warmup_fraction)
        if config.schedule == "anneal":
            mode = "max" if "dev" in self.eval_splits and not config.anneal_against_dev_loss else "min"
            return AnnealOnPlateau(
                self.optimizer,
                config.anneal_factor,
                config.patience,
                config.min_learning_rate,
                config.initial_extra_patience,
                mode,
            )
        return ConstantSchedule()

    def _clear_stale_outputs(self, fresh: bool) -> None:
        """Remove what earlier runs here wrote that would mislead once this one starts (only names the
        manifest lists; never a user's file): any run drops the old final or interrupted model (one of
        them is written again when this run ends); a fresh run (not resumed, ``epoch=0``) also drops
        the old best and per-epoch models, ``loss.tsv``, ``test.tsv`` and the curves, and moves the old
        checkpoints aside to ``checkpoints.previous``."""
        outputs = self.outputs
        stale = [FINAL_MODEL, INTERRUPTED_MODEL]
        if fresh:
            stale += [BEST_MODEL, TEST_FILE, CURVES, *outputs.own_epoch_models()]
        for name in stale:
            outputs.remove_own(name)
        if not fresh:
            return
        moved = outputs.set_aside(CHECKPOINTS)
        if moved is not None:
            log.warning("a new run in %s: moved the old checkpoints to %s", self.base_path, moved)
        if outputs.remove_own(LOSS_FILE):
            self.loss_file.columns = None

    def _restore(self, data: CheckpointData) -> None:
        saved = data.state
        missing, unexpected = self.model.load_state_dict(data.model, strict=False)
        if missing or unexpected:
            from polytag.errors import ModelFileError

            raise ModelFileError(
                f"checkpoint weights do not fit this model: missing {list(missing)[:5]}, "
                f"unexpected {list(unexpected)[:5]}"
            )
        optimizer_from_parts(self.optimizer, data.tensors, saved["optimizer"])
        self.sampler.load_state_dict(saved["sampler"])
        self.schedule.load_state_dict(saved["schedule"])
        longer = saved["config"]["max_epochs"] != self.config.max_epochs
        if isinstance(self.schedule, LinearWarmupSchedule) and longer:
            rest = self.plan.total_steps(self.sampler.epoch, self.config.max_epochs) - self.sampler.index
            self.schedule.extend(self.schedule.step_count + rest)
        self.precision.load_state_dict(saved.get("precision", {}))
        self.state = RunState(**saved["run"])
        self.loss_file.keep_epochs_up_to(self.sampler.epoch - 1)
        restore_rng(*rank_rng(data.tensors, saved, self.distributed.rank, self.distributed.world_size))

    # -- during the run --------------------------------------------------------------------------------
    def learning_rates(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def record_step(self, loss_sum: float, items: int) -> None:
        state = self.state
        state.global_step += 1
        state.epoch_loss += loss_sum
        state.epoch_items += items
        state.window_loss += loss_sum
        state.window_items += items
        if state.global_step % self.record_every == 0 and state.window_items:
            steps = state.history["steps"]
            mean = state.window_loss / state.window_items
            steps["step"].append(state.global_step)
            steps["loss"].append(mean)
            steps["lr"].append(self.learning_rates()[0])
            self.tensorboard.scalar("train/batch_loss", mean, state.global_step)
            self.tensorboard.scalar("train/learning_rate", steps["lr"][-1], state.global_step)
            state.window_loss, state.window_items = 0.0, 0

    def epoch_train_loss(self) -> float:
        return self.state.epoch_loss / max(self.state.epoch_items, 1)

    def finish_epoch(self) -> None:
        self.sampler.next_epoch()
        self.state.epoch_loss, self.state.epoch_items = 0.0, 0

    def checkpoint_data(self) -> CheckpointData:
        """Everything to continue from here. In a distributed run every rank must call it (the ranks'
        random states are gathered); only rank 0's result is written."""
        tensors, optimizer_meta = optimizer_to_parts(self.optimizer)
        rng_tensors, rng_meta = capture_rng()
        tensors.update(rng_tensors)
        state = {
            "config": self.config.to_dict(),
            "sampler": self.sampler.state_dict(),
            "schedule": self.schedule.state_dict(),
            "optimizer": optimizer_meta,
            "precision": self.precision.state_dict(),
            "run": asdict(self.state),
            "rng": rng_meta,
            "world_size": self.distributed.world_size,
            "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if self.distributed.enabled:
            rank_tensors, state["rng_ranks"] = gather_rank_rng(self.distributed, rng_tensors, rng_meta)
            tensors.update(rank_tensors)
        return CheckpointData(model=self.model.state_dict(), tensors=tensors, state=state)

    def checkpoint_due(self, unit: str, count: int) -> bool:
        every = self.config.checkpoint_every
        return bool(every) and self.config.checkpoint_unit == unit and count % every == 0

    def save_checkpoint(self) -> Path:
        """Write a checkpoint (rank 0; every rank of a distributed run must call this together)."""
        data = self.checkpoint_data()
        if not self.distributed.is_main:
            return self.checkpoint_root / checkpoint_name(self.state.global_step)
        self.outputs.claim(CHECKPOINTS)
        path = save_checkpoint(
            self.checkpoint_root,
            checkpoint_name(self.state.global_step),
            data,
            keep=self.config.keep_checkpoints,
        )
        log.info("saved checkpoint %s (epoch %d, step %d)", path, self.sampler.epoch, self.state.global_step)
        return path

    def release_optimizer_state(self) -> None:
        """After the last step: drop gradients and the optimizer's moments (for AdamW twice the model's
        size) so that saving and the test evaluation do not add to the run's peak memory."""
        self.optimizer.zero_grad(set_to_none=True)
        self.optimizer.state.clear()
        release_free_memory()

    def close(self) -> None:
        self.tensorboard.close()
        self.stepper.ddp = None  # drops DDP's gradient hooks from the model
