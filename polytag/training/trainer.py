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
import time
from pathlib import Path
from typing import Any

import torch

from polytag.training import plots
from polytag.training.checkpoint import load_checkpoint
from polytag.training.distributed import Distributed
from polytag.training.interrupt import InterruptGuard, TrainingInterrupted
from polytag.training.memory import TRIM_EVERY_STEPS, release_free_memory
from polytag.training.options import (
    RESUME_OVERRIDES,
    TrainingConfig,
    json_float_list,
    log_ignored,
    optimizer_name,
    parse_every,
    resolve_optimizer,
    split_extra_arguments,
)
from polytag.training.reporting import (
    LINE,
    LogSetup,
    Progress,
    epoch_line,
    epoch_row,
    format_lr,
    split_line,
    task_lines,
)
from polytag.training.run import Extras, TrainingRun
from polytag.training.schedule import AnnealOnPlateau
from polytag.training.step import NonFiniteLoss, NonFiniteLossError

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

# Keyword arguments of the public methods that fill the run's configuration.
_CALL_ARGUMENTS = (
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
# Public: the config schema (polytag.config) offers these as keys of trainer.method train_custom.
CALL_ARGUMENTS: frozenset[str] = frozenset(_CALL_ARGUMENTS)


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
        settings such as ``max_epochs`` or ``base_path`` (see ``RESUME_OVERRIDES``).
        """
        folder, data = load_checkpoint(checkpoint)
        config = TrainingConfig.from_dict(data.state["config"])
        for key, value in overrides.items():
            if key == "save_checkpoint_every":
                config.checkpoint_every, config.checkpoint_unit = parse_every(value)
            elif key in RESUME_OVERRIDES:
                setattr(config, key, str(value) if key in ("base_path", "tensorboard_log_dir") else value)
            else:
                raise TypeError(f"resume() cannot change '{key}'; it is fixed by the checkpoint")
        extras = Extras(optimizer, gold_label_dictionary_for_eval, resumed_from=str(folder))
        return self._execute(config, extras, data)

    # -- argument handling -------------------------------------------------------------------------------
    def _start(self, mode: str, arguments: dict[str, Any]) -> dict[str, Any]:
        args = dict(arguments)
        args.pop("self")
        extra = dict(args.pop("kwargs"))
        for key in [k for k in extra if k in _CALL_ARGUMENTS]:  # train_custom takes them as **kwargs
            args[key] = extra.pop(key)
        optimizer_cls = resolve_optimizer(optimizer_name(args["optimizer"]), args["optimizer"])
        legacy_checkpoint = extra.pop("checkpoint", None)  # Flair <= 0.12: checkpoint every epoch
        optimizer_kwargs, ignored = split_extra_arguments(extra, optimizer_cls)
        plugins = args.pop("plugins", None)
        if plugins:
            log.info("ignoring plugins=%r: trainer plugins are not supported", plugins)
        log_ignored(ignored)
        every, unit = parse_every(args.pop("save_checkpoint_every", 0) or (1 if legacy_checkpoint else 0))
        extras = Extras(optimizer_cls, args.pop("gold_label_dictionary_for_eval", None))
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
        base_path.mkdir(parents=True, exist_ok=True)
        # under torchrun: join the process group (data-parallel training, see distributed.py)
        distributed = Distributed.from_environment(self.model, config.device)
        finished = False
        try:
            with (
                LogSetup(base_path, config.create_file_logs, main=distributed.is_main),
                InterruptGuard() as guard,
            ):
                run = TrainingRun(self.model, self.corpus, config, extras, checkpoint, distributed)
                try:
                    self._log_start(run)
                    self._train_loop(run, guard)
                    run.release_optimizer_state()
                    self._save_model(run, "final-model.pt", config.save_final_model)
                except TrainingInterrupted:
                    self._on_interrupt(run)
                except NonFiniteLoss as bad:
                    raise self._on_non_finite(run, bad) from None
                finally:
                    run.close()
                result = self._finish(run)
                finished = True
                return result
        finally:
            distributed.close(barrier=finished)

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
        clock = _EpochClock(total)
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

    def _after_step(self, run: TrainingRun, clock: _EpochClock) -> None:
        """Work that happens every so many steps (never every step): log line, evaluation, checkpoint."""
        done, step, config = run.sampler.index, run.state.global_step, run.config
        if clock.should_log(done):
            log.info(
                f"epoch {run.sampler.epoch} - iter {done}/{clock.total} - loss {run.epoch_train_loss():.8f}"
                f" - time (sec): {clock.elapsed():.2f} - samples/sec: {clock.rate():.2f}"
                f"{format_lr(run.learning_rates())}"
            )
        if config.eval_every_steps and step % config.eval_every_steps == 0 and done < clock.total:
            self._evaluate(run, epoch_end=False)
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
        results = self._evaluate(run, epoch_end=True)
        if "dev" not in results:
            self._consider_best(run, train_loss, higher_is_better=False)
        self._anneal(run, results, train_loss)
        run.loss_file.write(epoch_row(epoch, lrs[0], train_loss, results))
        if config.save_model_each_k_epochs and epoch % config.save_model_each_k_epochs == 0:
            self._save_model(run, f"model_epoch_{epoch}.pt", True)
        run.finish_epoch()
        if run.checkpoint_due("epoch", epoch):
            run.save_checkpoint()

    def _evaluate(self, run: TrainingRun, epoch_end: bool) -> dict[str, Any]:
        """Evaluate the monitored splits (rank 0 of a distributed run; the others get the scores)."""
        config, metric = run.config, run.config.metric
        main = run.distributed.is_main
        results: dict[str, Any] = {}
        for split, data in run.eval_splits.items() if main else ():
            result = self.model.evaluate(
                data,
                gold_label_type=self.model.label_type,
                mini_batch_size=config.eval_batch_size,
                out_path=None,
                return_loss=True,
                main_evaluation_metric=metric,
                exclude_labels=config.exclude_labels,
                gold_label_dictionary=run.extras.gold_label_dictionary,
                embedding_storage_mode="none",
            )
            for line in task_lines(result, metric):
                log.info(line)
            log.info(split_line(split, result, metric))
            results[split] = result
        results = run.distributed.share_results(results)
        for split, result in results.items():
            self._record_evaluation(run, split, result, epoch_end)
        if "dev" in results:
            self._consider_best(run, results["dev"].main_score, higher_is_better=True)
        if results and config.plot_training_curves:
            run.state.history["metric"] = f"{metric[1]} ({metric[0]})"
        if results and config.plot_training_curves and main:
            plots.plot_training_curves(run.base_path / "training-curves.png", run.state.history)
        self.model.train()
        return results

    @staticmethod
    def _record_evaluation(run: TrainingRun, split: str, result: Any, epoch_end: bool) -> None:
        task_results = getattr(result, "task_results", None) or {}
        tasks = {task_id: task.main_score for task_id, (_, task) in task_results.items()}
        run.state.history["evaluations"].append(
            {
                "split": split,
                "epoch": run.sampler.epoch,
                "step": run.state.global_step,
                "epoch_end": epoch_end,
                "score": result.main_score,
                "loss": result.loss,
                "tasks": tasks,
            }
        )
        run.tensorboard.scalar(f"{split}/score", result.main_score, run.state.global_step)
        run.tensorboard.scalar(f"{split}/loss", result.loss, run.state.global_step)
        for task_id, score in tasks.items():
            run.tensorboard.scalar(f"{split}/{task_id}/score", score, run.state.global_step)

    def _consider_best(self, run: TrainingRun, score: float, higher_is_better: bool) -> None:
        best = run.state.best_score
        if best is not None and (score <= best if higher_is_better else score >= best):
            return
        run.state.best_score = score
        if run.config.saves_best_model:
            log.info("saving best model")
            self._save_model(run, "best-model.pt", True)

    def _anneal(self, run: TrainingRun, results: dict[str, Any], train_loss: float) -> None:
        schedule = run.schedule
        if not isinstance(schedule, AnnealOnPlateau):
            return
        if "dev" in results:
            dev = results["dev"]
            use_loss = run.config.anneal_against_dev_loss and dev.loss is not None
            metric = dev.loss if use_loss else dev.main_score
        else:
            metric = train_loss
        if schedule.step_epoch(metric):
            log.info(LINE)
            log.info("learning rate too small - quitting training!")
            run.state.stop = True
        elif schedule.annealed_last_epoch and run.config.anneal_with_restarts:
            best = run.base_path / "best-model.pt"
            if run.distributed.broadcast_object(best.exists()):  # rank 0 wrote it and decides
                log.info("resetting to best model")
                self._load_weights(best, run.distributed)

    # -- saving, loading, endings -----------------------------------------------------------------------
    def _save_model(self, run: TrainingRun, name: str, wanted: bool) -> None:
        if wanted and not run.config.param_selection_mode and run.distributed.is_main:
            self.model.save(run.base_path / name)

    def _load_weights(self, path: Path, distributed: Distributed) -> None:
        """Load a saved model's weights (rank 0 reads the file, the other ranks receive its weights)."""
        if distributed.is_main:
            loaded = type(self.model).load(path)
            self.model.load_state_dict(loaded.state_dict())
        distributed.broadcast_module(self.model)

    def _on_interrupt(self, run: TrainingRun) -> None:
        run.interrupted = True
        log.info(LINE)
        log.info("Exiting from training early.")
        path = run.save_checkpoint()
        if run.config.save_final_model:
            log.info("Saving model ...")
            self._save_model(run, "final-model.pt", True)
        log.info("Done. Continue with ModelTrainer(model, corpus).resume(%r)", str(path))

    def _on_non_finite(self, run: TrainingRun, bad: NonFiniteLoss) -> NonFiniteLossError:
        epoch, batch, total, step, sentences = bad.where
        path = run.save_checkpoint()
        first = getattr(sentences[0], "to_tokenized_string", lambda: "")() if sentences else ""
        return NonFiniteLossError(
            f"training loss is {bad.value} at step {step} (epoch {epoch}, batch {batch + 1} of {total}, "
            f"{len(sentences)} sentences, the first: {first[:80]!r}). A checkpoint with the state before "
            f"this step is at {path}. Try a lower learning rate, max_grad_norm, or use_amp=False."
        )

    def _finish(self, run: TrainingRun) -> dict[str, Any]:
        config = run.config
        test_score = 0.0
        if run.interrupted:
            log.info("training was interrupted: no test evaluation")
        elif config.evaluate_on_test and self.corpus.test and not config.train_with_test:
            log.info(LINE)
            best = run.base_path / "best-model.pt"
            if run.distributed.broadcast_object(not config.use_final_model_for_eval and best.exists()):
                log.info("Loading model from best epoch ...")
                self._load_weights(best, run.distributed)
            else:
                log.info("Testing using last state of model ...")
            score = self._test(run) if run.distributed.is_main else None
            test_score = run.distributed.broadcast_object(score)
        elif not self.corpus.test:
            log.info("Test data not provided setting final score to 0")
        history = run.state.history
        dev = [e for e in history["evaluations"] if e["split"] == "dev" and e["epoch_end"]]
        return {
            "test_score": test_score,
            "dev_score_history": [e["score"] for e in dev],
            "dev_loss_history": [e["loss"] for e in dev],
            "train_loss_history": [e["train_loss"] for e in history["epochs"]],
            "best_score": run.state.best_score,
            "interrupted": run.interrupted,
        }

    def _test(self, run: TrainingRun) -> float:
        """The final test evaluation (writes ``test.tsv``); returns the main score."""
        config = run.config
        result = self.model.evaluate(
            self.corpus.test,
            gold_label_type=self.model.label_type,
            mini_batch_size=config.eval_batch_size,
            out_path=run.base_path / "test.tsv",
            return_loss=False,
            main_evaluation_metric=config.metric,
            exclude_labels=config.exclude_labels,
            gold_label_dictionary=run.extras.gold_label_dictionary,
            embedding_storage_mode="none",
        )
        log.info(result.detailed_results)
        log.info(LINE)
        return float(result.main_score)

    def _log_start(self, run: TrainingRun) -> None:
        config = run.config
        params = sum(p.numel() for p in self.model.parameters())
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        decoder = f" (decoder: {config.decoder_learning_rate})" if config.decoder_learning_rate else ""
        batching = (
            f'"{config.max_tokens_per_batch}" tokens per batch'
            if config.max_tokens_per_batch
            else f'"{config.mini_batch_size}"'
        )
        final = (
            "model after last epoch (final-model.pt)"
            if config.use_final_model_for_eval or not (config.saves_best_model)
            else "model from best epoch (best-model.pt)"
        )
        lines = [
            LINE,
            f'Model: "{type(self.model).__name__}" ({params:,} parameters, {trainable:,} trainable)',
            LINE,
            f"{self.corpus}",
            LINE,
            f"Train:  {len(run.data)} sentences",
            f"        (train_with_dev={config.train_with_dev}, train_with_test={config.train_with_test})",
            LINE,
            "Training Params:",
            f' - learning_rate: "{config.learning_rate}"{decoder}',
            f" - mini_batch_size: {batching}",
            f' - max_epochs: "{config.max_epochs}"',
            f' - shuffle: "{config.shuffle}"',
            f' - optimizer: "{config.optimizer}", schedule: "{config.schedule}"',
            LINE,
            f"Final evaluation on {final}",
            f' - metric: "{tuple(config.metric)}"',
            LINE,
            "Computation:",
            f" - compute on device: {run.device}",
            *self._distributed_lines(run),
            f" - precision: {run.precision.describe()}",
            LINE,
            f'Model training base path: "{run.base_path}"',
        ]
        if run.resumed:
            lines.append(
                f"Resumed from {run.extras.resumed_from} at epoch {run.sampler.epoch}, "
                f"step {run.state.global_step}"
            )
        for line in lines:
            log.info(line)

    @staticmethod
    def _distributed_lines(run: TrainingRun) -> list[str]:
        distributed = run.distributed
        if not distributed.enabled:
            return []
        config = run.config
        tokens = config.max_tokens_per_batch
        size = f"{tokens} tokens" if tokens else f"{config.mini_batch_size} sentences"
        return [
            f" - distributed: {distributed.world_size} processes ({distributed.backend}), each trains on its"
            f" slice of every global batch ({size}); rank 0 evaluates and writes files",
        ]


class _EpochClock:
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
