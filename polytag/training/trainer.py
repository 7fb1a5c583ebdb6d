"""``ModelTrainer``: Flair's trainer API (``fine_tune``, ``train``, ``train_custom``) over one short loop.

``fine_tune`` is AdamW with linear warm-up and decay per step; ``train`` is SGD that anneals the
learning rate when the dev score stops improving. Both only choose defaults and call the same loop.
The loop itself is :meth:`ModelTrainer._train_loop`; the parts it calls live in this package's small
modules (batching, step, schedule, checkpoint, reporting, plots).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from polytag.training.banner import start_lines
from polytag.training.checkpoint import load_checkpoint
from polytag.training.distributed import Distributed
from polytag.training.endings import finish, on_interrupt, on_non_finite
from polytag.training.interrupt import InterruptGuard, TrainingInterrupted, TrainingTerminated
from polytag.training.memory import TRIM_EVERY_STEPS, release_free_memory
from polytag.training.options import (
    RESUME_OVERRIDES,
    TrainingConfig,
    json_float_list,
    optimizer_name,
    parse_every,
    resolve_optimizer,
    split_extra_arguments,
    warn_ignored,
)
from polytag.training.outputs import CHECKPOINTS, FINAL_MODEL, LOG_FILE, RunFolder, epoch_model_name
from polytag.training.reporting import LINE, EpochClock, LogSetup, Progress, epoch_line, epoch_row, format_lr
from polytag.training.run import Extras, TrainingRun
from polytag.training.saving import save_model
from polytag.training.scoring import anneal, consider_best, evaluate
from polytag.training.step import NonFiniteLoss

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

# Keyword arguments of the public methods that fill the run's configuration (train_custom takes them as
# **kwargs; the config schema reads this set).
CALL_ARGUMENTS: frozenset[str] = frozenset(
    {f.name for f in dataclasses.fields(TrainingConfig)}
    | {
        "epoch",
        "save_checkpoint_every",
        "gold_label_dictionary_for_eval",
        "plugins",
        "attach_default_scheduler",
    }
) - {
    "base_path",
    "mode",
    "optimizer",
    "optimizer_kwargs",
    "schedule",
    "start_epoch",
    "checkpoint_every",
    "checkpoint_unit",
}


class ModelTrainer:
    """Trains a polytag model on a corpus; scripts written for Flair's ``ModelTrainer`` work unchanged.

    The model needs ``forward_loss(sentences) -> (summed loss, count)``, ``evaluate(...)``, ``save(path)``,
    ``label_type`` and (for ``decoder_learning_rate``) ``embedding_modules()``.
    """

    def __init__(self, model: Any, corpus: Any) -> None:
        self.model = model
        self.corpus = corpus

    # -- public API --------------------------------------------------------------------------------------
    def fine_tune(
        self,
        base_path: PathLike,
        warmup_fraction: float = 0.1,
        learning_rate: float = 5e-5,
        decoder_learning_rate: float | None = None,
        mini_batch_size: int = 4,
        eval_batch_size: int = 16,
        mini_batch_chunk_size: int | None = None,
        max_epochs: int = 10,
        optimizer: Any = torch.optim.AdamW,
        train_with_dev: bool = False,
        train_with_test: bool = False,
        max_grad_norm: float | None = 5.0,
        main_evaluation_metric: tuple[str, str] = ("micro avg", "f1-score"),
        monitor_test: bool = False,
        monitor_train_sample: float = 0.0,
        use_final_model_for_eval: bool = True,
        gold_label_dictionary_for_eval: Any = None,
        exclude_labels: list[str] | None = None,
        shuffle: bool = True,
        shuffle_first_epoch: bool = True,
        epoch: int = 0,
        save_final_model: bool = True,
        save_model_each_k_epochs: int = 0,
        create_file_logs: bool = True,
        create_loss_file: bool = True,
        use_amp: bool | None = None,
        plugins: list[Any] | None = None,
        attach_default_scheduler: bool = True,
        max_tokens_per_batch: int | None = None,
        max_subtokens_per_pass: int | str | None = "auto",
        seed: int | None = None,
        save_best_model: bool | None = None,
        save_checkpoint_every: int | str = 0,
        keep_checkpoints: int = 1,
        eval_every_steps: int = 0,
        evaluate_on_test: bool = True,
        plot_training_curves: bool = True,
        use_tensorboard: bool = False,
        tensorboard_log_dir: PathLike | None = None,
        progress_bar: bool = True,
        device: str | None = None,
        param_selection_mode: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Fine-tune (transformer) models: AdamW, linear warm-up over ``warmup_fraction`` of all steps,
        then linear decay to 0; the final model is used for the test evaluation.

        Beyond Flair's arguments: ``max_tokens_per_batch`` builds dense length-bucketed batches by a
        token budget; ``max_subtokens_per_pass`` bounds an encoder pass's padded size (``"auto"``: 512
        on CPU, whole batches on GPU; the update is unchanged, see ``padding.py``); ``seed`` makes CPU
        runs repeatable; ``save_checkpoint_every`` (``2``, ``"2 epochs"``
        or ``"500 steps"``) writes resumable checkpoints under ``base_path/checkpoints``;
        ``eval_every_steps`` adds dev evaluations inside epochs; ``use_amp`` (default: on for CUDA) trains
        in bf16 (fp16 with a grad scaler where bf16 is unsupported). Other keyword arguments go to the
        optimizer (e.g. ``weight_decay``) or, for Flair arguments without meaning here, are logged as
        ignored. Returns ``{"test_score", "dev_score_history", "train_loss_history", "dev_loss_history"}``.

        The run replaces only files that runs in ``base_path`` wrote (listed in ``polytag-run.json``), so
        calling it again on the same folder works; it refuses to start if the folder holds a file of an
        output name that it did not write, unless ``overwrite=True``. Ctrl-C stops after the current
        step: a checkpoint and ``interrupted-model.pt`` are saved and the result says
        ``"interrupted": True``; SIGTERM does the same and then raises ``TrainingTerminated``
        (``SystemExit(143)``). See docs/training.md, "Output folder" and "Stopping a run".
        """
        return self._start("fine_tune", locals())

    def train(
        self,
        base_path: PathLike,
        anneal_factor: float = 0.5,
        patience: int = 3,
        min_learning_rate: float | list[float] = 0.0001,
        initial_extra_patience: int = 0,
        anneal_with_restarts: bool = False,
        anneal_against_dev_loss: bool = False,
        learning_rate: float = 0.1,
        decoder_learning_rate: float | None = None,
        mini_batch_size: int = 32,
        eval_batch_size: int = 64,
        mini_batch_chunk_size: int | None = None,
        max_epochs: int = 100,
        optimizer: Any = torch.optim.SGD,
        train_with_dev: bool = False,
        train_with_test: bool = False,
        max_grad_norm: float | None = 5.0,
        main_evaluation_metric: tuple[str, str] = ("micro avg", "f1-score"),
        monitor_test: bool = False,
        monitor_train_sample: float = 0.0,
        use_final_model_for_eval: bool = False,
        gold_label_dictionary_for_eval: Any = None,
        exclude_labels: list[str] | None = None,
        shuffle: bool = True,
        shuffle_first_epoch: bool = True,
        epoch: int = 0,
        save_final_model: bool = True,
        save_model_each_k_epochs: int = 0,
        create_file_logs: bool = True,
        create_loss_file: bool = True,
        use_amp: bool | None = None,
        plugins: list[Any] | None = None,
        attach_default_scheduler: bool = True,
        max_tokens_per_batch: int | None = None,
        max_subtokens_per_pass: int | str | None = "auto",
        seed: int | None = None,
        save_best_model: bool | None = None,
        save_checkpoint_every: int | str = 0,
        keep_checkpoints: int = 1,
        eval_every_steps: int = 0,
        evaluate_on_test: bool = True,
        plot_training_curves: bool = True,
        use_tensorboard: bool = False,
        tensorboard_log_dir: PathLike | None = None,
        progress_bar: bool = True,
        device: str | None = None,
        param_selection_mode: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Train with SGD and anneal the learning rate by ``anneal_factor`` after ``patience`` epochs
        without dev improvement (train loss when there is no dev split); stop when it falls below
        ``min_learning_rate``. The best model (by dev score) is used for the test evaluation.
        Other arguments as in :meth:`fine_tune`.
        """
        return self._start("train", locals())

    def train_custom(
        self,
        base_path: PathLike,
        learning_rate: float = 0.1,
        decoder_learning_rate: float | None = None,
        mini_batch_size: int = 32,
        eval_batch_size: int = 64,
        mini_batch_chunk_size: int | None = None,
        max_epochs: int = 100,
        optimizer: Any = torch.optim.SGD,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Flair's plugin-driven entry point: the same loop with a constant learning rate."""
        return self._start("custom", locals())

    def resume(
        self,
        checkpoint: PathLike,
        optimizer: Any = None,
        gold_label_dictionary_for_eval: Any = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Continue a run from a checkpoint folder (or a training folder: its newest checkpoint).

        The trainer's model must have the architecture that was trained (build it as the script did);
        its weights, the optimizer, schedule, sampler position and all random states come from the
        checkpoint, so the run ends as an uninterrupted one would. ``overrides`` may change run-level
        settings such as ``max_epochs`` or ``base_path`` (see ``RESUME_OVERRIDES``), and
        ``overwrite=True`` lets it replace files in ``base_path`` that no run there wrote.
        """
        overwrite = bool(overrides.pop("overwrite", False))
        folder, data = load_checkpoint(checkpoint)
        config = TrainingConfig.from_dict(data.state["config"])
        for key, value in overrides.items():
            if key == "save_checkpoint_every":
                config.checkpoint_every, config.checkpoint_unit = parse_every(value)
            elif key in RESUME_OVERRIDES:
                setattr(config, key, str(value) if key in ("base_path", "tensorboard_log_dir") else value)
            else:
                raise TypeError(f"resume() cannot change '{key}'; it is fixed by the checkpoint")
        extras = Extras(optimizer, gold_label_dictionary_for_eval, str(folder), overwrite)
        return self._execute(config, extras, data)

    # -- argument handling -------------------------------------------------------------------------------
    def _start(self, mode: str, arguments: dict[str, Any]) -> dict[str, Any]:
        args = dict(arguments)
        args.pop("self")
        extra = dict(args.pop("kwargs"))
        overwrite = bool(extra.pop("overwrite", False))
        for key in [k for k in extra if k in CALL_ARGUMENTS]:  # train_custom takes them as **kwargs
            args[key] = extra.pop(key)
        optimizer_cls = resolve_optimizer(optimizer_name(args["optimizer"]), args["optimizer"])
        legacy_checkpoint = extra.pop("checkpoint", None)  # Flair <= 0.12: checkpoint every epoch
        optimizer_kwargs, ignored = split_extra_arguments(extra, optimizer_cls)
        plugins = args.pop("plugins", None)
        if plugins:
            message = f"polytag ignores plugins={plugins!r}: trainer plugins are not supported"
            warnings.warn(message, UserWarning, stacklevel=3)
        warn_ignored(ignored, stacklevel=3)  # points at the caller of fine_tune()/train()
        every, unit = parse_every(args.pop("save_checkpoint_every", 0) or (1 if legacy_checkpoint else 0))
        extras = Extras(optimizer_cls, args.pop("gold_label_dictionary_for_eval", None), overwrite=overwrite)
        tensorboard_dir = args.pop("tensorboard_log_dir", None)
        schedule = {"fine_tune": "linear", "train": "anneal"}.get(mode, "none")
        if not args.pop("attach_default_scheduler", True):
            schedule = "none"
        config = TrainingConfig(
            base_path=str(args.pop("base_path")),
            mode=mode,
            optimizer=optimizer_name(args.pop("optimizer")),
            optimizer_kwargs=optimizer_kwargs,
            schedule=schedule,
            start_epoch=int(args.pop("epoch", 0)),
            main_evaluation_metric=list(args.pop("main_evaluation_metric", ("micro avg", "f1-score"))),
            exclude_labels=list(args.pop("exclude_labels", None) or []),
            checkpoint_every=every,
            checkpoint_unit=unit,
            min_learning_rate=json_float_list(args.pop("min_learning_rate", 0.0001)),
            tensorboard_log_dir=None if tensorboard_dir is None else str(tensorboard_dir),
            **args,
        )
        return self._execute(config, extras)

    # -- the run -----------------------------------------------------------------------------------------
    def _execute(self, config: TrainingConfig, extras: Extras, checkpoint: Any = None) -> dict[str, Any]:
        base_path = Path(config.base_path)
        # under torchrun: join the process group (data-parallel training, see distributed.py)
        distributed = Distributed.from_environment(self.model, config.device)
        finished = False
        try:
            outputs = self._claim_folder(base_path, config, extras, distributed.is_main)
            # SIGTERM is left to torchrun's own handling in a distributed run
            with (
                LogSetup(base_path, config.create_file_logs, main=distributed.is_main),
                InterruptGuard(sigterm=not distributed.enabled) as guard,
            ):
                run = TrainingRun(self.model, self.corpus, config, extras, checkpoint, distributed, outputs)
                try:
                    for line in start_lines(run):
                        log.info(line)
                    self._train_loop(run, guard)
                    run.release_optimizer_state()
                    save_model(run, FINAL_MODEL, config.save_final_model)
                except TrainingInterrupted:
                    on_interrupt(run, guard.signal_name)
                except NonFiniteLoss as bad:
                    raise on_non_finite(run, bad) from None
                finally:
                    run.close()
                result = finish(run)
                finished = True
        finally:
            distributed.close(barrier=finished)
        if result["signal"] == "SIGTERM":  # the process was asked to end: end it, now that all is saved
            raise TrainingTerminated(result)
        return result

    @staticmethod
    def _claim_folder(base_path: Path, config: TrainingConfig, extras: Extras, main: bool) -> RunFolder:
        """The run's folder, checked before anything is written: it refuses files it did not write."""
        base_path.mkdir(parents=True, exist_ok=True)
        outputs = RunFolder(base_path, write=main)
        resumed = Path(extras.resumed_from) if extras.resumed_from else None
        if resumed is not None and resumed.parent.resolve() == (base_path / CHECKPOINTS).resolve():
            outputs.claim(CHECKPOINTS)  # continuing in the folder of the checkpoint itself
        outputs.check(extras.overwrite)
        if config.create_file_logs:
            outputs.claim(LOG_FILE)
        return outputs

    def _train_loop(self, run: TrainingRun, guard: InterruptGuard) -> None:
        while run.sampler.epoch <= run.config.max_epochs and not run.state.stop:
            self._train_epoch(run, guard)
            self._end_epoch(run)

    def _train_epoch(self, run: TrainingRun, guard: InterruptGuard) -> None:
        epoch = run.sampler.epoch
        batches = run.plan.batches(epoch)
        total = len(batches)
        distributed = run.distributed
        self.model.train()
        log.info(LINE)
        progress = Progress(epoch, total, run.sampler.index, run.config.progress_bar and distributed.is_main)
        clock = EpochClock(total)
        try:
            while run.sampler.index < total:
                if run.stop_agreed if distributed.enabled else guard.requested:
                    raise TrainingInterrupted()
                batch = batches[run.sampler.index]
                sentences = run.plan.sentences(distributed.shard(batch))  # the whole batch, or a slice
                try:
                    loss_sum, items = run.stepper.run(sentences, guard.requested)
                except NonFiniteLoss as bad:
                    bad.where = (epoch, run.sampler.index, total, run.state.global_step + 1, sentences)
                    raise
                run.stop_agreed = run.stepper.interrupt_agreed  # all ranks stop at the same step
                run.record_step(loss_sum, items)
                run.schedule.step_batch()
                run.sampler.advance()
                clock.count(len(batch))
                progress.update(run.sampler.index, len(batch), run.epoch_train_loss())
                if run.device.type == "cpu" and run.sampler.index % TRIM_EVERY_STEPS == 0:
                    release_free_memory()
                self._after_step(run, clock)
        finally:
            progress.close()

    def _after_step(self, run: TrainingRun, clock: EpochClock) -> None:
        """Work that happens every so many steps (never every step): log line, evaluation, checkpoint."""
        done, step, config = run.sampler.index, run.state.global_step, run.config
        if clock.should_log(done):
            log.info(
                f"epoch {run.sampler.epoch} - iter {done}/{clock.total} - loss {run.epoch_train_loss():.8f}"
                f" - time (sec): {clock.elapsed():.2f} - samples/sec: {clock.rate():.2f}"
                f"{format_lr(run.learning_rates())}"
            )
        if config.eval_every_steps and step % config.eval_every_steps == 0 and done < clock.total:
            evaluate(run, epoch_end=False)
        if run.checkpoint_due("step", step):
            run.save_checkpoint()

    def _end_epoch(self, run: TrainingRun) -> None:
        epoch, config = run.sampler.epoch, run.config
        train_loss = run.epoch_train_loss()
        lrs = run.learning_rates()
        log.info(LINE)
        log.info(epoch_line(epoch, train_loss, lrs))
        run.tensorboard.scalar("train/loss", train_loss, epoch)
        run.state.history["epochs"].append(
            {"epoch": epoch, "step": run.state.global_step, "train_loss": train_loss, "lr": lrs[0]}
        )
        results = evaluate(run, epoch_end=True)
        if "dev" not in results:
            consider_best(run, train_loss, higher_is_better=False)
        anneal(run, results, train_loss)
        run.loss_file.write(epoch_row(epoch, lrs[0], train_loss, results))
        if config.save_model_each_k_epochs and epoch % config.save_model_each_k_epochs == 0:
            save_model(run, epoch_model_name(epoch))
        run.finish_epoch()
        if run.checkpoint_due("epoch", epoch):
            run.save_checkpoint()
