"""Evaluations during a run: scoring the monitored splits, keeping the best model, annealing on plateaus."""

from __future__ import annotations

import logging
from typing import Any

from polytag.training import plots
from polytag.training.outputs import BEST_MODEL, CURVES
from polytag.training.reporting import LINE, split_line, task_lines
from polytag.training.saving import load_weights, save_model
from polytag.training.schedule import AnnealOnPlateau

log = logging.getLogger("polytag")


def evaluate(run: Any, epoch_end: bool) -> dict[str, Any]:
    """Evaluate the monitored splits (rank 0 of a distributed run; the others get the scores)."""
    config, metric, model = run.config, run.config.metric, run.model
    main = run.distributed.is_main
    results: dict[str, Any] = {}
    for split, data in run.eval_splits.items() if main else ():
        result = model.evaluate(
            data,
            gold_label_type=model.label_type,
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
        record_evaluation(run, split, result, epoch_end)
    if "dev" in results:
        consider_best(run, results["dev"].main_score, higher_is_better=True)
    if results and config.plot_training_curves:
        run.state.history["metric"] = f"{metric[1]} ({metric[0]})"
    if results and config.plot_training_curves and main:
        run.outputs.claim(CURVES)
        plots.plot_training_curves(run.base_path / CURVES, run.state.history)
    model.train()
    return results


def record_evaluation(run: Any, split: str, result: Any, epoch_end: bool) -> None:
    """Add one evaluation to the run's history and TensorBoard."""
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


def consider_best(run: Any, score: float, higher_is_better: bool) -> None:
    """Keep ``score`` as the best so far (and save ``best-model.pt``) when it beats the best."""
    best = run.state.best_score
    if best is not None and (score <= best if higher_is_better else score >= best):
        return
    run.state.best_score = score
    if run.config.saves_best_model:
        log.info("saving best model")
        save_model(run, BEST_MODEL)


def anneal(run: Any, results: dict[str, Any], train_loss: float) -> None:
    """Step an anneal-on-plateau schedule at the end of an epoch (stop, or restart from the best model)."""
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
        best = run.base_path / BEST_MODEL
        if run.distributed.broadcast_object(best.exists()):  # rank 0 wrote it and decides
            log.info("resetting to best model")
            load_weights(run.model, best, run.distributed)
